package template

import (
	"sort"
	"strings"

	"github.com/nikolalohinski/gonja/v2/exec"
)

// text is what {{ v }} and a ~ b make of v: gonja's text, except that None
// is "None", as Jinja2 prints it (str(None)), alone or inside a list or
// dict ([None, 1], {'a': None}). gonja prints nil as nothing, so a pull
// of an XCom that was never pushed would become an empty shell argument
// where Airflow passes None.
func text(v *exec.Value) string {
	if v == nil || v.IsNil() {
		return "None"
	}
	if !holdsNil(v, 0) {
		return v.String()
	}
	return pyText(v, 0)
}

// pyText prints v at depth of a value that holds a nil: lists and dicts
// item by item, the rest as gonja prints it.
func pyText(v *exec.Value, depth int) string {
	switch {
	case v == nil || v.IsNil():
		return "None"
	case depth > maxTextDepth:
	case v.IsList():
		return listText(v, depth)
	case v.IsDict():
		return dictText(v, depth)
	}
	return v.String()
}

// maxTextDepth bounds how deep holdsNil and pyText look; a deeper nesting
// is printed as gonja prints it. The render's budget has measured the
// value before it is printed (its whole text fits), so this only caps the
// recursion.
const maxTextDepth = 64

// holdsNil reports whether v is a list or dict with a nil somewhere
// inside: only then does its text differ from gonja's.
func holdsNil(v *exec.Value, depth int) bool {
	if depth > maxTextDepth || v.IsString() {
		return false
	}
	switch {
	case v.IsList():
		for i := range v.Len() {
			if isOrHoldsNil(v.Index(i), depth+1) {
				return true
			}
		}
	case v.IsDict():
		for _, p := range pairs(v) {
			if isOrHoldsNil(p.Value, depth+1) {
				return true
			}
		}
	}
	return false
}

func isOrHoldsNil(v *exec.Value, depth int) bool { return v.IsNil() || holdsNil(v, depth) }

// listText prints a list as gonja does ([1, 'a']), its None items as None.
func listText(v *exec.Value, depth int) string {
	parts := make([]string, v.Len())
	for i := range parts {
		parts[i] = repr(v.Index(i), depth+1)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// dictText prints a dict as gonja does ({'k': v}, a map's pairs sorted,
// a dict literal's in order), its None values as None.
func dictText(v *exec.Value, depth int) string {
	ps := pairs(v)
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = repr(p.Key, depth+1) + ": " + repr(p.Value, depth+1)
	}
	switch v.Interface().(type) {
	case *exec.Dict, exec.Dict:
	default:
		sort.Strings(out)
	}
	return "{" + strings.Join(out, ", ") + "}"
}

// pairs are the key-value pairs of a dict value: a Go map or a dict
// literal.
func pairs(v *exec.Value) []*exec.Pair {
	switch d := v.Interface().(type) {
	case *exec.Dict:
		return d.Pairs
	case exec.Dict:
		return d.Pairs
	}
	return v.Items()
}

// repr is an item's text inside a list or dict: strings quoted, as gonja
// quotes them.
func repr(v *exec.Value, depth int) string {
	if v != nil && v.IsString() {
		return "'" + v.String() + "'"
	}
	return pyText(v, depth)
}

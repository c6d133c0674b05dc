package dag

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// YAML short tags the loader distinguishes.
const (
	tagNull      = "!!null"
	tagBool      = "!!bool"
	tagInt       = "!!int"
	tagFloat     = "!!float"
	tagStr       = "!!str"
	tagTimestamp = "!!timestamp"
	tagBinary    = "!!binary"
)

// Expected-type phrases, shared by messages so they read the same everywhere.
const (
	wantString     = "a string"
	wantInt        = "an integer"
	wantBool       = "a boolean (true or false)"
	wantDuration   = "a duration (e.g. 30s, 5m, 1h30m, 1d or a number of seconds)"
	wantDate       = "a date (YYYY-MM-DD or RFC 3339)"
	wantMapping    = "a mapping"
	wantList       = "a list"
	wantStringList = "a list of strings"
	wantIntList    = "a list of integers"
)

// errAt records a problem at node n (nil: no position). Past
// maxFileErrors distinct problems it only counts them.
func (l *loader) errAt(n *yaml.Node, field, format string, args ...any) {
	if len(l.errs) >= maxFileErrors {
		l.dropped++
		return
	}
	fe := &FileError{File: l.file, Field: field, Msg: shortText(fmt.Sprintf(format, args...), maxMsgLen)}
	if n != nil {
		fe.Line, fe.Column = n.Line, n.Column
	}
	k := errKey{fe.Line, fe.Column, fe.Field, fe.Msg}
	if _, dup := l.seen[k]; dup { // an aliased node is reported once, not once per use
		return
	}
	if l.seen == nil {
		l.seen = make(map[errKey]struct{})
	}
	l.seen[k] = struct{}{}
	l.errs = append(l.errs, fe)
}

type errKey struct {
	line, col  int
	field, msg string
}

// typeErr records that n is not of the wanted shape.
func (l *loader) typeErr(n *yaml.Node, field, want string) {
	l.errAt(n, field, "expected %s, got %s", want, describe(resolve(n)))
}

// spend takes one unit of the node budget, which bounds the work done on
// documents whose aliases expand exponentially ("billion laughs").
func (l *loader) spend() bool {
	if l.budget > 0 {
		l.budget--
		return true
	}
	if !l.exhausted {
		l.exhausted = true
		l.errAt(nil, "", "document too large after expanding YAML aliases")
	}
	return false
}

// enter marks alias target n as being expanded; it returns false if it
// already is, i.e. the alias refers to a node that contains it.
func (l *loader) enter(n *yaml.Node) bool {
	if l.expanding[n] {
		return false
	}
	if l.expanding == nil {
		l.expanding = make(map[*yaml.Node]bool)
	}
	l.expanding[n] = true
	return true
}

func (l *loader) leave(n *yaml.Node) { delete(l.expanding, n) }

// resolve follows an alias to the node it names.
func resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && n.Alias != nil && i < 8; i++ {
		n = n.Alias
	}
	return n
}

// isNull reports whether n is absent or an explicit null, which the loader
// treats as "not set" for optional keys, as Airflow does with None.
func isNull(n *yaml.Node) bool {
	r := resolve(n)
	return r == nil || r.Kind == yaml.ScalarNode && r.ShortTag() == tagNull
}

// describe names the shape and value of n for "expected X, got Y" messages.
func describe(n *yaml.Node) string {
	if n == nil {
		return "nothing"
	}
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case tagNull:
			return "null"
		case tagBool:
			return "boolean " + shortText(n.Value, maxQuoteLen)
		case tagInt:
			return "integer " + shortText(n.Value, maxQuoteLen)
		case tagFloat:
			return "number " + shortText(n.Value, maxQuoteLen)
		case tagTimestamp:
			return "date " + shortText(n.Value, maxQuoteLen)
		}
		return "string " + quoteShort(n.Value)
	case yaml.AliasNode:
		return "an alias"
	}
	return "nothing"
}

// entry is one key/value pair of a YAML mapping.
type entry struct {
	name     string
	key, val *yaml.Node
}

// mapEntries returns the pairs of mapping n in file order, expanding YAML
// merge keys ("<<: *defaults", explicit keys winning) and reporting
// duplicate and non-string keys.
func (l *loader) mapEntries(n *yaml.Node, field string) ([]entry, bool) {
	r := resolve(n)
	if r == nil || r.Kind != yaml.MappingNode {
		l.typeErr(n, field, wantMapping)
		return nil, false
	}
	out := make([]entry, 0, len(r.Content)/2)
	seen := make(map[string]*yaml.Node, len(r.Content)/2)
	var merged []entry
	for i := 0; i+1 < len(r.Content); i += 2 {
		k, v := r.Content[i], r.Content[i+1]
		if !l.spend() {
			return out, false
		}
		if isMergeKey(k) {
			merged = append(merged, l.mergeEntries(v, field)...)
			continue
		}
		rk := resolve(k)
		if rk == nil || rk.Kind != yaml.ScalarNode {
			l.errAt(k, field, "mapping keys must be strings, got %s", describe(rk))
			continue
		}
		if first, dup := seen[rk.Value]; dup {
			l.errAt(k, field, "duplicate key %s (first defined at line %d)", quoteShort(rk.Value), first.Line)
			continue
		}
		seen[rk.Value] = k
		out = append(out, entry{rk.Value, k, v})
	}
	for _, e := range merged {
		if _, ok := seen[e.name]; !ok {
			seen[e.name] = e.key
			out = append(out, e)
		}
	}
	return out, true
}

func isMergeKey(k *yaml.Node) bool {
	return k.Kind == yaml.ScalarNode && k.Value == "<<" && k.ShortTag() == "!!merge"
}

// mergeEntries expands the value of a merge key: a mapping or a list of
// mappings, earlier ones winning.
func (l *loader) mergeEntries(v *yaml.Node, field string) []entry {
	if v.Kind == yaml.AliasNode {
		if !l.enter(v.Alias) {
			l.errAt(v, field, "alias *%s refers to a mapping that contains it", shortText(v.Value, maxQuoteLen))
			return nil
		}
		defer l.leave(v.Alias)
	}
	r := resolve(v)
	if r != nil && r.Kind == yaml.SequenceNode {
		var out []entry
		for _, item := range r.Content {
			out = append(out, l.mergeEntries(item, field)...)
		}
		return out
	}
	if r == nil || r.Kind != yaml.MappingNode {
		l.errAt(v, field, "merge key << needs a mapping or a list of mappings, got %s", describe(r))
		return nil
	}
	entries, _ := l.mapEntries(r, field)
	return entries
}

// str reads any non-null scalar as a string, as written: `queue: 1` and
// `PORT: 8080` are what people type, and the operator wants text anyway.
func (l *loader) str(n *yaml.Node, field string) (string, bool) {
	r := resolve(n)
	if r == nil || r.Kind != yaml.ScalarNode || r.ShortTag() == tagNull {
		l.typeErr(n, field, wantString)
		return "", false
	}
	return r.Value, true
}

func (l *loader) integer(n *yaml.Node, field string) (int, bool) {
	r := resolve(n)
	if r == nil || r.Kind != yaml.ScalarNode || r.ShortTag() != tagInt {
		l.typeErr(n, field, wantInt)
		return 0, false
	}
	var i int
	if err := l.decode(n, r, field, &i); err != nil {
		l.errAt(n, field, "integer %s is out of range", shortText(r.Value, maxQuoteLen))
		return 0, false
	}
	return i, true
}

func (l *loader) boolean(n *yaml.Node, field string) (bool, bool) {
	r := resolve(n)
	if r == nil || r.Kind != yaml.ScalarNode || r.ShortTag() != tagBool {
		l.typeErr(n, field, wantBool)
		return false, false
	}
	var b bool
	if err := l.decode(n, r, field, &b); err != nil {
		l.typeErr(n, field, wantBool)
		return false, false
	}
	return b, true
}

// duration reads a Go duration ("90s", "1h30m"), days ("1d", "1d12h") or a
// number of seconds, as Airflow users write timedelta(seconds=...).
func (l *loader) duration(n *yaml.Node, field string) (time.Duration, bool) {
	r := resolve(n)
	if r == nil || r.Kind != yaml.ScalarNode {
		l.typeErr(n, field, wantDuration)
		return 0, false
	}
	var d time.Duration
	var err error
	switch r.ShortTag() {
	case tagInt, tagFloat, tagStr:
		l.at(n, field)
		d, err = parseDuration(r.Value)
		l.done()
	default:
		l.typeErr(n, field, wantDuration)
		return 0, false
	}
	if err != nil {
		l.errAt(n, field, "%v", err)
		return 0, false
	}
	return d, true
}

// maxDurationSeconds keeps seconds-to-Duration conversion from overflowing.
const maxDurationSeconds = float64(math.MaxInt64 / int64(time.Second))

// Longest duration and date accepted, in bytes: far more than any real one
// ("2562047h47m16.854775807s", "2026-01-01T06:00:00.123456789+05:30"), and
// small enough that parsing a hostile value costs nothing.
const (
	maxDurationLen = 64
	maxDateLen     = 64
)

// parseDuration is the duration syntax of DAG files; see (*loader).duration.
// It runs in time linear in len(s), and refuses long input outright.
func parseDuration(s string) (time.Duration, error) {
	if len(s) > maxDurationLen {
		return 0, fmt.Errorf("duration too long (max %d bytes)", maxDurationLen)
	}
	s = strings.TrimSpace(s)
	abs, neg := strings.CutPrefix(s, "-")
	d, ok := parseNonNegative(abs)
	switch {
	case !ok:
		return 0, fmt.Errorf("bad duration %s (expected e.g. 30s, 5m, 1h30m, 1d or a number of seconds)", quoteShort(s))
	case neg:
		return 0, fmt.Errorf("duration must not be negative, got %s", quoteShort(s))
	}
	return d, nil
}

// parseNonNegative reads a duration without a leading minus sign.
func parseNonNegative(s string) (time.Duration, bool) {
	if s == "" || s[0] == '-' {
		return 0, false
	}
	if secs, err := strconv.ParseFloat(s, 64); err == nil && !strings.ContainsAny(s, "xXpP_") {
		if math.IsNaN(secs) || math.IsInf(secs, 0) || secs < 0 || secs > maxDurationSeconds {
			return 0, false
		}
		return time.Duration(secs * float64(time.Second)), true
	}
	rest := s
	var days int64
	if i := strings.IndexByte(s, 'd'); i >= 0 {
		n, err := strconv.ParseUint(s[:i], 10, 63)
		if err != nil || n > uint64(math.MaxInt64/int64(24*time.Hour)) {
			return 0, false
		}
		days, rest = int64(n), s[i+1:]
	}
	var d time.Duration
	if rest != "" {
		if rest[0] == '-' || rest[0] == '+' {
			return 0, false
		}
		var err error
		if d, err = time.ParseDuration(rest); err != nil {
			return 0, false
		}
	}
	dd := time.Duration(days) * 24 * time.Hour
	if d < 0 || dd > math.MaxInt64-d {
		return 0, false
	}
	return d + dd, true
}

// dateLayouts are tried in order; those without a zone are read in the
// DAG's time zone.
var (
	zonedLayouts = []string{time.RFC3339Nano, "2006-01-02 15:04:05Z07:00", "2006-01-02 15:04:05.999999999Z07:00"}
	localLayouts = []string{"2006-01-02", "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999", "2006-01-02T15:04", "2006-01-02 15:04"}
)

// date reads YYYY-MM-DD or RFC 3339; dates without a zone are in loc.
func (l *loader) date(n *yaml.Node, field string, loc *time.Location) (time.Time, bool) {
	r := resolve(n)
	if r == nil || r.Kind != yaml.ScalarNode || (r.ShortTag() != tagStr && r.ShortTag() != tagTimestamp) {
		l.typeErr(n, field, wantDate)
		return time.Time{}, false
	}
	l.at(n, field)
	t, err := parseDate(r.Value, loc)
	l.done()
	if err != nil {
		l.errAt(n, field, "%v", err)
		return time.Time{}, false
	}
	return t, true
}

// parseDate reads a date as (*loader).date does; like parseDuration it
// refuses long input outright.
func parseDate(s string, loc *time.Location) (time.Time, error) {
	if len(s) > maxDateLen {
		return time.Time{}, fmt.Errorf("date too long (max %d bytes)", maxDateLen)
	}
	s = strings.TrimSpace(s)
	for _, layout := range zonedLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t.In(loc), nil
		}
	}
	for _, layout := range localLayouts {
		if t, err := time.ParseInLocation(layout, s, loc); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("bad date %s (expected YYYY-MM-DD or RFC 3339, e.g. 2026-01-01 or 2026-01-01T06:00:00Z)", quoteShort(s))
}

// value converts n to plain Go values (string, int, float64, bool, nil,
// []any, map[string]any), checking template syntax in strings when tmpl is
// set. Dates stay strings as written: an operator should not get a
// time.Time it did not ask for.
func (l *loader) value(n *yaml.Node, field string, tmpl bool) (any, bool) {
	if !l.spend() {
		return nil, false
	}
	r := n
	if n.Kind == yaml.AliasNode {
		if n.Alias == nil || !l.enter(n.Alias) {
			l.errAt(n, field, "alias *%s refers to a node that contains it", shortText(n.Value, maxQuoteLen))
			return nil, false
		}
		defer l.leave(n.Alias)
		r = n.Alias
	}
	switch r.Kind {
	case yaml.ScalarNode:
		return l.scalar(n, r, field, tmpl)
	case yaml.SequenceNode:
		out := make([]any, 0, len(r.Content))
		ok := true
		for i, c := range r.Content {
			v, good := l.value(c, indexField(field, i), tmpl)
			ok = ok && good
			out = append(out, v)
		}
		return out, ok
	case yaml.MappingNode:
		entries, ok := l.mapEntries(r, field)
		out := make(map[string]any, len(entries))
		for _, e := range entries {
			v, good := l.value(e.val, subField(field, e.name), tmpl)
			ok = ok && good
			out[e.name] = v
		}
		return out, ok
	}
	l.errAt(n, field, "unsupported YAML node")
	return nil, false
}

// decode is yaml.v3's Decode of scalar r, with pos noted for a panic.
func (l *loader) decode(pos, r *yaml.Node, field string, v any) error {
	l.at(pos, field)
	err := r.Decode(v)
	l.done()
	return err
}

// scalar converts one scalar; pos is where to report problems (the alias
// rather than its target).
func (l *loader) scalar(pos, r *yaml.Node, field string, tmpl bool) (any, bool) {
	switch tag := r.ShortTag(); tag {
	case tagNull:
		return nil, true
	case tagBool:
		return l.boolean(r, field)
	case tagInt:
		var i int
		if err := l.decode(pos, r, field, &i); err != nil {
			l.errAt(pos, field, "integer %s is out of range", shortText(r.Value, maxQuoteLen))
			return nil, false
		}
		return i, true
	case tagFloat:
		var f float64
		if err := l.decode(pos, r, field, &f); err != nil {
			l.errAt(pos, field, "bad number %s", quoteShort(r.Value))
			return nil, false
		}
		return f, true
	case tagStr:
		if tmpl {
			l.checkTemplate(pos, field, r.Value)
		}
		return r.Value, true
	case tagTimestamp, tagBinary:
		return r.Value, true
	default:
		l.errAt(pos, field, "unsupported YAML tag %s", quoteShort(r.Tag))
		return nil, false
	}
}

// checkTemplate runs the template syntax check on s. Strings without a
// brace cannot hold Jinja syntax, so the (costly) check is skipped for them.
func (l *loader) checkTemplate(n *yaml.Node, field, s string) {
	if l.opts.CheckTemplate == nil || !strings.Contains(s, "{") {
		return
	}
	l.at(n, field)
	err := safeCheck(l.opts.CheckTemplate, s)
	l.done()
	if err != nil {
		l.errAt(n, field, "template syntax error: %v", err)
		return
	}
	l.noteXComRefs(n, field, s)
}

// safeCheck turns a panic in the template engine into an error: one odd
// string in one DAG file must not take the scheduler down.
func safeCheck(check func(string) error, s string) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("template engine panicked: %v", r)
		}
	}()
	return check(s)
}

package dag

import (
	"maps"
	"slices"
	"strings"
)

// fieldMap indexes an operator's fields by name.
func fieldMap(s OperatorSpec) map[string]FieldSpec {
	out := make(map[string]FieldSpec, len(s.Fields))
	for _, f := range s.Fields {
		out[f.Name] = f
	}
	return out
}

// anyOperatorField reports whether some known operator has a field name.
func (l *loader) anyOperatorField(name string) bool {
	for _, s := range l.opts.Operators {
		if slices.ContainsFunc(s.Fields, func(f FieldSpec) bool { return f.Name == name }) {
			return true
		}
	}
	return false
}

// allTaskKeys are the keys some task may have: the task keys and every
// known operator's fields, sorted after the task keys for stable hints.
func (l *loader) allTaskKeys() []string {
	if l.taskKeys != nil {
		return l.taskKeys
	}
	out := slices.Clip(taskKeyNames)
	var extra []string
	for _, s := range l.opts.Operators {
		for _, n := range fieldNames(&s) {
			if !slices.Contains(extra, n) {
				extra = append(extra, n)
			}
		}
	}
	slices.Sort(extra)
	l.taskKeys = append(out, extra...)
	return l.taskKeys
}

func fieldNames(spec *OperatorSpec) []string {
	out := make([]string, 0, len(spec.Fields))
	for _, f := range spec.Fields {
		if !slices.Contains(taskKeyNames, f.Name) {
			out = append(out, f.Name)
		}
	}
	return out
}

// operatorHint suggests the closest known operator or lists them all.
func (l *loader) operatorHint(name string) string {
	names := slices.Sorted(maps.Keys(l.opts.Operators))
	if hint := airflowOperatorHint(name, l.opts.Operators); hint != "" {
		return hint
	}
	if hint := l.hint(name, names); hint != "" {
		return hint
	}
	if len(names) == 0 {
		return " (no operators are registered)"
	}
	return " (known operators: " + strings.Join(names, ", ") + ")"
}

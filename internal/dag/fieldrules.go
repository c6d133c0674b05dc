package dag

import (
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// checkField runs a field's own Check on its decoded value.
func (l *loader) checkField(f FieldSpec, n *yaml.Node, field string, v any) {
	if f.Check == nil || isNull(n) {
		return
	}
	if err := f.Check(v); err != nil {
		l.errAt(n, field, "%v", err)
	}
}

// fieldRules enforces the rules between an operator's fields: ExactlyOne
// groups and Needs. keys are the task's entries by name; a key set to null
// counts as absent, as for Required.
func (l *loader) fieldRules(dr *draft, spec *OperatorSpec, keys map[string]entry) {
	set := func(name string) bool {
		e, ok := keys[name]
		return ok && !isNull(e.val)
	}
	for _, group := range spec.ExactlyOne {
		var given []string
		airflow := false // python_callable: reported with a hint already
		for _, name := range group {
			if set(name) {
				given = append(given, name)
			}
			airflow = airflow || hasAirflowSpelling(dr.entries, name)
		}
		switch {
		case len(given) == 0 && !airflow:
			l.errAt(dr.pos, dr.field, "missing required key: one of %s (operator %q needs exactly one)", quoteNames(group, "or"), spec.Name)
		case len(given) > 1:
			e := keys[given[1]]
			l.errAt(e.key, subField(dr.field, given[1]), "%s exclude each other: give only one", quoteNames(given, "and"))
		}
	}
	for _, f := range spec.Fields {
		if f.Needs == "" || !set(f.Name) || set(f.Needs) {
			continue
		}
		var others []string
		for _, g := range spec.ExactlyOne {
			if slices.Contains(g, f.Needs) {
				for _, o := range g {
					if o != f.Needs && set(o) {
						others = append(others, o)
					}
				}
			}
		}
		msg := "%q only goes with %q, which the task does not set"
		if len(others) > 0 {
			msg += " (it uses " + quoteNames(others, "and") + ")"
		}
		l.errAt(keys[f.Name].key, subField(dr.field, f.Name), msg, f.Name, f.Needs)
	}
}

// quoteNames spells field names as "a", "b" or "c" (conj "or").
func quoteNames(names []string, conj string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = `"` + n + `"`
	}
	if len(q) < 2 {
		return strings.Join(q, "")
	}
	return strings.Join(q[:len(q)-1], ", ") + " " + conj + " " + q[len(q)-1]
}

package operator

import (
	"maps"
	"time"

	"github.com/sirocco-dev/sirocco/internal/dag"
)

// Fields reads a task's rendered fields through its operator's spec: a
// field the task leaves out takes the spec's Default, so each default is
// declared once, beside the field's kind and description (and published
// in the JSON Schema), not in the code path that reads it. A name the
// spec does not declare reads as absent with no default.
type Fields struct {
	spec dag.OperatorSpec
	args Args
}

// FieldsOf reads args (Task.Args, or a rewritten copy) by spec.
func FieldsOf(spec dag.OperatorSpec, args map[string]any) Fields {
	return Fields{spec: spec, args: args}
}

// Args returns the raw fields, for helpers that take them as they are.
func (f Fields) Args() Args { return f.args }

// def returns the declared default of a field, or nil.
func (f Fields) def(name string) any {
	for _, fs := range f.spec.Fields {
		if fs.Name == name {
			return fs.Default
		}
	}
	return nil
}

// String returns a string field, else its default, else "".
func (f Fields) String(name string) string {
	d, _ := f.def(name).(string)
	return f.args.String(name, d)
}

// Bool returns a boolean field, else its default, else false.
func (f Fields) Bool(name string) bool {
	d, _ := f.def(name).(bool)
	return f.args.Bool(name, d)
}

// Int returns an integer field, else its default, else 0.
func (f Fields) Int(name string) int {
	d, _ := f.def(name).(int)
	return f.args.Int(name, d)
}

// Duration returns a duration field, else its default, else 0.
func (f Fields) Duration(name string) time.Duration {
	d, _ := f.def(name).(time.Duration)
	return f.args.Duration(name, d)
}

// Strings returns a list field, else a copy of its default.
func (f Fields) Strings(name string) []string {
	if v, ok := f.args[name]; ok && v != nil {
		return f.args.Strings(name)
	}
	d, _ := f.def(name).([]string)
	return append([]string(nil), d...)
}

// Ints returns an integer list field, else a copy of its default.
func (f Fields) Ints(name string) []int {
	if v, ok := f.args.Ints(name); ok {
		return v
	}
	d, _ := f.def(name).([]int)
	return append([]int(nil), d...)
}

// StringMap returns a map field, else a copy of its default.
func (f Fields) StringMap(name string) map[string]string {
	if v, ok := f.args[name]; ok && v != nil {
		return f.args.StringMap(name)
	}
	d, _ := f.def(name).(map[string]string)
	return maps.Clone(d)
}

// checkDefault is dag.FieldSpec.CheckDefault, for Registry.Check.
func checkDefault(fs dag.FieldSpec) error { return fs.CheckDefault() }

package dag

import (
	"fmt"
	"time"
)

// FieldKind is the YAML shape an operator field accepts.
type FieldKind string

// Field kinds. Templated string values anywhere inside a field are rendered
// with Jinja just before the task runs.
const (
	FieldString     FieldKind = "string"
	FieldInt        FieldKind = "integer"
	FieldBool       FieldKind = "boolean"
	FieldDuration   FieldKind = "duration" // Go duration string ("30s") or seconds as a number
	FieldStringList FieldKind = "string_list"
	FieldStringMap  FieldKind = "string_map"
	FieldIntList    FieldKind = "integer_list"
	FieldAny        FieldKind = "any"
)

// FieldSpec describes one operator-specific task field, so the loader can
// reject unknown keys and wrong types before anything runs, and the JSON
// Schema can describe every operator.
type FieldSpec struct {
	Name        string
	Kind        FieldKind
	Required    bool
	Templated   bool
	Description string
	// Default is what the operator reads when the task leaves the field
	// out, declared here once (operator.Fields applies it) rather than in
	// the code that reads it. Its Go type follows Kind: string, int, bool,
	// time.Duration, []string, map[string]string, []int (CheckDefault). A
	// default that depends on the task or a connection (the DAG file's
	// folder, the connection's deploy mode) stays nil and is said in
	// Description.
	Default any
	// Check, when set, vets the decoded value (as Task.Args holds it) when
	// the DAG file is loaded, for rules a kind cannot say ("module:function");
	// its error is reported at the field's line. Templated strings reach it
	// as written, before rendering.
	Check func(v any) error
	// Needs names the field this one only means something with (args with
	// script): a task that sets this field without that one is rejected.
	Needs string
}

// CheckDefault reports a Default whose Go type does not match Kind.
func (f FieldSpec) CheckDefault() error {
	if f.Default == nil || f.Kind == FieldAny {
		return nil
	}
	ok := false
	switch f.Kind {
	case FieldString:
		_, ok = f.Default.(string)
	case FieldInt:
		_, ok = f.Default.(int)
	case FieldBool:
		_, ok = f.Default.(bool)
	case FieldDuration:
		_, ok = f.Default.(time.Duration)
	case FieldStringList:
		_, ok = f.Default.([]string)
	case FieldStringMap:
		_, ok = f.Default.(map[string]string)
	case FieldIntList:
		_, ok = f.Default.([]int)
	}
	if !ok {
		return fmt.Errorf("field %s: default %v is a %T, not a %s", f.Name, f.Default, f.Default, f.Kind)
	}
	return nil
}

// OperatorSpec is what the loader needs to know about an operator. The
// operator packages provide these; the loader receives them in its options so
// this package does not depend on any operator.
type OperatorSpec struct {
	Name        string
	Description string
	Fields      []FieldSpec
	// ExactlyOne lists groups of fields of which a task must set exactly
	// one (script or callable), for choices that Required cannot say.
	ExactlyOne [][]string
}

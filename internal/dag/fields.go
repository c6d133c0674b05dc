package dag

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
}

// OperatorSpec is what the loader needs to know about an operator. The
// operator packages provide these; the loader receives them in its options so
// this package does not depend on any operator.
type OperatorSpec struct {
	Name        string
	Description string
	Fields      []FieldSpec
}

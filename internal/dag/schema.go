package dag

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"time"
)

// SchemaID is the $id of the JSON Schema of DAG files.
const SchemaID = "https://sirocco.dev/schemas/dag.schema.json"

// Schema returns a JSON Schema (draft 2020-12) of the DAG file format,
// including each operator's fields, so that editors (VS Code's YAML
// extension, JetBrains) can complete and check DAG files as they are typed.
// A task's operator selects its fields through if/then, and
// unevaluatedProperties rejects keys that neither the common task keys nor
// that operator allow, as the loader does. The loader stays the authority:
// it is a little more lenient on scalars (any scalar is accepted where a
// string is expected) and checks what a schema cannot (cycles, ids).
func Schema(ops map[string]OperatorSpec) ([]byte, error) {
	names := slices.Sorted(maps.Keys(ops))

	taskProps := properties(taskOnlyKeys, commonTaskKeys)
	opNames := make([]any, len(names))
	for i, n := range names {
		opNames[i] = n
	}
	if len(opNames) > 0 {
		taskProps["operator"] = withDesc(map[string]any{"enum": opNames}, taskProps["operator"].(map[string]any)["description"].(string))
	}

	defs := map[string]any{
		"duration": map[string]any{
			"description": `A duration: Go syntax ("30s", "5m", "1h30m"), days ("1d", "1d12h") or a number of seconds.`,
			"oneOf": []any{
				map[string]any{"type": "string", "pattern": `^\s*([0-9]+d)?([0-9.]+(ns|us|µs|ms|s|m|h))*\s*$|^\s*[0-9]+(\.[0-9]+)?\s*$`},
				map[string]any{"type": "number", "minimum": 0},
			},
		},
		"date": map[string]any{
			"description": "A date (YYYY-MM-DD) or date-time (RFC 3339); without a zone it is read in the DAG's timezone.",
			"type":        "string",
			"pattern":     `^[0-9]{4}-[0-9]{2}-[0-9]{2}([Tt ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?([Zz]|[+-][0-9]{2}:[0-9]{2})?)?$`,
		},
		"map_source": map[string]any{"oneOf": []any{map[string]any{"type": "array"},
			map[string]any{"type": "object", "required": []any{"xcom"}, "additionalProperties": false,
				"properties": map[string]any{"xcom": map[string]any{"type": "string"}, "key": map[string]any{"type": "string"}}}}},
		"scalar": map[string]any{
			"description": "A string; numbers and booleans are taken as written.",
			"type":        []any{"string", "number", "boolean"},
		},
		"trigger_rule":  map[string]any{"enum": anySlice(triggerRuleNames())},
		"notifiers":     notifierSchema(),
		"deadline":      deadlineSchema(DeadlineReferences),
		"task_deadline": deadlineSchema(TaskDeadlineReferences),
		"asset_condition": map[string]any{
			"description": "An asset URI, or {all: [...]} / {any: [...]} of them.",
			"oneOf": []any{schemaString, map[string]any{"type": "object", "minProperties": 1, "maxProperties": 1, "additionalProperties": false,
				"properties": map[string]any{
					"all": map[string]any{"type": "array", "minItems": 1, "items": map[string]any{"$ref": "#/$defs/asset_condition"}},
					"any": map[string]any{"type": "array", "minItems": 1, "items": map[string]any{"$ref": "#/$defs/asset_condition"}},
				}}},
		},
		"default_args": map[string]any{
			"description":          "Scheduling settings every task inherits unless it sets its own.",
			"type":                 "object",
			"properties":           properties(commonTaskKeys),
			"additionalProperties": false,
		},
		"param": map[string]any{
			"description": "A default value, or an object with type, default, enum and description.",
			"oneOf": []any{
				map[string]any{"type": []any{"string", "number", "boolean", "null", "array"}},
				map[string]any{"type": "object", "properties": properties(paramKeys), "additionalProperties": false},
			},
		},
	}
	var branches []any
	for _, name := range names {
		spec := ops[name]
		def := operatorSchema(name, spec)
		defs["operator."+name] = def
		branches = append(branches, map[string]any{
			"if":   map[string]any{"properties": map[string]any{"operator": map[string]any{"const": name}}, "required": []any{"operator"}},
			"then": map[string]any{"$ref": "#/$defs/operator." + name},
		})
	}
	task := map[string]any{
		"description":           "One task: id, operator, scheduling keys and the operator's own fields.",
		"type":                  "object",
		"required":              []any{"id", "operator"},
		"properties":            taskProps,
		"unevaluatedProperties": false,
	}
	if len(branches) > 0 {
		task["allOf"] = branches
	}
	defs["task"] = task
	defs["group"] = map[string]any{
		"description":          "A task group (Airflow's TaskGroup): its tasks' ids are prefixed with its id, they inherit its default_args, and depending on the group means depending on its last tasks.",
		"type":                 "object",
		"required":             []any{"id"},
		"properties":           properties(groupKeys),
		"additionalProperties": false,
	}

	schema := map[string]any{
		"$schema":              "https://json-schema.org/draft/2020-12/schema",
		"$id":                  SchemaID,
		"title":                "Sirocco DAG",
		"description":          "A Sirocco DAG file. Field names are Apache Airflow's.",
		"type":                 "object",
		"required":             []any{"dag_id"},
		"anyOf":                []any{map[string]any{"required": []any{"tasks"}}, map[string]any{"required": []any{"groups"}}},
		"properties":           properties(topKeys),
		"additionalProperties": false,
		"$defs":                defs,
	}
	out, err := json.MarshalIndent(schema, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode DAG JSON Schema: %w", err)
	}
	return out, nil
}

// operatorSchema describes one operator's fields.
func operatorSchema(name string, spec OperatorSpec) map[string]any {
	props := map[string]any{}
	var required []any
	for _, f := range spec.Fields {
		if slices.Contains(taskKeyNames, f.Name) {
			continue // a common key; the loader reads it as such
		}
		desc := f.Description
		if f.Templated {
			desc += " (templated)"
		}
		prop := withDesc(kindSchema(f.Kind), desc)
		if f.Default != nil {
			prop["default"] = schemaDefault(f.Default)
		}
		props[f.Name] = prop
		if f.Required {
			required = append(required, f.Name)
		}
	}
	def := map[string]any{"properties": props}
	if spec.Description != "" {
		def["description"] = fmt.Sprintf("Operator %s: %s", name, spec.Description)
	}
	addFieldRules(def, spec)
	if len(required) > 0 {
		// A mapped task may take its required fields from its lists.
		unmapped := map[string]any{"not": map[string]any{"anyOf": []any{
			map[string]any{"required": []any{"expand"}}, map[string]any{"required": []any{"expand_kwargs"}}}}}
		all, _ := def["allOf"].([]any)
		def["allOf"] = append(all, map[string]any{"if": unmapped, "then": map[string]any{"required": required}})
	}
	return def
}

// addFieldRules adds ExactlyOne (oneOf) and Needs (dependentRequired).
func addFieldRules(def map[string]any, spec OperatorSpec) {
	var all []any
	for _, group := range spec.ExactlyOne {
		one := make([]any, len(group))
		for i, name := range group {
			one[i] = map[string]any{"required": []any{name}}
		}
		all = append(all, map[string]any{"oneOf": one})
	}
	if len(all) > 0 {
		def["allOf"] = all
	}
	needs := map[string]any{}
	for _, f := range spec.Fields {
		if f.Needs != "" {
			needs[f.Name] = []any{f.Needs}
		}
	}
	if len(needs) > 0 {
		def["dependentRequired"] = needs
	}
}

// schemaDefault is a field's default as the YAML would spell it: a
// duration as Go's string ("500ms"), anything else as it is.
func schemaDefault(v any) any {
	if d, ok := v.(time.Duration); ok {
		return d.String()
	}
	return v
}

func kindSchema(k FieldKind) map[string]any {
	switch k {
	case FieldString:
		return map[string]any{"type": "string"}
	case FieldInt:
		return map[string]any{"type": "integer"}
	case FieldBool:
		return map[string]any{"type": "boolean"}
	case FieldDuration:
		return map[string]any{"$ref": "#/$defs/duration"}
	case FieldStringList:
		return map[string]any{"type": "array", "items": map[string]any{"$ref": "#/$defs/scalar"}}
	case FieldStringMap:
		return map[string]any{"type": "object", "additionalProperties": map[string]any{"$ref": "#/$defs/scalar"}}
	case FieldIntList:
		return map[string]any{"type": "array", "items": map[string]any{"type": "integer"}}
	}
	return map[string]any{}
}

// properties renders key tables as JSON Schema properties.
func properties(lists ...[]keyInfo) map[string]any {
	out := map[string]any{}
	for _, l := range lists {
		for _, k := range l {
			out[k.name] = withDesc(k.schema, k.desc)
		}
	}
	return out
}

// withDesc returns a copy of s with a description, leaving the shared
// fragments untouched.
func withDesc(s map[string]any, desc string) map[string]any {
	out := maps.Clone(s)
	if out == nil {
		out = map[string]any{}
	}
	if desc != "" {
		out["description"] = desc
	}
	return out
}

func anySlice(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

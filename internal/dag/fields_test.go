package dag

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// TestFieldDefaults: a default must have its kind's Go type, and the JSON
// Schema publishes it as a DAG file would spell it.
func TestFieldDefaults(t *testing.T) {
	t.Parallel()
	good := []FieldSpec{
		{Name: "s", Kind: FieldString, Default: "x"}, {Name: "i", Kind: FieldInt, Default: 3},
		{Name: "b", Kind: FieldBool, Default: true}, {Name: "d", Kind: FieldDuration, Default: 500 * time.Millisecond},
		{Name: "l", Kind: FieldStringList, Default: []string{"a"}}, {Name: "m", Kind: FieldStringMap, Default: map[string]string{"k": "v"}},
		{Name: "il", Kind: FieldIntList, Default: []int{99}}, {Name: "a", Kind: FieldAny, Default: 1.5}, {Name: "none", Kind: FieldString},
	}
	for _, f := range good {
		if err := f.CheckDefault(); err != nil {
			t.Errorf("%s: %v", f.Name, err)
		}
	}
	bad := []FieldSpec{
		{Name: "d", Kind: FieldDuration, Default: "500ms"}, {Name: "i", Kind: FieldInt, Default: int64(3)},
		{Name: "il", Kind: FieldIntList, Default: []any{99}}, {Name: "b", Kind: FieldBool, Default: "true"},
	}
	for _, f := range bad {
		if err := f.CheckDefault(); err == nil || !strings.Contains(err.Error(), "field "+f.Name+": default") {
			t.Errorf("%s: CheckDefault = %v, want an error naming the field", f.Name, err)
		}
	}

	out, err := Schema(map[string]OperatorSpec{"op": {Name: "op", Fields: good}})
	if err != nil {
		t.Fatal(err)
	}
	var s struct {
		Defs map[string]struct {
			Properties map[string]map[string]any `json:"properties"`
		} `json:"$defs"`
	}
	if err := json.Unmarshal(out, &s); err != nil {
		t.Fatal(err)
	}
	props := s.Defs["operator.op"].Properties
	if props["d"]["default"] != "500ms" || props["i"]["default"] != 3.0 || props["b"]["default"] != true {
		t.Errorf("schema defaults: d %v, i %v, b %v", props["d"]["default"], props["i"]["default"], props["b"]["default"])
	}
	if _, has := props["none"]["default"]; has {
		t.Error("a field without a default got one in the schema")
	}
}

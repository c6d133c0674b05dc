package dag

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

// rulesOps has an operator with an "exactly one of" group, fields that
// need one of its members, and a field with its own Check.
var rulesOps = map[string]OperatorSpec{
	"py": {Name: "py", Fields: []FieldSpec{
		{Name: "script", Kind: FieldString},
		{Name: "callable", Kind: FieldString, Check: func(v any) error {
			if !strings.Contains(v.(string), ":") {
				return errors.New(`expected "module:function"`)
			}
			return nil
		}},
		{Name: "args", Kind: FieldStringList, Needs: "script"},
		{Name: "op_kwargs", Kind: FieldAny, Needs: "callable"},
	}, ExactlyOne: [][]string{{"script", "callable"}}},
}

func TestFieldRules(t *testing.T) {
	t.Parallel()
	head := "dag_id: d\ntasks:\n  - id: t\n    operator: py\n"
	tests := []struct {
		name, body string
		want       []string
	}{
		{"script alone", "    script: a.py\n    args: [x]\n", nil},
		{"callable alone", "    callable: m:f\n    op_kwargs: {a: 1}\n", nil},
		{"neither", "    args: [x]\n", []string{
			`:3:5: tasks[t]: missing required key: one of "script" or "callable" (operator "py" needs exactly one)`,
			`:5:5: tasks[t].args: "args" only goes with "script", which the task does not set`,
		}},
		{"both", "    script: a.py\n    callable: m:f\n", []string{
			`:6:5: tasks[t].callable: "script" and "callable" exclude each other: give only one`,
		}},
		{"needs the other member", "    callable: m:f\n    args: [x]\n", []string{
			`:6:5: tasks[t].args: "args" only goes with "script", which the task does not set (it uses "callable")`,
		}},
		{"check", "    callable: nocolon\n", []string{
			`:5:15: tasks[t].callable: expected "module:function"`,
		}},
		{"Airflow spelling", "    python_callable: m:f\n", []string{
			`:5:5: tasks[t]: unknown key "python_callable" (python_callable is Airflow's name; Sirocco's is "callable")`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Parse("f.yaml", []byte(head+tt.body), LoadOptions{Operators: rulesOps})
			var got []string
			for _, line := range errorLines(t, err) {
				got = append(got, strings.TrimPrefix(line, "f.yaml"))
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestFieldRulesInSchema(t *testing.T) {
	t.Parallel()
	def := operatorSchema("py", rulesOps["py"])
	all, _ := def["allOf"].([]any)
	if len(all) != 1 || len(all[0].(map[string]any)["oneOf"].([]any)) != 2 {
		t.Errorf("allOf = %v, want one oneOf of two", def["allOf"])
	}
	needs, _ := def["dependentRequired"].(map[string]any)
	if len(needs) != 2 || needs["args"].([]any)[0] != "script" {
		t.Errorf("dependentRequired = %v", def["dependentRequired"])
	}
}

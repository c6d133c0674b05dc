package python_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v3"

	"github.com/sirocco-dev/sirocco/internal/dag"
	"github.com/sirocco-dev/sirocco/internal/operator/all"
	"github.com/sirocco-dev/sirocco/internal/operator/python"
)

// TestCallableValidation: `dags validate` reports a bad callable, misshapen
// op_args or op_kwargs and a script/callable mix-up with file, line and
// field, before anything runs.
func TestCallableValidation(t *testing.T) {
	t.Parallel()
	head := "dag_id: d\ntasks:\n  - id: t\n    operator: python\n"
	tests := []struct {
		name, body string
		want       []string
	}{
		{"good", "    callable: pkg.mod:fn\n    op_args: [1, \"{{ ds }}\"]\n    op_kwargs: {a: \"{{ run_id }}\"}\n", nil},
		{"no colon", "    callable: etl.load\n", []string{
			`d.yaml:5:15: tasks[t].callable: expected "module:function" (e.g. "etl.load:main"), got "etl.load" (no ":")`}},
		{"two colons", "    callable: \"a:b:c\"\n", []string{
			`d.yaml:5:15: tasks[t].callable: expected "module:function" (e.g. "etl.load:main"), got "a:b:c" (more than one ":")`}},
		{"not a name", "    callable: \"my-mod:fn\"\n", []string{
			`d.yaml:5:15: tasks[t].callable: module of "my-mod:fn": "my-mod" is not a Python name ('-' at byte 2)`}},
		{"empty function", "    callable: \"mod:\"\n", []string{
			`d.yaml:5:15: tasks[t].callable: function of "mod:": empty name`}},
		{"keyword", "    callable: \"class.x:fn\"\n", []string{
			`d.yaml:5:15: tasks[t].callable: module of "class.x:fn": "class" is a Python keyword, not a name`}},
		{"op_args a string", "    callable: m:f\n    op_args: \"1, 2\"\n", []string{
			`d.yaml:6:14: tasks[t].op_args: expected a list, got a string`}},
		{"op_kwargs a list", "    callable: m:f\n    op_kwargs: [1]\n", []string{
			`d.yaml:6:16: tasks[t].op_kwargs: expected a mapping, got a list`}},
		{"both", "    script: a.py\n    callable: m:f\n", []string{
			`d.yaml:6:5: tasks[t].callable: "script" and "callable" exclude each other: give only one`}},
		{"neither", "    python: python3\n", []string{
			`d.yaml:3:5: tasks[t]: missing required key: one of "script" or "callable" (operator "python" needs exactly one)`}},
		{"op_kwargs with a script", "    script: a.py\n    op_kwargs: {a: 1}\n", []string{
			`d.yaml:6:5: tasks[t].op_kwargs: "op_kwargs" only goes with "callable", which the task does not set (it uses "script")`}},
		{"args with a callable", "    callable: m:f\n    args: [x]\n", []string{
			`d.yaml:6:5: tasks[t].args: "args" only goes with "script", which the task does not set (it uses "callable")`}},
	}
	opts := dag.LoadOptions{Operators: map[string]dag.OperatorSpec{"python": python.Spec}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := dag.Parse("d.yaml", []byte(head+tt.body), opts)
			var got []string
			for _, fe := range dag.FileErrors(err) {
				got = append(got, fe.Error())
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

// TestCallableSchema: the published JSON Schema, built from the real
// operator specs, accepts the shipped example and refuses what the loader
// refuses: both script and callable, neither, op_kwargs with a script.
func TestCallableSchema(t *testing.T) {
	t.Parallel()
	out, err := dag.Schema(all.Registry().Specs())
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("dag.json", doc); err != nil {
		t.Fatal(err)
	}
	schema, err := c.Compile("dag.json")
	if err != nil {
		t.Fatal(err)
	}
	example, err := os.ReadFile(filepath.Join("..", "..", "..", "examples", "dags", "python_callable.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	head := "dag_id: d\ntasks:\n  - id: t\n    operator: python\n"
	for body, valid := range map[string]bool{
		string(example): true,
		head + "    script: a.py\n    args: [x]\n":              true,
		head + "    script: a.py\n    callable: m:f\n":          false,
		head + "    python: python3\n":                          false,
		head + "    script: a.py\n    op_kwargs: {a: 1}\n":      false,
		head + "    callable: m:f\n    op_kwargs: [1]\n":        true, // the loader's Check catches this one
		head + "    callable: m:f\n    op_kwargs: {a: \"x\"}\n": true,
	} {
		var v any
		if err := yaml.Unmarshal([]byte(body), &v); err != nil {
			t.Fatal(err)
		}
		// The schema validator wants JSON's types: a round trip gives them.
		data, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		if err := schema.Validate(inst); (err == nil) != valid {
			t.Errorf("valid = %v, want %v for:\n%s\n%v", err == nil, valid, body, err)
		}
	}
}

package python_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/sirocco-dev/sirocco/internal/dag"
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

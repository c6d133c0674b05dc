package dag

import (
	"slices"
	"strings"
	"testing"
)

// TestPreflightKeys: the DAG's preflight is a connection id or a list of
// them (deduplicated, checked as ids); a task's is a boolean, inherited
// from default_args; wrong shapes are errors naming the line and field.
func TestPreflightKeys(t *testing.T) {
	tests := []struct {
		name, src string
		want      []string // errors; nil means it loads
		dagIDs    []string
		tasks     []bool // Preflight of each task
	}{
		{name: "list", src: "dag_id: x\npreflight: [edge, spark_cluster, edge]\ntasks: [{id: a, operator: empty}]\n",
			dagIDs: []string{"edge", "spark_cluster"}, tasks: []bool{false}},
		{name: "one id", src: "dag_id: x\npreflight: edge\ntasks: [{id: a, operator: empty}]\n",
			dagIDs: []string{"edge"}, tasks: []bool{false}},
		{name: "task field and default_args", src: "dag_id: x\ndefault_args: {preflight: true}\ntasks:\n  - {id: a, operator: empty}\n  - {id: b, operator: empty, preflight: false}\n",
			tasks: []bool{true, false}},
		{name: "task field alone", src: "dag_id: x\ntasks:\n  - {id: a, operator: empty, preflight: true}\n", tasks: []bool{true}},
		{name: "bad id", src: "dag_id: x\npreflight: [edge, \"my conn\"]\ntasks: [{id: a, operator: empty}]\n",
			want: []string{`2:19: preflight[1]: invalid id "my conn" (only letters, digits, '_', '.' and '-' are allowed)`}},
		{name: "map", src: "dag_id: x\npreflight: {edge: true}\ntasks: [{id: a, operator: empty}]\n",
			want: []string{`2:12: preflight: expected a connection id or a list of them, got a mapping`}},
		{name: "task not boolean", src: "dag_id: x\ntasks: [{id: a, operator: empty, preflight: edge}]\n",
			want: []string{"preflight"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, err := Parse("x.yaml", []byte(tc.src), testOpts)
			if tc.want != nil {
				got := strings.Join(errorLines(t, err), "\n")
				for _, w := range tc.want {
					if !strings.Contains(got, w) {
						t.Errorf("errors:\n%s\nwant %q", got, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(d.Preflight, tc.dagIDs) {
				t.Errorf("DAG preflight %q, want %q", d.Preflight, tc.dagIDs)
			}
			for i, want := range tc.tasks {
				if d.Tasks[i].Preflight != want {
					t.Errorf("task %s preflight %v, want %v", d.Tasks[i].ID, d.Tasks[i].Preflight, want)
				}
			}
		})
	}
}

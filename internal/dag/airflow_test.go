package dag

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/template"
)

// TestAirflowHabits pins what the loader does with values Airflow users
// write out of habit (see docs/decisions.md, "Airflow spellings").
func TestAirflowHabits(t *testing.T) {
	t.Parallel()
	d, err := LoadFile("testdata/valid/airflow_habits.yaml", testOpts)
	if err != nil {
		t.Fatal(err)
	}
	if d.ScheduleSpec != "none" || IsPeriodic(d.Schedule) {
		t.Errorf("schedule: None gave %q (periodic %v), want none", d.ScheduleSpec, IsPeriodic(d.Schedule))
	}
	b, c := d.Task("b"), d.Task("c")
	if !slices.Equal(b.DependsOn, []string{"a"}) {
		t.Errorf("depends_on: a gave %q, want [a]", b.DependsOn)
	}
	if b.RetryDelay != 2*time.Second || c.RetryDelay != 1500*time.Millisecond {
		t.Errorf("retry_delay as a number: got %v and %v, want seconds (2s, 1.5s)", b.RetryDelay, c.RetryDelay)
	}
}

// TestXComPullUnknownTaskAtLoad: a literal task id given to ti.xcom_pull
// that names no task of the DAG is a load error, placed at the field, with
// a did-you-mean; existing tasks and computed ids pass.
func TestXComPullUnknownTaskAtLoad(t *testing.T) {
	t.Parallel()
	opts := LoadOptions{Operators: testOps, CheckTemplate: template.Check, XComTaskIDs: template.XComTaskIDs}
	path := "testdata/invalid/xcom_refs.yaml"
	_, err := LoadFile(path, opts)
	want := []string{
		`:4:20: default_args.env.FROM_DEFAULTS: ti.xcom_pull of unknown task "extrct" (did you mean "extract"?)`,
		`:9:14: tasks[report].command: ti.xcom_pull of unknown task "lod"`,
		`:14:12: tasks[report].env.OUT: ti.xcom_pull of unknown task "transfrom"`,
		`:18:44: tasks[extract].args[1]: ti.xcom_pull of unknown task "nowhere"`,
	}
	for i := range want {
		want[i] = path + want[i]
	}
	if got := errorLines(t, err); !slices.Equal(got, want) {
		t.Errorf("errors:\n got %s\nwant %s", strings.Join(got, "\n     "), strings.Join(want, "\n     "))
	}
}

// TestAirflowBranchOperatorHints: Airflow's branching classes point at
// Sirocco's branch and short_circuit operators.
func TestAirflowBranchOperatorHints(t *testing.T) {
	t.Parallel()
	ops := map[string]OperatorSpec{"branch": {Name: "branch"}, "short_circuit": {Name: "short_circuit"}}
	for name, want := range map[string]string{
		"BranchPythonOperator": "Sirocco's operator is branch)",
		"BranchBashOperator":   "Sirocco's operator is branch)",
		"ShortCircuitOperator": "Sirocco's operator is short_circuit)",
	} {
		if got := airflowOperatorHint(name, ops); !strings.HasSuffix(got, want) {
			t.Errorf("%s: hint %q, want it to end with %q", name, got, want)
		}
	}
}

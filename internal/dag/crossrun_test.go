package dag

import (
	"strings"
	"testing"
	"time"
)

// TestCrossRunKeys: the cross-run flags load from a task and from
// default_args, wait_for_downstream implies depends_on_past, and a
// non-boolean value is an error naming the field.
func TestCrossRunKeys(t *testing.T) {
	t.Parallel()
	d := mustLoad(t, `
dag_id: x
schedule: "@daily"
start_date: 2026-01-01
default_args: {depends_on_past: true}
tasks:
  - {id: a, operator: empty}
  - {id: b, operator: empty, depends_on_past: false, wait_for_downstream: true, ignore_first_depends_on_past: true}
  - {id: c, operator: empty, depends_on_past: false, latest_only: true}
`)
	a, b, c := d.Task("a"), d.Task("b"), d.Task("c")
	if !a.DependsOnPast || !a.PastDependent() {
		t.Errorf("a inherits depends_on_past: %+v", a)
	}
	if b.DependsOnPast || !b.WaitForDownstream || !b.IgnoreFirstDependsOnPast || !b.PastDependent() {
		t.Errorf("b: wait_for_downstream implies depends_on_past: %+v", b)
	}
	if c.PastDependent() || !c.LatestOnly {
		t.Errorf("c: %+v", c)
	}
	err := loadErr(t, `
dag_id: x
schedule: none
tasks:
  - {id: a, operator: empty, depends_on_past: "yes please"}
`)
	wantErr(t, err, "tasks[a].depends_on_past", "boolean")
}

// TestIsLatestRun follows LatestOnlyOperator's window: a scheduled run is
// the latest while now is within the interval after its own.
func TestIsLatestRun(t *testing.T) {
	t.Parallel()
	d := mustLoad(t, `
dag_id: x
schedule: "@daily"
start_date: 2026-01-01
tasks: [{id: a, operator: empty}]
`)
	day := func(n int) time.Time { return time.Date(2026, 1, n, 0, 0, 0, 0, time.UTC) }
	iv := Interval{Start: day(1), End: day(2)}
	tests := []struct {
		name   string
		now    time.Time
		manual bool
		want   bool
	}{
		{"in the next interval", day(2).Add(time.Hour), false, true},
		{"at the next interval's end", day(3), false, true},
		{"a day later: a catchup run", day(3).Add(time.Second), false, false},
		{"at its own end: not yet after", day(2), false, false},
		{"manual runs always follow", day(9), true, true},
	}
	for _, tt := range tests {
		if got := d.IsLatestRun(iv, tt.manual, tt.now); got != tt.want {
			t.Errorf("%s: IsLatestRun = %v, want %v", tt.name, got, tt.want)
		}
	}
	none := mustLoad(t, "dag_id: y\nschedule: none\ntasks: [{id: a, operator: empty}]\n")
	if !none.IsLatestRun(iv, false, day(9)) {
		t.Error("an unscheduled DAG's run is always the latest")
	}
}

func mustLoad(t *testing.T, src string) *DAG {
	t.Helper()
	d, err := Parse("x.yaml", []byte(src), testOpts)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func loadErr(t *testing.T, src string) error {
	t.Helper()
	_, err := Parse("x.yaml", []byte(src), testOpts)
	if err == nil {
		t.Fatal("loads, want an error")
	}
	return err
}

func wantErr(t *testing.T, err error, parts ...string) {
	t.Helper()
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("error %q lacks %q", err, p)
		}
	}
}

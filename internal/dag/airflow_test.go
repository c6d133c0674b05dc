package dag

import (
	"slices"
	"testing"
	"time"
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

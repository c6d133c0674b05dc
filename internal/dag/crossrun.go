package dag

import (
	"time"

	"go.yaml.in/yaml/v3"
)

// crossRunFlag reads one of the boolean cross-run keys into t.
func (l *loader) crossRunFlag(t *Task, name string, n *yaml.Node, field string) {
	b, ok := l.boolean(n, field)
	if !ok {
		return
	}
	switch name {
	case "depends_on_past":
		t.DependsOnPast = b
	case "wait_for_downstream":
		t.WaitForDownstream = b
	case "ignore_first_depends_on_past":
		t.IgnoreFirstDependsOnPast = b
	case "latest_only":
		t.LatestOnly = b
	}
}

// PastDependent reports whether the task waits for its instance in the
// previous run: depends_on_past, or wait_for_downstream, which implies it
// (as Airflow's BaseOperator sets depends_on_past when
// wait_for_downstream is true).
func (t *Task) PastDependent() bool { return t.DependsOnPast || t.WaitForDownstream }

// IsLatestRun reports whether a run of d with data interval iv is the
// latest one, as Airflow's LatestOnlyOperator decides: a manual run always
// is; a scheduled or backfill run is when now falls in the interval that
// follows its own (left-open, right-closed), or when its schedule has no
// next interval.
func (d *DAG) IsLatestRun(iv Interval, manual bool, now time.Time) bool {
	if manual || !IsPeriodic(d.Schedule) {
		return true
	}
	next, ok := d.Schedule.Next(iv)
	if !ok || (!d.EndDate.IsZero() && next.Start.After(d.EndDate)) {
		return true
	}
	return next.Start.Before(now) && !now.After(next.End)
}

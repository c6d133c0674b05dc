package scheduler

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/sirocco-dev/sirocco/internal/dag"
	"github.com/sirocco-dev/sirocco/internal/store"
)

// PastDep is what the previous run of a DAG says about one waiting task
// instance of a depends_on_past (or wait_for_downstream) task, as Airflow's
// PrevDagrunDep: Met, or why it waits.
type PastDep struct {
	Met    bool
	Reason string
}

// PrevState is a task's state in the previous run. A mapped task's is
// that of its first instance not done (success or skipped), Inst, which
// a reason names ("per [1]"): its other instances may well be done.
type PrevState struct {
	State store.TaskState
	Inst  store.TaskKey
}

// name is how a reason names the task id's instance that gives its state.
func (p PrevState) name(id string) string {
	if p.Inst.TaskID == "" || !p.Inst.Mapped() {
		return id
	}
	return fmt.Sprintf("%s [%d]", id, p.Inst.MapIndex())
}

// CheckPastDep applies Airflow's PrevDagrunDep to task t of DAG d, whose
// run's previous run (by logical date) is prevRun with task instances
// prev (by task id); hasPrev false means the run is the DAG's first.
func CheckPastDep(d *dag.DAG, t *dag.Task, hasPrev bool, prevRun string, prev map[string]PrevState) PastDep {
	if !hasPrev {
		return PastDep{Met: true, Reason: "the first run of the DAG does not wait for a previous one"}
	}
	ps, ok := prev[t.ID]
	if !ok {
		if t.IgnoreFirstDependsOnPast {
			return PastDep{Met: true, Reason: "the previous run has no instance of the task (ignore_first_depends_on_past)"}
		}
		return PastDep{Reason: fmt.Sprintf("depends_on_past: the previous run %s has no instance of %s "+
			"(set ignore_first_depends_on_past to run it anyway, or mark this one)", prevRun, t.ID)}
	}
	if !pastDone(ps.State) {
		return PastDep{Reason: fmt.Sprintf("depends_on_past: %s in the previous run %s is %s, not success or skipped",
			ps.name(t.ID), prevRun, stateName(ps.State))}
	}
	if !t.WaitForDownstream {
		return PastDep{Met: true}
	}
	for _, down := range d.Downstream(t.ID) {
		if ds, ok := prev[down]; !ok || !pastDone(ds.State) {
			return PastDep{Reason: fmt.Sprintf("wait_for_downstream: %s in the previous run %s is %s, not success or skipped",
				ds.name(down), prevRun, stateName(ds.State))}
		}
	}
	return PastDep{Met: true}
}

func pastDone(s store.TaskState) bool { return s == store.StateSuccess || s == store.StateSkipped }

func stateName(s store.TaskState) string {
	if s == store.StateNone {
		return "not started"
	}
	return string(s)
}

// crossRun is the verdict of a task's cross-run rules once its trigger
// rule says ready: latest_only skips it in a run that is not the latest,
// depends_on_past holds it until PastDeps says the previous run allows it.
func (s Snapshot) crossRun(d *dag.DAG, r store.DagRun, t *dag.Task, k store.TaskKey) verdict {
	if t.LatestOnly && !IsLatest(d, r, s.Now) {
		return markSkipped
	}
	if t.PastDependent() && r.RunType != store.RunTest && !s.PastDeps[k].Met {
		return wait
	}
	return ready
}

// IsLatest reports whether run r of d is the latest at now, as
// latest_only (the flag and the operator) decides: manual and `dags test`
// runs always are (Airflow's externally triggered runs); the others are
// while now is within the interval after their own (DAG.IsLatestRun).
func IsLatest(d *dag.DAG, r store.DagRun, now time.Time) bool {
	manual := r.RunType == store.RunManual || r.RunType == store.RunTest
	return d.IsLatestRun(dag.Interval{Start: r.DataIntervalStart, End: r.DataIntervalEnd}, manual, now)
}

// pastDeps reads, for each waiting instance of a depends_on_past task in
// the snapshot's runs, what the previous run says. The previous run's
// rows come from the snapshot when it is active (its changes wake the
// loop as its tasks end) and from the store otherwise (a clear or a mark
// of it wakes the loop through Kick or the store's watch), so a waiting
// task is looked at again on exactly the events that can release it.
// blockers are the queued previous runs a running run's task waits for
// (Snapshot.PastBlockers).
func (l *Loop) pastDeps(ctx context.Context, snap Snapshot) (out map[store.TaskKey]PastDep, blockers map[runKey]bool) {
	waiting := map[runKey][]*store.TaskInstance{}
	for i := range snap.TIs {
		ti := &snap.TIs[i]
		if ti.State != store.StateNone {
			continue
		}
		d := snap.DAGs[ti.DagID]
		if d == nil || !l.pastDependentDAG(d) {
			continue
		}
		if t := d.Task(ti.TaskID); t != nil && t.PastDependent() {
			k := runKey{ti.DagID, ti.RunID}
			waiting[k] = append(waiting[k], ti)
		}
	}
	running := map[string]int{}
	for _, r := range snap.Runs {
		if r.State == store.RunRunning {
			running[r.DagID]++
		}
	}
	for _, r := range snap.Runs {
		tis := waiting[runKey{r.DagID, r.RunID}]
		if len(tis) == 0 || r.RunType == store.RunTest {
			continue
		}
		d := snap.DAGs[r.DagID]
		if r.State == store.RunQueued && running[r.DagID] >= d.MaxActiveRuns {
			continue // Decide will not start it this tick: no need to look back yet
		}
		prevRun, prev, has, err := l.previousRun(ctx, snap, r)
		prevID := prevRun.RunID
		if err != nil {
			l.opts.Logger.Error("cannot read the previous run; depends_on_past tasks wait",
				"dag_id", r.DagID, "run_id", r.RunID, "err", err)
			continue
		}
		if out == nil {
			out = map[store.TaskKey]PastDep{}
		}
		for _, ti := range tis {
			dep := CheckPastDep(d, d.Task(ti.TaskID), has, prevID, prev)
			out[ti.TaskKey] = dep
			if !dep.Met && r.State == store.RunRunning && prevRun.State == store.RunQueued {
				if blockers == nil {
					blockers = map[runKey]bool{}
				}
				blockers[runKey{prevRun.DagID, prevRun.RunID}] = true
			}
		}
	}
	return out, blockers
}

// previousRun returns the run before r and its task states, or has
// false when r is the DAG's first.
func (l *Loop) previousRun(ctx context.Context, snap Snapshot, r store.DagRun) (store.DagRun, map[string]PrevState, bool, error) {
	prev, err := l.opts.Store.PreviousRun(ctx, r.DagID, r.LogicalDate)
	if errors.Is(err, store.ErrNotFound) {
		return store.DagRun{}, nil, false, nil
	}
	if err != nil {
		return store.DagRun{}, nil, false, err
	}
	states := map[string]PrevState{}
	if l.active.runs[runKey{prev.DagID, prev.RunID}] {
		for i := range snap.TIs {
			if ti := &snap.TIs[i]; ti.DagID == prev.DagID && ti.RunID == prev.RunID {
				addPastState(states, ti)
			}
		}
		return prev, states, true, nil
	}
	tis, err := l.opts.Store.ListTaskInstances(ctx, prev.DagID, prev.RunID)
	if err != nil {
		return store.DagRun{}, nil, false, fmt.Errorf("task instances of %s/%s: %w", prev.DagID, prev.RunID, err)
	}
	for i := range tis {
		addPastState(states, &tis[i])
	}
	return prev, states, true, nil
}

// addPastState records ti's state as its task's in the previous run: a
// mapped task counts every instance, so any instance not done (success or
// skipped) is the task's state, and the reason names that instance.
func addPastState(states map[string]PrevState, ti *store.TaskInstance) {
	if ti.State == store.StateRemoved && ti.Mapped() {
		return // beyond its task's list: not one of its instances
	}
	if cur, ok := states[ti.TaskID]; ok && !pastDone(cur.State) {
		return
	}
	states[ti.TaskID] = PrevState{State: ti.State, Inst: ti.TaskKey}
}

// pastDependentDAG reports whether d has a depends_on_past or
// wait_for_downstream task, remembered per loaded DAG.
func (l *Loop) pastDependentDAG(d *dag.DAG) bool {
	if b, ok := l.pastDAGs[d]; ok {
		return b
	}
	if l.pastDAGs == nil || len(l.pastDAGs) > 4096 {
		l.pastDAGs = map[*dag.DAG]bool{}
	}
	b := false
	for _, t := range d.Tasks {
		b = b || t.PastDependent()
	}
	l.pastDAGs[d] = b
	return b
}

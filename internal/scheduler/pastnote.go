package scheduler

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/sirocco-dev/sirocco/internal/store"
)

// pastNotePrefixes start every reason CheckPastDep gives for a wait, and
// no other note Sirocco writes: they tell a past-dependency note apart
// from one that says why a mapped task could not expand.
var pastNotePrefixes = []string{"depends_on_past: ", "wait_for_downstream: "}

// IsPastNote reports whether note is a reason a task waits for the
// previous run, which the scheduler writes and clears itself; any other
// note is left alone.
func IsPastNote(note string) bool {
	for _, p := range pastNotePrefixes {
		if strings.HasPrefix(note, p) {
			return true
		}
	}
	return false
}

// pastNoteUpdate returns the write that makes the note of ti, waiting in
// state none, say dep: its reason while it waits, nothing once it is met.
// It is conditional on the state and the version ti was read in, so a
// mark, a clear or another scheduler's note since wins; a note that is not
// a past-dependency reason is never touched.
func pastNoteUpdate(ti store.TaskInstance, dep PastDep) (store.TaskUpdate, bool) {
	want := ""
	if !dep.Met {
		want = dep.Reason
	}
	if ti.State != store.StateNone || ti.Note == want || (ti.Note != "" && !IsPastNote(ti.Note)) {
		return store.TaskUpdate{}, false
	}
	v := ti.Version
	return store.TaskUpdate{Key: ti.TaskKey, From: []store.TaskState{store.StateNone}, FromVersion: &v,
		To: store.StateNone, Note: &want}, true
}

// writePastNotes makes the notes of the waiting instances say what deps
// say, before Decide reads them: a write only where the reason changed,
// and the written rows put in the active set (so the snapshot), so this
// tick's and the next's writes are decided on the rows' new versions. A
// write refused (the row changed since it was read) or failed has its run
// read again; the next tick decides on the row as it is, so a note is
// neither lost nor written twice.
func (l *Loop) writePastNotes(ctx context.Context, deps map[store.TaskKey]PastDep) {
	var us []store.TaskUpdate
	for k, dep := range deps {
		i, ok := l.active.index[k]
		if !ok {
			continue
		}
		if u, ok := pastNoteUpdate(l.active.tis[i], dep); ok {
			us = append(us, u)
		}
	}
	if len(us) == 0 {
		return
	}
	// No rows to confirm a lost answer by: a note write is not an outcome,
	// and the next tick rereads the row.
	ws, errs := l.updateTasks(ctx, us, make([]*store.TaskInstance, len(us)))
	for i, w := range ws {
		k := us[i].Key
		if w.OK {
			l.active.set(w.Row)
			if *us[i].Note != "" {
				l.opts.Logger.Debug("task waits for the previous run", "dag_id", k.DagID, "run_id", k.RunID,
					"task_id", k.TaskID, "map_index", k.MapIndex(), "reason", *us[i].Note)
			}
			continue
		}
		l.active.rereadRun(runKey{k.DagID, k.RunID})
		if errs[i] != nil && ctx.Err() == nil {
			l.opts.Logger.Warn("cannot write why a task waits for the previous run", "dag_id", k.DagID,
				"run_id", k.RunID, "task_id", k.TaskID, "err", errs[i])
		}
	}
}

// dropPastNote makes u, a transition the plan decided on a row read as
// before, also empty that row's past-dependency note: a task that leaves
// none (queued, claimed, skipped, upstream_failed...) no longer waits.
// The same write carries it, so it costs nothing more. A past-dependent
// task's row read in none without a note may have got one since (another
// scheduler wrote it; u is not conditional on the version), so its write
// out of none empties the note too: no other note is ever on a row in
// none, as Sirocco writes the others with the state that ends the task.
func (l *Loop) dropPastNote(snap Snapshot, u store.TaskUpdate, before *store.TaskInstance) store.TaskUpdate {
	if before == nil || u.Note != nil || u.To == store.StateNone {
		return u
	}
	if !IsPastNote(before.Note) && (before.Note != "" || before.State != store.StateNone || !l.pastDependentTask(snap, u.Key)) {
		return u
	}
	none := ""
	u.Note = &none
	return u
}

// pastDependentTask reports whether k's task is depends_on_past or
// wait_for_downstream.
func (l *Loop) pastDependentTask(snap Snapshot, k store.TaskKey) bool {
	d := snap.DAGs[k.DagID]
	if d == nil || !l.pastDependentDAG(d) {
		return false
	}
	t := d.Task(k.TaskID)
	return t != nil && t.PastDependent()
}

// timeoutNote is the note of ti, skipped as its run exceeded timeout: the
// timeout, then the reason it waited for the previous run, if it did.
// A note that is not Sirocco's reason to wait (a user's) is kept (nil).
func timeoutNote(ti *store.TaskInstance, timeout time.Duration) *string {
	if ti.Note != "" && !IsPastNote(ti.Note) {
		return nil
	}
	n := fmt.Sprintf("dagrun_timeout %s exceeded", timeout)
	if ti.Note != "" {
		n += "; it waited: " + ti.Note
	}
	return &n
}

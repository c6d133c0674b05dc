package scheduler

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/sirocco-dev/sirocco/internal/dag"
	"github.com/sirocco-dev/sirocco/internal/store"
)

// Callbacks (on_*_callback) and deadline alerts become notifications in
// the store's outbox here; the Outbox delivers them (outbox.go).
//
// A task's notifications are derived from the rows the loop holds, not
// from the writes that changed them: a try seen running, or ended as
// success, up_for_retry or failed, is due its event's notifiers, keyed by
// task, try and event, so writing them again (every scheduler after a
// restart, or two schedulers at once) adds nothing. They are enqueued
// before the tick writes any run's end, so a run never leaves the active
// set, and the loop's sight, with its tasks' notifications unwritten. A
// run's own callbacks go in the transaction of the update that ends it
// (RunUpdate.Notify). A deadline alert is enqueued by the first tick at or
// after its time, on condition that the run has not ended by then.

// noteSeen bounds the memory of notifications already enqueued; past it
// the memory is dropped, which costs one idempotent insert per event.
const noteSeen = 100_000

// noteKey is one event of one try.
type noteKey struct {
	store.TaskKey
	try   int
	event dag.Event
}

// callbackState is the loop's memory of what it has enqueued.
type callbackState struct {
	seen map[noteKey]bool
	// ends holds the event a try ended with (key's event ""): a try ends
	// once, and a later mark of the same try by a user (failed to
	// success) calls no callback, as in Airflow.
	ends   map[noteKey]dag.Event
	dagHas map[*dag.DAG]bool // whether any task of the DAG has callbacks
	// passing are rows seen in a state the held copy may already have
	// left by the time notifications are enqueued: a try's outcome
	// (up_for_retry) and the next try's claim can be written in one tick.
	passing []store.TaskInstance
}

// sawRows keeps rows the executor reported (each an outcome it wrote).
func (l *Loop) sawRows(rows []store.TaskInstance) {
	for i := range rows {
		if _, ok := taskEvent(&rows[i]); ok {
			l.callbacks.passing = append(l.callbacks.passing, rows[i])
		}
	}
}

// sawWritten keeps the outcomes the tick wrote.
func (l *Loop) sawWritten(ws []store.Written) {
	for _, w := range ws {
		if w.OK {
			l.sawRows([]store.TaskInstance{w.Row})
		}
	}
}

// taskEvent is the event a row shows for its try, if any.
func taskEvent(ti *store.TaskInstance) (dag.Event, bool) {
	if ti.TryNumber < 1 {
		// A task that failed without a try and says why is a mapped task
		// that could not expand (a mark drops the note): its failure
		// calls on_failure_callback, as Airflow's failed push of the
		// list does the upstream task's.
		if ti.State == store.StateFailed && ti.Note != "" {
			return dag.EventFailure, true
		}
		return "", false
	}
	switch ti.State {
	case store.StateSuccess:
		return dag.EventSuccess, true
	case store.StateFailed:
		return dag.EventFailure, true
	case store.StateUpForRetry:
		return dag.EventRetry, true
	}
	return "", false
}

// started reports whether the row's try has started: it is running, or
// ended after running (a try shorter than a tick is seen ended only).
func started(ti *store.TaskInstance) bool {
	if ti.TryNumber < 1 || ti.StartDate.IsZero() {
		return false
	}
	switch ti.State {
	case store.StateRunning, store.StateSuccess, store.StateFailed, store.StateUpForRetry:
		return true
	}
	return false
}

// callbacksHeld reports whether a run the active set holds belongs to a
// DAG with callbacks or deadlines. When none does, the passes over the
// held rows are skipped: they run after every batch of writes, and over
// 10,000 rows they cost more than the batch (a mapped task's instances,
// or many runs of a DAG without callbacks).
func (l *Loop) callbacksHeld(dags map[string]*dag.DAG) bool {
	for k := range l.active.runs {
		if d := dags[k.dagID]; d != nil && l.callbacks.hasCallbacks(d) {
			return true
		}
	}
	return false
}

// dagsByRow answers, row after row, which DAG a row belongs to if that
// DAG has callbacks or deadlines. The held rows are grouped by run, so it
// keeps the last answer: the passes over tens of thousands of rows each
// tick then cost a string comparison per row, not two map lookups.
type dagsByRow struct {
	id string
	d  *dag.DAG
	ok bool
}

// withCallbacks returns the DAG of dagID if it has callbacks or
// deadlines, else nil.
func (b *dagsByRow) withCallbacks(c *callbackState, dags map[string]*dag.DAG, dagID string) *dag.DAG {
	if !b.ok || b.id != dagID {
		d := dags[dagID]
		if d != nil && !c.hasCallbacks(d) {
			d = nil
		}
		*b = dagsByRow{id: dagID, d: d, ok: true}
	}
	return b.d
}

// hasCallbacks reports (and caches) whether any task of d has callbacks.
func (c *callbackState) hasCallbacks(d *dag.DAG) bool {
	if has, ok := c.dagHas[d]; ok {
		return has
	}
	if c.dagHas == nil || len(c.dagHas) > 10_000 {
		c.dagHas = map[*dag.DAG]bool{}
	}
	has := slices.ContainsFunc(d.Tasks, func(t *dag.Task) bool { return t.Callbacks.Any() || t.Deadline != nil })
	c.dagHas[d] = has
	return has
}

// taskNotes returns the notifications the held rows call for that were
// not enqueued yet, with the keys to remember once written.
func (l *Loop) taskNotes(dags map[string]*dag.DAG, now time.Time) ([]store.Notification, []noteKey) {
	c := &l.callbacks
	var out []store.Notification
	var keys []noteKey
	add := func(ti *store.TaskInstance, t *dag.Task, ev dag.Event, reason string) {
		ns := t.Callbacks.For(ev)
		k := noteKey{ti.TaskKey, ti.TryNumber, ev}
		if len(ns) == 0 || c.seen[k] {
			return
		}
		if prev, ok := c.ends[noteKey{ti.TaskKey, ti.TryNumber, ""}]; ok && prev != ev && ev != dag.EventExecute {
			return
		}
		keys = append(keys, k)
		for i := range ns {
			out = append(out, store.Notification{NotificationKey: store.NotificationKey{
				DagID: ti.DagID, RunID: ti.RunID, TaskID: ti.TaskID, Map: ti.Map, Try: ti.TryNumber, Event: string(ev), Index: i},
				Reason: reason, NextAt: now, CreatedAt: now})
		}
	}
	// The rows passing through and the active ones, without copying
	// either: the active set may hold tens of thousands of rows.
	passes := [2][]store.TaskInstance{c.passing, nil}
	if l.callbacksHeld(dags) {
		passes[1] = l.active.tis
	}
	for _, rows := range passes {
		var by dagsByRow
		for i := range rows {
			ti := &rows[i]
			d := by.withCallbacks(c, dags, ti.DagID)
			if d == nil {
				continue
			}
			t := d.Task(ti.TaskID)
			if t == nil || !t.Callbacks.Any() {
				continue
			}
			if started(ti) {
				add(ti, t, dag.EventExecute, fmt.Sprintf("try %d of task %s started", ti.TryNumber, ti.TaskID))
			}
			if ev, ok := taskEvent(ti); ok {
				add(ti, t, ev, taskReason(ti, ev))
			}
		}
	}
	return out, keys
}

// taskReason says what happened to the try, for the templates.
func taskReason(ti *store.TaskInstance, ev dag.Event) string {
	switch ev {
	case dag.EventSuccess:
		return fmt.Sprintf("task %s succeeded (try %d)", ti.TaskID, ti.TryNumber)
	case dag.EventRetry:
		return fmt.Sprintf("try %d of task %s failed; it will be retried", ti.TryNumber, ti.TaskID)
	}
	if ti.TryNumber == 0 {
		return fmt.Sprintf("task %s failed without running a try: %s", ti.TaskID, ti.Note)
	}
	return fmt.Sprintf("task %s failed (try %d, no retry left)", ti.TaskID, ti.TryNumber)
}

// enqueueTaskNotes writes the notifications the held rows call for.
func (l *Loop) enqueueTaskNotes(ctx context.Context, now time.Time) error {
	ns, keys := l.taskNotes(l.opts.DAGs.DAGs(), now)
	if len(ns) == 0 {
		l.callbacks.passing = nil
		return nil
	}
	if _, err := l.opts.Store.EnqueueNotifications(ctx, ns); err != nil {
		return fmt.Errorf("enqueue callbacks: %w", err)
	}
	l.callbacks.passing = nil
	l.remember(keys)
	l.notifyOutbox()
	return nil
}

// remember notes keys as enqueued.
func (l *Loop) remember(keys []noteKey) {
	c := &l.callbacks
	if c.seen == nil || len(c.seen)+len(keys) > noteSeen {
		c.seen = make(map[noteKey]bool, len(keys))
		c.ends = make(map[noteKey]dag.Event, len(keys))
	}
	for _, k := range keys {
		c.seen[k] = true
		if k.event != dag.EventExecute && k.event != dag.EventDeadline {
			c.ends[noteKey{k.TaskKey, k.try, ""}] = k.event
		}
	}
}

// notifyOutbox wakes the delivery worker, if any.
func (l *Loop) notifyOutbox() {
	if l.opts.OnNotify != nil {
		l.opts.OnNotify()
	}
}

// runNotes returns the notifications of a run update that ends a run:
// the DAG's on_success_callback or on_failure_callback, keyed by the
// run's clear number (each end of a cleared run notifies again).
func (l *Loop) runNotes(d *dag.DAG, u store.RunUpdate, clearNumber int, now time.Time) []store.Notification {
	if d == nil || !u.To.Finished() {
		return nil
	}
	ev, ns := dag.EventSuccess, d.Callbacks.OnSuccess
	reason := "run " + u.RunID + " succeeded"
	if u.To == store.RunFailed {
		ev, ns = dag.EventFailure, d.Callbacks.OnFailure
		reason = "run " + u.RunID + " failed"
		if failed := l.failedTasks(u.DagID, u.RunID); len(failed) > 0 {
			reason += ": failed tasks " + strings.Join(failed, ", ")
		}
	}
	out := make([]store.Notification, len(ns))
	for i := range ns {
		out[i] = store.Notification{NotificationKey: store.NotificationKey{
			DagID: u.DagID, RunID: u.RunID, Try: clearNumber, Event: string(ev), Index: i}, Reason: reason, NextAt: now, CreatedAt: now}
	}
	return out
}

// failedTasks lists the failed and upstream_failed tasks of a held run.
func (l *Loop) failedTasks(dagID, runID string) []string {
	var out []string
	for i := range l.active.tis {
		ti := &l.active.tis[i]
		if ti.DagID == dagID && ti.RunID == runID && (ti.State == store.StateFailed || ti.State == store.StateUpstreamFailed) {
			out = append(out, ti.TaskID)
		}
	}
	return out
}

// DeadlineOf returns when run r must have finished under d, and whether
// that is known yet (run_start: once the run started).
func DeadlineOf(d *dag.Deadline, r store.DagRun) (time.Time, bool) {
	var ref time.Time
	switch d.Reference {
	case "run_start":
		ref = r.StartDate
	case "queued_at":
		ref = r.QueuedAt
	default:
		ref = r.LogicalDate
	}
	if ref.IsZero() {
		return time.Time{}, false
	}
	return ref.Add(d.Interval), true
}

// deadlines enqueues the alert of every held run and try past its
// deadline, once, and returns the next deadline of a held one (zero if
// none), at which the loop wakes. A run's key is its clear number (a
// cleared run has a deadline of its own); a try that ended after its
// deadline alerts too, so that a try ending in the tick that passes its
// deadline is not missed. apply calls it before it ends any run, for the
// same reason.
func (l *Loop) deadlines(ctx context.Context, now time.Time) (time.Time, error) {
	dl := deadlineScan{now: now, seen: l.callbacks.seen}
	dags := l.opts.DAGs.DAGs()
	for _, r := range l.active.runList {
		d := dags[r.DagID]
		if d == nil || d.Deadline == nil || r.State.Finished() || !l.ownsRun(r) {
			continue
		}
		at, ok := DeadlineOf(d.Deadline, r)
		reason := fmt.Sprintf("run %s not finished by its deadline %s (%s + %s)", r.RunID,
			at.UTC().Format(time.RFC3339), d.Deadline.Reference, d.Deadline.Interval)
		dl.check(ok, at, store.TaskKey{DagID: r.DagID, RunID: r.RunID}, r.ClearNumber, len(d.Deadline.Callback), reason)
	}
	var by dagsByRow
	for i := range l.active.tis {
		if i == 0 && !l.callbacksHeld(dags) {
			break
		}
		ti := &l.active.tis[i]
		d := by.withCallbacks(&l.callbacks, dags, ti.DagID)
		if d == nil || !started(ti) {
			continue
		}
		t := d.Task(ti.TaskID)
		if t == nil || t.Deadline == nil {
			continue
		}
		at := ti.StartDate.Add(t.Deadline.Interval)
		if ti.State != store.StateRunning && !ti.EndDate.After(at) {
			continue // ended in time; a try ended late (this tick) still alerts
		}
		reason := fmt.Sprintf("try %d of task %s not finished by its deadline %s (task_start + %s)", ti.TryNumber, ti.TaskID,
			at.UTC().Format(time.RFC3339), t.Deadline.Interval)
		dl.check(!ti.StartDate.IsZero(), at, ti.TaskKey, ti.TryNumber, len(t.Deadline.Callback), reason)
	}
	if len(dl.due) == 0 {
		return dl.next, nil
	}
	if _, err := l.opts.Store.EnqueueNotifications(ctx, dl.due); err != nil {
		return dl.next, fmt.Errorf("enqueue deadline alerts: %w", err)
	}
	l.remember(dl.keys)
	l.notifyOutbox()
	return dl.next, nil
}

// deadlineScan collects the deadlines passed and the next one.
type deadlineScan struct {
	now  time.Time
	seen map[noteKey]bool
	next time.Time
	due  []store.Notification
	keys []noteKey
}

// check notes the deadline at (known: ok) of a run (k.TaskID "") or a
// try with n notifiers: due if passed and not enqueued yet, else a
// candidate for the next wake-up.
func (s *deadlineScan) check(ok bool, at time.Time, k store.TaskKey, try, n int, reason string) {
	key := noteKey{k, try, dag.EventDeadline}
	if !ok || s.seen[key] {
		return
	}
	if at.After(s.now) {
		s.next = earliest(s.next, at)
		return
	}
	s.keys = append(s.keys, key)
	for i := range n {
		s.due = append(s.due, store.Notification{NotificationKey: store.NotificationKey{
			DagID: k.DagID, RunID: k.RunID, TaskID: k.TaskID, Map: k.Map, Try: try, Event: string(dag.EventDeadline), Index: i},
			Reason: reason, NextAt: s.now, CreatedAt: s.now, UnlessEndedBy: at})
	}
}

// earliest is the earlier of two wake times, zero meaning none.
func earliest(a, b time.Time) time.Time {
	if a.IsZero() || (!b.IsZero() && b.Before(a)) {
		return b
	}
	return a
}

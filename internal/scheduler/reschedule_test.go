package scheduler

import (
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/store"
)

// TestRescheduledSensorsWaitWithoutSlots: up_for_reschedule sensors take
// no slot and hold back their downstream tasks; the plan wakes at the
// earliest one's time, queues exactly the due ones from
// up_for_reschedule, and a run timing out skips the waiting ones.
func TestRescheduledSensorsWaitWithoutSlots(t *testing.T) {
	t.Parallel()
	d := testDAG(t, "d", "none", "early", "late", "after:early,late", "other")
	w := newWorld(d)
	w.snap.FreeSlots = 1
	w.addRun(d, "r", store.RunRunning, map[string]store.TaskState{
		"early": store.StateUpForReschedule, "late": store.StateUpForReschedule})
	w.ti("r", "early").NextRetryAt = t0.Add(10 * time.Second)
	w.ti("r", "late").NextRetryAt = t0.Add(30 * time.Second)

	p := Decide(w.snap)
	if got := w.apply(p); len(got) != 1 || got[0].TaskID != "other" {
		t.Fatalf("queued %v, want only other: waiting sensors take no slot", got)
	}
	if !p.WakeAt.Equal(t0.Add(10 * time.Second)) {
		t.Errorf("WakeAt %v, want the earliest reschedule (t0+10s)", p.WakeAt)
	}
	if s := w.ti("r", "after").State; s != store.StateNone {
		t.Errorf("after is %q while its upstream sensors wait, want none", s)
	}

	w.ti("r", "other").State = store.StateSuccess
	w.snap.Now = t0.Add(10 * time.Second)
	p = Decide(w.snap)
	var from []store.TaskState
	for _, u := range p.TaskUpdates {
		if u.Key.TaskID == "early" && u.To == store.StateQueued {
			from = u.From
			if u.DueBy == nil || !u.DueBy.Equal(w.snap.Now) {
				t.Errorf("early's claim is due by %v, want now (%v): the store must refuse it before next_retry_at", u.DueBy, w.snap.Now)
			}
		}
	}
	if got := w.apply(p); len(got) != 1 || got[0].TaskID != "early" || len(from) != 1 || from[0] != store.StateUpForReschedule {
		t.Fatalf("queued %v from %v, want early from up_for_reschedule", got, from)
	}
	if !p.WakeAt.Equal(t0.Add(30 * time.Second)) {
		t.Errorf("WakeAt %v, want late's reschedule (t0+30s)", p.WakeAt)
	}

	d.DagrunTimeout = time.Second
	p = Decide(w.snap)
	w.apply(p)
	if s := w.ti("r", "late").State; s != store.StateSkipped {
		t.Errorf("late is %q after the run timed out, want skipped", s)
	}
}

// TestFailureEndsASensorsProgress: a failed try (a zombie's too) clears
// a sensor's progress, so its retry's timeout starts again, as Airflow's
// per-try timeout; a row without progress gets no extra writes.
func TestFailureEndsASensorsProgress(t *testing.T) {
	t.Parallel()
	d := testDAG(t, "d", "none", "s")
	ti := store.TaskInstance{TaskKey: store.TaskKey{DagID: "d", RunID: "r", TaskID: "s"}, State: store.StateRunning,
		TryNumber: 1, MaxTries: 1, FirstPokeAt: t0, Pokes: 4}
	u := FailureUpdate(d.Tasks[0], ti, t0.Add(time.Minute))
	if u.To != store.StateUpForRetry || u.Pokes == nil || *u.Pokes != 0 || u.FirstPokeAt == nil || !u.FirstPokeAt.IsZero() {
		t.Fatalf("failure of a sensor: %+v, want up_for_retry with its progress cleared", u)
	}
	row, _ := u.Apply(ti)
	if row.Pokes != 0 || !row.FirstPokeAt.IsZero() {
		t.Errorf("applied: %d pokes from %v", row.Pokes, row.FirstPokeAt)
	}
	ti.Pokes, ti.FirstPokeAt = 0, time.Time{}
	if u := FailureUpdate(d.Tasks[0], ti, t0); u.Pokes != nil || u.FirstPokeAt != nil {
		t.Errorf("failure of another task writes sensor fields: %+v", u)
	}
}

// TestRestartingSensorOfADeadWorkerStartsAgain: a cleared sensor whose
// executor died is handed back to none by the scheduler with its progress
// cleared, so its next claim counts a new try.
func TestRestartingSensorOfADeadWorkerStartsAgain(t *testing.T) {
	t.Parallel()
	d := testDAG(t, "d", "none", "s")
	w := newWorld(d)
	w.addRun(d, "r", store.RunRunning, map[string]store.TaskState{"s": store.StateRestarting})
	ti := w.ti("r", "s")
	ti.WorkerID, ti.TryNumber, ti.Pokes, ti.FirstPokeAt = "gone", 1, 3, t0
	p := Decide(w.snap)
	for _, u := range p.TaskUpdates {
		if u.Key.TaskID == "s" && u.To == store.StateNone {
			if u.Pokes == nil || *u.Pokes != 0 || u.FirstPokeAt == nil || !u.FirstPokeAt.IsZero() {
				t.Fatalf("hand-back %+v keeps the sensor's progress", u)
			}
			return
		}
	}
	t.Fatalf("no hand-back of the dead worker's restarting sensor: %+v", p.TaskUpdates)
}

// TestShutdownEndsASensorsProgress: a poke Sirocco's shutdown cut short
// is given back as a new try (InfraRerun), so its progress goes with it
// and the next claim counts that try.
func TestShutdownEndsASensorsProgress(t *testing.T) {
	t.Parallel()
	d := testDAG(t, "d", "none", "s")
	ti := store.TaskInstance{TaskKey: store.TaskKey{DagID: "d", RunID: "r", TaskID: "s"}, State: store.StateRunning,
		TryNumber: 1, FirstPokeAt: t0, Pokes: 2}
	u, rerun := ShutdownUpdate(d.Tasks[0], ti, t0)
	if !rerun || u.Pokes == nil || *u.Pokes != 0 || u.FirstPokeAt == nil || !u.FirstPokeAt.IsZero() {
		t.Fatalf("shutdown of a sensor's poke: %+v, %v; want a rerun without its progress", u, rerun)
	}
}

// TestRescheduledSensorOfADeadWorkerIsPokedAgain: a sensor waiting
// up_for_reschedule holds no process and no slot, so the worker that
// poked it last being dead (kill -9, its heartbeat stale) cannot strand
// it: once due, any live scheduler queues it for itself, from
// up_for_reschedule, with its progress kept.
func TestRescheduledSensorOfADeadWorkerIsPokedAgain(t *testing.T) {
	t.Parallel()
	d := testDAG(t, "d", "none", "s")
	w := newWorld(d)
	w.addRun(d, "r", store.RunRunning, map[string]store.TaskState{"s": store.StateUpForReschedule})
	ti := w.ti("r", "s")
	ti.WorkerID, ti.TryNumber, ti.Pokes, ti.FirstPokeAt, ti.NextRetryAt = "dead", 1, 2, t0, t0.Add(time.Second)
	w.snap.LiveWorkers = map[string]bool{w.snap.WorkerID: true}
	w.snap.Now = t0.Add(time.Second)
	p := Decide(w.snap)
	for _, u := range p.TaskUpdates {
		if u.Key.TaskID == "s" && u.To == store.StateQueued {
			if u.FromWorker != nil || u.WorkerID == nil || *u.WorkerID != w.snap.WorkerID || u.Pokes != nil {
				t.Errorf("queue of the dead worker's sensor: %+v", u)
			}
			return
		}
	}
	t.Fatalf("the dead worker's due sensor is not queued: %+v", p.TaskUpdates)
}

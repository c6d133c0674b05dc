package storetest

import (
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/store"
)

func init() {
	register("SensorReschedule", testSensorReschedule)
	register("ClaimRequiresDue", testClaimRequiresDue)
}

// testClaimRequiresDue: a claim with DueBy of a task waiting
// up_for_reschedule or up_for_retry applies only once next_retry_at is at
// most DueBy, in UpdateTask, UpdateTaskRow and UpdateTasks alike, and
// Apply agrees; a row without next_retry_at is always due.
func testClaimRequiresDue(t *testing.T, s store.Store) {
	mustCreate(t, s, newRun("d", "r", t0, store.RunRunning), "sense", "retry", "plain")
	for _, tt := range []struct {
		task  string
		state store.TaskState
	}{{"sense", store.StateUpForReschedule}, {"retry", store.StateUpForRetry}} {
		k := store.TaskKey{DagID: "d", RunID: "r", TaskID: tt.task}
		mustUpdateTask(t, s, store.TaskUpdate{Key: k, To: tt.state, NextRetryAt: ptr(at(time.Minute))}, true)
		claim := store.TaskUpdate{Key: k, From: []store.TaskState{tt.state}, To: store.StateQueued,
			QueuedAt: ptr(at(30 * time.Second)), DueBy: ptr(at(30 * time.Second))}
		if _, ok := claim.Apply(mustGetTI(t, s, k)); ok {
			t.Errorf("%s: Apply lets an early claim through", tt.task)
		}
		mustUpdateTask(t, s, claim, false)
		if w, err := s.UpdateTaskRow(t.Context(), claim); err != nil || w.OK {
			t.Errorf("%s: UpdateTaskRow of an early claim: %+v, %v", tt.task, w, err)
		}
		if ws, err := s.UpdateTasks(t.Context(), []store.TaskUpdate{claim}); err != nil || ws[0].OK {
			t.Errorf("%s: UpdateTasks of an early claim: %+v, %v", tt.task, ws, err)
		}
		if got := mustGetTI(t, s, k); got.State != tt.state {
			t.Fatalf("%s: an early claim moved it to %q", tt.task, got.State)
		}
		claim.DueBy = ptr(at(time.Minute)) // due at exactly next_retry_at
		if _, ok := claim.Apply(mustGetTI(t, s, k)); !ok {
			t.Errorf("%s: Apply refuses a due claim", tt.task)
		}
		if ws, err := s.UpdateTasks(t.Context(), []store.TaskUpdate{claim}); err != nil || !ws[0].OK || ws[0].Row.State != store.StateQueued {
			t.Errorf("%s: UpdateTasks of a due claim: %+v, %v", tt.task, ws, err)
		}
	}
	k := store.TaskKey{DagID: "d", RunID: "r", TaskID: "plain"}
	mustUpdateTask(t, s, store.TaskUpdate{Key: k, From: []store.TaskState{store.StateNone}, To: store.StateQueued,
		DueBy: ptr(at(0))}, true)
}

// testSensorReschedule: a sensor's reschedule is one conditional write
// that stores the wake time and the sensor's progress (first poke, pokes)
// and hands the row back as written (UpdateTasks too); the claim of its
// next poke keeps the try (IncTry counts no new try while pokes > 0) and
// the progress; once the progress is cleared (the try's end) or the task
// is cleared, IncTry counts again.
func testSensorReschedule(t *testing.T, s store.Store) {
	mustCreate(t, s, newRun("d", "r", t0, store.RunRunning), "sense")
	k := store.TaskKey{DagID: "d", RunID: "r", TaskID: "sense"}
	running := []store.TaskState{store.StateRunning}
	claim := store.TaskUpdate{Key: k, From: []store.TaskState{store.StateNone, store.StateQueued}, To: store.StateRunning,
		IncTry: true, StartDate: ptr(at(time.Second)), WorkerID: ptr("w1")}
	mustUpdateTask(t, s, claim, true)

	// A stale try (FromTry) cannot reschedule.
	resched := store.TaskUpdate{Key: k, From: running, FromTry: ptr(2), To: store.StateUpForReschedule,
		EndDate: ptr(at(2 * time.Second)), NextRetryAt: ptr(at(time.Minute)), FirstPokeAt: ptr(at(time.Second)), Pokes: ptr(1)}
	mustUpdateTask(t, s, resched, false)
	resched.FromTry = ptr(1)
	w, err := s.UpdateTaskRow(t.Context(), resched)
	if err != nil || !w.OK {
		t.Fatalf("reschedule: %+v, %v", w, err)
	}
	got := mustGetTI(t, s, k)
	if got.State != store.StateUpForReschedule || got.TryNumber != 1 || !got.NextRetryAt.Equal(stored(at(time.Minute))) ||
		!got.FirstPokeAt.Equal(stored(at(time.Second))) || got.Pokes != 1 {
		t.Fatalf("after the reschedule: state %q try %d next %v first poke %v pokes %d", got.State, got.TryNumber,
			got.NextRetryAt, got.FirstPokeAt, got.Pokes)
	}
	same(t, "the row UpdateTaskRow returned", w.Row, got)
	if want, ok := resched.Apply(store.TaskInstance{TaskKey: k, State: store.StateRunning, TryNumber: 1}); !ok ||
		want.TryNumber != 1 || !want.FirstPokeAt.Equal(got.FirstPokeAt) || want.Pokes != 1 {
		t.Errorf("Apply disagrees with the store: %+v", want)
	}

	// The next poke's claim counts the same try and keeps the progress,
	// and Apply agrees.
	claim.From = []store.TaskState{store.StateUpForReschedule}
	if want, ok := claim.Apply(got); !ok || want.TryNumber != 1 {
		t.Errorf("Apply of the next poke's claim: try %d, want 1", want.TryNumber)
	}
	mustUpdateTask(t, s, claim, true)
	got = mustGetTI(t, s, k)
	if got.TryNumber != 1 || got.Pokes != 1 || got.FirstPokeAt.IsZero() {
		t.Fatalf("next poke's claim: try %d pokes %d first poke %v", got.TryNumber, got.Pokes, got.FirstPokeAt)
	}
	// Its second reschedule, in a batch.
	resched.Pokes = ptr(2)
	ws, err := s.UpdateTasks(t.Context(), []store.TaskUpdate{resched})
	if err != nil || !ws[0].OK || ws[0].Row.Pokes != 2 || ws[0].Row.TryNumber != 1 {
		t.Fatalf("batched reschedule: %+v, %v", ws, err)
	}

	// A clear starts the sensor from scratch.
	if n, err := s.ClearTasks(t.Context(), "d", "r", map[string]int{"sense": 0}, at(time.Hour)); err != nil || n != 1 {
		t.Fatalf("ClearTasks = %d, %v", n, err)
	}
	got = mustGetTI(t, s, k)
	if got.State != store.StateNone || got.Pokes != 0 || !got.FirstPokeAt.IsZero() || !got.NextRetryAt.IsZero() {
		t.Fatalf("after a clear: state %q pokes %d first poke %v next %v", got.State, got.Pokes, got.FirstPokeAt, got.NextRetryAt)
	}

	claim.From = nil
	mustUpdateTask(t, s, claim, true)
	if got = mustGetTI(t, s, k); got.TryNumber != 2 {
		t.Fatalf("the claim after a clear: try %d, want 2", got.TryNumber)
	}

	// Clearing the progress at a try's end (pointers to zero values): the
	// next claim is a new try.
	mustUpdateTask(t, s, store.TaskUpdate{Key: k, To: store.StateRunning, FirstPokeAt: ptr(at(time.Second)), Pokes: ptr(3)}, true)
	mustUpdateTask(t, s, store.TaskUpdate{Key: k, From: running, To: store.StateUpForRetry, FirstPokeAt: ptr(time.Time{}), Pokes: ptr(0)}, true)
	if got = mustGetTI(t, s, k); got.Pokes != 0 || !got.FirstPokeAt.IsZero() {
		t.Fatalf("after the try's end: pokes %d first poke %v", got.Pokes, got.FirstPokeAt)
	}
	mustUpdateTask(t, s, claim, true)
	if got = mustGetTI(t, s, k); got.TryNumber != 3 {
		t.Fatalf("the retry's claim: try %d, want 3", got.TryNumber)
	}
}

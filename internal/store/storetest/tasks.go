package storetest

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/store"
)

func init() {
	register("UpdateTask", testUpdateTask)
	register("UpdateTaskRace", testUpdateTaskRace)
	register("IncTry", testIncTry)
	register("InfraRerun", testInfraRerun)
	register("ActiveTaskInstances", testActiveTaskInstances)
	register("ClearTasks", testClearTasks)
	register("MarkTask", testMarkTask)
	register("Heartbeat", testHeartbeat)
}

// testUpdateTask: a transition applies only from the listed states, sets
// exactly the non-nil fields, and reports whether it won.
func testUpdateTask(t *testing.T, s store.Store) {
	mustCreate(t, s, newRun("d", "r", t0, store.RunRunning), "t", "u")
	k := store.TaskKey{DagID: "d", RunID: "r", TaskID: "t"}
	from := func(states ...store.TaskState) []store.TaskState { return states }

	mustUpdateTask(t, s, store.TaskUpdate{Key: k, From: from(store.StateScheduled), To: store.StateQueued}, false)
	mustUpdateTask(t, s, store.TaskUpdate{Key: k, From: from(store.StateNone), To: store.StateScheduled}, true)
	mustUpdateTask(t, s, store.TaskUpdate{Key: k, From: from(store.StateNone), To: store.StateScheduled}, false)
	mustUpdateTask(t, s, store.TaskUpdate{Key: k, From: from(store.StateScheduled, store.StateUpForRetry),
		To: store.StateQueued, QueuedAt: ptr(at(time.Second))}, true)
	mustUpdateTask(t, s, store.TaskUpdate{Key: k, From: from(store.StateQueued), To: store.StateRunning, IncTry: true,
		StartDate: ptr(at(2 * time.Second)), Hostname: ptr("host-1"), WorkerID: ptr("w1"),
		HeartbeatAt: ptr(at(2 * time.Second)), Handle: ptr([]byte(`{"pid":42}`)), Rendered: ptr([]byte(`{"bash_command":"echo"}`))}, true)

	got := mustGetTI(t, s, k)
	want := newTIs("t")[0]
	want.TaskKey = k
	want.State, want.TryNumber = store.StateRunning, 1
	want.QueuedAt, want.StartDate, want.HeartbeatAt = stored(at(time.Second)), stored(at(2*time.Second)), stored(at(2*time.Second))
	want.Hostname, want.WorkerID = "host-1", "w1"
	want.Handle, want.Rendered = []byte(`{"pid":42}`), []byte(`{"bash_command":"echo"}`)
	want.Version = 3 // three writes won; the lost ones count for nothing
	same(t, "running task instance", got, want)

	// FromTry also requires the try: a stale try never writes over a newer one.
	mustUpdateTask(t, s, store.TaskUpdate{Key: k, From: from(store.StateRunning), FromTry: ptr(2),
		To: store.StateSuccess}, false)

	// FromWorker also requires the owner: only the dead worker's try is adopted.
	mustUpdateTask(t, s, store.TaskUpdate{Key: k, From: from(store.StateRunning), FromWorker: ptr("w2"),
		To: store.StateRunning, WorkerID: ptr("w3")}, false)
	mustUpdateTask(t, s, store.TaskUpdate{Key: k, From: from(store.StateRunning), FromWorker: ptr("w1"),
		To: store.StateRunning, WorkerID: ptr("w1")}, true)

	// Nil fields are left alone; a pointer to the zero time clears.
	mustUpdateTask(t, s, store.TaskUpdate{Key: k, From: from(store.StateRunning), To: store.StateUpForRetry,
		EndDate: ptr(at(3 * time.Second)), NextRetryAt: ptr(at(time.Minute)), HeartbeatAt: ptr(time.Time{})}, true)
	got = mustGetTI(t, s, k)
	want.State, want.EndDate, want.NextRetryAt, want.HeartbeatAt = store.StateUpForRetry, stored(at(3*time.Second)), stored(at(time.Minute)), time.Time{}
	want.Version = 5
	same(t, "up_for_retry task instance", got, want)

	// Empty From matches any state, including none.
	mustUpdateTask(t, s, store.TaskUpdate{Key: k, To: store.StateFailed, Handle: ptr([]byte(nil))}, true)
	got = mustGetTI(t, s, k)
	if got.State != store.StateFailed || got.Handle != nil || got.TryNumber != 1 {
		t.Errorf("after forced fail: state %q handle %q try %d", got.State, got.Handle, got.TryNumber)
	}

	// Neighbours and missing rows are untouched.
	other := mustGetTI(t, s, store.TaskKey{DagID: "d", RunID: "r", TaskID: "u"})
	if other.State != store.StateNone || other.TryNumber != 0 {
		t.Errorf("neighbour task changed: %+v", other)
	}
	mustUpdateTask(t, s, store.TaskUpdate{Key: store.TaskKey{DagID: "d", RunID: "r", TaskID: "ghost"}, To: store.StateQueued}, false)
}

// testUpdateTaskRace: of several callers racing the same queued -> running
// transition, exactly one wins, round after round.
func testUpdateTaskRace(t *testing.T, s store.Store) {
	const rounds, racers = 20, 4
	mustCreate(t, s, newRun("d", "r", t0, store.RunRunning), "t")
	k := store.TaskKey{DagID: "d", RunID: "r", TaskID: "t"}
	for round := range rounds {
		mustUpdateTask(t, s, store.TaskUpdate{Key: k, To: store.StateQueued}, true)
		var (
			wins  atomic.Int32
			wg    sync.WaitGroup
			start = make(chan struct{})
			errs  = make(chan error, racers)
		)
		for i := range racers {
			wg.Go(func() {
				<-start
				ok, err := s.UpdateTask(t.Context(), store.TaskUpdate{
					Key: k, From: []store.TaskState{store.StateQueued}, To: store.StateRunning,
					IncTry: true, WorkerID: ptr(fmt.Sprintf("w%d", i)),
				})
				if err != nil {
					errs <- err
				}
				if ok {
					wins.Add(1)
				}
			})
		}
		close(start)
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatalf("round %d: %v", round, err)
		}
		if n := wins.Load(); n != 1 {
			t.Fatalf("round %d: %d racers won queued->running, want exactly 1", round, n)
		}
		if got := mustGetTI(t, s, k); got.TryNumber != round+1 || got.State != store.StateRunning {
			t.Fatalf("round %d: try %d state %q, want try %d running", round, got.TryNumber, got.State, round+1)
		}
	}
}

// testIncTry: IncTry adds one to try_number each time, and only when the
// transition applies.
func testIncTry(t *testing.T, s store.Store) {
	mustCreate(t, s, newRun("d", "r", t0, store.RunRunning), "t")
	k := store.TaskKey{DagID: "d", RunID: "r", TaskID: "t"}
	for i := 1; i <= 3; i++ {
		mustUpdateTask(t, s, store.TaskUpdate{Key: k, To: store.StateRunning, IncTry: true}, true)
		mustUpdateTask(t, s, store.TaskUpdate{Key: k, From: []store.TaskState{store.StateQueued}, To: store.StateRunning, IncTry: true}, false)
		if got := mustGetTI(t, s, k).TryNumber; got != i {
			t.Fatalf("try_number after %d increments = %d", i, got)
		}
	}
	mustUpdateTask(t, s, store.TaskUpdate{Key: k, To: store.StateSuccess}, true)
	if got := mustGetTI(t, s, k).TryNumber; got != 3 {
		t.Errorf("update without IncTry changed try_number to %d", got)
	}

	// A new try has not ended: the previous try's end date goes, so that no
	// listing shows an end before the current try's start.
	end, start := t0.Add(time.Minute), t0.Add(2*time.Minute).Truncate(time.Microsecond)
	mustUpdateTask(t, s, store.TaskUpdate{Key: k, To: store.StateUpForRetry, EndDate: &end}, true)
	u := store.TaskUpdate{Key: k, To: store.StateRunning, IncTry: true, StartDate: &start}
	before := mustGetTI(t, s, k)
	mustUpdateTask(t, s, u, true)
	got := mustGetTI(t, s, k)
	if !got.EndDate.IsZero() || !got.StartDate.Equal(start) {
		t.Errorf("after a new try: start %v end %v; want start %v and no end", got.StartDate, got.EndDate, start)
	}
	if applied, _ := u.Apply(before); !applied.EndDate.IsZero() {
		t.Errorf("TaskUpdate.Apply keeps the old end date %v on a new try; the store clears it", applied.EndDate)
	}
}

// testInfraRerun: InfraRerun adds one to max_tries and infra_reruns when
// the transition applies (Apply agrees with the stored row), and a clear
// sets infra_reruns back to 0.
func testInfraRerun(t *testing.T, s store.Store) {
	mustCreate(t, s, newRun("d", "r", t0, store.RunRunning), "t")
	k := store.TaskKey{DagID: "d", RunID: "r", TaskID: "t"}
	running := []store.TaskState{store.StateRunning}
	for i := 1; i <= 2; i++ {
		mustUpdateTask(t, s, store.TaskUpdate{Key: k, To: store.StateRunning, IncTry: true}, true)
		u := store.TaskUpdate{Key: k, From: running, FromTry: ptr(i), To: store.StateNone, InfraRerun: true}
		before := mustGetTI(t, s, k)
		mustUpdateTask(t, s, u, true)
		mustUpdateTask(t, s, u, false) // not running any more: nothing is added
		got := mustGetTI(t, s, k)
		if got.MaxTries != before.MaxTries+1 || got.InfraReruns != i || got.TryNumber != i {
			t.Fatalf("after %d re-runs: try %d max_tries %d infra_reruns %d, want try %d max_tries %d infra_reruns %d",
				i, got.TryNumber, got.MaxTries, got.InfraReruns, i, before.MaxTries+1, i)
		}
		if applied, _ := u.Apply(before); applied.MaxTries != got.MaxTries || applied.InfraReruns != got.InfraReruns {
			t.Errorf("TaskUpdate.Apply gives max_tries %d infra_reruns %d; the store wrote %d %d",
				applied.MaxTries, applied.InfraReruns, got.MaxTries, got.InfraReruns)
		}
	}
	if _, err := s.ClearTasks(context.Background(), "d", "r", map[string]int{"t": 1}, at(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if got := mustGetTI(t, s, k); got.InfraReruns != 0 || got.MaxTries != got.TryNumber+1 {
		t.Errorf("after a clear: infra_reruns %d max_tries %d try %d, want 0 and try + retries", got.InfraReruns, got.MaxTries, got.TryNumber)
	}
}

// testActiveTaskInstances: the snapshot holds the task instances of queued
// and running runs only, ordered by dag, run and creation order.
func testActiveTaskInstances(t *testing.T, s store.Store) {
	ctx := t.Context()
	got, err := s.ActiveTaskInstances(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 0 {
		t.Fatalf("empty store: %v", keys(got))
	}
	mustCreate(t, s, newRun("b", "r1", at(1*time.Hour), store.RunQueued), "z", "a", "m")
	mustCreate(t, s, newRun("a", "r2", at(2*time.Hour), store.RunRunning), "y", "x")
	mustCreate(t, s, newRun("a", "r1", at(1*time.Hour), store.RunSuccess), "k")
	mustCreate(t, s, newRun("a", "r3", at(3*time.Hour), store.RunFailed), "k")
	mustCreate(t, s, newRun("a", "r0", at(0), store.RunQueued), "c", "b")

	got, err = s.ActiveTaskInstances(ctx)
	if err != nil {
		t.Fatal(err)
	}
	same(t, "active task instances", keys(got), []string{
		"a/r0/c", "a/r0/b", "a/r2/y", "a/r2/x", "b/r1/z", "b/r1/a", "b/r1/m",
	})
	same(t, "full row", got[2], mustGetTI(t, s, store.TaskKey{DagID: "a", RunID: "r2", TaskID: "y"}))

	// Finishing a run removes its tasks from the snapshot, whatever their
	// own state.
	mustUpdateTask(t, s, store.TaskUpdate{Key: store.TaskKey{DagID: "a", RunID: "r0", TaskID: "c"}, To: store.StateSuccess}, true)
	if ok, err := s.UpdateRun(ctx, store.RunUpdate{DagID: "a", RunID: "r2", To: store.RunSuccess}); !ok || err != nil {
		t.Fatalf("UpdateRun: %v, %v", ok, err)
	}
	got, err = s.ActiveTaskInstances(ctx)
	if err != nil {
		t.Fatal(err)
	}
	same(t, "active after finishing a/r2", keys(got), []string{"a/r0/c", "a/r0/b", "b/r1/z", "b/r1/a", "b/r1/m"})
	if got[0].State != store.StateSuccess {
		t.Errorf("a/r0/c state %q, want success", got[0].State)
	}
}

// testClearTasks: named tasks that are not queued or running go back to
// none with their retries granted again; a finished run is requeued.
func testClearTasks(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustCreate(t, s, newRun("d", "r", t0, store.RunQueued), "ok", "bad", "live", "untouched", "retrying")
	key := func(id string) store.TaskKey { return store.TaskKey{DagID: "d", RunID: "r", TaskID: id} }
	setup := []store.TaskUpdate{
		{Key: key("ok"), To: store.StateSuccess, IncTry: true, StartDate: ptr(at(time.Minute)), EndDate: ptr(at(2 * time.Minute))},
		{Key: key("bad"), To: store.StateFailed, IncTry: true, EndDate: ptr(at(3 * time.Minute))},
		{Key: key("bad"), To: store.StateFailed, IncTry: true},
		{Key: key("live"), To: store.StateRunning, IncTry: true},
		{Key: key("untouched"), To: store.StateSuccess, IncTry: true, EndDate: ptr(at(time.Minute))},
		{Key: key("retrying"), To: store.StateUpForRetry, IncTry: true, NextRetryAt: ptr(at(time.Hour))},
	}
	for _, u := range setup {
		mustUpdateTask(t, s, u, true)
	}
	if ok, err := s.UpdateRun(ctx, store.RunUpdate{DagID: "d", RunID: "r", To: store.RunFailed,
		StartDate: ptr(at(time.Minute)), EndDate: ptr(at(4 * time.Minute))}); !ok || err != nil {
		t.Fatalf("UpdateRun: %v, %v", ok, err)
	}

	now := at(time.Hour)
	n, err := s.ClearTasks(ctx, "d", "r", map[string]int{"ok": 2, "bad": 1, "live": 5, "retrying": 0, "ghost": 1}, now)
	if err != nil {
		t.Fatal(err)
	}
	if n != 3 {
		t.Errorf("ClearTasks cleared %d, want 3 (ok, bad, retrying)", n)
	}
	for id, want := range map[string]struct {
		state    store.TaskState
		try, max int
	}{
		"ok":        {store.StateNone, 1, 3},
		"bad":       {store.StateNone, 2, 3},
		"retrying":  {store.StateNone, 1, 1},
		"live":      {store.StateRunning, 1, 0},
		"untouched": {store.StateSuccess, 1, 0},
	} {
		ti := mustGetTI(t, s, key(id))
		if ti.State != want.state || ti.TryNumber != want.try || ti.MaxTries != want.max {
			t.Errorf("%s: state %q try %d max %d, want %q %d %d", id, ti.State, ti.TryNumber, ti.MaxTries, want.state, want.try, want.max)
		}
		if ti.State == store.StateNone && (!ti.EndDate.IsZero() || !ti.NextRetryAt.IsZero()) {
			t.Errorf("%s: cleared task kept end %v next retry %v", id, ti.EndDate, ti.NextRetryAt)
		}
	}
	if ti := mustGetTI(t, s, key("untouched")); !ti.EndDate.Equal(stored(at(time.Minute))) {
		t.Errorf("task not named lost its end date: %v", ti.EndDate)
	}
	run := mustGetRun(t, s, "d", "r")
	if run.State != store.RunQueued || !run.EndDate.IsZero() || !run.StartDate.IsZero() || !run.QueuedAt.Equal(stored(now)) {
		t.Errorf("cleared run: state %s queued %v start %v end %v; want queued at %v, no start or end",
			run.State, run.QueuedAt, run.StartDate, run.EndDate, stored(now))
	}

	// A running run stays running; clearing nothing leaves a finished run.
	if ok, err := s.UpdateRun(ctx, store.RunUpdate{DagID: "d", RunID: "r", To: store.RunRunning, StartDate: ptr(now)}); !ok || err != nil {
		t.Fatalf("UpdateRun: %v, %v", ok, err)
	}
	mustUpdateTask(t, s, store.TaskUpdate{Key: key("ok"), To: store.StateSuccess}, true)
	if n, err := s.ClearTasks(ctx, "d", "r", map[string]int{"ok": 0}, at(2*time.Hour)); n != 1 || err != nil {
		t.Fatalf("ClearTasks on a running run = %d, %v", n, err)
	}
	if run := mustGetRun(t, s, "d", "r"); run.State != store.RunRunning || !run.StartDate.Equal(stored(now)) {
		t.Errorf("running run became %s (start %v)", run.State, run.StartDate)
	}
	if ok, err := s.UpdateRun(ctx, store.RunUpdate{DagID: "d", RunID: "r", To: store.RunSuccess}); !ok || err != nil {
		t.Fatalf("UpdateRun: %v, %v", ok, err)
	}
	if n, err := s.ClearTasks(ctx, "d", "r", map[string]int{"live": 1}, at(3*time.Hour)); n != 0 || err != nil {
		t.Fatalf("ClearTasks of a running task = %d, %v; want 0, nil", n, err)
	}
	if run := mustGetRun(t, s, "d", "r"); run.State != store.RunSuccess {
		t.Errorf("run requeued although no task was cleared: %s", run.State)
	}
}

// testHeartbeat: a heartbeat reaches the running tries of its worker and
// the worker row, nothing else.
func testHeartbeat(t *testing.T, s store.Store) {
	ctx := t.Context()
	for _, w := range []store.Worker{{ID: "w1", Kind: "worker", StartedAt: t0}, {ID: "w2", Kind: "worker", StartedAt: t0}} {
		if err := s.RegisterWorker(ctx, w); err != nil {
			t.Fatal(err)
		}
	}
	mustCreate(t, s, newRun("d", "r", t0, store.RunRunning), "mine", "queued", "theirs", "done")
	key := func(id string) store.TaskKey { return store.TaskKey{DagID: "d", RunID: "r", TaskID: id} }
	for _, u := range []store.TaskUpdate{
		{Key: key("mine"), To: store.StateRunning, WorkerID: ptr("w1"), HeartbeatAt: ptr(t0)},
		{Key: key("queued"), To: store.StateQueued, WorkerID: ptr("w1")},
		{Key: key("theirs"), To: store.StateRunning, WorkerID: ptr("w2"), HeartbeatAt: ptr(t0)},
		{Key: key("done"), To: store.StateSuccess, WorkerID: ptr("w1"), HeartbeatAt: ptr(t0)},
	} {
		mustUpdateTask(t, s, u, true)
	}
	now := at(time.Minute)
	if err := s.Heartbeat(ctx, "w1", now); err != nil {
		t.Fatal(err)
	}
	for id, want := range map[string]time.Time{"mine": stored(now), "queued": {}, "theirs": stored(t0), "done": stored(t0)} {
		if got := mustGetTI(t, s, key(id)).HeartbeatAt; !got.Equal(want) {
			t.Errorf("%s heartbeat = %v, want %v", id, got, want)
		}
	}
	workers, err := s.ListWorkers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(workers) != 2 || !workers[0].HeartbeatAt.Equal(stored(now)) || !workers[1].HeartbeatAt.IsZero() {
		t.Errorf("workers after heartbeat of w1: %+v", workers)
	}
	if err := s.Heartbeat(ctx, "unknown", now); err != nil {
		t.Errorf("Heartbeat of an unknown worker: %v", err)
	}
}

// testMarkTask: a mark that applies reopens its finished run in the same
// transaction; one that does not apply, or in a run still going, leaves the
// run alone.
func testMarkTask(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustCreate(t, s, newRun("d", "done", t0, store.RunFailed), "a")
	mustCreate(t, s, newRun("d", "going", t0.Add(time.Hour), store.RunRunning), "a")
	key := func(run string) store.TaskKey { return store.TaskKey{DagID: "d", RunID: run, TaskID: "a"} }
	runState := func(run string) store.RunState {
		t.Helper()
		r, err := s.GetRun(ctx, "d", run)
		if err != nil {
			t.Fatal(err)
		}
		return r.State
	}
	mark := func(run string, from store.TaskState) bool {
		t.Helper()
		ok, err := s.MarkTask(ctx, store.TaskUpdate{Key: key(run), From: []store.TaskState{from}, To: store.StateSuccess})
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if mark("done", store.StateFailed) {
		t.Error("a mark from a state the task is not in applied")
	}
	same(t, "finished run after a lost mark", runState("done"), store.RunFailed)
	if !mark("done", store.StateNone) {
		t.Error("the mark did not apply")
	}
	same(t, "task", mustGetTI(t, s, key("done")).State, store.StateSuccess)
	same(t, "finished run after a mark", runState("done"), store.RunRunning)
	if !mark("going", store.StateNone) {
		t.Error("the mark in a running run did not apply")
	}
	same(t, "running run after a mark", runState("going"), store.RunRunning)
}

package storetest

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/store"
)

func init() {
	register("TaskInstancesChangedSince", testChangedSince)
	register("ChangedSinceConcurrentWriters", testChangedSinceConcurrent)
	register("UpdateTasks", testUpdateTasks)
	register("UpdateTaskRow", testUpdateTaskRow)
	register("Requires", testRequires)
	register("ApplyMatchesStore", testApplyMatchesStore)
}

// wantChanged reads the changes after c, checks that they hold every key of
// want, and returns the next cursor. A store may return a few rows written
// before c too (PostgreSQL does while any transaction of the cluster is
// open), so only SQLite's answer is checked for being exact.
func wantChanged(t *testing.T, s store.Store, what string, c store.ChangeCursor, want ...string) store.ChangeCursor {
	t.Helper()
	tis, next, err := s.TaskInstancesChangedSince(t.Context(), c)
	if err != nil {
		t.Fatal(err)
	}
	got := keys(tis)
	slices.Sort(got)
	got = slices.Compact(got)
	if s.Dialect() == "sqlite" {
		same(t, what, got, want)
		return next
	}
	for _, k := range want {
		if !slices.Contains(got, k) {
			t.Errorf("%s: %s missing from %v", what, k, got)
		}
	}
	return next
}

// testChangedSince: every kind of write (insert, update, batch update,
// clear, heartbeat) shows up after the cursor, in any run; nothing shows up
// when nothing was written.
func testChangedSince(t *testing.T, s store.Store) {
	ctx := t.Context()
	c0, err := s.TaskChangeCursor(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c := wantChanged(t, s, "changes of an empty store", c0)

	mustCreate(t, s, newRun("d", "r1", at(time.Hour), store.RunRunning), "a", "b")
	mustCreate(t, s, newRun("d", "r0", at(0), store.RunSuccess), "a")
	c = wantChanged(t, s, "changes after two inserts", c, "d/r0/a", "d/r1/a", "d/r1/b")

	// A later read returns only the newer writes (rows of a finished run
	// too), each with its current values.
	a := store.TaskKey{DagID: "d", RunID: "r1", TaskID: "a"}
	mustUpdateTask(t, s, store.TaskUpdate{Key: a, To: store.StateQueued, WorkerID: ptr("w1")}, true)
	mustUpdateTask(t, s, store.TaskUpdate{Key: store.TaskKey{DagID: "d", RunID: "r0", TaskID: "a"},
		To: store.StateFailed}, true)
	tis, c2, err := s.TaskInstancesChangedSince(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	for _, ti := range tis {
		if ti.TaskKey == a {
			same(t, "changed row", ti, mustGetTI(t, s, a))
		}
	}
	wantChanged(t, s, "changes after two updates", c, "d/r0/a", "d/r1/a")

	// A write that loses its condition changes nothing.
	mustUpdateTask(t, s, store.TaskUpdate{Key: a, From: []store.TaskState{store.StateNone}, To: store.StateRunning}, false)
	c = wantChanged(t, s, "changes after a lost write", c2)

	mustUpdateTask(t, s, store.TaskUpdate{Key: a, From: []store.TaskState{store.StateQueued}, To: store.StateRunning}, true)
	if err := s.Heartbeat(ctx, "w1", at(time.Minute)); err != nil {
		t.Fatal(err)
	}
	c = wantChanged(t, s, "changes after a claim and a heartbeat", c, "d/r1/a")

	if _, err := s.UpdateTasks(ctx, []store.TaskUpdate{{Key: store.TaskKey{DagID: "d", RunID: "r1", TaskID: "b"},
		To: store.StateSkipped}}); err != nil {
		t.Fatal(err)
	}
	c = wantChanged(t, s, "changes after a batch", c, "d/r1/b")

	if _, err := s.ClearTasks(ctx, "d", "r0", map[string]int{"a": 0}, at(time.Hour)); err != nil {
		t.Fatal(err)
	}
	wantChanged(t, s, "changes after a clear", c, "d/r0/a")
}

// testChangedSinceConcurrent: while many writers commit in parallel, a
// reader following the cursor sees the last write of every row: nothing
// that commits late is lost.
func testChangedSinceConcurrent(t *testing.T, s store.Store) {
	ctx := t.Context()
	const rows, rounds = 8, 25
	ids := make([]string, rows)
	for i := range ids {
		ids[i] = string(rune('a' + i))
	}
	mustCreate(t, s, newRun("d", "r", t0, store.RunRunning), ids...)
	cur, err := s.TaskChangeCursor(ctx)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{} // task -> try number last seen
	var wg sync.WaitGroup
	done := make(chan struct{})
	for _, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k := store.TaskKey{DagID: "d", RunID: "r", TaskID: id}
			for range rounds {
				if _, err := s.UpdateTask(ctx, store.TaskUpdate{Key: k, To: store.StateRunning, IncTry: true}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	go func() { wg.Wait(); close(done) }()
	read := func() {
		tis, next, err := s.TaskInstancesChangedSince(ctx, cur)
		if err != nil {
			t.Fatal(err)
		}
		for _, ti := range tis {
			seen[ti.TaskID] = max(seen[ti.TaskID], ti.TryNumber)
		}
		cur = next
	}
	for running := true; running; {
		select {
		case <-done:
			running = false
		default:
		}
		read()
	}
	read() // after the last commit
	for _, id := range ids {
		if seen[id] != rounds {
			t.Errorf("task %s: last try seen %d, want %d", id, seen[id], rounds)
		}
	}
}

// testUpdateTasks: a batch applies each conditional update and reports
// which won, exactly as single updates would, each with the row it wrote
// (what a read right after would return).
func testUpdateTasks(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustCreate(t, s, newRun("d", "r", t0, store.RunRunning), "a", "b", "c")
	k := func(id string) store.TaskKey { return store.TaskKey{DagID: "d", RunID: "r", TaskID: id} }
	none := []store.TaskState{store.StateNone}
	ws, err := s.UpdateTasks(ctx, []store.TaskUpdate{
		{Key: k("a"), From: none, To: store.StateQueued, WorkerID: ptr("w1"), QueuedAt: ptr(at(time.Second))},
		{Key: k("b"), From: []store.TaskState{store.StateRunning}, To: store.StateSuccess},
		{Key: k("c"), From: none, To: store.StateScheduled},
		{Key: k("a"), From: none, To: store.StateScheduled}, // lost: a is queued by now
		{Key: k("missing"), To: store.StateQueued},
	})
	if err != nil {
		t.Fatal(err)
	}
	won := make([]bool, len(ws))
	for i, w := range ws {
		won[i] = w.OK
	}
	same(t, "won", won, []bool{true, false, true, false, false})
	got := mustGetTI(t, s, k("a"))
	if got.State != store.StateQueued || got.WorkerID != "w1" || !got.QueuedAt.Equal(stored(at(time.Second))) {
		t.Errorf("a = %s by %q queued at %v, want queued by w1 at %v", got.State, got.WorkerID, got.QueuedAt, at(time.Second))
	}
	same(t, "a as written", ws[0].Row, got)
	same(t, "c as written", ws[2].Row, mustGetTI(t, s, k("c")))
	for _, i := range []int{1, 3, 4} {
		same(t, fmt.Sprintf("row of lost write %d", i), ws[i].Row, store.TaskInstance{})
	}
	same(t, "b state", mustGetTI(t, s, k("b")).State, store.StateNone)
	same(t, "c state", mustGetTI(t, s, k("c")).State, store.StateScheduled)

	ws, err = s.UpdateTasks(ctx, nil)
	if err != nil || len(ws) != 0 {
		t.Errorf("empty batch: %v, %v", ws, err)
	}
}

// testUpdateTaskRow: a single update returns the row as a read would see
// it, try_number, blobs and dates included; a lost one returns no row.
func testUpdateTaskRow(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustCreate(t, s, newRun("d", "r", t0, store.RunRunning), "a")
	k := store.TaskKey{DagID: "d", RunID: "r", TaskID: "a"}
	handle := []byte(`{"pid":42}`)
	w, err := s.UpdateTaskRow(ctx, store.TaskUpdate{Key: k, From: []store.TaskState{store.StateNone}, To: store.StateRunning,
		IncTry: true, StartDate: ptr(at(time.Second)), WorkerID: ptr("w1"), Hostname: ptr("h"), Handle: &handle})
	if err != nil || !w.OK {
		t.Fatalf("claim: %+v, %v", w, err)
	}
	got := mustGetTI(t, s, k)
	same(t, "row as written", w.Row, got)
	if got.TryNumber != 1 || string(got.Handle) != string(handle) {
		t.Errorf("row = try %d handle %q, want try 1 handle %q", got.TryNumber, got.Handle, handle)
	}
	w, err = s.UpdateTaskRow(ctx, store.TaskUpdate{Key: k, From: []store.TaskState{store.StateNone}, To: store.StateQueued})
	if err != nil || w.OK || w.Row.TaskID != "" {
		t.Errorf("lost write: %+v, %v; want no row, no error", w, err)
	}

	// Every kind of write counts in Version, so the newer of two copies of
	// a row is always the one with the higher count.
	same(t, "version after the claim", got.Version, int64(1))
	if err := s.Heartbeat(ctx, "w1", at(time.Minute)); err != nil {
		t.Fatal(err)
	}
	same(t, "version after a heartbeat", mustGetTI(t, s, k).Version, int64(2))
	mustUpdateTask(t, s, store.TaskUpdate{Key: k, To: store.StateFailed}, true)
	if _, err := s.ClearTasks(ctx, "d", "r", map[string]int{"a": 0}, at(time.Hour)); err != nil {
		t.Fatal(err)
	}
	same(t, "version after a clear", mustGetTI(t, s, k).Version, int64(4))
}

// testRequires: in a batch, an update that requires another task's state
// runs after the updates that require nothing, whatever the batch order, and
// applies only if the requirement holds then: a hand-off goes through with
// the outcome it depends on and never without it.
func testRequires(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustCreate(t, s, newRun("d", "r", t0, store.RunRunning), "a", "b", "c", "d")
	k := func(id string) store.TaskKey { return store.TaskKey{DagID: "d", RunID: "r", TaskID: id} }
	running := []store.TaskState{store.StateRunning}
	for _, id := range []string{"a", "c"} {
		mustUpdateTask(t, s, store.TaskUpdate{Key: k(id), To: store.StateRunning, IncTry: true, WorkerID: ptr("w1")}, true)
	}
	// c is cleared while it runs: its outcome will lose.
	mustUpdateTask(t, s, store.TaskUpdate{Key: k("c"), From: running, To: store.StateRestarting}, true)

	claim := func(id, after string) store.TaskUpdate {
		return store.TaskUpdate{Key: k(id), From: []store.TaskState{store.StateNone}, To: store.StateRunning, IncTry: true,
			Requires: []store.TaskCondition{{Key: k(after), State: store.StateSuccess, Try: 1}}}
	}
	ws, err := s.UpdateTasks(ctx, []store.TaskUpdate{
		claim("b", "a"), // listed before the outcome it requires
		claim("d", "c"),
		{Key: k("a"), From: running, FromTry: ptr(1), To: store.StateSuccess},
		{Key: k("c"), From: running, FromTry: ptr(1), To: store.StateSuccess},
	})
	if err != nil {
		t.Fatal(err)
	}
	won := make([]bool, len(ws))
	for i, w := range ws {
		won[i] = w.OK
	}
	same(t, "won", won, []bool{true, false, true, false})
	same(t, "b", mustGetTI(t, s, k("b")).State, store.StateRunning)
	same(t, "d", mustGetTI(t, s, k("d")).State, store.StateNone)

	// Alone, the same rule holds.
	ok, err := s.UpdateTask(ctx, claim("d", "c"))
	if err != nil || ok {
		t.Errorf("claim of d after a lost outcome of c: %v, %v; want false", ok, err)
	}
}

// testApplyMatchesStore: TaskUpdate.Apply predicts exactly what the store
// writes, conditions included, so the scheduler may decide on an outcome
// before it is written.
func testApplyMatchesStore(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustCreate(t, s, newRun("d", "r", t0, store.RunRunning), "a")
	k := store.TaskKey{DagID: "d", RunID: "r", TaskID: "a"}
	handle, rendered := []byte(`{"pid":7}`), []byte(`{"args":{}}`)
	var none []byte
	updates := []store.TaskUpdate{
		{Key: k, From: []store.TaskState{store.StateNone}, To: store.StateScheduled},
		{Key: k, From: []store.TaskState{store.StateScheduled}, To: store.StateRunning, IncTry: true,
			QueuedAt: ptr(at(time.Second)), StartDate: ptr(at(2 * time.Second)), Hostname: ptr("h"), WorkerID: ptr("w1"),
			HeartbeatAt: ptr(at(2 * time.Second)), Handle: &none, Rendered: &none},
		{Key: k, From: []store.TaskState{store.StateRunning}, FromWorker: ptr("w2"), To: store.StateSuccess}, // lost
		{Key: k, From: []store.TaskState{store.StateRunning}, FromTry: ptr(1), To: store.StateRunning,
			Handle: &handle, Rendered: &rendered},
		{Key: k, From: []store.TaskState{store.StateRunning}, FromWorker: ptr("w1"), FromTry: ptr(1),
			To: store.StateUpForRetry, EndDate: ptr(at(3 * time.Second)), NextRetryAt: ptr(at(time.Minute)),
			HeartbeatAt: ptr(time.Time{})},
		{Key: k, To: store.StateFailed, Handle: &none},
	}
	for i, u := range updates {
		before := mustGetTI(t, s, k)
		want, wantOK := u.Apply(before)
		w, err := s.UpdateTaskRow(ctx, u)
		if err != nil {
			t.Fatalf("update %d: %v", i, err)
		}
		if w.OK != wantOK {
			t.Fatalf("update %d: store applied it: %v, Apply says %v", i, w.OK, wantOK)
		}
		if w.OK {
			same(t, fmt.Sprintf("update %d", i), w.Row, want)
		}
	}
}

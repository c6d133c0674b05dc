package storetest

import (
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
// which won, exactly as single updates would.
func testUpdateTasks(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustCreate(t, s, newRun("d", "r", t0, store.RunRunning), "a", "b", "c")
	k := func(id string) store.TaskKey { return store.TaskKey{DagID: "d", RunID: "r", TaskID: id} }
	none := []store.TaskState{store.StateNone}
	won, err := s.UpdateTasks(ctx, []store.TaskUpdate{
		{Key: k("a"), From: none, To: store.StateQueued, WorkerID: ptr("w1"), QueuedAt: ptr(at(time.Second))},
		{Key: k("b"), From: []store.TaskState{store.StateRunning}, To: store.StateSuccess},
		{Key: k("c"), From: none, To: store.StateScheduled},
		{Key: k("a"), From: none, To: store.StateScheduled}, // lost: a is queued by now
		{Key: k("missing"), To: store.StateQueued},
	})
	if err != nil {
		t.Fatal(err)
	}
	same(t, "won", won, []bool{true, false, true, false, false})
	got := mustGetTI(t, s, k("a"))
	if got.State != store.StateQueued || got.WorkerID != "w1" || !got.QueuedAt.Equal(stored(at(time.Second))) {
		t.Errorf("a = %s by %q queued at %v, want queued by w1 at %v", got.State, got.WorkerID, got.QueuedAt, at(time.Second))
	}
	same(t, "b state", mustGetTI(t, s, k("b")).State, store.StateNone)
	same(t, "c state", mustGetTI(t, s, k("c")).State, store.StateScheduled)

	won, err = s.UpdateTasks(ctx, nil)
	if err != nil || len(won) != 0 {
		t.Errorf("empty batch: %v, %v", won, err)
	}
}

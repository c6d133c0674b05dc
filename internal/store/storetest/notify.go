package storetest

import (
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/store"
)

// RunNotify runs the notification suite (Store.Notify and Store.Watch).
// open must return two handles on one new, empty database, as two
// processes would hold it, and close both when t ends.
func RunNotify(t *testing.T, open func(t *testing.T) (a, b store.Store)) {
	t.Helper()
	for _, c := range notifyCases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			a, b := open(t)
			if err := a.Migrate(t.Context()); err != nil {
				t.Fatalf("Migrate: %v", err)
			}
			c.fn(t, a, b)
		})
	}
}

var notifyCases = []struct {
	name string
	fn   func(t *testing.T, a, b store.Store)
}{
	{"WritesOfAnotherHandleWake", testWritesOfAnotherHandleWake},
	{"OwnWritesDoNotWake", testOwnWritesDoNotWake},
	{"FailedTriesWake", testFailedTriesWake},
}

// wakeTimeout bounds the wait for a notification that must come; it only
// turns a missing one into a failure instead of a hang.
const wakeTimeout = 10 * time.Second

// quiet is how long a watch must stay silent to count as not woken.
const quiet = 300 * time.Millisecond

func mustWatch(t *testing.T, s store.Store) <-chan struct{} {
	t.Helper()
	ch, err := s.Watch(t.Context())
	if err != nil {
		t.Fatalf("Watch: %v", err)
	}
	if ch == nil {
		t.Fatal("Watch returned no channel on a database another handle can write")
	}
	return ch
}

func mustWake(t *testing.T, ch <-chan struct{}, after string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(wakeTimeout):
		t.Fatalf("no notification within %s after %s", wakeTimeout, after)
	}
}

func mustNotWake(t *testing.T, ch <-chan struct{}, after string) {
	t.Helper()
	select {
	case <-ch:
		t.Fatalf("woken by %s", after)
	case <-time.After(quiet):
	}
}

// testWritesOfAnotherHandleWake: every write a scheduler must act on,
// made through another handle, wakes a watcher at once.
func testWritesOfAnotherHandleWake(t *testing.T, a, b store.Store) {
	ctx := t.Context()
	ch := mustWatch(t, a)
	steps := []struct {
		what  string
		write func() error
	}{
		{"Notify", func() error { return b.Notify(ctx) }},
		{"CreateRun", func() error { return b.CreateRun(ctx, newRun("d", "r", t0, store.RunQueued), newTIs("x", "y")) }},
		{"UpdateRun", func() error {
			_, err := b.UpdateRun(ctx, store.RunUpdate{DagID: "d", RunID: "r", To: store.RunRunning})
			return err
		}},
		{"MarkTask", func() error {
			_, err := b.MarkTask(ctx, store.TaskUpdate{Key: store.TaskKey{DagID: "d", RunID: "r", TaskID: "x"}, To: store.StateSuccess})
			return err
		}},
		{"ClearTasks", func() error {
			_, err := b.ClearTasks(ctx, "d", "r", map[string]int{"x": 0}, t0)
			return err
		}},
		{"SetPaused", func() error {
			if err := b.UpsertDAG(ctx, store.DAGRecord{DagID: "d"}); err != nil {
				return err
			}
			return b.SetPaused(ctx, "d", true)
		}},
		{"SetPool", func() error { return b.SetPool(ctx, store.Pool{Name: "p", Slots: 2}) }},
	}
	for _, s := range steps {
		if err := s.write(); err != nil {
			t.Fatalf("%s: %v", s.what, err)
		}
		mustWake(t, ch, "another handle's "+s.what)
	}
}

// testOwnWritesDoNotWake: a handle's own writes never wake its watch (a
// scheduler would wake itself after every write), and a write that changes
// nothing wakes no one.
func testOwnWritesDoNotWake(t *testing.T, a, b store.Store) {
	ctx := t.Context()
	chA, chB := mustWatch(t, a), mustWatch(t, b)
	if err := a.CreateRun(ctx, newRun("d", "r", t0, store.RunQueued), newTIs("x")); err != nil {
		t.Fatal(err)
	}
	if _, err := a.UpdateRun(ctx, store.RunUpdate{DagID: "d", RunID: "r", To: store.RunRunning}); err != nil {
		t.Fatal(err)
	}
	if err := a.Notify(ctx); err != nil {
		t.Fatal(err)
	}
	mustWake(t, chB, "the other handle's writes") // they were sent
	mustNotWake(t, chA, "its own writes")

	// A lost race writes nothing and tells no one.
	if ok, err := b.UpdateRun(ctx, store.RunUpdate{DagID: "d", RunID: "r", From: []store.RunState{store.RunQueued}, To: store.RunFailed}); ok || err != nil {
		t.Fatalf("UpdateRun from queued of a running run = %v, %v", ok, err)
	}
	mustNotWake(t, chA, "an update that did not apply")
}

// testFailedTriesWake: a task write that ends a try as up_for_retry or
// failed wakes a watcher (`dags trigger --wait` shows the retry while it
// lasts), through each of the task write methods; a success, the chain's
// every hand-off, does not.
func testFailedTriesWake(t *testing.T, a, b store.Store) {
	ctx := t.Context()
	ch := mustWatch(t, a)
	if err := b.CreateRun(ctx, newRun("d", "r", t0, store.RunRunning), newTIs("x", "y", "z")); err != nil {
		t.Fatal(err)
	}
	mustWake(t, ch, "CreateRun")
	key := func(id string) store.TaskKey { return store.TaskKey{DagID: "d", RunID: "r", TaskID: id} }
	to := func(id string, st store.TaskState) store.TaskUpdate { return store.TaskUpdate{Key: key(id), To: st} }
	steps := []struct {
		what  string
		write func() error
		wakes bool
	}{
		{"UpdateTask to success", func() error { _, err := b.UpdateTask(ctx, to("x", store.StateSuccess)); return err }, false},
		{"UpdateTasks to success", func() error {
			_, err := b.UpdateTasks(ctx, []store.TaskUpdate{to("y", store.StateSuccess)})
			return err
		}, false},
		{"UpdateTask to up_for_retry", func() error { _, err := b.UpdateTask(ctx, to("x", store.StateUpForRetry)); return err }, true},
		{"UpdateTaskRow to failed", func() error { _, err := b.UpdateTaskRow(ctx, to("y", store.StateFailed)); return err }, true},
		{"UpdateTasks to up_for_retry", func() error {
			_, err := b.UpdateTasks(ctx, []store.TaskUpdate{to("x", store.StateRunning), to("z", store.StateUpForRetry)})
			return err
		}, true},
		{"UpdateTask to failed that did not apply", func() error {
			_, err := b.UpdateTask(ctx, store.TaskUpdate{Key: key("x"), From: []store.TaskState{store.StateQueued}, To: store.StateFailed})
			return err
		}, false},
	}
	for _, s := range steps {
		if err := s.write(); err != nil {
			t.Fatalf("%s: %v", s.what, err)
		}
		if s.wakes {
			mustWake(t, ch, "another handle's "+s.what)
		} else {
			mustNotWake(t, ch, "another handle's "+s.what)
		}
	}
}

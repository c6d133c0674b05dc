package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"runtime"
	"sync"
	"testing"

	"github.com/sirocco-dev/sirocco/internal/store"
)

// TestCombinerQueueWhileTheWriterIsBusy holds SQLite's write lock from a
// second connection (another process, as far as the store knows), so the
// first update leads and waits while the others queue behind it. A caller
// cancelled while queued gets its context's error and its update is never
// written; the rest are written, each with its own answer, once the lock
// is released.
func TestCombinerQueueWhileTheWriterIsBusy(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "sirocco.db")
	s, err := OpenSQLite(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	ids := []string{"lead", "a", "b", "c", "cancelled"}
	tis := make([]store.TaskInstance, len(ids))
	for i, id := range ids {
		tis[i] = store.TaskInstance{TaskKey: store.TaskKey{TaskID: id}}
	}
	if err := s.CreateRun(ctx, store.DagRun{DagID: "d", RunID: "r", RunType: store.RunManual, State: store.RunRunning}, tis); err != nil {
		t.Fatal(err)
	}
	key := func(id string) store.TaskKey { return store.TaskKey{DagID: "d", RunID: "r", TaskID: id} }

	other, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	lock, err := other.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	if _, err := lock.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}

	type answer struct {
		ok  bool
		err error
	}
	answers := map[string]answer{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	update := func(ctx context.Context, id string) {
		defer wg.Done()
		ok, err := s.UpdateTask(ctx, store.TaskUpdate{Key: key(id), From: []store.TaskState{store.StateNone}, To: store.StateQueued})
		mu.Lock()
		answers[id] = answer{ok, err}
		mu.Unlock()
	}
	queued := func(n int) bool {
		s.comb.mu.Lock()
		defer s.comb.mu.Unlock()
		return s.comb.writing && len(s.comb.queue) == n
	}
	wait := func(n int) {
		for !queued(n) {
			select {
			case <-ctx.Done():
				t.Fatal(ctx.Err())
			default:
			}
			runtime.Gosched()
		}
	}

	wg.Add(1)
	go update(ctx, "lead")
	wait(0) // the leader took its round and waits for the lock
	cctx, cancel := context.WithCancel(ctx)
	wg.Add(4)
	go update(ctx, "a")
	go update(ctx, "b")
	go update(cctx, "cancelled")
	go update(ctx, "c")
	wait(4)
	cancel()
	wait(3)
	if _, err := lock.ExecContext(ctx, "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	wg.Wait()

	for _, id := range []string{"lead", "a", "b", "c"} {
		if a := answers[id]; !a.ok || a.err != nil {
			t.Errorf("%s: (%v, %v), want written", id, a.ok, a.err)
		}
		if ti, err := s.GetTaskInstance(ctx, key(id)); err != nil || ti.State != store.StateQueued {
			t.Errorf("%s is %q (%v), want queued", id, ti.State, err)
		}
	}
	if a := answers["cancelled"]; a.ok || !errors.Is(a.err, context.Canceled) {
		t.Errorf("cancelled: (%v, %v), want context.Canceled", a.ok, a.err)
	}
	if ti, _ := s.GetTaskInstance(ctx, key("cancelled")); ti.State != store.StateNone {
		t.Errorf("the cancelled update was written: %q", ti.State)
	}
	if queued(0) {
		t.Error("the lead was not given up once the queue was empty")
	}
}

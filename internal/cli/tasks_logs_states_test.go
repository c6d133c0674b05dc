package cli

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/store"
	"github.com/sirocco-dev/sirocco/internal/store/sqlstore"
	"github.com/sirocco-dev/sirocco/internal/tasklog"
)

// plainLogsHome is a migrated home whose DAG d has the plain task t1 and
// a run r of it, t1's try 1 run with a log; run runs the CLI there.
func plainLogsHome(t *testing.T) (st store.Store, logs string, run func(ctx context.Context, args ...string) (string, error)) {
	t.Helper()
	home := t.TempDir()
	dags := filepath.Join(home, "dags")
	if err := os.MkdirAll(dags, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dags, "d.yaml"), []byte("dag_id: d\ntasks:\n  - {id: t1, operator: empty}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	db := "sqlite://" + filepath.Join(home, "sirocco.db")
	run = func(ctx context.Context, args ...string) (string, error) {
		var out bytes.Buffer
		root := NewRoot(&out, &out)
		root.SetArgs(append([]string{"--home", home, "--dags", dags, "--database-url", db}, args...))
		err := root.ExecuteContext(ctx)
		return out.String(), err
	}
	for _, args := range [][]string{{"db", "migrate"}, {"dags", "trigger", "d", "--run-id", "r", "--logical-date", "2026-01-01"}} {
		if out, err := run(t.Context(), args...); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
	}
	s, err := sqlstore.Open(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	k := store.TaskKey{DagID: "d", RunID: "r", TaskID: "t1"}
	if ok, err := s.UpdateTask(t.Context(), store.TaskUpdate{Key: k, To: store.StateRunning, IncTry: true}); err != nil || !ok {
		t.Fatalf("start t1: %v, %v", ok, err)
	}
	logs = filepath.Join(home, "logs")
	path := tasklog.MapPath(logs, "d", "r", "t1", -1, 1)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("try 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return s, logs, run
}

// TestFollowEndsWithTheTryNotTheNextOne (rev11b): a try is counted when
// it starts running, so a task queued after its try 1 failed waits for
// try 2, whose log is another file: --follow of try 1 prints it and
// returns, rather than waiting until try 2 starts (a full pool, a pending
// pod). A reschedule-mode sensor queued for its next poke goes on with
// the same try: that one is still followed.
func TestFollowEndsWithTheTryNotTheNextOne(t *testing.T) {
	st, logs, _ := plainLogsHome(t)
	k := store.TaskKey{DagID: "d", RunID: "r", TaskID: "t1"}
	set := func(u store.TaskUpdate) {
		t.Helper()
		u.Key = k
		if ok, err := st.UpdateTask(t.Context(), u); err != nil || !ok {
			t.Fatalf("set %s: %v, %v", u.To, ok, err)
		}
	}
	set(store.TaskUpdate{To: store.StateUpForRetry})
	set(store.TaskUpdate{To: store.StateQueued})
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second) // a bound on a hang, not a wait
	defer cancel()
	var out bytes.Buffer
	err := (&app{stdout: &out}).followLog(ctx, st, logs, k, 1, newWaitNotes(io.Discard))
	if ctx.Err() != nil || err != nil || out.String() != "try 1\n" {
		t.Errorf("--follow of try 1 while try 2 is queued: %v (waited: %v), printed %q; want try 1's log at once", err, ctx.Err(), out.String())
	}

	// The same row as a sensor's try between two pokes: followed on.
	set(store.TaskUpdate{To: store.StateRunning})
	set(store.TaskUpdate{To: store.StateUpForReschedule, Pokes: ptrTo(1)})
	set(store.TaskUpdate{To: store.StateQueued})
	polled := &nthRead{Store: st, n: 2, seen: make(chan struct{})}
	done := make(chan error, 1)
	go func() {
		done <- (&app{stdout: &syncBuffer{}}).followLog(ctx, polled, logs, k, 1, newWaitNotes(io.Discard))
	}()
	select {
	case err := <-done:
		t.Fatalf("--follow returned while the sensor's try is queued for its next poke: %v", err)
	case <-polled.seen:
	}
	set(store.TaskUpdate{To: store.StateSuccess})
	if err := <-done; err != nil || ctx.Err() != nil {
		t.Errorf("--follow of the sensor's try once it succeeded: %v (%v)", err, ctx.Err())
	}
}

// TestLogsOfAPlainTaskWithAMapIndex (rev11b): --map-index N of a task
// that is not mapped says so; it does not take the task for a mapped one
// that "ended without running a try" (it ran one), nor does --follow wait
// for an instance that never comes.
func TestLogsOfAPlainTaskWithAMapIndex(t *testing.T) {
	st, _, run := plainLogsHome(t)
	k := store.TaskKey{DagID: "d", RunID: "r", TaskID: "t1"}
	want := "task t1 is not mapped: its log is named without --map-index"
	for _, args := range [][]string{{"--map-index", "0", "--follow"}, {"--map-index", "0"}} {
		ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second) // a bound on a hang, not a wait
		_, err := run(ctx, append([]string{"tasks", "logs", "d", "r", "t1"}, args...)...)
		cancel()
		if err == nil || err.Error() != want {
			t.Errorf("tasks logs %v of running t1: %v; want %q", args, err, want)
		}
	}
	if ok, err := st.UpdateTask(t.Context(), store.TaskUpdate{Key: k, To: store.StateSuccess}); err != nil || !ok {
		t.Fatalf("t1 success: %v, %v", ok, err)
	}
	if _, err := run(t.Context(), "tasks", "logs", "d", "r", "t1", "--map-index", "0"); err == nil || err.Error() != want {
		t.Errorf("tasks logs --map-index 0 of t1 that succeeded: %v; want %q", err, want)
	}
	if out, err := run(t.Context(), "tasks", "logs", "d", "r", "t1"); err != nil || out != "try 1\n" {
		t.Errorf("tasks logs of t1: %v, %q", err, out)
	}
}

// TestLogsOfAClearedEmptyPlaceholder (rev11b): a placeholder skipped by a
// clear over a list that became empty keeps the old instance 0's tries;
// cleared again it waits to expand, and tasks logs says so, as for any
// placeholder, rather than "no log for try 1" (that try's log is
// instance 0's).
func TestLogsOfAClearedEmptyPlaceholder(t *testing.T) {
	st, run := logsHome(t)
	ctx := t.Context()
	k := store.TaskKey{DagID: "d", RunID: "r", TaskID: "m"}
	expand := func(n int) {
		t.Helper()
		ph, err := st.GetTaskInstance(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		if ok, err := st.ExpandTask(ctx, k, ph.Version, n, time.Now()); err != nil || !ok {
			t.Fatalf("expand over %d: %v, %v", n, ok, err)
		}
	}
	clear := func() {
		t.Helper()
		if _, err := st.ClearTasks(ctx, "d", "r", map[string]int{"m": 0}, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	expand(1)
	if ok, err := st.UpdateTask(ctx, store.TaskUpdate{Key: k.WithMapIndex(0), To: store.StateSuccess, IncTry: true}); err != nil || !ok {
		t.Fatalf("m[0]: %v, %v", ok, err)
	}
	clear()
	expand(0)
	clear()
	ph, err := st.GetTaskInstance(ctx, k)
	if err != nil || ph.State != store.StateNone || ph.TryNumber != 1 {
		t.Fatalf("the placeholder cleared again = %+v, %v; want state none with the old try 1", ph, err)
	}
	want := "task m is mapped and has not expanded yet (state none); its instances' logs are named with --map-index N"
	if _, err := run(ctx, "tasks", "logs", "d", "r", "m"); err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("tasks logs of the cleared placeholder: %v; want %q", err, want)
	}
}

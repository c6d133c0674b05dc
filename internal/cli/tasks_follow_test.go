package cli

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/store"
	"github.com/sirocco-dev/sirocco/internal/store/sqlstore"
	"github.com/sirocco-dev/sirocco/internal/tasklog"
)

// TestFollowKeepsARescheduledSensorsTry: `tasks logs --follow` of a
// reschedule-mode sensor between two pokes (up_for_reschedule) goes on:
// its try is not over, the next poke appends to the same log. It returns
// once the try ends, with both pokes' lines.
func TestFollowKeepsARescheduledSensorsTry(t *testing.T) {
	home := t.TempDir()
	dags := filepath.Join(home, "dags")
	if err := os.MkdirAll(dags, 0o755); err != nil {
		t.Fatal(err)
	}
	yaml := "dag_id: d\ntasks:\n  - {id: wait, operator: empty}\n"
	if err := os.WriteFile(filepath.Join(dags, "d.yaml"), []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	db := "sqlite://" + filepath.Join(home, "sirocco.db")
	for _, args := range [][]string{{"db", "migrate"}, {"dags", "trigger", "d", "--run-id", "r", "--logical-date", "2026-01-01"}} {
		var out bytes.Buffer
		root := NewRoot(&out, &out)
		root.SetArgs(append([]string{"--home", home, "--dags", dags, "--database-url", db}, args...))
		if err := root.ExecuteContext(t.Context()); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out.String())
		}
	}
	st, err := sqlstore.Open(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	k := store.TaskKey{DagID: "d", RunID: "r", TaskID: "wait"}
	set := func(u store.TaskUpdate) {
		t.Helper()
		u.Key = k
		if ok, err := st.UpdateTask(t.Context(), u); err != nil || !ok {
			t.Fatalf("set %s: %v, %v", u.To, ok, err)
		}
	}
	set(store.TaskUpdate{To: store.StateRunning, IncTry: true})
	set(store.TaskUpdate{To: store.StateUpForReschedule, Pokes: ptrTo(1)})
	logs := filepath.Join(home, "logs")
	path := tasklog.MapPath(logs, "d", "r", "wait", -1, 1)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("poke 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	polled := &nthRead{Store: st, n: 2, seen: make(chan struct{})}
	var out syncBuffer
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second) // a bound on a hang, not a wait
		defer cancel()
		done <- (&app{stdout: &out}).followLog(ctx, polled, logs, k, 1, newWaitNotes(io.Discard))
	}()
	select {
	case err := <-done:
		t.Fatalf("followLog returned while the sensor's try waits for its next poke: %v; output %q", err, out.String())
	case <-polled.seen: // it looked again: it is still following
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("poke 2\n"); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	set(store.TaskUpdate{To: store.StateSuccess})
	if err := <-done; err != nil {
		t.Fatalf("followLog: %v", err)
	}
	if got := out.String(); !strings.Contains(got, "poke 1\npoke 2\n") {
		t.Errorf("followed log %q; want both pokes", got)
	}
}

// TestFollowATryThatNeverCame: --follow of a try the task never reached
// (--try 2 of a task that failed after try 1) returns, saying which try
// ran, not that the task ran none.
func TestFollowATryThatNeverCame(t *testing.T) {
	home := t.TempDir()
	dags := filepath.Join(home, "dags")
	if err := os.MkdirAll(dags, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dags, "d.yaml"), []byte("dag_id: d\ntasks:\n  - {id: t1, operator: empty}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	db := "sqlite://" + filepath.Join(home, "sirocco.db")
	run := func(ctx context.Context, args ...string) (string, error) {
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
	st, err := sqlstore.Open(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	k := store.TaskKey{DagID: "d", RunID: "r", TaskID: "t1"}
	if ok, err := st.UpdateTask(t.Context(), store.TaskUpdate{Key: k, To: store.StateFailed, IncTry: true}); err != nil || !ok {
		t.Fatalf("fail t1: %v, %v", ok, err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second) // a bound on a hang, not a wait
	defer cancel()
	_, err = run(ctx, "tasks", "logs", "d", "r", "t1", "--try", "2", "--follow")
	if want := "task t1 ended failed after try 1, without running try 2"; err == nil || err.Error() != want {
		t.Errorf("tasks logs --try 2 --follow: %v; want %q", err, want)
	}
}

// TestFollowAPlaceholderThatExpands: --follow of a mapped task before it
// expands (its placeholder) ends, once the placeholder has become the
// instances, saying how to name one, not with "no log at ...".
func TestFollowAPlaceholderThatExpands(t *testing.T) {
	home := t.TempDir()
	dags := filepath.Join(home, "dags")
	if err := os.MkdirAll(dags, 0o755); err != nil {
		t.Fatal(err)
	}
	yaml := "dag_id: d\ntasks:\n  - {id: m, operator: bash, expand: {command: [echo a, echo b]}}\n"
	if err := os.WriteFile(filepath.Join(dags, "d.yaml"), []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	db := "sqlite://" + filepath.Join(home, "sirocco.db")
	for _, args := range [][]string{{"db", "migrate"}, {"dags", "trigger", "d", "--run-id", "r", "--logical-date", "2026-01-01"}} {
		var out bytes.Buffer
		root := NewRoot(&out, &out)
		root.SetArgs(append([]string{"--home", home, "--dags", dags, "--database-url", db}, args...))
		if err := root.ExecuteContext(t.Context()); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out.String())
		}
	}
	st, err := sqlstore.Open(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	k := store.TaskKey{DagID: "d", RunID: "r", TaskID: "m"}
	ph, err := st.GetTaskInstance(t.Context(), k)
	if err != nil {
		t.Fatal(err)
	}
	polled := &nthRead{Store: st, n: 1, seen: make(chan struct{})}
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second) // a bound on a hang, not a wait
		defer cancel()
		done <- (&app{stdout: &bytes.Buffer{}}).followLog(ctx, polled, filepath.Join(home, "logs"), k, 1, newWaitNotes(io.Discard))
	}()
	<-polled.seen // it saw the placeholder waiting
	if ok, err := st.ExpandTask(t.Context(), k, ph.Version, 2, time.Now()); err != nil || !ok {
		t.Fatalf("expand: %v, %v", ok, err)
	}
	if err := <-done; err == nil || !strings.Contains(err.Error(), "--map-index") {
		t.Errorf("followLog of a placeholder that expanded: %v; want the hint to name an instance with --map-index", err)
	}
}

func ptrTo[T any](v T) *T { return &v }

// nthRead is a store that tells when a task instance has been read n times.
type nthRead struct {
	store.Store
	mu    sync.Mutex
	reads int
	n     int
	seen  chan struct{}
}

func (f *nthRead) GetTaskInstance(ctx context.Context, k store.TaskKey) (store.TaskInstance, error) {
	ti, err := f.Store.GetTaskInstance(ctx, k)
	f.mu.Lock()
	f.reads++
	if f.reads == f.n {
		close(f.seen)
	}
	f.mu.Unlock()
	return ti, err
}

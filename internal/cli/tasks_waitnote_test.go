package cli

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/dag"
	"github.com/sirocco-dev/sirocco/internal/store"
	"github.com/sirocco-dev/sirocco/internal/store/sqlstore"
	"github.com/sirocco-dev/sirocco/internal/testenv"
)

// waitHome is a migrated home whose DAG d has a depends_on_past task load,
// a task other and a depends_on_past mapped task per (over up's XCom),
// with a run r; run runs the CLI there, its stderr written to errOut.
// note writes a task instance's note as the scheduler does.
func waitHome(t *testing.T) (run func(ctx context.Context, errOut *syncBuffer, args ...string) (string, error), note func(task, why string)) {
	run, note, _ = waitStore(t)
	return run, note
}

// waitStore is waitHome with its store.
func waitStore(t *testing.T) (run func(ctx context.Context, errOut *syncBuffer, args ...string) (string, error), note func(task, why string), st store.Store) {
	t.Helper()
	home := t.TempDir()
	dags := filepath.Join(home, "dags")
	if err := os.MkdirAll(dags, 0o755); err != nil {
		t.Fatal(err)
	}
	yaml := "dag_id: d\ntasks:\n  - {id: up, operator: bash, command: 'echo hi'}\n" +
		"  - {id: load, operator: empty, depends_on_past: true}\n  - {id: other, operator: empty}\n" +
		"  - {id: per, operator: bash, expand: {command: {xcom: up}}, depends_on: [up], depends_on_past: true}\n"
	if err := os.WriteFile(filepath.Join(dags, "d.yaml"), []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	db := "sqlite://" + filepath.Join(home, "sirocco.db")
	run = func(ctx context.Context, errOut *syncBuffer, args ...string) (string, error) {
		out := &syncBuffer{}
		if errOut == nil {
			errOut = out
		}
		root := NewRoot(out, errOut)
		root.SetArgs(append([]string{"--home", home, "--dags", dags, "--database-url", db}, args...))
		err := root.ExecuteContext(ctx)
		return out.String(), err
	}
	for _, args := range [][]string{{"db", "migrate"}, {"dags", "trigger", "d", "--run-id", "r", "--logical-date", "2026-01-02"}} {
		if out, err := run(t.Context(), nil, args...); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
	}
	s, err := sqlstore.Open(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	st = s
	note = func(task, why string) {
		t.Helper()
		k := store.TaskKey{DagID: "d", RunID: "r", TaskID: task}
		if ok, err := st.UpdateTask(t.Context(), store.TaskUpdate{Key: k, From: []store.TaskState{store.StateNone},
			To: store.StateNone, Note: &why}); err != nil || !ok {
			t.Fatalf("note of %s: %v, %v", task, ok, err)
		}
	}
	return run, note, st
}

// stderrIs waits until errOut says want exactly.
func stderrIs(t *testing.T, what string, errOut *syncBuffer, want string) {
	t.Helper()
	testenv.Eventually(t, what, 30*time.Second, func() (bool, string) {
		got := errOut.String()
		return got == want, got
	})
}

// TestFollowSaysWhyATaskWaits (trial12 T1): `tasks logs --follow` of a task
// that has not started says on stderr why it waits, once, and again when
// the reason changes; a task with no note gets no such line.
func TestFollowSaysWhyATaskWaits(t *testing.T) {
	run, note := waitHome(t)
	why1 := "depends_on_past: load in the previous run p is failed, not success or skipped"
	why2 := "depends_on_past: load in the previous run p is running, not success or skipped"
	note("load", why1)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second) // a bound on a hang, not a wait
	defer cancel()
	loadErr, otherErr := &syncBuffer{}, &syncBuffer{}
	done := make(chan error, 2)
	go func() { _, err := run(ctx, loadErr, "tasks", "logs", "d", "r", "load", "--follow"); done <- err }()
	go func() { _, err := run(ctx, otherErr, "tasks", "logs", "d", "r", "other", "--follow"); done <- err }()
	first := "waiting for load to start: " + why1 + "\n"
	stderrIs(t, "the first reason", loadErr, first)
	note("load", why2)
	stderrIs(t, "the reason once, then the new one", loadErr, first+"waiting for load to start: "+why2+"\n")
	cancel()
	<-done
	<-done
	if got := otherErr.String(); got != "" {
		t.Errorf("--follow of a task without a note printed %q on stderr; want nothing", got)
	}
}

// TestLogsOfAMappedTaskThatWaitsForThePast (trial12 T3): `tasks logs` of a
// mapped task's placeholder, with or without --map-index, gives its note
// as a task that is not mapped does, and --follow says why it waits.
func TestLogsOfAMappedTaskThatWaitsForThePast(t *testing.T) {
	run, note := waitHome(t)
	why := "depends_on_past: per [1] in the previous run p is failed, not success or skipped"
	note("per", why)
	_, err := run(t.Context(), nil, "tasks", "logs", "d", "r", "per")
	if want := "task per is mapped and has not expanded yet (state none): " + why + "; its instances' logs"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("tasks logs per: %v; want %q", err, want)
	}
	_, err = run(t.Context(), nil, "tasks", "logs", "d", "r", "per", "--map-index", "0")
	if want := "task per has not expanded yet (state none): " + why + "; use --follow to wait for its instance [0]"; err == nil || err.Error() != want {
		t.Errorf("tasks logs per --map-index 0: %v; want %q", err, want)
	}
	for _, args := range [][]string{{}, {"--map-index", "1"}} {
		ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second) // a bound on a hang, not a wait
		errOut := &syncBuffer{}
		done := make(chan error, 1)
		go func() {
			_, err := run(ctx, errOut, append([]string{"tasks", "logs", "d", "r", "per", "--follow"}, args...)...)
			done <- err
		}()
		stderrIs(t, "why per waits "+strings.Join(args, " "), errOut, "waiting for per to expand: "+why+"\n")
		cancel()
		<-done
	}
}

// TestWaitSaysWhyTasksWait (trial12 T2): --wait's wait says on stderr why
// each waiting task instance waits, once per reason, not on every poll.
func TestWaitSaysWhyTasksWait(t *testing.T) {
	_, note, st := waitStore(t)
	why1 := "depends_on_past: load in the previous run p is failed, not success or skipped"
	why2 := "depends_on_past: per [1] in the previous run p is failed, not success or skipped"
	note("load", why1)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second) // a bound on a hang, not a wait
	defer cancel()
	out, errOut := &syncBuffer{}, &syncBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- (&app{stdout: out, stderr: errOut}).waitRun(ctx, st, &dag.DAG{ID: "d"}, "r", runWatch{poll: unwatchedPoll})
	}()
	first := "load waits: " + why1 + "\n"
	stderrIs(t, "load's reason", errOut, first)
	note("per", why2)
	stderrIs(t, "load's reason once, then per's", errOut, first+"per waits: "+why2+"\n")
	end := time.Now()
	if ok, err := st.UpdateRun(t.Context(), store.RunUpdate{DagID: "d", RunID: "r", From: []store.RunState{store.RunQueued},
		To: store.RunFailed, EndDate: &end}); err != nil || !ok {
		t.Fatalf("end the run: %v, %v", ok, err)
	}
	if err := <-done; err == nil {
		t.Errorf("--wait of a failed run: nil; want exit code 1")
	}
	if !strings.Contains(out.String(), "Run r failed") {
		t.Errorf("--wait printed %q; want the run's end", out.String())
	}
}

// TestWaitSaysTheRunTimedOut (trial12 T4): --wait's end says a run failed
// by its dagrun_timeout timed out, and lists the note of a task the
// timeout skipped (which says why it waited); a run that failed within
// its timeout gets no such reason.
func TestWaitSaysTheRunTimedOut(t *testing.T) {
	_, note, st := waitStore(t)
	start := time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)
	end := start.Add(2 * time.Minute)
	for _, u := range []store.RunUpdate{
		{DagID: "d", RunID: "r", From: []store.RunState{store.RunQueued}, To: store.RunRunning, StartDate: &start},
		{DagID: "d", RunID: "r", From: []store.RunState{store.RunRunning}, To: store.RunFailed, EndDate: &end},
	} {
		if ok, err := st.UpdateRun(t.Context(), u); err != nil || !ok {
			t.Fatalf("run to %s: %v, %v", u.To, ok, err)
		}
	}
	why := "dagrun_timeout 1m0s exceeded; it waited: depends_on_past: load in the previous run p is failed, not success or skipped"
	note("load", why)
	if ok, err := st.UpdateTask(t.Context(), store.TaskUpdate{Key: store.TaskKey{DagID: "d", RunID: "r", TaskID: "load"},
		From: []store.TaskState{store.StateNone}, To: store.StateSkipped, EndDate: &end}); err != nil || !ok {
		t.Fatalf("skip load: %v, %v", ok, err)
	}
	for _, tt := range []struct {
		timeout time.Duration
		end     string
	}{
		{time.Minute, "Run r failed: dagrun_timeout 1m0s exceeded\n"},
		{time.Hour, "Run r failed\n"},
		{0, "Run r failed\n"},
	} {
		out := &syncBuffer{}
		err := (&app{stdout: out, stderr: out}).waitRun(t.Context(), st, &dag.DAG{ID: "d", DagrunTimeout: tt.timeout}, "r",
			runWatch{poll: unwatchedPoll})
		if err == nil || !strings.Contains(out.String(), tt.end) || !strings.Contains(out.String(), "load") ||
			!strings.Contains(out.String(), why) {
			t.Errorf("timeout %s: %v\n%s\nwant %q and load's note", tt.timeout, err, out.String(), tt.end)
		}
	}
}

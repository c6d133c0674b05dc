package scheduler

import (
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/dag"
	"github.com/sirocco-dev/sirocco/internal/store"
	"github.com/sirocco-dev/sirocco/internal/store/sqlstore"
	"github.com/sirocco-dev/sirocco/internal/testenv"
)

// TestTimeoutSaysWhy (trial12 T4): a run failed by its dagrun_timeout
// while a task waited for the previous run says so: its task skipped
// without a try keeps why in its note (the timeout, then the reason it
// waited), a user's note stays, and the log line of the run's end gives
// the timeout. On SQLite and PostgreSQL.
func TestTimeoutSaysWhy(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		st, err := sqlstore.OpenSQLite(filepath.Join(t.TempDir(), "sirocco.db"))
		testTimeoutSaysWhy(t, st, err)
	})
	t.Run("postgres", func(t *testing.T) {
		st, err := sqlstore.Open(t.Context(), testenv.Postgres(t))
		testTimeoutSaysWhy(t, st, err)
	})
}

func testTimeoutSaysWhy(t *testing.T, st *sqlstore.Store, err error) {
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	d := testDAG(t, "d", "none", "work", "mine")
	d.Task("work").DependsOnPast = true
	d.Task("mine").DependsOnPast = true
	d.DagrunTimeout = time.Minute
	run1, tis1 := NewRunRecords(d, store.RunManual, dag.Interval{Start: t0, End: t0}, nil, t0)
	run1.State, tis1[0].State, tis1[1].State = store.RunFailed, store.StateFailed, store.StateFailed
	t1 := t0.Add(time.Hour)
	run2, tis2 := NewRunRecords(d, store.RunManual, dag.Interval{Start: t1, End: t1}, nil, t1)
	run2.State, run2.StartDate = store.RunRunning, t1
	mine := "a user's note"
	for _, r := range []struct {
		run store.DagRun
		tis []store.TaskInstance
	}{{run1, tis1}, {run2, tis2}} {
		if err := st.CreateRun(t.Context(), r.run, r.tis); err != nil {
			t.Fatal(err)
		}
	}
	if ok, err := st.UpdateTask(t.Context(), store.TaskUpdate{Key: store.TaskKey{DagID: d.ID, RunID: run2.RunID, TaskID: "mine"},
		From: []store.TaskState{store.StateNone}, To: store.StateNone, Note: &mine}); err != nil || !ok {
		t.Fatalf("note mine: %v, %v", ok, err)
	}
	clock := &manualClock{now: t1}
	logs := &syncBuffer{}
	l := NewLoop(Options{Store: st, DAGs: fixedDAGs{d.ID: d}, Executor: newHandOffExecutor(), PollInterval: time.Hour,
		ResyncEvery: time.Hour, Clock: clock, Logger: slog.New(slog.NewTextHandler(logs, nil))})
	if _, err := l.Tick(t.Context()); err != nil {
		t.Fatal(err)
	}
	clock.add(2 * time.Minute)
	if _, err := l.Tick(t.Context()); err != nil {
		t.Fatal(err)
	}
	why := "dagrun_timeout 1m0s exceeded; it waited: depends_on_past: work in the previous run " + run1.RunID +
		" is failed, not success or skipped"
	for task, want := range map[string]string{"work": why, "mine": mine} {
		ti, err := st.GetTaskInstance(t.Context(), store.TaskKey{DagID: d.ID, RunID: run2.RunID, TaskID: task})
		if err != nil || ti.State != store.StateSkipped || ti.Note != want {
			t.Errorf("%s: %s note %q, %v; want skipped, note %q", task, ti.State, ti.Note, err, want)
		}
	}
	if !strings.Contains(logs.String(), `msg="run finished" dag_id=d run_id=`+run2.RunID+` state=failed reason="dagrun_timeout 1m0s exceeded"`) {
		t.Errorf("log:\n%s\nwant the run's end with the timeout as its reason", logs.String())
	}
}

package scheduler

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/dag"
	"github.com/sirocco-dev/sirocco/internal/store"
	"github.com/sirocco-dev/sirocco/internal/store/sqlstore"
	"github.com/sirocco-dev/sirocco/internal/testenv"
)

// TestMarkedRunIsJudgedNotTimedOut: marking a task of a finished run
// reopens it (running, its start date kept) to be judged again; a DAG
// with a dagrun_timeout must not then fail it for the time since it
// started, when every task has finished: it is judged on its tasks. On
// SQLite and PostgreSQL.
func TestMarkedRunIsJudgedNotTimedOut(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		st, err := sqlstore.OpenSQLite(filepath.Join(t.TempDir(), "sirocco.db"))
		testMarkedRunIsJudged(t, st, err)
	})
	t.Run("postgres", func(t *testing.T) {
		st, err := sqlstore.Open(t.Context(), testenv.Postgres(t))
		testMarkedRunIsJudged(t, st, err)
	})
}

func testMarkedRunIsJudged(t *testing.T, st *sqlstore.Store, err error) {
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	d := testDAG(t, "d", "none", "work")
	d.DagrunTimeout = time.Minute
	run, tis := NewRunRecords(d, store.RunManual, dag.Interval{Start: t0, End: t0}, nil, t0)
	run.State, run.StartDate, run.EndDate = store.RunFailed, t0, t0.Add(10*time.Second)
	tis[0].State, tis[0].TryNumber = store.StateFailed, 1
	if err := st.CreateRun(t.Context(), run, tis); err != nil {
		t.Fatal(err)
	}
	later := t0.Add(time.Hour)
	key := store.TaskKey{DagID: d.ID, RunID: run.RunID, TaskID: "work"}
	none := ""
	if ok, err := st.MarkTask(t.Context(), store.TaskUpdate{Key: key, From: []store.TaskState{store.StateFailed},
		To: store.StateSuccess, EndDate: &later, Note: &none}); err != nil || !ok {
		t.Fatalf("mark work success: %v, %v", ok, err)
	}
	l := NewLoop(Options{Store: st, DAGs: fixedDAGs{d.ID: d}, Executor: newHandOffExecutor(), PollInterval: time.Hour,
		ResyncEvery: time.Hour, Clock: &manualClock{now: later}})
	if _, err := l.Tick(t.Context()); err != nil {
		t.Fatal(err)
	}
	got, err := st.GetRun(t.Context(), d.ID, run.RunID)
	if err != nil || got.State != store.RunSuccess {
		t.Fatalf("run after its only task was marked success: %s, %v; want success (not failed by its dagrun_timeout)", got.State, err)
	}
}

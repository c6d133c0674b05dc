package engine

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/config"
	"github.com/sirocco-dev/sirocco/internal/dag"
	"github.com/sirocco-dev/sirocco/internal/executor"
	"github.com/sirocco-dev/sirocco/internal/operator/all"
	"github.com/sirocco-dev/sirocco/internal/store"
	"github.com/sirocco-dev/sirocco/internal/store/sqlstore"
	"github.com/sirocco-dev/sirocco/internal/tasklog"
)

// TestRecoveryFailsTheTestRunOfAGoneDagsTest: a `dags test` process died
// (kill -9) while its test run's task a ran, leaving a's process behind.
// The next start of a standalone kills that process and fails the test
// run (a failed at its first try, though it has a retry left, b skipped),
// saying why in a's log; it never runs a task of that run itself.
func TestRecoveryFailsTheTestRunOfAGoneDagsTest(t *testing.T) {
	dir := t.TempDir()
	cfg := config.Defaults()
	cfg.Home, cfg.DagsFolder = dir, filepath.Join(dir, "dags")
	cfg.PollInterval, cfg.Heartbeat, cfg.KillGrace = 100*time.Millisecond, 100*time.Millisecond, 500*time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	st, err := sqlstore.OpenSQLite(filepath.Join(dir, "sirocco.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(cfg.DagsFolder, 0o755); err != nil {
		t.Fatal(err)
	}
	yaml := "dag_id: tt\ntasks:\n  - {id: a, operator: bash, command: 'true', retries: 1, retry_delay: 0s}\n" +
		"  - {id: b, operator: bash, command: 'true', depends_on: [a]}\n"
	if err := os.WriteFile(filepath.Join(cfg.DagsFolder, "tt.yaml"), []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	gone := deadWorker(t, st, time.Now().Add(-time.Hour))
	now := time.Now().UTC()
	run := store.DagRun{DagID: "tt", RunID: "test__left", RunType: store.RunTest, State: store.RunRunning,
		LogicalDate: now, StartDate: now}
	tis := []store.TaskInstance{
		{TaskKey: store.TaskKey{TaskID: "a"}, MaxTries: 1, Pool: dag.DefaultPool, PoolSlots: 1},
		{TaskKey: store.TaskKey{TaskID: "b"}, MaxTries: 0, Pool: dag.DefaultPool, PoolSlots: 1},
	}
	if err := st.CreateRun(ctx, run, tis); err != nil {
		t.Fatal(err)
	}
	a := store.TaskKey{DagID: "tt", RunID: run.RunID, TaskID: "a"}
	w, err := st.UpdateTaskRow(ctx, store.TaskUpdate{Key: a, To: store.StateRunning, IncTry: true, WorkerID: &gone, StartDate: &now})
	if err != nil || !w.OK {
		t.Fatalf("claim a: %+v %v", w, err)
	}
	left := startLeftover(t, dir, executor.TryID(gone, a, 1))
	logPath := tasklog.Path(cfg.LogsDir(), a.DagID, a.RunID, a.TaskID, 1)
	if err := os.MkdirAll(filepath.Dir(logPath), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(logPath, []byte("[x] sirocco: starting try 1 of a\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	eng, err := New(ctx, Options{Config: cfg, Store: st, Operators: all.Registry()})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- eng.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("engine: %v", err)
		}
	})
	h := &harness{t: t, eng: eng, st: st, cfg: cfg, dir: dir}
	if r := h.waitRunWithin("tt", run.RunID, 15*time.Second); r.State != store.RunFailed {
		t.Errorf("test run %s, want failed", r.State)
	}
	<-left.exited // its process was killed
	got := h.tis("tt", run.RunID)
	if ti := got["a"]; ti.State != store.StateFailed || ti.TryNumber != 1 || ti.WorkerID != gone {
		t.Errorf("a: %s at try %d by %s, want failed at try 1 by the gone dags test's worker", ti.State, ti.TryNumber, ti.WorkerID)
	}
	if ti := got["b"]; ti.State != store.StateSkipped || ti.TryNumber != 0 {
		t.Errorf("b: %s at try %d, want skipped, never run", ti.State, ti.TryNumber)
	}
	if log := h.log("tt", run.RunID, "a", 1); !strings.Contains(log, "sirocco: task failed: the `sirocco dags test` process") ||
		!strings.Contains(log, "is gone") {
		t.Errorf("a's log does not say why it failed:\n%s", log)
	}
}

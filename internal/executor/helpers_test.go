package executor_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/sirocco-dev/sirocco/internal/dag"
	"github.com/sirocco-dev/sirocco/internal/executor"
	"github.com/sirocco-dev/sirocco/internal/operator"
	"github.com/sirocco-dev/sirocco/internal/operator/all"
	"github.com/sirocco-dev/sirocco/internal/scheduler"
	"github.com/sirocco-dev/sirocco/internal/store"
	"github.com/sirocco-dev/sirocco/internal/store/sqlstore"
	"github.com/sirocco-dev/sirocco/internal/tasklog"
	"github.com/sirocco-dev/sirocco/internal/template"
	"github.com/sirocco-dev/sirocco/internal/testenv"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// logicalDate is the logical date of every run these tests create.
var logicalDate = time.Date(2026, 2, 3, 4, 5, 6, 0, time.UTC)

// dagSet is the loaded DAGs folder, swappable between tries.
type dagSet struct {
	mu   sync.Mutex
	dags map[string]*dag.DAG
}

func (s *dagSet) DAGs() map[string]*dag.DAG {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dags
}

func (s *dagSet) set(d *dag.DAG) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dags = map[string]*dag.DAG{d.ID: d}
}

// env is a runner over a real SQLite store and a DAG folder in a temporary
// directory.
type env struct {
	t      *testing.T
	dir    string // the DAG file's folder
	st     store.Store
	dags   *dagSet
	d      *dag.DAG
	runner *executor.Runner
	dbPath string
}

func newEnv(t *testing.T, yaml string) *env { return newEnvWith(t, yaml, all.Registry()) }

// newEnvWith is newEnv with a registry of operators other than the built-in.
func newEnvWith(t *testing.T, yaml string, ops operator.Registry) *env {
	t.Helper()
	root := t.TempDir()
	dir := filepath.Join(root, "dags")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, dir: dir, dags: &dagSet{}, dbPath: filepath.Join(root, "sirocco.db")}
	st, err := sqlstore.OpenSQLite(e.dbPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	e.st = st
	e.runner = &executor.Runner{
		Store: st, DAGs: e.dags, Operators: ops,
		LogsDir: filepath.Join(root, "logs"), WorkerID: "worker-1", Hostname: "host-1",
		Clock: scheduler.SystemClock{}, Logger: slog.New(slog.DiscardHandler),
	}
	t.Cleanup(e.runner.WaitBackground) // before the temporary folder goes
	e.d = e.parse(yaml)
	e.dags.set(e.d)
	return e
}

// parse loads a DAG file of this env's folder as the DAG bag would.
func (e *env) parse(yaml string) *dag.DAG {
	e.t.Helper()
	d, err := dag.Parse(filepath.Join(e.dir, "dag.yaml"), []byte(yaml), dag.LoadOptions{
		Operators: e.runner.Operators.Specs(), CheckTemplate: template.Check,
	})
	if err != nil {
		e.t.Fatalf("parse DAG: %v", err)
	}
	return d
}

// createRun stores a manual run of the DAG with its task instances.
func (e *env) createRun(conf map[string]any) string {
	e.t.Helper()
	run, tis := scheduler.NewRunRecords(e.d, store.RunManual, dag.Interval{Start: logicalDate, End: logicalDate}, conf, time.Now().UTC())
	if err := e.st.CreateRun(context.Background(), run, tis); err != nil {
		e.t.Fatal(err)
	}
	return run.RunID
}

// queue moves a task instance to queued, as the scheduler does before it
// submits the task to an executor.
func (e *env) queue(runID, taskID string) store.TaskKey {
	e.t.Helper()
	k := store.TaskKey{DagID: e.d.ID, RunID: runID, TaskID: taskID}
	now := time.Now().UTC()
	worker := e.runner.WorkerID // the scheduler queues a task for one executor
	ok, err := e.st.UpdateTask(context.Background(), store.TaskUpdate{
		Key: k, From: []store.TaskState{store.StateNone, store.StateScheduled, store.StateUpForRetry}, To: store.StateQueued,
		QueuedAt: &now, WorkerID: &worker,
	})
	if err != nil || !ok {
		e.t.Fatalf("queue %s: %v, %v", taskID, ok, err)
	}
	return k
}

func (e *env) ti(k store.TaskKey) store.TaskInstance {
	e.t.Helper()
	ti, err := e.st.GetTaskInstance(context.Background(), k)
	if err != nil {
		e.t.Fatal(err)
	}
	return ti
}

func (e *env) logPath(k store.TaskKey, try int) string {
	return tasklog.Path(e.runner.LogsDir, k.DagID, k.RunID, k.TaskID, try)
}

func (e *env) log(k store.TaskKey, try int) string {
	e.t.Helper()
	data, err := os.ReadFile(e.logPath(k, try))
	if err != nil {
		e.t.Fatal(err)
	}
	return string(data)
}

// waitTI polls the store until cond holds for the task instance: the try
// runs in another goroutine and its child in another process, and the
// store is where they report.
func (e *env) waitTI(k store.TaskKey, what string, cond func(store.TaskInstance) bool) store.TaskInstance {
	e.t.Helper()
	var ti store.TaskInstance
	testenv.Eventually(e.t, what, 30*time.Second, func() (bool, string) {
		ti = e.ti(k)
		return cond(ti), fmt.Sprintf("task instance %s, try %d, worker %q, heartbeat %s, handle %s",
			ti.State, ti.TryNumber, ti.WorkerID, ti.HeartbeatAt.Format(time.RFC3339Nano), ti.Handle)
	})
	return ti
}

// runAsync calls Runner.Run in a goroutine; the channel gives its result.
func (e *env) runAsync(ctx context.Context, k store.TaskKey) <-chan error {
	done := make(chan error, 1)
	go func() { done <- e.runner.Run(ctx, k) }()
	return done
}

func wait(t *testing.T, done <-chan error, timeout time.Duration) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(timeout):
		t.Fatalf("the try did not end within %s", timeout)
		return nil
	}
}

package engine

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/sirocco-dev/sirocco/internal/store"
	"github.com/sirocco-dev/sirocco/internal/tasklog"
)

// A test run (`dags test`) belongs to the process that created it: no
// other scheduler decides on it (scheduler.Loop's ownsRun), so when that
// process is gone nothing would ever end it. Recover ends it instead: a
// test run that a gone worker of this host ran a try of is failed, with
// the reason in the service log and in the log of each try it fails. Its
// tries' work is stopped first, even work that outlives its worker (a
// cluster driver), which no scheduler would adopt.

// orphanedTestRun is an active test run whose `dags test` process is gone.
type orphanedTestRun struct {
	run    store.DagRun
	tis    []store.TaskInstance
	worker store.Worker // the gone worker that ran its tries
}

// orphanedTestRuns returns the active test runs with a try run by one of
// the dead workers, keyed by run. tis are the active runs' task instances.
func (e *Engine) orphanedTestRuns(ctx context.Context, tis []store.TaskInstance,
	dead map[string]store.Worker) (map[runKey]*orphanedTestRun, error) {
	runs, err := e.Store.ListRuns(ctx, store.RunFilter{States: []store.RunState{store.RunQueued, store.RunRunning}})
	if err != nil {
		return nil, fmt.Errorf("list active runs: %w", err)
	}
	test := map[runKey]store.DagRun{}
	for _, r := range runs {
		if r.RunType == store.RunTest {
			test[runKey{r.DagID, r.RunID}] = r
		}
	}
	out := map[runKey]*orphanedTestRun{}
	for _, ti := range tis {
		k := runKey{ti.DagID, ti.RunID}
		r, ok := test[k]
		if !ok || out[k] != nil {
			continue
		}
		if w, gone := dead[ti.WorkerID]; gone {
			out[k] = &orphanedTestRun{run: r, worker: w}
		}
	}
	for _, ti := range tis {
		if o := out[runKey{ti.DagID, ti.RunID}]; o != nil {
			o.tis = append(o.tis, ti)
		}
	}
	return out, nil
}

// runKey names a DAG run.
type runKey struct{ dagID, runID string }

// failOrphanedTestRuns fails each test run whose process is gone, once
// the work of its tries has been stopped.
func (e *Engine) failOrphanedTestRuns(ctx context.Context, orphans map[runKey]*orphanedTestRun) {
	for _, o := range orphans {
		reason := fmt.Sprintf("the `sirocco dags test` process that ran this test run (pid %d on host %s, worker %s) is gone; "+
			"no scheduler runs another process's test run, so it is failed", o.worker.PID, o.worker.Hostname, o.worker.ID)
		n, err := FailTestRun(ctx, e.Store, o.run, o.tis, time.Now().UTC(), func(ti store.TaskInstance) {
			e.noteInTryLog(ti, reason)
		})
		attrs := []any{"dag_id", o.run.DagID, "run_id", o.run.RunID, "worker_id", o.worker.ID, "pid", o.worker.PID}
		if err != nil {
			e.Logger.Error("could not fail a gone dags test process's test run", append(attrs, "err", err)...)
			continue
		}
		e.Logger.Warn("failed a test run whose `dags test` process is gone", append(attrs, "tasks_ended", n)...)
	}
}

// noteInTryLog appends a failure line to the log of ti's try, so that
// `tasks logs` and the UI say why a try that its process left behind
// ended.
func (e *Engine) noteInTryLog(ti store.TaskInstance, reason string) {
	if ti.TryNumber < 1 {
		return
	}
	path := tasklog.MapPath(e.Config.LogsDir(), ti.DagID, ti.RunID, ti.TaskID, ti.MapIndex(), ti.TryNumber)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return // no log: the try never wrote one
	}
	defer f.Close()
	_, _ = fmt.Fprintf(f, "[%s] sirocco: task failed: %s\n", time.Now().UTC().Format("2006-01-02T15:04:05.000Z"), reason)
}

// FailTestRun ends a test run that nothing will run any more: its
// `dags test` process was interrupted or is gone. Each unfinished task
// that has started a try (running, or handed back or waiting for a
// retry) is failed, each one that has not is skipped, as in a run past its
// dagrun_timeout, and the run is failed. onFailed is told each try it failed. Every write is
// conditional on the state tis show; it returns how many tasks it ended.
// The caller must have stopped the tries' work.
func FailTestRun(ctx context.Context, st store.Store, run store.DagRun, tis []store.TaskInstance, now time.Time,
	onFailed func(store.TaskInstance)) (int, error) {
	ended := 0
	for _, ti := range tis {
		if ti.State.Finished() {
			continue
		}
		to := store.StateSkipped
		if ti.TryNumber > 0 {
			to = store.StateFailed
		}
		ok, err := st.UpdateTask(ctx, store.TaskUpdate{Key: ti.TaskKey, From: []store.TaskState{ti.State},
			FromTry: &ti.TryNumber, To: to, EndDate: &now})
		if err != nil {
			return ended, fmt.Errorf("end task %s of test run %s: %w", ti.TaskID, run.RunID, err)
		}
		if ok {
			ended++
			if to == store.StateFailed && onFailed != nil {
				onFailed(ti)
			}
		}
	}
	if _, err := st.UpdateRun(ctx, store.RunUpdate{DagID: run.DagID, RunID: run.RunID,
		From: []store.RunState{store.RunQueued, store.RunRunning}, To: store.RunFailed, EndDate: &now}); err != nil {
		return ended, fmt.Errorf("fail test run %s of %s: %w", run.RunID, run.DagID, err)
	}
	return ended, nil
}

package scheduler

import (
	"sync"
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/dag"
	"github.com/sirocco-dev/sirocco/internal/store"
)

// recordingExecutor takes every task and records what the loop asked of it.
type recordingExecutor struct {
	mu        sync.Mutex
	submitted []store.TaskKey
	killed    []store.TaskKey
	resumed   []store.TaskKey
}

func (*recordingExecutor) ID() string                                             { return "me" }
func (*recordingExecutor) FreeSlots() int                                         { return 8 }
func (*recordingExecutor) Claim(u store.TaskUpdate, _ time.Time) store.TaskUpdate { return u }
func (*recordingExecutor) Holds(store.TaskKey) bool                               { return false }

func (e *recordingExecutor) SubmitTask(ti store.TaskInstance, _ store.DagRun) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.submitted = append(e.submitted, ti.TaskKey)
}

func (e *recordingExecutor) Kill(k store.TaskKey) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.killed = append(e.killed, k)
}

func (e *recordingExecutor) Resume(k store.TaskKey) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.resumed = append(e.resumed, k)
}

// touched lists every task the loop handed to, killed on or resumed with
// the executor.
func (e *recordingExecutor) touched() []store.TaskKey {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append(append(append([]store.TaskKey(nil), e.submitted...), e.killed...), e.resumed...)
}

// TestSchedulerLeavesTestRunsAlone: a loop without OnlyRun (a standalone's
// scheduler) on a database where `dags test` runs a test run never starts
// that run, never queues its tasks, never fails it past its
// dagrun_timeout and never retries, fails or adopts a try of its whose
// worker stopped heartbeating, while it does all of that to a manual run
// in the same states; the loop of the `dags test` process (OnlyRun)
// starts its test run.
func TestSchedulerLeavesTestRunsAlone(t *testing.T) {
	st := openTestStore(t)
	d := testDAG(t, "d", "none", "a", "b:a")
	d.DagrunTimeout = time.Minute
	ctx := t.Context()
	create := func(typ store.RunType, at time.Time, state store.RunState, zombie bool) string {
		t.Helper()
		run, tis := NewRunRecords(d, typ, dag.Interval{Start: at, End: at}, nil, t0)
		run.State = state
		if state == store.RunRunning {
			run.StartDate = t0.Add(-time.Hour) // past dagrun_timeout
		}
		if err := st.CreateRun(ctx, run, tis); err != nil {
			t.Fatal(err)
		}
		if zombie {
			gone, old := "gone-worker", t0.Add(-time.Hour)
			if _, err := st.UpdateTask(ctx, store.TaskUpdate{Key: tis[0].TaskKey, To: store.StateRunning, IncTry: true,
				WorkerID: &gone, HeartbeatAt: &old, StartDate: &old}); err != nil {
				t.Fatal(err)
			}
		}
		return run.RunID
	}
	testQueued := create(store.RunTest, t0, store.RunQueued, false)
	testZombie := create(store.RunTest, t0.Add(time.Hour), store.RunRunning, true)
	manualQueued := create(store.RunManual, t0.Add(2*time.Hour), store.RunQueued, false)
	manualZombie := create(store.RunManual, t0.Add(3*time.Hour), store.RunRunning, true)

	e := &recordingExecutor{}
	loop := NewLoop(Options{Store: st, DAGs: fixedDAGs{d.ID: d}, Executor: e, Clock: fixedClock(t0),
		ZombieAfter: time.Minute, PollInterval: time.Hour, ResyncEvery: time.Hour})
	for range 3 {
		if _, err := loop.Tick(ctx); err != nil {
			t.Fatal(err)
		}
	}
	runState := func(runID string) store.RunState {
		t.Helper()
		r, err := st.GetRun(ctx, d.ID, runID)
		if err != nil {
			t.Fatal(err)
		}
		return r.State
	}
	taskState := func(runID, taskID string) store.TaskState {
		t.Helper()
		ti, err := st.GetTaskInstance(ctx, store.TaskKey{DagID: d.ID, RunID: runID, TaskID: taskID})
		if err != nil {
			t.Fatal(err)
		}
		return ti.State
	}
	// The manual runs show the loop would have acted.
	if s := runState(manualZombie); s != store.RunFailed {
		t.Errorf("manual run past its timeout is %s, want failed", s)
	}
	if s := runState(manualQueued); s == store.RunQueued {
		t.Errorf("manual run still queued")
	}
	for _, k := range e.touched() {
		if k.RunID == testQueued || k.RunID == testZombie {
			t.Errorf("the scheduler handed %v of a test run to its executor", k)
		}
	}
	if s := runState(testQueued); s != store.RunQueued {
		t.Errorf("test run %s is %s, want queued (left to dags test)", testQueued, s)
	}
	if s := taskState(testQueued, "a"); s != store.StateNone {
		t.Errorf("test run's task a is %q, want none", s)
	}
	if s := runState(testZombie); s != store.RunRunning {
		t.Errorf("test run past its dagrun_timeout is %s, want running (left to dags test)", s)
	}
	if s := taskState(testZombie, "a"); s != store.StateRunning {
		t.Errorf("test run's try of a dead worker is %s, want running (left to dags test)", s)
	}

	only := store.TaskKey{DagID: d.ID, RunID: testQueued}
	own := &recordingExecutor{}
	tester := NewLoop(Options{Store: st, DAGs: fixedDAGs{d.ID: d}, Executor: own, Clock: fixedClock(t0),
		ZombieAfter: time.Minute, PollInterval: time.Hour, ResyncEvery: time.Hour, OnlyRun: &only})
	if _, err := tester.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	if got := own.touched(); len(got) != 1 || got[0] != (store.TaskKey{DagID: d.ID, RunID: testQueued, TaskID: "a"}) {
		t.Errorf("the dags test loop handed over %v, want its run's task a", got)
	}
}

package executor_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/actions"
	"github.com/sirocco-dev/sirocco/internal/dag"
	"github.com/sirocco-dev/sirocco/internal/executor"
	"github.com/sirocco-dev/sirocco/internal/operator"
	"github.com/sirocco-dev/sirocco/internal/operator/all"
	"github.com/sirocco-dev/sirocco/internal/operator/process"
	"github.com/sirocco-dev/sirocco/internal/scheduler"
	"github.com/sirocco-dev/sirocco/internal/store"
	"github.com/sirocco-dev/sirocco/internal/testenv"
)

const sleeperDAG = `
dag_id: sleeper
tasks:
  - {id: s, operator: bash, retries: 3, retry_delay: 0s, command: 'sleep 30'}
`

// startLocal starts a Local executor with a fast heartbeat; each recorded
// try sends on the returned channel. Cleanup stops it and waits.
func startLocal(t *testing.T, e *env) (*executor.Local, <-chan struct{}, context.CancelFunc) {
	t.Helper()
	finished := make(chan struct{}, 16)
	l := executor.NewLocal(executor.LocalOptions{
		Runner: e.runner, Parallelism: 2, Heartbeat: 20 * time.Millisecond,
		OnDone: func(...store.TaskInstance) { finished <- struct{}{} },
	})
	ctx, cancel := context.WithCancel(context.Background())
	if err := l.Start(ctx); err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		l.Wait()
	})
	return l, finished, cancel
}

func waitFinished(t *testing.T, finished <-chan struct{}) {
	t.Helper()
	select {
	case <-finished:
	case <-time.After(15 * time.Second):
		t.Fatal("the try was not recorded")
	}
}

func handlePID(t *testing.T, ti store.TaskInstance) int {
	t.Helper()
	var h process.Handle
	if err := json.Unmarshal(ti.Handle, &h); err != nil || h.PID <= 0 {
		t.Fatalf("handle %q: %v", ti.Handle, err)
	}
	return h.PID
}

func TestLocalRegistersHeartbeatsAndKills(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sleeperDAG)
	l, finished, _ := startLocal(t, e)
	if l.ID() != "worker-1" {
		t.Errorf("ID = %q", l.ID())
	}
	workers, err := e.st.ListWorkers(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(workers) != 1 || workers[0].ID != "worker-1" || workers[0].Kind != "local" || workers[0].Hostname != "host-1" || workers[0].PID != os.Getpid() {
		t.Errorf("registered workers = %+v", workers)
	}

	k := e.queue(e.createRun(nil), "s")
	l.Submit(k)
	if got := l.FreeSlots(); got != 1 {
		t.Errorf("FreeSlots with one try in flight = %d, want 1", got)
	}
	ti := e.waitTI(k, "the handle of the running try", func(ti store.TaskInstance) bool { return len(ti.Handle) > 0 })
	pid := handlePID(t, ti)
	claimed := ti.HeartbeatAt
	e.waitTI(k, "a heartbeat after the claim", func(ti store.TaskInstance) bool { return ti.HeartbeatAt.After(claimed) })
	workers, err = e.st.ListWorkers(context.Background())
	if err != nil || len(workers) != 1 || !workers[0].HeartbeatAt.After(workers[0].StartedAt) {
		t.Errorf("the worker's heartbeat did not advance: %+v, %v", workers, err)
	}

	l.Kill(k)
	waitFinished(t, finished)
	if got := l.FreeSlots(); got != 2 {
		t.Errorf("FreeSlots after the try = %d, want 2", got)
	}
	ti = e.ti(k)
	if ti.State != store.StateFailed || ti.TryNumber != 1 {
		t.Errorf("killed try: state %s try %d, want failed try 1 although 3 retries remain", ti.State, ti.TryNumber)
	}
	if log := e.log(k, 1); !strings.Contains(log, "sirocco: task stopped: killed") {
		t.Errorf("log should say the try was killed:\n%s", log)
	}
	testenv.EventuallyDead(t, pid, 30*time.Second)
	l.Kill(k) // no longer running: nothing happens
}

// TestLocalStopsTryChangedElsewhere: a try whose task instance is marked
// by a user or taken over by another worker is stopped on the next
// heartbeat, and its outcome must not overwrite what was decided elsewhere.
func TestLocalStopsTryChangedElsewhere(t *testing.T) {
	t.Parallel()
	other := "worker-2"
	update := func(u store.TaskUpdate) func(*testing.T, *env, store.TaskKey) {
		return func(t *testing.T, e *env, k store.TaskKey) {
			t.Helper()
			u.Key = k
			if ok, err := e.st.UpdateTask(context.Background(), u); err != nil || !ok {
				t.Fatalf("update to %s: %v, %v", u.To, ok, err)
			}
		}
	}
	running := []store.TaskState{store.StateRunning}
	tests := []struct {
		name      string
		change    func(*testing.T, *env, store.TaskKey)
		wantState store.TaskState
		wantTry   int
		wantLog   string
	}{
		{name: "marked success", change: update(store.TaskUpdate{From: running, To: store.StateSuccess}),
			wantState: store.StateSuccess, wantTry: 1, wantLog: `killed: the task instance is now "success" (try 1) on worker "worker-1"`},
		{name: "marked failed", change: update(store.TaskUpdate{From: running, To: store.StateFailed}),
			wantState: store.StateFailed, wantTry: 1, wantLog: `killed: the task instance is now "failed" (try 1) on worker "worker-1"`},
		{name: "adopted by another worker", change: update(store.TaskUpdate{From: running, To: store.StateRunning, WorkerID: &other}),
			wantState: store.StateRunning, wantTry: 1, wantLog: `detached: worker "worker-2" adopted this try`},
		{name: "zombie retried on another worker", change: func(t *testing.T, e *env, k store.TaskKey) {
			// The scheduler took the try for a zombie; another worker claimed the retry.
			update(store.TaskUpdate{From: running, To: store.StateUpForRetry})(t, e, k)
			update(store.TaskUpdate{From: []store.TaskState{store.StateUpForRetry}, To: store.StateQueued})(t, e, k)
			update(store.TaskUpdate{From: []store.TaskState{store.StateQueued}, To: store.StateRunning, IncTry: true, WorkerID: &other})(t, e, k)
		}, wantState: store.StateRunning, wantTry: 2,
			// The heartbeat may look between the three writes above: any of
			// the intermediate states stops the try.
			wantLog: `killed: the task instance is now "`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, sleeperDAG)
			l, finished, _ := startLocal(t, e)
			k := e.queue(e.createRun(nil), "s")
			l.Submit(k)
			pid := handlePID(t, e.waitTI(k, "the handle", func(ti store.TaskInstance) bool { return len(ti.Handle) > 0 }))
			tt.change(t, e, k)
			waitFinished(t, finished)
			testenv.EventuallyDead(t, pid, 30*time.Second)
			ti := e.ti(k)
			if ti.State != tt.wantState || ti.TryNumber != tt.wantTry {
				t.Errorf("state %s try %d, want %s try %d: the outcome of a stopped try must not overwrite the change",
					ti.State, ti.TryNumber, tt.wantState, tt.wantTry)
			}
			if log := e.log(k, 1); !strings.Contains(log, "sirocco: task stopped: "+tt.wantLog) || strings.Count(log, tt.wantLog) != 1 {
				t.Errorf("log should say why the try was stopped, once:\n%s", log)
			}
		})
	}
}

// TestLocalShutdownGivesTriesBack: a try killed because Sirocco shuts down
// is not the task's failure. It goes back to none without spending a retry
// (its task has none), and its log says so, not "failed" or "detached";
// past scheduler.MaxInfraReruns such tries it counts as failed.
func TestLocalShutdownGivesTriesBack(t *testing.T) {
	t.Parallel()
	e := newEnv(t, `
dag_id: sleeper
tasks:
  - {id: s, operator: bash, retries: 0, command: 'sleep 30'}
`)
	runID := e.createRun(nil)
	for try := 1; try <= scheduler.MaxInfraReruns+1; try++ {
		l, finished, cancel := startLocal(t, e)
		k := e.queue(runID, "s")
		l.Submit(k)
		pid := handlePID(t, e.waitTI(k, "the handle", func(ti store.TaskInstance) bool { return len(ti.Handle) > 0 && ti.TryNumber == try }))
		cancel()
		waitFinished(t, finished)
		l.Wait()
		testenv.EventuallyDead(t, pid, 30*time.Second)
		ti, log := e.ti(k), e.log(k, try)
		if strings.Contains(log, "task failed") || strings.Contains(log, "detached") {
			t.Errorf("try %d: a try stopped by shutdown is neither failed nor detached:\n%s", try, log)
		}
		if try <= scheduler.MaxInfraReruns {
			want := fmt.Sprintf("sirocco: try %d of s stopped by shutdown; it runs again at the next start without spending a retry\n", try)
			if ti.State != store.StateNone || ti.TryNumber != try || ti.MaxTries != try || ti.InfraReruns != try || ti.EndDate.IsZero() {
				t.Fatalf("try %d after shutdown: %s try %d max_tries %d infra_reruns %d end %v; want none, max_tries = try (no retry spent)",
					try, ti.State, ti.TryNumber, ti.MaxTries, ti.InfraReruns, ti.EndDate)
			}
			if !strings.Contains(log, want) {
				t.Errorf("try %d: log should say %q:\n%s", try, want, log)
			}
			continue
		}
		if ti.State != store.StateFailed || ti.TryNumber != try || ti.InfraReruns != scheduler.MaxInfraReruns {
			t.Errorf("try %d past the cap: %s infra_reruns %d, want failed", try, ti.State, ti.InfraReruns)
		}
		if want := "were already run again for that reason, the most Sirocco allows, so this one counts as failed"; !strings.Contains(log, want) {
			t.Errorf("try %d: log should say %q:\n%s", try, want, log)
		}
	}
}

func TestLocalRunsTriesConcurrently(t *testing.T) {
	t.Parallel()
	// Two tasks that each wait for the other: they finish only if both run
	// at once.
	e := newEnv(t, `
dag_id: pair
params: {dir: ""}
tasks:
  - {id: a, operator: bash, execution_timeout: 10s, command: 'cd {{ params.dir | shquote }} && touch a && until [ -e b ]; do sleep 0.02; done'}
  - {id: b, operator: bash, execution_timeout: 10s, command: 'cd {{ params.dir | shquote }} && touch b && until [ -e a ]; do sleep 0.02; done'}
`)
	l, finished, _ := startLocal(t, e)
	runID := e.createRun(map[string]any{"dir": t.TempDir()})
	ka, kb := e.queue(runID, "a"), e.queue(runID, "b")
	l.Submit(ka)
	l.Submit(kb)
	if got := l.FreeSlots(); got != 0 {
		t.Errorf("FreeSlots with two tries in flight = %d, want 0", got)
	}
	waitFinished(t, finished)
	waitFinished(t, finished)
	for _, k := range []store.TaskKey{ka, kb} {
		if ti := e.ti(k); ti.State != store.StateSuccess {
			t.Errorf("%s: %s\n%s", k.TaskID, ti.State, e.log(k, 1))
		}
	}
}

// causeOp waits for its try to be stopped and answers the stop's cause, as
// the remote operators do (ssh, kubernetes_pod).
type causeOp struct{ started chan<- struct{} }

func (o causeOp) Execute(ctx context.Context, _ *operator.Task) (operator.Result, error) {
	close(o.started)
	<-ctx.Done()
	return operator.Result{}, context.Cause(ctx)
}

// TestStoppedTryLogsItsReasonOnce: an operator that answers the stop's
// cause itself gets one reason in the log, under "task stopped", not the
// cause repeated in brackets under "task failed".
func TestStoppedTryLogsItsReasonOnce(t *testing.T) {
	started := make(chan struct{})
	ops := maps.Clone(all.Registry())
	ops["cause"] = operator.Factory{Spec: dag.OperatorSpec{Name: "cause"}, New: func() operator.Operator { return causeOp{started: started} }}
	e := newEnvWith(t, "dag_id: c\ntasks:\n  - {id: s, operator: cause}\n", ops)
	l, finished, _ := startLocal(t, e)
	k := e.queue(e.createRun(nil), "s")
	l.Submit(k)
	<-started
	l.Kill(k)
	waitFinished(t, finished)
	log := e.log(k, 1)
	if !strings.Contains(log, "sirocco: task stopped: killed") || strings.Count(log, "killed") != 1 {
		t.Errorf("the log should give the reason once, as a stop:\n%s", log)
	}
}

// TestMarkedTryIsLoggedAtInfo: a running try that a user marks (`tasks
// mark`, the API's PATCH) is stopped, and the service log says so at INFO
// in plain words; a change nobody explains (the scheduler took the try for
// a zombie and another worker runs the next one) stays a WARN.
func TestMarkedTryIsLoggedAtInfo(t *testing.T) {
	t.Parallel()
	other := "worker-2"
	mark := func(to store.TaskState) func(*testing.T, *env, store.TaskKey) {
		return func(t *testing.T, e *env, k store.TaskKey) {
			if _, err := actions.Mark(context.Background(), e.st, k, to, time.Now().UTC()); err != nil {
				t.Fatalf("mark %s: %v", to, err)
			}
		}
	}
	tests := []struct {
		name   string
		change func(*testing.T, *env, store.TaskKey)
		want   string
	}{
		{"marked failed", mark(store.StateFailed),
			`level=INFO msg="task was marked failed while it ran; its process was stopped"`},
		{"marked success", mark(store.StateSuccess),
			`level=INFO msg="task was marked success while it ran; its process was stopped"`},
		{"marked skipped", mark(store.StateSkipped),
			`level=INFO msg="task was marked skipped while it ran; its process was stopped"`},
		{"taken by another worker", func(t *testing.T, e *env, k store.TaskKey) {
			for _, u := range []store.TaskUpdate{
				{From: []store.TaskState{store.StateRunning}, To: store.StateUpForRetry},
				{From: []store.TaskState{store.StateUpForRetry}, To: store.StateQueued},
				{From: []store.TaskState{store.StateQueued}, To: store.StateRunning, IncTry: true, WorkerID: &other},
			} {
				u.Key = k
				if ok, err := e.st.UpdateTask(context.Background(), u); err != nil || !ok {
					t.Fatalf("update to %s: %v, %v", u.To, ok, err)
				}
			}
		}, `level=WARN msg="task state changed while it ran; outcome not recorded"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, sleeperDAG)
			var logged testenv.SyncBuffer
			e.runner.Logger = slog.New(slog.NewTextHandler(&logged, nil))
			l, finished, _ := startLocal(t, e)
			k := e.queue(e.createRun(nil), "s")
			l.Submit(k)
			pid := handlePID(t, e.waitTI(k, "the handle", func(ti store.TaskInstance) bool { return len(ti.Handle) > 0 }))
			tt.change(t, e, k)
			waitFinished(t, finished)
			testenv.EventuallyDead(t, pid, 30*time.Second)
			if out := logged.String(); !strings.Contains(out, tt.want) {
				t.Errorf("service log lacks %s:\n%s", tt.want, out)
			}
			if out := logged.String(); tt.name != "taken by another worker" && strings.Contains(out, "level=WARN") {
				t.Errorf("a user's mark is no warning:\n%s", out)
			}
		})
	}
}

// TestLocalRecordsACleanStop: once its tries have ended, a stopped Local
// clears its worker's heartbeat, so the next start does not take the
// stop for a crash.
func TestLocalRecordsACleanStop(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sleeperDAG)
	l, _, cancel := startLocal(t, e)
	workers, err := e.st.ListWorkers(context.Background())
	if err != nil || len(workers) != 1 || workers[0].HeartbeatAt.IsZero() {
		t.Fatalf("a started worker has a heartbeat: %+v, %v", workers, err)
	}
	cancel()
	l.Wait()
	workers, err = e.st.ListWorkers(context.Background())
	if err != nil || len(workers) != 1 || !workers[0].HeartbeatAt.IsZero() || workers[0].ID != "worker-1" ||
		workers[0].PID != os.Getpid() || workers[0].StartedAt.IsZero() {
		t.Errorf("a cleanly stopped worker keeps its row without a heartbeat: %+v, %v", workers, err)
	}
}

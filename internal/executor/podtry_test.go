package executor_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/executor"
	"github.com/sirocco-dev/sirocco/internal/store"
)

// claimFor writes the scheduler's claim of k for a worker pod: running,
// try counted, the scheduler's worker, handle h.
func (e *env) claimFor(k store.TaskKey, h string) {
	e.t.Helper()
	u := e.runner.ClaimUpdate(k, []store.TaskState{store.StateNone}, time.Now().UTC())
	b := []byte(h)
	u.Handle = &b
	if ok, err := e.st.UpdateTask(context.Background(), u); err != nil || !ok {
		e.t.Fatalf("claim: %v %v", ok, err)
	}
}

// TestPodTryRefusesATryNotClaimedForIt: tasks run refuses, without
// running or writing anything, a try in another state, of another number,
// or claimed for another pod (its handle); the try claimed for it is
// taken over by the pod's worker, run, and its outcome recorded.
func TestPodTryRefusesATryNotClaimedForIt(t *testing.T) {
	e := newEnv(t, "dag_id: d\ntasks:\n  - id: a\n    operator: bash\n    command: echo hi from the pod\n")
	k := store.TaskKey{DagID: "d", RunID: e.createRun(nil), TaskID: "a"}
	pod := func(try int, claimed error) executor.PodTry {
		base := e.runner
		r := &executor.Runner{Store: base.Store, DAGs: base.DAGs, Operators: base.Operators, LogsDir: base.LogsDir,
			WorkerID: "pod:ns/p1", Hostname: "p1", Clock: base.Clock, Logger: base.Logger}
		return executor.PodTry{Runner: r, Key: k, Try: try, Heartbeat: 50 * time.Millisecond,
			Claimed: func(store.TaskInstance) error { return claimed }}
	}
	if _, err := pod(1, nil).Run(context.Background()); !errors.Is(err, executor.ErrNotClaimed) {
		t.Fatalf("a try not claimed at all: %v, want ErrNotClaimed", err)
	}
	e.claimFor(k, `{"kind":"x","version":1}`)
	for name, p := range map[string]executor.PodTry{
		"another try":  pod(2, nil),
		"another pod":  pod(1, errors.New("it is claimed for worker pod ns/p2")),
		"zero try":     pod(0, nil),
		"a later try?": pod(3, nil),
	} {
		if _, err := p.Run(context.Background()); !errors.Is(err, executor.ErrNotClaimed) {
			t.Errorf("%s: %v, want ErrNotClaimed", name, err)
		}
	}
	if ti := e.ti(k); ti.State != store.StateRunning || ti.WorkerID != e.runner.WorkerID {
		t.Fatalf("a refusal wrote the row: %+v", ti)
	}
	end, err := pod(1, nil).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if end.State != store.StateSuccess || end.WorkerID != "pod:ns/p1" || end.Hostname != "p1" {
		t.Errorf("the claimed try ended %s on worker %q host %q, want success on the pod's", end.State, end.WorkerID, end.Hostname)
	}
	if log := e.log(k, 1); !strings.Contains(log, "hi from the pod") {
		t.Errorf("log:\n%s", log)
	}
	if _, err := pod(1, nil).Run(context.Background()); !errors.Is(err, executor.ErrNotClaimed) {
		t.Errorf("the same try again: %v, want ErrNotClaimed", err)
	}
}

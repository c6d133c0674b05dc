package scheduler

import (
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/store"
)

// TestAWorkerNewerThanTheLiveSetIsNoZombie: a worker that registers and
// takes a running try over after the loop last read the live workers (a
// Kubernetes worker pod taking its try over) is not taken for dead: the
// loop reads the workers again rather than adopt the try, which would
// have the executor delete the pod that runs it.
func TestAWorkerNewerThanTheLiveSetIsNoZombie(t *testing.T) {
	f := newHandOffFixture(t, testDAG(t, "one", "none", "a"))
	f.loop = NewLoop(Options{Store: f.st, DAGs: fixedDAGs{f.d.ID: f.d}, Executor: f.exec, PollInterval: time.Hour,
		ResyncEvery: time.Hour, ZombieAfter: time.Minute, Resumable: func(store.TaskInstance) bool { return true }})
	ctx := t.Context()
	now := time.Now()
	if err := f.st.RegisterWorker(ctx, store.Worker{ID: "me", Hostname: "h", StartedAt: now, HeartbeatAt: now}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.loop.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	f.next()
	pod := "pod:ns/one-a-x1"
	now = time.Now()
	if err := f.st.RegisterWorker(ctx, store.Worker{ID: pod, Kind: "kubernetes_worker_pod", Hostname: "one-a-x1", StartedAt: now, HeartbeatAt: now}); err != nil {
		t.Fatal(err)
	}
	me := "me"
	w, err := f.st.UpdateTaskRow(ctx, store.TaskUpdate{Key: f.key("a"), From: []store.TaskState{store.StateRunning}, FromWorker: &me,
		To: store.StateRunning, WorkerID: &pod, HeartbeatAt: &now})
	if err != nil || !w.OK {
		t.Fatalf("take over: %v %v", w.OK, err)
	}
	f.loop.runsChanged.Store(true) // the rows are read again; the workers are not, being fresh
	if _, err := f.loop.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	ti, err := f.st.GetTaskInstance(ctx, f.key("a"))
	if err != nil {
		t.Fatal(err)
	}
	if ti.State != store.StateRunning || ti.WorkerID != pod {
		t.Errorf("the pod's try is %s on worker %q, want running on %q", ti.State, ti.WorkerID, pod)
	}
}

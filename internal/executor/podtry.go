package executor

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/sirocco-dev/sirocco/internal/store"
)

// WorkerPodKind is the kind of the worker a try running in a Kubernetes
// worker pod registers (store.Worker.Kind): its heartbeat is the pod's,
// and it is never a process of the scheduler's host.
const WorkerPodKind = "kubernetes_worker_pod"

// ErrNotClaimed is returned by PodTry.Run for a try that is not claimed
// for the pod: another state, another try, or another pod's handle.
var ErrNotClaimed = errors.New("the try is not claimed for this pod")

// ErrEndedElsewhere is returned by PodTry.Run when the try it ran was
// ended elsewhere while it ran (marked, cleared, or adopted by the
// scheduler): the pod did not record its outcome, and nothing it wrote
// changed the row.
var ErrEndedElsewhere = errors.New("the try was ended elsewhere while it ran")

// PodTry runs, inside a worker pod (`sirocco tasks run`), the one try the
// Kubernetes executor claimed for that pod. It takes the try over with one
// conditional write (running, this try number, the claimer's worker → the
// pod's worker), after registering the pod's worker so that the
// scheduler never sees the try owned by a worker it does not know; then
// it runs the try as the local executor does (render, operator, outcome,
// each write conditional on the pod's worker and the try) and heartbeats
// it, stopping it when the row changes elsewhere (mark, clear).
type PodTry struct {
	// Runner runs the try; its WorkerID is the pod's worker id and its
	// Hostname the pod's name.
	Runner *Runner
	Key    store.TaskKey
	Try    int
	// Claimed reports why the row does not name this pod (its handle), or
	// nil when it does.
	Claimed func(ti store.TaskInstance) error
	// Heartbeat is how often the try is marked alive.
	Heartbeat time.Duration
}

// Run runs the try and returns its row as it ended. It returns an error
// wrapping ErrNotClaimed, without running anything, when the try is not
// this pod's; other errors are the store's.
func (p PodTry) Run(ctx context.Context) (store.TaskInstance, error) {
	r, k := p.Runner, p.Key
	ti, run, err := p.check(ctx)
	if err != nil {
		return ti, err
	}
	now := r.Clock.Now()
	if err := r.Store.RegisterWorker(ctx, store.Worker{
		ID: r.WorkerID, Kind: WorkerPodKind, Hostname: r.Hostname, PID: os.Getpid(), StartedAt: now, HeartbeatAt: now,
	}); err != nil {
		return ti, fmt.Errorf("register the pod's worker: %w", err)
	}
	w, err := r.Store.UpdateTaskRow(ctx, store.TaskUpdate{
		Key: k, From: []store.TaskState{store.StateRunning}, FromWorker: &ti.WorkerID, FromTry: &p.Try,
		To: store.StateRunning, WorkerID: &r.WorkerID, Hostname: &r.Hostname, HeartbeatAt: &now,
	})
	if err != nil {
		return ti, fmt.Errorf("take over try %d of %s: %w", p.Try, k.TaskID, err)
	}
	if !w.OK {
		return ti, fmt.Errorf("%w: it changed while the pod started", ErrNotClaimed)
	}
	own := p.watchOutcome()
	hctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { p.heartbeat(hctx) })
	runErr := r.RunLoaded(ctx, w.Row, run)
	stop()
	wg.Wait()
	r.WaitBackground()
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	end, err := r.Store.GetTaskInstance(rctx, k)
	if err := errors.Join(runErr, err); err != nil {
		return end, err
	}
	if !own() {
		return end, fmt.Errorf("%w: try %d of %s is now %q", ErrEndedElsewhere, p.Try, k.TaskID, end.State)
	}
	return end, nil
}

// watchOutcome has the runner tell when it records the try's outcome;
// the returned func reports whether it did (a cleared try it handed back
// was ended elsewhere).
func (p PodTry) watchOutcome() func() bool {
	r := p.Runner
	var mu sync.Mutex
	own := false
	prev := r.Recorded
	r.Recorded = func(ti store.TaskInstance) {
		mu.Lock()
		own = ti.TryNumber == p.Try && ti.State != store.StateNone && ti.State != store.StateRestarting
		mu.Unlock()
		if prev != nil {
			prev(ti)
		}
	}
	return func() bool {
		mu.Lock()
		defer mu.Unlock()
		return own
	}
}

// check reads the try's row and run and refuses a try that is not this
// pod's.
func (p PodTry) check(ctx context.Context) (store.TaskInstance, store.DagRun, error) {
	k := p.Key
	ti, err := p.Runner.Store.GetTaskInstance(ctx, k)
	if err != nil {
		return ti, store.DagRun{}, fmt.Errorf("task instance %s/%s/%s: %w", k.DagID, k.RunID, k.TaskID, err)
	}
	switch {
	case ti.State != store.StateRunning || ti.TryNumber != p.Try:
		return ti, store.DagRun{}, fmt.Errorf("%w: task instance %s is %q at try %d, want running at try %d",
			ErrNotClaimed, k.TaskID, ti.State, ti.TryNumber, p.Try)
	case ti.WorkerID == p.Runner.WorkerID:
		return ti, store.DagRun{}, fmt.Errorf("%w: this pod has already run it", ErrNotClaimed)
	}
	if p.Claimed != nil {
		if err := p.Claimed(ti); err != nil {
			return ti, store.DagRun{}, fmt.Errorf("%w: %w", ErrNotClaimed, err)
		}
	}
	run, err := p.Runner.Store.GetRun(ctx, k.DagID, k.RunID)
	if err != nil {
		return ti, run, fmt.Errorf("run %s/%s: %w", k.DagID, k.RunID, err)
	}
	return ti, run, nil
}

// heartbeat marks the try alive and stops it when it changed elsewhere,
// until ctx ends.
func (p PodTry) heartbeat(ctx context.Context) {
	r := p.Runner
	every := p.Heartbeat
	if every <= 0 {
		every = 5 * time.Second
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := r.Store.Heartbeat(ctx, r.WorkerID, r.Clock.Now()); err != nil && ctx.Err() == nil {
			r.Logger.Error("heartbeat failed", "err", err)
		}
		r.stopChangedElsewhere(ctx)
	}
}

package executor

import (
	"context"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sirocco-dev/sirocco/internal/operator"
	"github.com/sirocco-dev/sirocco/internal/store"
)

// Local runs tries as goroutines of this process (each operator's child in
// its own process group), up to Parallelism at once, and heartbeats them.
type Local struct {
	runner      *Runner
	parallelism int
	inflight    atomic.Int64
	onDone      func(...store.TaskInstance)
	wg          sync.WaitGroup
	ctx         context.Context
	heartbeat   time.Duration
	// started is set once Start registered the worker, which Wait then
	// records as stopped (startedAt kept).
	started   atomic.Bool
	startedAt time.Time

	mu sync.Mutex
	// held counts the tries of each task handed to us and not ended: a
	// count, because a retry may be handed over while the goroutine of the
	// try before it is still closing its log.
	held map[store.TaskKey]int
	// recorded is the row each try's outcome wrote, kept until its
	// goroutine ends and reports it.
	recorded map[store.TaskKey][]store.TaskInstance
	// recorder writes outcomes for us (the scheduler's loop); told marks
	// the tries whose outcome it took, so their end needs no wake-up.
	recorder Recorder
	told     map[store.TaskKey]bool
	// idle hands a try to a goroutine that finished its last one (goRun).
	idle chan func()
}

// LocalOptions configure a Local executor.
type LocalOptions struct {
	Runner      *Runner
	Parallelism int
	// OnDone is called after each try ends, with the rows its outcome
	// wrote (none if it lost its row): the scheduler's Report.
	OnDone func(...store.TaskInstance)
	// Heartbeat is how often running tries are marked alive.
	Heartbeat time.Duration
}

// NewLocal returns an executor; Start must be called before Submit.
func NewLocal(o LocalOptions) *Local {
	if o.Parallelism <= 0 {
		o.Parallelism = 32
	}
	if o.Heartbeat <= 0 {
		o.Heartbeat = 5 * time.Second
	}
	if o.OnDone == nil {
		o.OnDone = func(...store.TaskInstance) {}
	}
	l := &Local{runner: o.Runner, parallelism: o.Parallelism, onDone: o.OnDone, heartbeat: o.Heartbeat,
		held: map[store.TaskKey]int{}, recorded: map[store.TaskKey][]store.TaskInstance{}, told: map[store.TaskKey]bool{},
		idle: make(chan func())}
	o.Runner.Recorded = l.record
	return l
}

// SetOnDone sets the completion callback (the scheduler is built after us).
func (l *Local) SetOnDone(f func(...store.TaskInstance)) { l.onDone = f }

// SetRecorder has rec write every try's outcome (the scheduler's loop,
// which writes it together with the hand-off it allows).
func (l *Local) SetRecorder(rec Recorder) {
	l.recorder = rec
	l.runner.Recorder = l
}

// Record writes a try's outcome through the recorder and notes that the
// scheduler has it.
func (l *Local) Record(ctx context.Context, u store.TaskUpdate) (store.Written, error) {
	w, err := l.recorder.Record(ctx, u)
	if err == nil {
		l.mu.Lock()
		l.told[u.Key] = true
		l.mu.Unlock()
	}
	return w, err
}

// record keeps a row a try's outcome wrote for the end of its goroutine.
func (l *Local) record(ti store.TaskInstance) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.recorded[ti.TaskKey] = append(l.recorded[ti.TaskKey], ti)
}

// Claim turns a queued transition into the claim of the try by this
// executor: it starts every try it is handed at once, so the queued state
// would only cost a write.
func (l *Local) Claim(u store.TaskUpdate, now time.Time) store.TaskUpdate {
	return l.runner.ClaimUpdate(u.Key, u.From, now)
}

// Start registers the worker and heartbeats until ctx ends. Tries started
// by Submit are cancelled when ctx ends.
func (l *Local) Start(ctx context.Context) error {
	l.ctx = ctx
	r := l.runner
	now := r.Clock.Now()
	if err := r.Store.RegisterWorker(ctx, store.Worker{
		ID: r.WorkerID, Kind: "local", Hostname: r.Hostname, PID: os.Getpid(), StartedAt: now, HeartbeatAt: now,
	}); err != nil {
		return fmt.Errorf("register worker: %w", err)
	}
	l.startedAt = now
	l.started.Store(true)
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		t := time.NewTicker(l.heartbeat)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if err := r.Store.Heartbeat(ctx, r.WorkerID, r.Clock.Now()); err != nil && ctx.Err() == nil {
					r.Logger.Error("heartbeat failed", "err", err)
				}
				r.stopChangedElsewhere(ctx)
			}
		}
	}()
	return nil
}

// ID is the worker id recorded on our tries.
func (l *Local) ID() string { return l.runner.WorkerID }

// FreeSlots is parallelism minus tries in flight.
func (l *Local) FreeSlots() int { return l.parallelism - int(l.inflight.Load()) }

// Submit runs the queued try in a goroutine, reading its rows first.
func (l *Local) Submit(k store.TaskKey) { l.spawn(k, l.runner.Run) }

// SubmitTask runs the try in a goroutine from rows the scheduler already
// holds: claimed by the scheduler for us (running) or queued for us.
func (l *Local) SubmitTask(ti store.TaskInstance, run store.DagRun) {
	l.spawn(ti.TaskKey, func(ctx context.Context, _ store.TaskKey) error { return l.runner.RunLoaded(ctx, ti, run) })
}

// Resume tracks a running try adopted from a dead worker in a goroutine.
func (l *Local) Resume(k store.TaskKey) { l.spawn(k, l.runner.Resume) }

func (l *Local) spawn(k store.TaskKey, run func(context.Context, store.TaskKey) error) {
	l.inflight.Add(1)
	l.mu.Lock()
	l.held[k]++
	l.mu.Unlock()
	l.wg.Add(1)
	l.goRun(func() {
		defer l.wg.Done()
		defer func() {
			// The slot is free before the scheduler hears of the outcome,
			// so its next tick can fill it; the try stays held until the
			// outcome is reported, so no tick takes its row for lost.
			l.inflight.Add(-1)
			l.mu.Lock()
			rows, told := l.recorded[k], l.told[k]
			delete(l.recorded, k)
			delete(l.told, k)
			l.mu.Unlock()
			// A scheduler that wrote the outcome has decided on it and
			// counted the slot free already: it needs no wake-up.
			if len(rows) > 0 || !told {
				l.onDone(rows...)
			}
			l.mu.Lock()
			if l.held[k]--; l.held[k] <= 0 {
				delete(l.held, k)
			}
			l.mu.Unlock()
		}()
		if err := run(l.ctx, k); err != nil && l.ctx.Err() == nil {
			l.runner.Logger.Error("task try failed to run", "dag_id", k.DagID, "run_id", k.RunID, "task_id", k.TaskID, "err", err)
		}
	})
}

// goRun runs f on an idle try goroutine, or on a new one when none waits.
// A try's goroutine grows its stack to tens of KiB (rendering, exec, the
// store's driver) and a new one starts at a few: reusing them spares that
// growth, a copy of the stack each time it doubles, on every try's start.
func (l *Local) goRun(f func()) {
	select {
	case l.idle <- f:
		return
	default:
	}
	l.wg.Add(1)
	go l.worker(f)
}

// worker runs f, then whatever goRun hands it, until it has waited
// workerIdle for work or the executor's context has ended.
func (l *Local) worker(f func()) {
	defer l.wg.Done()
	t := time.NewTimer(workerIdle)
	defer t.Stop()
	for {
		f()
		t.Reset(workerIdle)
		select {
		case f = <-l.idle:
		case <-t.C:
			return
		case <-l.ctx.Done():
			return
		}
	}
}

// workerIdle is how long an idle try goroutine waits for the next try.
const workerIdle = 10 * time.Second

// Holds reports whether a try of k was handed to this executor and has not
// ended: the scheduler treats our own queued or running rows that we do not
// hold as lost (a claim or a final write that failed).
func (l *Local) Holds(k store.TaskKey) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.held[k] > 0
}

// Kill stops a running try; it ends as failed without retry.
func (l *Local) Kill(k store.TaskKey) { l.runner.Kill(k) }

// Wait blocks until every try, its background work and the heartbeat have
// stopped, then records that this worker stopped cleanly (markStopped).
func (l *Local) Wait() {
	l.wg.Wait()
	l.runner.WaitBackground()
	if l.started.Load() {
		l.markStopped()
	}
}

// markStopped clears the worker's heartbeat once its tries have ended, as
// recovery does for a worker found dead: the next start on this host then
// does not take a clean stop for a crash ("previous worker is gone"), and
// every scheduler sees at once that what it left running (work that
// outlives it, a cluster driver) has no worker, to adopt. A crash leaves
// the heartbeat set, so the next start recovers its tries.
func (l *Local) markStopped() {
	r := l.runner
	ctx, cancel := context.WithTimeout(context.Background(), markStoppedTimeout)
	defer cancel()
	err := r.Store.RegisterWorker(ctx, store.Worker{
		ID: r.WorkerID, Kind: "local", Hostname: r.Hostname, PID: os.Getpid(), StartedAt: l.startedAt,
	})
	if err != nil {
		// Its heartbeat ages: the next start takes it for a crashed worker.
		r.Logger.Warn("cannot record that this worker stopped", "worker_id", r.WorkerID, "err", err)
	}
}

// markStoppedTimeout bounds the write that records a clean stop.
const markStoppedTimeout = 10 * time.Second

// Kill cancels the try of k if this runner has it.
func (r *Runner) Kill(k store.TaskKey) {
	r.mu.Lock()
	t := r.running[k]
	r.mu.Unlock()
	if t.cancel != nil {
		t.cancel(ErrKilled)
	}
}

// stopChangedElsewhere cancels tries whose task instance is no longer this
// try running on this worker, as Airflow's local task job does on
// heartbeat: marked by a user (killed), or adopted by another worker after
// we were thought dead (detached: the work goes on under the new owner).
func (r *Runner) stopChangedElsewhere(ctx context.Context) {
	r.mu.Lock()
	tries := make(map[store.TaskKey]trackedTry, len(r.running))
	for k, t := range r.running {
		tries[k] = t
	}
	r.mu.Unlock()
	for k, t := range tries {
		ti, err := r.Store.GetTaskInstance(ctx, k)
		if err != nil {
			continue // transient: the next heartbeat looks again
		}
		switch {
		case ti.State == store.StateRunning && ti.WorkerID == r.WorkerID && ti.TryNumber == t.try:
		case ti.State == store.StateRunning && ti.WorkerID != r.WorkerID && ti.TryNumber == t.try:
			t.cancel(fmt.Errorf("%w: worker %q adopted this try", operator.ErrDetach, ti.WorkerID))
		default:
			t.cancel(fmt.Errorf("%w: the task instance is now %q (try %d) on worker %q", ErrKilled, ti.State, ti.TryNumber, ti.WorkerID))
		}
	}
}

// trackedTry is a try this runner is running, so Kill and the heartbeat
// check can reach it.
type trackedTry struct {
	try    int
	cancel context.CancelCauseFunc
}

func (r *Runner) track(k store.TaskKey, try int, cancel context.CancelCauseFunc) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.running == nil {
		r.running = map[store.TaskKey]trackedTry{}
	}
	r.running[k] = trackedTry{try: try, cancel: cancel}
}

// untrack forgets the try, unless a newer try of the task replaced it.
func (r *Runner) untrack(k store.TaskKey, try int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.running[k].try == try {
		delete(r.running, k)
	}
}

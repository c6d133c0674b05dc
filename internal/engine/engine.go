// Package engine composes the store, the DAG bag, the scheduler loop and the
// local executor into the running system that `standalone`, `scheduler` and
// `dags test` start.
package engine

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/sirocco-dev/sirocco/internal/config"
	"github.com/sirocco-dev/sirocco/internal/connection"
	"github.com/sirocco-dev/sirocco/internal/executor"
	"github.com/sirocco-dev/sirocco/internal/executor/kubeexec"
	"github.com/sirocco-dev/sirocco/internal/kube"
	"github.com/sirocco-dev/sirocco/internal/metrics"
	"github.com/sirocco-dev/sirocco/internal/operator"
	"github.com/sirocco-dev/sirocco/internal/preflight"
	"github.com/sirocco-dev/sirocco/internal/scheduler"
	"github.com/sirocco-dev/sirocco/internal/sshclient"
	"github.com/sirocco-dev/sirocco/internal/store"
)

// Engine is one scheduler with its local executor.
type Engine struct {
	Config   config.Config
	Store    store.Store
	Bag      *Bag
	Runner   *executor.Runner
	Executor *executor.Local
	// Kube is the Kubernetes executor (executor kubernetes or
	// local_kubernetes), nil otherwise.
	Kube *kubeexec.Executor
	Loop *scheduler.Loop
	// Outbox delivers the callbacks and deadline alerts the loop enqueues.
	Outbox   *scheduler.Outbox
	Logger   *slog.Logger
	recovery sync.WaitGroup // Recover's kills still under way
}

// Options select what New builds.
type Options struct {
	Config    config.Config
	Store     store.Store
	Operators operator.Registry
	Logger    *slog.Logger
	Clock     scheduler.Clock
	// OnlyRun limits the engine to one run and no scheduling (`dags test`).
	OnlyRun *store.TaskKey
	// Metrics, when set, is told the loop's ticks, the tries' ends and the
	// executors' slots (served at /metrics).
	Metrics *metrics.Metrics
	// NotifyBackoff is the wait after a notification's first failed
	// attempt (0: the outbox's default).
	NotifyBackoff time.Duration
}

// New loads the DAGs folder and wires the parts; nothing runs until Run.
func New(ctx context.Context, o Options) (*Engine, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Clock == nil {
		o.Clock = scheduler.SystemClock{}
	}
	if err := o.Operators.Check(); err != nil {
		return nil, fmt.Errorf("operators: %w", err)
	}
	cfg := o.Config
	bag := NewBag(cfg.DagsFolder, o.Operators.Specs())
	if err := bag.Reload(); err != nil {
		return nil, err
	}
	for file, err := range bag.Errors() {
		o.Logger.Warn("DAG file not loaded", "file", file, "err", err)
	}
	keys, generated, err := connection.LoadKeyring(cfg.Home)
	if err != nil {
		return nil, fmt.Errorf("load the secret key: %w", err)
	}
	if generated {
		o.Logger.Info("generated a secret key for connection passwords", "file", filepath.Join(cfg.Home, "secret.key"))
	}
	host, _ := os.Hostname()
	runner := &executor.Runner{
		Connections: &connection.Resolver{Store: o.Store, Keys: keys},
		Store:       o.Store, DAGs: bag, Operators: o.Operators, LogsDir: cfg.LogsDir(),
		WorkerID: newWorkerID(host), Hostname: host, Clock: o.Clock, Logger: o.Logger, KillGrace: cfg.KillGrace,
		SSH:       sshclient.NewPool(sshclient.PoolOptions{Logger: o.Logger}),
		Kube:      kube.NewClients(0),
		Preflight: &preflight.Checker{Kinit: cfg.Kerberos.KinitPath},
	}
	exec := executor.NewLocal(executor.LocalOptions{Runner: runner, Parallelism: cfg.Parallelism, Heartbeat: cfg.Heartbeat})
	e := &Engine{Config: cfg, Store: o.Store, Bag: bag, Runner: runner, Executor: exec, Logger: o.Logger}
	var sched scheduler.Executor = exec
	// `dags test` (OnlyRun) runs in this process, as Airflow's does.
	if cfg.UsesKubernetes() && o.OnlyRun == nil {
		r, err := newRouter(cfg, runner, exec, bag, o.Logger)
		if err != nil {
			return nil, err
		}
		sched, e.Kube = r, r.kube
	}
	loopOpts := scheduler.Options{
		Store: o.Store, DAGs: bag, Executor: sched, Clock: o.Clock, Logger: o.Logger,
		PollInterval: cfg.PollInterval, ZombieAfter: cfg.ZombieAfter, OnlyRun: o.OnlyRun,
		Resumable: e.canResume, MaxMapLength: cfg.MaxMapLength,
	}
	if o.Metrics != nil {
		loopOpts.Metrics = o.Metrics
		o.Metrics.Slots("local", cfg.Parallelism, exec.FreeSlots)
		if e.Kube != nil {
			o.Metrics.Slots("kubernetes", e.Kube.Parallelism(), e.Kube.FreeSlots)
		}
	}
	e.Outbox = e.newOutbox(o, runner.WorkerID)
	loopOpts.OnNotify = e.Outbox.Wake
	e.Loop = scheduler.NewLoop(loopOpts)
	runner.Runs = &executor.RunControl{Store: o.Store, DAGs: bag, Clock: o.Clock, Changed: e.Loop.Kick}
	exec.SetOnDone(e.Loop.Report)
	exec.SetRecorder(e.Loop)
	if e.Kube != nil {
		e.Kube.SetOnDone(e.Loop.Report)
	}
	return e, nil
}

// canResume reports whether a dead worker's running try is adopted rather
// than retried: a worker pod's (its pod runs on), or one whose handle's
// recoverer can track its work.
func (e *Engine) canResume(ti store.TaskInstance) bool {
	return kubeexec.IsHandle(ti.Handle) || e.Runner.CanResume(ti)
}

// outlives reports whether a running try's work goes on without the
// worker that started it: a worker pod, or work whose recoverer can
// track it again.
func (e *Engine) outlives(ti store.TaskInstance) bool {
	return kubeexec.IsHandle(ti.Handle) || e.Runner.Outlives(ti)
}

func newWorkerID(host string) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b))
}

// Recover deals with what a previous process on this host left behind.
// Its workers are the ones whose pid is gone. Their running tries whose
// work outlives them (a cluster driver) are left for the loop to adopt
// and resume, even those of a DAG that does not load now (adopted once it
// does); the work of every other one is stopped by the recoverer of
// its handle's kind (Runner.StopLeft: the process package kills process
// groups, the Spark operators kill drivers), all in parallel and in the
// background, so the loop starts at once. Only when every stop has ended
// (each bounded by kill_grace and stopTimeout) are the workers marked
// dead and their tries released to the loop, which retries or fails them
// by their retry policy: a try is never run again, by this scheduler or
// another, while what is left of it runs. A try whose work could not be
// stopped (a handle of unknown kind, a failed stop) is logged as an error
// and released all the same: never forgotten in the running state.
// A test run of a gone `dags test` process, which no scheduler adopts,
// has all its tries' work stopped and is then failed (testruns.go).
func (e *Engine) Recover(ctx context.Context) error {
	dead, err := e.deadWorkers(ctx)
	if err != nil {
		return err
	}
	// Every start registers a worker; drop the long-gone ones.
	if n, err := e.Store.PruneWorkers(ctx, time.Now().Add(-workerRetention)); err != nil {
		e.Logger.Warn("prune old workers", "err", err)
	} else if n > 0 {
		e.Logger.Info("pruned old workers", "count", n)
	}
	// And the delivered notifications of long ago (the outbox's history).
	if n, err := e.Store.PruneNotifications(ctx, time.Now().Add(-notificationRetention)); err != nil {
		e.Logger.Warn("prune old notifications", "err", err)
	} else if n > 0 {
		e.Logger.Info("pruned old notifications", "count", n)
	}
	if len(dead) == 0 {
		return nil
	}
	tis, err := e.Store.ActiveTaskInstances(ctx)
	if err != nil {
		return fmt.Errorf("list task instances: %w", err)
	}
	orphans, err := e.orphanedTestRuns(ctx, tis, dead)
	if err != nil {
		return err
	}
	left := e.leftovers(tis, dead, orphans)
	keys := make([]store.TaskKey, len(left))
	for i, ti := range left {
		keys[i] = ti.TaskKey
	}
	release := e.Loop.HoldLeftovers(keys)
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), e.Config.KillGrace+stopTimeout)
	var stops sync.WaitGroup
	for _, ti := range left {
		stops.Go(func() { e.stopLeft(sctx, ti) })
	}
	e.recovery.Go(func() {
		defer release()
		defer cancel()
		stops.Wait()
		e.failOrphanedTestRuns(context.WithoutCancel(ctx), orphans)
		e.markDead(context.WithoutCancel(ctx), dead)
	})
	return nil
}

// stopTimeout bounds, beyond kill_grace, the stop of a dead worker's try:
// the wait for processes to die after SIGKILL, a REST kill and its
// confirmation.
const stopTimeout = 30 * time.Second

// stopLeft stops the work of one dead worker's try and says how it went;
// a failure is an error in the service log, with the try and the
// handle's kind, for an operator to look at what may still run.
func (e *Engine) stopLeft(ctx context.Context, ti store.TaskInstance) {
	kind, err := e.stopLeftWork(ctx, ti)
	attrs := []any{"dag_id", ti.DagID, "run_id", ti.RunID, "task_id", ti.TaskID, "try", ti.TryNumber, "handle_kind", kind}
	if err != nil {
		e.Logger.Error("could not stop the work of a gone worker's try; it may still run, and the try is released all the same",
			append(attrs, "err", err)...)
		return
	}
	e.Logger.Info("stopped the work of a gone worker's try", attrs...)
}

// stopLeftWork stops what a dead worker's try left: its worker pod, or
// the work of its handle's recoverer.
func (e *Engine) stopLeftWork(ctx context.Context, ti store.TaskInstance) (string, error) {
	if !kubeexec.IsHandle(ti.Handle) {
		return e.Runner.StopLeft(ctx, ti)
	}
	if e.Kube == nil {
		return kubeexec.HandleKind, fmt.Errorf("try %d of %s ran in a worker pod, but the executor is now %q: delete the pod by hand",
			ti.TryNumber, ti.TaskID, e.Config.Executor)
	}
	return kubeexec.HandleKind, e.Kube.StopLeft(ctx, ti)
}

// deadWorkers returns the workers of this host whose process is gone.
func (e *Engine) deadWorkers(ctx context.Context) (map[string]store.Worker, error) {
	workers, err := e.Store.ListWorkers(ctx)
	if err != nil {
		return nil, fmt.Errorf("list workers: %w", err)
	}
	dead := map[string]store.Worker{}
	for _, w := range workers {
		if w.Hostname != e.Runner.Hostname || w.ID == e.Runner.WorkerID || w.HeartbeatAt.IsZero() || w.Kind == executor.WorkerPodKind {
			continue
		}
		if w.PID > 0 && syscall.Kill(w.PID, 0) == nil && w.PID != os.Getpid() {
			continue // still alive (another Sirocco on this host)
		}
		if w.PID == os.Getpid() && executor.LiveInProcess(w.ID) {
			continue // another engine of this process, running
		}
		dead[w.ID] = w
	}
	return dead, nil
}

// markDead declares the workers dead (no heartbeat), so that every
// scheduler treats their tries as zombies at once.
func (e *Engine) markDead(ctx context.Context, dead map[string]store.Worker) {
	ctx, cancel := context.WithTimeout(ctx, markDeadTimeout)
	defer cancel()
	for _, w := range dead {
		w.HeartbeatAt = time.Time{}
		if err := e.Store.RegisterWorker(ctx, w); err != nil {
			// Its heartbeat ages: it is a zombie's worker after zombie_threshold.
			e.Logger.Warn("cannot mark a gone worker dead", "worker_id", w.ID, "err", err)
			continue
		}
		e.Logger.Info("previous worker is gone; its tries will be recovered", "worker_id", w.ID)
	}
}

// markDeadTimeout bounds the writes that declare gone workers dead.
const markDeadTimeout = 10 * time.Second

// leftovers returns the dead workers' live tries whose work must be
// stopped: all but the running ones whose work outlives them (a cluster
// driver), which the loop adopts, unless their run is a test run whose
// process is gone (orphans): no loop adopts those. Such work is left running even when its task is
// not loaded now (a DAG file that fails to load at this start): the loop
// leaves the run alone until its DAG loads again and adopts the try then,
// as Airflow never kills a running task for a broken DAG file.
func (e *Engine) leftovers(tis []store.TaskInstance, dead map[string]store.Worker,
	orphans map[runKey]*orphanedTestRun) []store.TaskInstance {
	var out []store.TaskInstance
	for _, ti := range tis {
		live := ti.State == store.StateRunning || ti.State == store.StateRestarting
		if _, ok := dead[ti.WorkerID]; !live || !ok {
			continue
		}
		switch {
		case ti.State == store.StateRestarting || !e.outlives(ti) || orphans[runKey{ti.DagID, ti.RunID}] != nil:
			// A cleared try is never adopted but run again: whatever it
			// left is stopped first, a cluster driver too.
			out = append(out, ti)
		case !e.canResume(ti):
			e.Logger.Warn("a gone worker's try has work that outlives it but its task is not loaded; "+
				"the work is left running and the try is adopted once its DAG loads",
				"dag_id", ti.DagID, "run_id", ti.RunID, "task_id", ti.TaskID, "try", ti.TryNumber)
		}
	}
	return out
}

// start brings the engine up to the loop: DAGs synced, the cluster
// connected, gone workers' tries recovered, the executors started.
func (e *Engine) start(ctx context.Context) error {
	if err := e.Bag.Sync(ctx, e.Store, time.Now().UTC()); err != nil {
		return err
	}
	if e.Kube != nil {
		if err := e.Kube.Connect(ctx); err != nil {
			return err
		}
	}
	if err := e.Recover(ctx); err != nil {
		return err
	}
	e.Runner.Operators.Clean(e.Logger)
	if err := e.Executor.Start(ctx); err != nil {
		return err
	}
	if e.Kube != nil {
		if err := e.Kube.Start(ctx); err != nil {
			return err
		}
	}
	return nil
}

// notificationRetention is how long a sent or failed notification is
// kept, pruned at each start as the workers are.
const notificationRetention = 30 * 24 * time.Hour

// workerRetention is how long a silent worker without live tries is kept.
const workerRetention = 24 * time.Hour

// Run starts the executor, the scheduler loop and the DAG folder watcher,
// and returns when ctx ends and every try has stopped.
func (e *Engine) Run(ctx context.Context) error {
	// Until Run returns, this engine's worker is alive in this process:
	// another engine of the process (tests run several) never takes it
	// for a gone one, though it shares their pid and host.
	defer executor.HoldIdentity(e.Runner.WorkerID)()
	if err := e.start(ctx); err != nil {
		if ctx.Err() != nil {
			// A stop asked for while starting (SIGTERM right after the
			// start) is a clean stop, not a failure to start: what the
			// start had begun is cancelled with ctx.
			e.Logger.Info("stopped while starting", "err", err)
			e.Executor.Wait()
			if e.Kube != nil {
				e.Kube.Wait()
			}
			e.recovery.Wait()
			_ = e.Runner.SSH.Close() // what a recovery opened
			return nil
		}
		return err
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		e.Bag.Watch(ctx, e.Store, e.Config.DagRescan, e.Logger)
	}()
	go func() {
		defer wg.Done()
		_ = e.Outbox.Run(ctx)
	}()
	err := e.Loop.Run(ctx)
	wg.Wait()
	e.Executor.Wait()
	if e.Kube != nil {
		e.Kube.Wait()
	}
	e.recovery.Wait() // one grace at most
	_ = e.Runner.SSH.Close()
	return err
}

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
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/sirocco-dev/sirocco/internal/config"
	"github.com/sirocco-dev/sirocco/internal/connection"
	"github.com/sirocco-dev/sirocco/internal/executor"
	"github.com/sirocco-dev/sirocco/internal/operator"
	"github.com/sirocco-dev/sirocco/internal/operator/process"
	"github.com/sirocco-dev/sirocco/internal/preflight"
	"github.com/sirocco-dev/sirocco/internal/scheduler"
	"github.com/sirocco-dev/sirocco/internal/store"
)

// Engine is one scheduler with its local executor.
type Engine struct {
	Config   config.Config
	Store    store.Store
	Bag      *Bag
	Runner   *executor.Runner
	Executor *executor.Local
	Loop     *scheduler.Loop
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
}

// New loads the DAGs folder and wires the parts; nothing runs until Run.
func New(ctx context.Context, o Options) (*Engine, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Clock == nil {
		o.Clock = scheduler.SystemClock{}
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
		Preflight: &preflight.Checker{Kinit: cfg.Kerberos.KinitPath},
	}
	exec := executor.NewLocal(executor.LocalOptions{Runner: runner, Parallelism: cfg.Parallelism, Heartbeat: cfg.Heartbeat})
	loop := scheduler.NewLoop(scheduler.Options{
		Store: o.Store, DAGs: bag, Executor: exec, Clock: o.Clock, Logger: o.Logger,
		PollInterval: cfg.PollInterval, ZombieAfter: cfg.ZombieAfter, OnlyRun: o.OnlyRun,
		Resumable: runner.CanResume,
	})
	exec.SetOnDone(loop.Report)
	exec.SetRecorder(loop)
	return &Engine{Config: cfg, Store: o.Store, Bag: bag, Runner: runner, Executor: exec, Loop: loop, Logger: o.Logger}, nil
}

func newWorkerID(host string) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b))
}

// Recover deals with what a previous process on this host left behind.
// Its workers are the ones whose pid is gone; the process groups of their
// running tries (from the stored handles, the handles noted in the tries'
// logs, and the identity the processes carry) all get SIGTERM at once, and
// Recover returns: the loop starts at once. In the background the groups
// get one grace together and SIGKILL after it; only then are the workers
// marked dead and their tries released to the loop, which retries or fails
// them by their retry policy. A try is never run again, by this scheduler
// or another, while what is left of it runs.
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
	if len(dead) == 0 {
		return nil
	}
	tis, err := e.Store.ActiveTaskInstances(ctx)
	if err != nil {
		return fmt.Errorf("list task instances: %w", err)
	}
	left := e.leftovers(tis, dead)
	keys := make([]store.TaskKey, len(left))
	var groups []int
	for i, l := range left {
		keys[i] = l.key
		groups = append(groups, l.groups...)
	}
	release := e.Loop.HoldLeftovers(keys)
	process.TermGroups(groups)
	e.recovery.Add(1)
	go func() {
		defer e.recovery.Done()
		defer release()
		killed, stuck := process.AwaitGroups(groups, e.Config.KillGrace)
		for _, l := range left {
			if len(l.groups) > 0 {
				e.Logger.Info("killed orphaned process groups", "dag_id", l.key.DagID, "run_id", l.key.RunID,
					"task_id", l.key.TaskID, "groups", len(l.groups))
			}
		}
		if len(killed) > 0 {
			e.Logger.Info("orphaned process groups ignored SIGTERM and got SIGKILL", "groups", len(killed))
		}
		if len(stuck) > 0 {
			// Nothing more can be done: their tries are retried all the same.
			e.Logger.Warn("orphaned processes survive SIGKILL (stuck in the kernel)", "process_groups", stuck)
		}
		e.markDead(context.WithoutCancel(ctx), dead)
	}()
	return nil
}

// deadWorkers returns the workers of this host whose process is gone.
func (e *Engine) deadWorkers(ctx context.Context) (map[string]store.Worker, error) {
	workers, err := e.Store.ListWorkers(ctx)
	if err != nil {
		return nil, fmt.Errorf("list workers: %w", err)
	}
	dead := map[string]store.Worker{}
	for _, w := range workers {
		if w.Hostname != e.Runner.Hostname || w.ID == e.Runner.WorkerID || w.HeartbeatAt.IsZero() {
			continue
		}
		if w.PID > 0 && syscall.Kill(w.PID, 0) == nil && w.PID != os.Getpid() {
			continue // still alive (another Sirocco on this host)
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

// leftover is a dead worker's try and the process groups left of it.
type leftover struct {
	key    store.TaskKey
	groups []int
}

// leftovers finds the process groups of the dead workers' live tries:
// the group of the handle saved in the store, else of the one noted in
// the try's log (a try that ran less than process.HandleAfter saved none),
// and every group whose processes carry the try's identity. Resumable
// work is left out: the loop adopts it.
func (e *Engine) leftovers(tis []store.TaskInstance, dead map[string]store.Worker) []leftover {
	var out []leftover
	var tagged map[string][]int // process groups by try id, scanned once
	for _, ti := range tis {
		live := ti.State == store.StateRunning || ti.State == store.StateRestarting
		if _, ok := dead[ti.WorkerID]; !live || !ok || e.Runner.CanResume(ti) {
			continue
		}
		l := leftover{key: ti.TaskKey}
		handle := ti.Handle
		if len(handle) == 0 {
			handle = executor.NotedHandle(e.Config.LogsDir(), ti)
		}
		if len(handle) > 0 {
			pgid, err := process.OrphanGroup(handle)
			if err != nil {
				e.Logger.Warn("cannot decode handle of orphaned try", "task_id", ti.TaskID, "err", err)
			}
			if pgid != 0 {
				l.groups = append(l.groups, pgid)
			}
		}
		if tagged == nil {
			var err error
			if tagged, err = process.TaggedGroups(); err != nil {
				e.Logger.Warn("cannot look for the processes of orphaned tries", "err", err)
				tagged = map[string][]int{}
			}
		}
		for _, g := range tagged[executor.TryID(ti.WorkerID, ti.TaskKey, ti.TryNumber)] {
			if !slices.Contains(l.groups, g) {
				l.groups = append(l.groups, g)
			}
		}
		out = append(out, l)
	}
	return out
}

// workerRetention is how long a silent worker without live tries is kept.
const workerRetention = 24 * time.Hour

// Run starts the executor, the scheduler loop and the DAG folder watcher,
// and returns when ctx ends and every try has stopped.
func (e *Engine) Run(ctx context.Context) error {
	if err := e.Bag.Sync(ctx, e.Store, time.Now().UTC()); err != nil {
		return err
	}
	if err := e.Recover(ctx); err != nil {
		return err
	}
	if err := e.Executor.Start(ctx); err != nil {
		return err
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		e.Bag.Watch(ctx, e.Store, e.Config.DagRescan, e.Logger)
	}()
	err := e.Loop.Run(ctx)
	wg.Wait()
	e.Executor.Wait()
	e.recovery.Wait() // one grace at most
	return err
}

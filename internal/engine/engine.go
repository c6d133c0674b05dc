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
	"github.com/sirocco-dev/sirocco/internal/operator"
	"github.com/sirocco-dev/sirocco/internal/operator/process"
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

// Recover deals with what a previous process on this host left behind:
// its workers are declared dead at once (their pid is gone), and the process
// groups of their running tries are killed from the stored handles. The loop
// then retries or fails those tries by their retry policy.
func (e *Engine) Recover(ctx context.Context) error {
	workers, err := e.Store.ListWorkers(ctx)
	if err != nil {
		return fmt.Errorf("list workers: %w", err)
	}
	dead := map[string]bool{}
	for _, w := range workers {
		if w.Hostname != e.Runner.Hostname || w.ID == e.Runner.WorkerID || w.HeartbeatAt.IsZero() {
			continue
		}
		if w.PID > 0 && syscall.Kill(w.PID, 0) == nil && w.PID != os.Getpid() {
			continue // still alive (another Sirocco on this host)
		}
		dead[w.ID] = true
		w.HeartbeatAt = time.Time{}
		if err := e.Store.RegisterWorker(ctx, w); err != nil {
			return fmt.Errorf("mark worker %s dead: %w", w.ID, err)
		}
		e.Logger.Info("previous worker is gone; its tries will be recovered", "worker_id", w.ID)
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
	var tagged map[string][]int // process groups by try id, scanned once
	for _, ti := range tis {
		live := ti.State == store.StateRunning || ti.State == store.StateRestarting
		if !live || !dead[ti.WorkerID] || e.Runner.CanResume(ti) {
			continue // resumable work is adopted by the loop, not killed
		}
		// The handle saved in the store, else the one noted in the try's
		// log (a try that ran less than process.HandleAfter saved none).
		handle := ti.Handle
		if len(handle) == 0 {
			handle = executor.NotedHandle(e.Config.LogsDir(), ti)
		}
		killed := false
		if len(handle) > 0 {
			k, err := process.KillOrphan(handle, e.Config.KillGrace)
			if err != nil {
				e.Logger.Warn("cannot decode handle of orphaned try", "task_id", ti.TaskID, "err", err)
			}
			killed = k
		}
		// And every group whose processes carry the try's identity.
		if tagged == nil {
			var err error
			if tagged, err = process.TaggedGroups(); err != nil {
				e.Logger.Warn("cannot look for the processes of orphaned tries", "err", err)
				tagged = map[string][]int{}
			}
		}
		if groups := tagged[executor.TryID(ti.WorkerID, ti.TaskKey, ti.TryNumber)]; len(groups) > 0 {
			process.KillGroups(groups, e.Config.KillGrace)
			killed = true
		}
		if killed {
			e.Logger.Info("killed orphaned process group", "dag_id", ti.DagID, "run_id", ti.RunID, "task_id", ti.TaskID)
		}
	}
	return nil
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
	return err
}

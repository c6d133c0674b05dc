package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/sirocco-dev/sirocco/internal/connection"
	"github.com/sirocco-dev/sirocco/internal/executor"
	"github.com/sirocco-dev/sirocco/internal/executor/kubeexec"
	"github.com/sirocco-dev/sirocco/internal/preflight"
	"github.com/sirocco-dev/sirocco/internal/scheduler"
	"github.com/sirocco-dev/sirocco/internal/sshclient"
	"github.com/sirocco-dev/sirocco/internal/store"
	"github.com/sirocco-dev/sirocco/internal/tasklog"
)

// Environment of a worker pod, set by the Kubernetes executor.
const (
	envPodName      = "SIROCCO_POD_NAME"
	envPodNamespace = "SIROCCO_POD_NAMESPACE"
)

func (a *app) tasksRun() *cobra.Command {
	var try, mapIndex int
	cmd := &cobra.Command{
		Use:   "run DAG_ID RUN_ID TASK_ID --try N",
		Short: "Run the try a Kubernetes worker pod was claimed for (the worker pod's command; as airflow tasks run)",
		Long: "Run, in this process, the one try the Kubernetes executor claimed for this worker pod (named by " +
			envPodNamespace + " and " + envPodName + "), exactly as the local executor runs a try: render, operator, " +
			"outcome recorded in the store, heartbeats. A try that is not claimed for this pod is refused and left " +
			"alone. The try's log is written to standard output, which the executor copies into the task log.",
		Args: cobra.ExactArgs(3),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			return a.runPodTry(ctx, store.TaskKey{DagID: args[0], RunID: args[1], TaskID: args[2]}.WithMapIndex(mapIndex), try)
		},
	}
	cmd.Flags().IntVar(&try, "try", 0, "the try number the pod was claimed for")
	_ = cmd.MarkFlagRequired("try")
	mapIndexFlag(cmd, &mapIndex)
	return cmd
}

// runPodTry runs the claimed try with its log streamed to stdout; the exit
// status is 0 when it succeeded, was skipped or (a sensor) was rescheduled, kubeexec.ExitEndedElsewhere
// when the try was not this pod's to end (refused, or marked or cleared
// while it ran), 1 otherwise.
func (a *app) runPodTry(ctx context.Context, k store.TaskKey, try int) error {
	name, ns := os.Getenv(envPodName), os.Getenv(envPodNamespace)
	if name == "" || ns == "" {
		return fmt.Errorf("tasks run runs the try a worker pod was claimed for: %s and %s must name the pod (the Kubernetes executor sets them)",
			envPodNamespace, envPodName)
	}
	if try <= 0 {
		return fmt.Errorf("--try: expected the try number the pod was claimed for, got %d", try)
	}
	e, err := a.open(ctx)
	if err != nil {
		return err
	}
	defer e.close()
	logs, err := os.MkdirTemp("", "sirocco-try-")
	if err != nil {
		return fmt.Errorf("make the try's log folder: %w", err)
	}
	defer os.RemoveAll(logs)
	keys, err := podKeys(e.cfg.Home)
	if err != nil {
		return err
	}
	r := a.podRunner(e, ns, name, logs, keys)
	defer r.SSH.Close()
	claimed := kubeexec.ClaimedFor(ns, name)
	p := executor.PodTry{Runner: r, Key: k, Try: try, Heartbeat: e.cfg.Heartbeat,
		Claimed: func(ti store.TaskInstance) error {
			if err := claimed(ti.Handle); err != nil {
				return err
			}
			wrap, err := kubeexec.Wrapper(ti.Handle)
			r.WrapHandle = wrap
			return err
		}}
	done := make(chan struct{})
	followed := make(chan error, 1)
	path := tasklog.MapPath(logs, k.DagID, k.RunID, k.TaskID, k.MapIndex(), try)
	go func() {
		followed <- tasklog.Follow(path, a.stdout, func() bool {
			select {
			case <-done:
				return true
			default:
				return false
			}
		}, nil)
	}()
	end, err := p.Run(ctx)
	close(done)
	if ferr := <-followed; ferr != nil && !errors.Is(err, executor.ErrNotClaimed) {
		e.log.Warn("could not copy the try's log to standard output", "err", ferr)
	}
	if errors.Is(err, executor.ErrNotClaimed) || errors.Is(err, executor.ErrEndedElsewhere) {
		fmt.Fprintf(a.stderr, "tasks run: %v\n", err)
		return exitCode(kubeexec.ExitEndedElsewhere)
	}
	if err != nil {
		return err
	}
	if end.TryNumber == try && (end.State == store.StateSuccess || end.State == store.StateSkipped ||
		end.State == store.StateUpForReschedule) { // a sensor's poke that will come back
		return nil
	}
	fmt.Fprintf(a.stderr, "try %d of %s ended %q\n", try, k.TaskID, end.State)
	return exitCode(1)
}

// podRunner is the runner of a worker pod's try: the pod's worker id and
// name, the try's log in logs.
func (a *app) podRunner(e *env, ns, name, logs string, keys *connection.Keyring) *executor.Runner {
	return &executor.Runner{Store: e.st, DAGs: e.bag, Operators: a.operators, LogsDir: logs,
		WorkerID: kubeexec.PodWorkerID(ns, name), Hostname: name, Clock: scheduler.SystemClock{}, Logger: e.log,
		KillGrace: e.cfg.KillGrace, Connections: &connection.Resolver{Store: e.st, Keys: keys},
		SSH: sshclient.NewPool(sshclient.PoolOptions{Logger: e.log}), Preflight: &preflight.Checker{Kinit: e.cfg.Kerberos.KinitPath},
		Runs: &executor.RunControl{Store: e.st, DAGs: e.bag, Clock: scheduler.SystemClock{}}}
}

// podKeys loads the secret key of stored connections in a worker pod:
// SIROCCO_SECRET_KEY (the Kubernetes executor passes the scheduler's
// through a Secret), else a key file already in the pod's home. A pod
// never generates a key, as other commands do on first use: a new key
// reads none of the stored secrets, and the try would fail later, and
// less clearly, or write secrets nobody else can read.
func podKeys(home string) (*connection.Keyring, error) {
	if os.Getenv(connection.EnvSecretKey) == "" {
		path := filepath.Join(home, connection.KeyFileName)
		if _, err := os.Stat(path); err != nil {
			return nil, fmt.Errorf("the worker pod has no secret key for stored connections: %s is not set and there is no key file %s "+
				"(the Kubernetes executor passes the scheduler's key unless kubernetes_executor.pod_template_file sets %s; "+
				"set it there from a Secret holding the scheduler's key)", connection.EnvSecretKey, path, connection.EnvSecretKey)
		}
	}
	keys, _, err := connection.LoadKeyring(home)
	if err != nil {
		return nil, fmt.Errorf("the worker pod's secret key for stored connections: %w", err)
	}
	return keys, nil
}

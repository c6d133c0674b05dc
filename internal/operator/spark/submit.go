package spark

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/sirocco-dev/sirocco/internal/dag"
	"github.com/sirocco-dev/sirocco/internal/operator"
	"github.com/sirocco-dev/sirocco/internal/operator/process"
	"github.com/sirocco-dev/sirocco/internal/spark"
)

// commonFields are shared by spark_submit and spark_rest.
var commonFields = []dag.FieldSpec{
	{Name: "conn_id", Kind: dag.FieldString, Default: defaultConnID, Description: "spark connection"},
	{Name: "application", Kind: dag.FieldString, Required: true, Templated: true, Description: ".py or .jar to run; relative paths start at the DAG file's folder"},
	{Name: "java_class", Kind: dag.FieldString, Templated: true, Description: "main class of a JVM application"},
	{Name: "application_args", Kind: dag.FieldStringList, Templated: true, Description: "arguments of the application"},
	{Name: "conf", Kind: dag.FieldStringMap, Templated: true, Description: "Spark properties (--conf k=v)"},
	{Name: "py_files", Kind: dag.FieldStringList, Templated: true, Description: ".py/.zip/.egg files for the Python path"},
	{Name: "jars", Kind: dag.FieldStringList, Templated: true, Description: "extra jars"},
	{Name: "driver_memory", Kind: dag.FieldString, Templated: true},
	{Name: "driver_cores", Kind: dag.FieldString, Templated: true},
	{Name: "executor_memory", Kind: dag.FieldString, Templated: true},
	{Name: "executor_cores", Kind: dag.FieldString, Templated: true},
	{Name: "total_executor_cores", Kind: dag.FieldString, Templated: true},
	{Name: "name", Kind: dag.FieldString, Templated: true, Description: "application name (default dag_id.task_id)"},
	{Name: "env_vars", Kind: dag.FieldStringMap, Templated: true, Description: "environment of the driver (mapped per cluster manager)"},
	{Name: "status_poll_interval", Kind: dag.FieldDuration, Default: defaultPoll, Description: "how often a cluster driver's state is polled"},
}

// submitSpec declares spark_submit's fields.
var submitSpec = dag.OperatorSpec{
	Name:        "spark_submit",
	Description: "Run spark-submit (every option of Airflow's SparkSubmitOperator) and track the application to its end.",
	Fields: append(append([]dag.FieldSpec{}, commonFields...),
		dag.FieldSpec{Name: "deploy_mode", Kind: dag.FieldString, Description: "client or cluster (default from the connection, else client)"},
		dag.FieldSpec{Name: "spark_binary", Kind: dag.FieldString, Description: "spark-submit to run (name or path)"},
		dag.FieldSpec{Name: "ssh_conn_id", Kind: dag.FieldString, Description: "ssh connection of the host (an edge node) to run spark-submit on, as a detached job; paths are on that host"},
		dag.FieldSpec{Name: "files", Kind: dag.FieldStringList, Templated: true},
		dag.FieldSpec{Name: "archives", Kind: dag.FieldStringList, Templated: true},
		dag.FieldSpec{Name: "packages", Kind: dag.FieldStringList, Templated: true},
		dag.FieldSpec{Name: "exclude_packages", Kind: dag.FieldStringList, Templated: true},
		dag.FieldSpec{Name: "repositories", Kind: dag.FieldStringList, Templated: true},
		dag.FieldSpec{Name: "driver_class_path", Kind: dag.FieldString, Templated: true},
		dag.FieldSpec{Name: "num_executors", Kind: dag.FieldString, Templated: true},
		dag.FieldSpec{Name: "proxy_user", Kind: dag.FieldString, Templated: true},
		dag.FieldSpec{Name: "principal", Kind: dag.FieldString, Templated: true},
		dag.FieldSpec{Name: "keytab", Kind: dag.FieldString, Templated: true},
		dag.FieldSpec{Name: "properties_file", Kind: dag.FieldString, Templated: true},
		dag.FieldSpec{Name: "queue", Kind: dag.FieldString, Templated: true},
		dag.FieldSpec{Name: "namespace", Kind: dag.FieldString, Templated: true},
		dag.FieldSpec{Name: "verbose", Kind: dag.FieldBool},
	),
}

// SubmitFactory registers spark_submit.
var SubmitFactory = operator.Factory{Spec: submitSpec, New: func() operator.Operator { return Submit{} }, Recoverer: Recoverer{}}

// Submit is the spark_submit operator.
type Submit struct{}

// Execute runs spark-submit, here or, with ssh_conn_id, on that
// connection's host as a detached remote job (remote.go). In client mode
// the driver is spark-submit itself and its exit code decides; in
// standalone cluster mode the driver id is stored as soon as spark-submit
// prints it and the driver is tracked through the master's REST API to
// FINISHED, FAILED, KILLED or ERROR; on a k8s:// master in cluster mode
// (spark-submit here) the driver pod, named and stored first, is tracked
// through the apiserver (k8s.go).
func (Submit) Execute(ctx context.Context, t *operator.Task) (operator.Result, error) {
	args := operator.FieldsOf(submitSpec, absPaths(t))
	s, err := resolve(ctx, t, args)
	if err != nil {
		return operator.Result{}, err
	}
	if s.isKubeCluster() && args.String("ssh_conn_id") == "" {
		return runKube(ctx, t, s, args)
	}
	argv, procEnv, err := submitArgv(s, args, t.DagID, t.TaskID)
	if err != nil {
		return operator.Result{}, err
	}
	env := maps.Clone(t.Env)
	if env == nil {
		env = map[string]string{}
	}
	maps.Copy(env, s.homes())
	maps.Copy(env, procEnv)
	r := newSubmission(t, s, &Handle{Kind: kindDriver, Version: handleVersion, ConnID: args.String("conn_id"),
		Master: s.Master, DeployMode: s.DeployMode, RESTURL: s.RESTURL, MasterUI: s.MasterUI})
	if ctx.Err() != nil {
		return operator.Result{}, errors.New("stopped before spark-submit started: " + context.Cause(ctx).Error())
	}
	if id := args.String("ssh_conn_id"); id != "" {
		return r.runRemote(ctx, id, argv, env, args.Duration("status_poll_interval"))
	}
	return r.runLocal(ctx, argv, env, args.Duration("status_poll_interval"))
}

// runLocal runs spark-submit on this host, in a process group of its own.
func (r *submission) runLocal(ctx context.Context, argv []string, env map[string]string, poll time.Duration) (operator.Result, error) {
	t := r.t
	fmt.Fprintf(t.Log, "sirocco: %s\n", strings.Join(argv, " "))
	w := r.watcher(ctx)
	procCtx, stop := r.submitContext(ctx, false)
	defer stop(nil)
	runErr := process.Run(procCtx, process.Spec{
		Argv: argv, Dir: t.DagDir, Env: process.Environ(env, t.CtxEnv, true),
		Stdout: w, Stderr: w,
		SaveHandle: func(ctx context.Context, b []byte) error {
			ph, err := process.DecodeHandle(b)
			if err != nil {
				return err
			}
			r.update(func(h *Handle) { h.Process = &ph })
			return r.save(ctx)
		},
	})
	if runErr != nil {
		runErr = fmt.Errorf("spark-submit: %w", runErr)
	}
	return r.finish(ctx, runErr, w.result(), poll)
}

// submission is one spark_submit try in flight: its handle, stored again
// each time spark-submit's output names something new, and the end of the
// try once spark-submit has exited (finish).
type submission struct {
	t       *operator.Task
	s       settings
	cluster bool // standalone cluster mode: a driver id to track
	// runCmd runs a cluster manager's kill command (yarn, spark-submit
	// --kill) where spark-submit runs: here, or on the ssh host.
	runCmd func(ctx context.Context, argv []string) error
	// uiHost names the host spark-submit runs on in UI links (the ssh
	// host); "" is this one.
	uiHost string
	// store persists the handle: t.SaveHandle, or nothing for a stop.
	store func(ctx context.Context, h []byte) error

	mu      sync.Mutex // guards h and saveErr
	h       *Handle
	saveErr error      // a driver whose id could not be stored must not run untracked
	saveMu  sync.Mutex // one save at a time, so the last one written holds the latest h

	submitted     chan struct{} // closed once spark-submit reported a driver id
	submittedOnce sync.Once
}

func newSubmission(t *operator.Task, s settings, h *Handle) *submission {
	r := &submission{t: t, s: s, h: h, cluster: s.DeployMode == "cluster" && s.isStandalone(), submitted: make(chan struct{})}
	r.runCmd, r.store = r.runHere, t.SaveHandle
	if h.DriverID != "" {
		r.markSubmitted()
	}
	return r
}

func (r *submission) markSubmitted() { r.submittedOnce.Do(func() { close(r.submitted) }) }

// update changes the handle under its lock.
func (r *submission) update(change func(h *Handle)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	change(r.h)
}

// handle returns a copy of the handle as it is now, its remote part
// copied too (updates replace the job and exit code, never change them).
func (r *submission) handle() Handle {
	r.mu.Lock()
	defer r.mu.Unlock()
	h := *r.h
	if h.Remote != nil {
		rem := *h.Remote
		h.Remote = &rem
	}
	return h
}

// save stores the handle as it is now. A driver found after a cancel must
// still be recorded: it is what the kill, or a restart, goes by; so the
// write outlives ctx, bounded by killTimeout.
func (r *submission) save(ctx context.Context) error {
	r.saveMu.Lock()
	defer r.saveMu.Unlock()
	h := r.handle()
	b, err := json.Marshal(&h)
	if err != nil {
		return err
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), killTimeout)
	defer cancel()
	return r.store(sctx, b)
}

// watcher reads spark-submit's output into the task log and stores each
// id or link it finds on the handle; it starts from what the handle
// already knows (a resumed try).
func (r *submission) watcher(ctx context.Context) *watcher {
	h := r.handle()
	return &watcher{out: r.t.Log, host: r.uiHost, f: found{DriverID: h.DriverID, AppID: h.AppID, DriverPod: h.DriverPod, SparkUI: h.SparkUI},
		onFound: func(f found) { r.noteFound(ctx, f) }}
}

func (r *submission) noteFound(ctx context.Context, f found) {
	if f.DriverID != "" {
		r.markSubmitted()
	}
	r.update(func(h *Handle) {
		h.AppID, h.DriverPod, h.SparkUI = f.AppID, f.DriverPod, f.SparkUI
		if h.MasterUI != "" && strings.HasPrefix(f.AppID, "app-") {
			// A standalone master keeps the application's page after the
			// driver (and its own UI) is gone: link that one.
			h.SparkUI = h.MasterUI + "/app/?appId=" + f.AppID
		}
		if f.DriverID != "" && r.cluster {
			h.DriverID = f.DriverID
		}
	})
	if err := r.save(ctx); err != nil {
		fmt.Fprintf(r.t.Log, "sirocco: store handle: %v\n", err)
		r.update(func(h *Handle) {
			if r.saveErr == nil && h.DriverID != "" {
				r.saveErr = err
			}
		})
	}
}

// submitContext is the context spark-submit runs under. Killing
// spark-submit while it talks to the master can leave a driver on the
// cluster whose id nobody saw: in standalone cluster mode a cancel lets it
// finish submitting (bounded by submitGrace), then ends it, and the driver
// is killed by its id. A shutdown (ErrDetach) ends it at once when
// detachAtOnce: a remote spark-submit outlives Sirocco anyway.
func (r *submission) submitContext(ctx context.Context, detachAtOnce bool) (context.Context, context.CancelCauseFunc) {
	if !r.cluster {
		return context.WithCancelCause(ctx)
	}
	procCtx, stop := context.WithCancelCause(context.WithoutCancel(ctx))
	go func() {
		select {
		case <-procCtx.Done():
			return
		case <-ctx.Done():
		}
		if detachAtOnce && errors.Is(context.Cause(ctx), operator.ErrDetach) {
			stop(context.Cause(ctx))
			return
		}
		timer := time.NewTimer(submitGrace)
		defer timer.Stop()
		select {
		case <-r.submitted:
		default:
			fmt.Fprintf(r.t.Log, "sirocco: %v; waiting for spark-submit to report its driver, to stop it\n", context.Cause(ctx))
			select {
			case <-r.submitted:
			case <-timer.C:
			case <-procCtx.Done():
				return
			}
		}
		stop(context.Cause(ctx))
	}()
	return procCtx, stop
}

// client reaches the standalone master of the try.
func (r *submission) client() *spark.Client {
	return &spark.Client{RESTURL: r.s.RESTURL, MasterUIURL: r.s.MasterUI, Token: r.s.RESTToken}
}

// finish ends the try once spark-submit has exited (runErr, its output
// f): on a shutdown a tracked driver is left running; on a cancel what
// spark-submit started on the cluster is killed; in standalone cluster
// mode the driver is tracked to its end.
func (r *submission) finish(ctx context.Context, runErr error, f found, poll time.Duration) (operator.Result, error) {
	t, client := r.t, r.client()
	r.mu.Lock()
	stored := r.saveErr
	r.mu.Unlock()
	if ctx.Err() != nil && errors.Is(context.Cause(ctx), operator.ErrDetach) && f.DriverID != "" && r.cluster && stored == nil {
		fmt.Fprintf(t.Log, "sirocco: leaving driver %s running (%v)\n", f.DriverID, context.Cause(ctx))
		return operator.Result{}, operator.ErrDetach
	}
	if stored != nil {
		kctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), killTimeout)
		defer cancel()
		return operator.Result{}, errors.Join(fmt.Errorf("store driver id %s: %w", f.DriverID, stored),
			newTracker(t, client, &Handle{DriverID: f.DriverID, RESTURL: r.s.RESTURL}, 0).kill(kctx, stored))
	}
	if ctx.Err() != nil {
		// Cancelled or timed out: spark-submit's group is dead; stop what it
		// started on the cluster too.
		return operator.Result{}, errors.Join(runErr, r.killRemote(ctx, client, f))
	}
	if runErr != nil {
		return operator.Result{}, runErr
	}
	if r.cluster {
		if f.DriverID == "" {
			return operator.Result{}, errors.New("spark-submit exited without reporting a driver id")
		}
		hc := r.handle()
		hc.DriverID = f.DriverID
		return newTracker(t, client, &hc, poll).run(ctx)
	}
	if f.ExitCode != "" && f.ExitCode != "0" {
		return operator.Result{}, fmt.Errorf("the Kubernetes driver pod %s exited with code %s", f.DriverPod, f.ExitCode)
	}
	return operator.Result{}, nil
}

// submitGrace bounds how long a cancelled spark-submit in standalone cluster
// mode may go on to report the driver it is submitting.
const submitGrace = 60 * time.Second

// killRemote stops the application spark-submit started on a cluster after
// a cancel, bounded by killTimeout: the REST kill for a standalone driver,
// `yarn application -kill` for YARN, `spark-submit --kill` for a K8s pod
// (run where spark-submit runs).
func (r *submission) killRemote(ctx context.Context, c *spark.Client, f found) error {
	kctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), killTimeout)
	defer cancel()
	s := r.s
	switch {
	case s.DeployMode != "cluster":
		return nil // the driver was spark-submit itself, killed with its group
	case s.isStandalone() && f.DriverID != "":
		return newTracker(r.t, c, &Handle{DriverID: f.DriverID, RESTURL: s.RESTURL}, 0).kill(kctx, context.Cause(ctx))
	case s.isYARN() && strings.HasPrefix(f.AppID, "application_"):
		return r.runCmd(kctx, []string{"yarn", "application", "-kill", f.AppID})
	case s.isK8s() && f.DriverPod != "":
		target := f.DriverPod
		if s.Namespace != "" {
			target = s.Namespace + ":" + f.DriverPod
		}
		return r.runCmd(kctx, []string{s.SparkBinary, "--master", s.Master, "--kill", target})
	}
	return nil
}

// runHere runs a command on this host into the task log.
func (r *submission) runHere(ctx context.Context, argv []string) error {
	fmt.Fprintf(r.t.Log, "sirocco: %s\n", strings.Join(argv, " "))
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = process.Inherited() // never Sirocco's own secrets
	out, err := cmd.CombinedOutput()
	_, _ = r.t.Log.Write(out)
	return err
}

// absPaths makes the application and file lists absolute from the DAG
// file's folder, so a DAG can ship its jobs next to it.
func absPaths(t *operator.Task) map[string]any {
	out := maps.Clone(t.Args)
	abs := func(p string) string {
		if p == "" || strings.Contains(p, "://") || strings.HasPrefix(p, "/") || t.DagDir == "" {
			return p
		}
		return t.DagDir + "/" + p
	}
	if v, ok := out["application"].(string); ok {
		out["application"] = abs(v)
	}
	for _, name := range []string{"py_files", "files", "jars", "archives"} {
		list := operator.Args(out).Strings(name)
		if list == nil {
			continue
		}
		items := make([]any, len(list))
		for i, p := range list {
			items[i] = abs(p)
		}
		out[name] = items
	}
	return out
}

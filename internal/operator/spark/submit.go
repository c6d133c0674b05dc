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

// Execute runs spark-submit. In client mode the driver is spark-submit
// itself and its exit code decides; in standalone cluster mode the driver id
// is stored as soon as spark-submit prints it and the driver is tracked
// through the master's REST API to FINISHED, FAILED, KILLED or ERROR.
func (Submit) Execute(ctx context.Context, t *operator.Task) (operator.Result, error) {
	args := operator.FieldsOf(submitSpec, absPaths(t))
	s, err := resolve(ctx, t, args)
	if err != nil {
		return operator.Result{}, err
	}
	argv, procEnv, err := submitArgv(s, args, t.DagID, t.TaskID)
	if err != nil {
		return operator.Result{}, err
	}
	fmt.Fprintf(t.Log, "sirocco: %s\n", strings.Join(argv, " "))
	env := maps.Clone(t.Env)
	if env == nil {
		env = map[string]string{}
	}
	maps.Copy(env, procEnv)

	h := &Handle{Kind: kindDriver, Version: handleVersion, ConnID: args.String("conn_id"), Master: s.Master, RESTURL: s.RESTURL, MasterUI: s.MasterUI}
	var mu sync.Mutex     // guards h
	var saveMu sync.Mutex // one save at a time, so the last one written holds the latest h
	save := func(ctx context.Context) error {
		saveMu.Lock()
		defer saveMu.Unlock()
		mu.Lock()
		b, err := json.Marshal(h)
		mu.Unlock()
		if err != nil {
			return err
		}
		// A driver found after a cancel must still be recorded: it is what
		// the kill below, or a restart, goes by.
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), killTimeout)
		defer cancel()
		return t.SaveHandle(sctx, b)
	}
	cluster := s.DeployMode == "cluster" && s.isStandalone()
	var saveErr error // a driver whose id could not be stored must not run untracked
	submitted := make(chan struct{})
	var submittedOnce sync.Once
	w := &watcher{out: t.Log, onFound: func(f found) {
		if f.DriverID != "" {
			submittedOnce.Do(func() { close(submitted) })
		}
		mu.Lock()
		h.AppID, h.DriverPod, h.SparkUI = f.AppID, f.DriverPod, f.SparkUI
		if h.MasterUI != "" && strings.HasPrefix(f.AppID, "app-") {
			// A standalone master keeps the application's page after the
			// driver (and its own UI) is gone: link that one.
			h.SparkUI = h.MasterUI + "/app/?appId=" + f.AppID
		}
		if f.DriverID != "" && cluster {
			h.DriverID = f.DriverID
		}
		mu.Unlock()
		if err := save(ctx); err != nil {
			fmt.Fprintf(t.Log, "sirocco: store handle: %v\n", err)
			mu.Lock()
			if saveErr == nil && h.DriverID != "" {
				saveErr = err
			}
			mu.Unlock()
		}
	}}
	if ctx.Err() != nil {
		return operator.Result{}, errors.New("stopped before spark-submit started: " + context.Cause(ctx).Error())
	}
	procCtx := ctx
	if cluster {
		// Killing spark-submit while it talks to the master can leave a
		// driver on the cluster whose id nobody saw. On a cancel, let it
		// finish submitting (bounded), then kill the driver by its id.
		var stop context.CancelCauseFunc
		procCtx, stop = context.WithCancelCause(context.WithoutCancel(ctx))
		defer stop(nil)
		go func() {
			select {
			case <-procCtx.Done():
				return
			case <-ctx.Done():
			}
			timer := time.NewTimer(submitGrace)
			defer timer.Stop()
			select {
			case <-submitted:
			default:
				fmt.Fprintf(t.Log, "sirocco: %v; waiting for spark-submit to report its driver, to stop it\n", context.Cause(ctx))
				select {
				case <-submitted:
				case <-timer.C:
				case <-procCtx.Done():
					return
				}
			}
			stop(context.Cause(ctx))
		}()
	}
	runErr := process.Run(procCtx, process.Spec{
		Argv: argv, Dir: t.DagDir, Env: process.Environ(env, t.CtxEnv, true),
		Stdout: w, Stderr: w,
		SaveHandle: func(ctx context.Context, b []byte) error {
			ph, err := process.DecodeHandle(b)
			if err != nil {
				return err
			}
			mu.Lock()
			h.Process = &ph
			mu.Unlock()
			return save(ctx)
		},
	})
	f := w.result()
	client := &spark.Client{RESTURL: s.RESTURL, MasterUIURL: s.MasterUI, Token: s.RESTToken}
	mu.Lock()
	stored := saveErr
	mu.Unlock()
	if ctx.Err() != nil && errors.Is(context.Cause(ctx), operator.ErrDetach) && f.DriverID != "" && cluster && stored == nil {
		fmt.Fprintf(t.Log, "sirocco: leaving driver %s running (%v)\n", f.DriverID, context.Cause(ctx))
		return operator.Result{}, operator.ErrDetach
	}
	if stored != nil {
		kctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), killTimeout)
		defer cancel()
		return operator.Result{}, errors.Join(fmt.Errorf("store driver id %s: %w", f.DriverID, stored),
			newTracker(t, client, &Handle{DriverID: f.DriverID, RESTURL: s.RESTURL}, 0).kill(kctx, stored))
	}
	if ctx.Err() != nil {
		// Cancelled or timed out: spark-submit's group is dead; stop what it
		// started on the cluster too.
		return operator.Result{}, errors.Join(runErr, killRemote(ctx, t, s, client, f))
	}
	if runErr != nil {
		return operator.Result{}, fmt.Errorf("spark-submit: %w", runErr)
	}
	if cluster {
		if f.DriverID == "" {
			return operator.Result{}, errors.New("spark-submit exited without reporting a driver id")
		}
		mu.Lock()
		hc := *h
		mu.Unlock()
		return newTracker(t, client, &hc, args.Duration("status_poll_interval")).run(ctx)
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
// `yarn application -kill` for YARN, `spark-submit --kill` for a K8s pod.
func killRemote(ctx context.Context, t *operator.Task, s settings, c *spark.Client, f found) error {
	kctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), killTimeout)
	defer cancel()
	run := func(argv ...string) error {
		fmt.Fprintf(t.Log, "sirocco: %s\n", strings.Join(argv, " "))
		cmd := exec.CommandContext(kctx, argv[0], argv[1:]...)
		cmd.Env = process.Inherited() // never Sirocco's own secrets
		out, err := cmd.CombinedOutput()
		_, _ = t.Log.Write(out)
		return err
	}
	switch {
	case s.DeployMode != "cluster":
		return nil // the driver was spark-submit itself, killed with its group
	case s.isStandalone() && f.DriverID != "":
		return newTracker(t, c, &Handle{DriverID: f.DriverID, RESTURL: s.RESTURL}, 0).kill(kctx, context.Cause(ctx))
	case s.isYARN() && strings.HasPrefix(f.AppID, "application_"):
		return run("yarn", "application", "-kill", f.AppID)
	case s.isK8s() && f.DriverPod != "":
		target := f.DriverPod
		if s.Namespace != "" {
			target = s.Namespace + ":" + f.DriverPod
		}
		return run(s.SparkBinary, "--master", s.Master, "--kill", target)
	}
	return nil
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

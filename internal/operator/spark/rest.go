package spark

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"strings"
	"time"

	"github.com/sirocco-dev/sirocco/internal/dag"
	"github.com/sirocco-dev/sirocco/internal/operator"
	"github.com/sirocco-dev/sirocco/internal/spark"
)

// restSpec declares spark_rest's fields.
var restSpec = dag.OperatorSpec{
	Name: "spark_rest",
	Description: "Submit to a Spark standalone master's REST server from Go (no JVM here), " +
		"then track and, on cancel, kill the driver through the same API.",
	Fields: append(append([]dag.FieldSpec{}, commonFields...),
		dag.FieldSpec{Name: "spark_version", Kind: dag.FieldString, Default: spark.DefaultClientSparkVersion, Description: "clientSparkVersion sent with the request"},
		dag.FieldSpec{Name: "supervise", Kind: dag.FieldBool, Description: "let the master restart a failed driver"},
	),
}

// RestFactory registers spark_rest.
var RestFactory = operator.Factory{Spec: restSpec, New: func() operator.Operator { return Rest{} }, Recoverer: Recoverer{}}

// Rest is the spark_rest operator.
type Rest struct{}

// Execute submits the driver, stores its id before anything else, and
// tracks it to its end.
func (Rest) Execute(ctx context.Context, t *operator.Task) (operator.Result, error) {
	args := operator.FieldsOf(restSpec, absPaths(t))
	s, err := resolve(ctx, t, args)
	if err != nil {
		return operator.Result{}, err
	}
	if !s.isStandalone() {
		return operator.Result{}, fmt.Errorf("spark_rest needs a standalone master (spark://host:port), not %q", s.Master)
	}
	req := restRequest(s, args, t.DagID, t.TaskID)
	client := &spark.Client{RESTURL: s.RESTURL, MasterUIURL: s.MasterUI, Token: s.RESTToken}
	// The tag is stored before the request leaves: if Sirocco dies before
	// the answer is stored, the next start finds the driver by it instead
	// of submitting again.
	h := &Handle{Kind: kindSubmitting, Version: handleVersion, ConnID: args.String("conn_id"), Master: s.Master,
		RESTURL: s.RESTURL, MasterUI: s.MasterUI, Submission: newSubmissionTag(), SubmittedAt: time.Now().UnixMilli()}
	req.SparkProperties[submissionProperty] = h.Submission
	if ctx.Err() != nil {
		return operator.Result{}, errors.New("stopped before submitting: " + context.Cause(ctx).Error()) // not a detach: nothing to adopt
	}
	if err := saveHandle(ctx, t, h); err != nil {
		return operator.Result{}, fmt.Errorf("store the submission before submitting: %w", err)
	}
	fmt.Fprintf(t.Log, "sirocco: submitting %s to %s\n", req.AppResource, s.RESTURL)
	// A cancel must not cut the request short: the master may create the
	// driver anyway. The request runs to its answer; the tracker then
	// kills (or, on shutdown, leaves) the driver it names.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), killTimeout)
	id, err := client.Submit(sctx, req)
	cancel()
	if err != nil {
		var se *spark.Error
		if errors.As(err, &se) && se.StatusCode != 0 {
			return operator.Result{}, fmt.Errorf("submit to %s: %w", s.RESTURL, err) // the master answered no
		}
		// No answer (a timeout, a reset): the master may have created the
		// driver anyway. Look for it by the tag before giving up.
		fmt.Fprintf(t.Log, "sirocco: the submission got no answer (%v); looking for its driver on the master\n", err)
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), findTimeout)
		found, ferr := findSubmission(fctx, client, h.Submission, time.UnixMilli(h.SubmittedAt))
		cancel()
		if ferr != nil {
			return operator.Result{}, errors.Join(fmt.Errorf("submit to %s: %w", s.RESTURL, err), ferr)
		}
		return adoptDriver(ctx, t, client, *h, found)
	}
	h.Kind, h.DriverID = kindDriver, id
	if err := saveHandle(ctx, t, h); err != nil {
		// Untracked work must not run: kill what we just started.
		kctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), killTimeout)
		defer cancel()
		return operator.Result{}, errors.Join(fmt.Errorf("store driver id %s: %w", id, err),
			newTracker(t, client, h, 0).kill(kctx, err))
	}
	fmt.Fprintf(t.Log, "sirocco: submitted driver %s\n", id)
	return newTracker(t, client, h, args.Duration("status_poll_interval")).run(ctx)
}

// saveHandle stores h as the try's handle. It is not cut short by a cancel:
// a driver that exists must be on record, so the kill or a restart can
// reach it.
func saveHandle(ctx context.Context, t *operator.Task, h *Handle) error {
	b, err := json.Marshal(h)
	if err != nil {
		return err
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), killTimeout)
	defer cancel()
	return t.SaveHandle(sctx, b)
}

// restRequest maps the task's fields onto a REST submission: a .py runs
// through SparkSubmit on the cluster (as Spark's submit_pi.sh does), a jar
// through its main class.
func restRequest(s settings, a operator.Fields, dagID, taskID string) spark.SubmitRequest {
	conf := map[string]string{}
	maps.Copy(conf, a.StringMap("conf"))
	set := func(key, field string) {
		if v := a.String(field); v != "" {
			conf[key] = v
		}
	}
	set("spark.driver.memory", "driver_memory")
	set("spark.driver.cores", "driver_cores")
	set("spark.executor.memory", "executor_memory")
	set("spark.executor.cores", "executor_cores")
	set("spark.cores.max", "total_executor_cores")
	if jars := a.Strings("jars"); len(jars) > 0 {
		conf["spark.jars"] = strings.Join(jars, ",")
	}
	conf["spark.app.name"] = appName(a, dagID, taskID)
	conf["spark.driver.supervise"] = fmt.Sprint(a.Bool("supervise"))
	env := a.StringMap("env_vars")
	for k, v := range env {
		conf["spark.executorEnv."+k] = v
	}
	app := a.String("application")
	appArgs := a.Strings("application_args")
	if strings.HasSuffix(app, ".py") {
		req := spark.PySparkRequest(s.Master, app, appArgs, conf, env, a.Strings("py_files"))
		req.ClientSparkVersion = a.String("spark_version")
		return req
	}
	conf["spark.master"] = s.Master
	conf["spark.submit.deployMode"] = "cluster"
	res := app
	if !strings.Contains(res, "://") {
		res = "file:" + res
	}
	// As spark-submit does in cluster mode: the executors need the
	// application's jar too, not only the driver.
	if jars := conf["spark.jars"]; jars == "" {
		conf["spark.jars"] = res
	} else {
		conf["spark.jars"] = res + "," + jars
	}
	return spark.SubmitRequest{
		AppResource: res, MainClass: a.String("java_class"), AppArgs: appArgs,
		SparkProperties: conf, Env: env, ClientSparkVersion: a.String("spark_version"),
	}
}

package spark

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"strings"

	"github.com/sirocco-dev/sirocco/internal/dag"
	"github.com/sirocco-dev/sirocco/internal/operator"
	"github.com/sirocco-dev/sirocco/internal/spark"
)

// RestFactory registers spark_rest.
var RestFactory = operator.Factory{
	Spec: dag.OperatorSpec{
		Name: "spark_rest",
		Description: "Submit to a Spark standalone master's REST server from Go (no JVM here), " +
			"then track and, on cancel, kill the driver through the same API.",
		Fields: append(append([]dag.FieldSpec{}, commonFields...),
			dag.FieldSpec{Name: "spark_version", Kind: dag.FieldString, Description: "clientSparkVersion sent with the request (default 4.0.1)"},
			dag.FieldSpec{Name: "supervise", Kind: dag.FieldBool, Description: "let the master restart a failed driver"},
		),
	},
	New: func() operator.Operator { return Rest{} },
}

// Rest is the spark_rest operator.
type Rest struct{}

// Execute submits the driver, stores its id before anything else, and
// tracks it to its end.
func (Rest) Execute(ctx context.Context, t *operator.Task) (operator.Result, error) {
	args := operator.Args(absPaths(t))
	s, err := resolve(ctx, t, args)
	if err != nil {
		return operator.Result{}, err
	}
	if !s.isStandalone() {
		return operator.Result{}, fmt.Errorf("spark_rest needs a standalone master (spark://host:port), not %q", s.Master)
	}
	req := restRequest(s, args, t.DagID, t.TaskID)
	client := &spark.Client{RESTURL: s.RESTURL, MasterUIURL: s.MasterUI, Token: s.RESTToken}
	fmt.Fprintf(t.Log, "sirocco: submitting %s to %s\n", req.AppResource, s.RESTURL)
	id, err := client.Submit(ctx, req)
	if err != nil {
		return operator.Result{}, fmt.Errorf("submit to %s: %w", s.RESTURL, err)
	}
	h := &Handle{Kind: kindDriver, ConnID: args.String("conn_id", "spark_default"), Master: s.Master,
		RESTURL: s.RESTURL, MasterUI: s.MasterUI, DriverID: id}
	b, _ := json.Marshal(h)
	if err := t.SaveHandle(ctx, b); err != nil {
		// Untracked work must not run: kill what we just started.
		kctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), killTimeout)
		defer cancel()
		return operator.Result{}, errors.Join(fmt.Errorf("store driver id %s: %w", id, err),
			newTracker(t, client, h, 0).kill(kctx, err))
	}
	fmt.Fprintf(t.Log, "sirocco: submitted driver %s\n", id)
	return newTracker(t, client, h, args.Duration("status_poll_interval", defaultPoll)).run(ctx)
}

// restRequest maps the task's fields onto a REST submission: a .py runs
// through SparkSubmit on the cluster (as Spark's submit_pi.sh does), a jar
// through its main class.
func restRequest(s settings, a operator.Args, dagID, taskID string) spark.SubmitRequest {
	conf := map[string]string{}
	maps.Copy(conf, a.StringMap("conf"))
	set := func(key, field string) {
		if v := a.String(field, ""); v != "" {
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
	conf["spark.app.name"] = a.String("name", dagID+"."+taskID)
	conf["spark.driver.supervise"] = fmt.Sprint(a.Bool("supervise", false))
	env := a.StringMap("env_vars")
	for k, v := range env {
		conf["spark.executorEnv."+k] = v
	}
	app := a.String("application", "")
	appArgs := a.Strings("application_args")
	if strings.HasSuffix(app, ".py") {
		req := spark.PySparkRequest(s.Master, app, appArgs, conf, env, a.Strings("py_files"))
		req.ClientSparkVersion = a.String("spark_version", req.ClientSparkVersion)
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
		AppResource: res, MainClass: a.String("java_class", ""), AppArgs: appArgs,
		SparkProperties: conf, Env: env, ClientSparkVersion: a.String("spark_version", "4.0.1"),
	}
}

// CanResume accepts handles of standalone cluster drivers.
func (Rest) CanResume(b []byte) bool { return canResume(b) }

// Resume tracks a driver submitted before a restart.
func (Rest) Resume(ctx context.Context, t *operator.Task, b []byte) (operator.Result, error) {
	return resume(ctx, t, b)
}

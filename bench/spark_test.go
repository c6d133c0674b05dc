package bench

// Spark benchmarks: a real engine runs spark_submit and spark_rest tasks
// against testenv's standalone cluster (one master with its REST server,
// one worker, all JVMs on this machine), and the benchmark reads the
// master's own record of the drivers and applications to split each task's
// time between Spark and Sirocco.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/spark"
	"github.com/sirocco-dev/sirocco/internal/store"
	"github.com/sirocco-dev/sirocco/internal/tasklog"
	"github.com/sirocco-dev/sirocco/internal/testenv"
)

const (
	// sparkPoll is how often the benchmark polls the store for a task's
	// handle and the master for its driver's state: the granularity of
	// the driver timestamps it takes.
	sparkPoll = 50 * time.Millisecond
	// sparkRunTimeout bounds one Spark run.
	sparkRunTimeout = 3 * time.Minute
	// sparkSleepSeconds is how long the JVM application's one task sleeps.
	sparkSleepSeconds = "3"
)

// sparkBench is a Spark benchmark's engine and its view of the cluster.
type sparkBench struct {
	r    *rig
	cl   *testenv.SparkCluster
	c    *spark.Client
	jar  string // the test jar (Sleep, Echo)
	seed string // examples/jobs/seed_example.py
}

// startSparkBench starts (or reuses) the cluster, points spark-submit and
// the spark_cluster connection at it, and runs an engine on SQLite over the
// DAGs dags(jar, seed) returns.
func startSparkBench(b *testing.B, dags func(jar, seed string) map[string]string) *sparkBench {
	b.Helper()
	cl := testenv.Spark(b)
	jar := testenv.SparkTestJar(b)
	for _, kv := range cl.Env() {
		k, v, _ := strings.Cut(kv, "=")
		b.Setenv(k, v)
	}
	host := strings.TrimPrefix(cl.MasterURL, "spark://")
	b.Setenv("SIROCCO_CONN_SPARK_CLUSTER", fmt.Sprintf("spark://%s?rest_url=%s&master_ui=%s",
		host, url.QueryEscape(cl.RESTURL), url.QueryEscape(cl.MasterUI)))
	seed, err := filepath.Abs(filepath.Join("..", "examples", "jobs", "seed_example.py"))
	if err != nil {
		b.Fatal(err)
	}
	tr := &http.Transport{}
	b.Cleanup(tr.CloseIdleConnections)
	c := &spark.Client{RESTURL: cl.RESTURL, MasterUIURL: cl.MasterUI,
		HTTP: &http.Client{Timeout: spark.RequestTimeout, Transport: tr}}
	dsn := "sqlite://" + filepath.Join(workDir(b), "sirocco.db")
	return &sparkBench{r: startEngine(b, dsn, dags(jar, seed)), cl: cl, c: c, jar: jar, seed: seed}
}

// sparkHandleIDs is the part of a Spark task's handle the benchmark reads.
type sparkHandleIDs struct {
	DriverID string `json:"driver_id"`
	AppID    string `json:"app_id"`
}

// driverSeen is what the benchmark's own polling saw of a cluster driver.
type driverSeen struct {
	driverID           string
	running, finished  time.Time // first poll answers showing RUNNING, then a final state
	finalState         string
	statusPolls, fails int
}

// sparkTaskRun is one Spark task's run, with the master's records.
type sparkTaskRun struct {
	ti     store.TaskInstance
	ids    sparkHandleIDs
	seen   driverSeen       // cluster mode only
	driver spark.DriverInfo // cluster mode only: the master's record
	app    spark.AppInfo    // the completed application
}

func (t sparkTaskRun) wall() time.Duration { return t.ti.EndDate.Sub(t.ti.StartDate) }

// appEnd is when the master saw the application end.
func (t sparkTaskRun) appEnd() time.Time { return t.app.StartTime.Add(t.app.Duration) }

// overhead is the task's wall time minus the application's run time.
func (t sparkTaskRun) overhead() time.Duration { return t.wall() - t.app.Duration }

// runSparkTask triggers dagID (one task, taskID), follows the task's driver
// when cluster is set, waits for the run to succeed and collects the
// master's records of its driver and application.
func (s *sparkBench) runSparkTask(b *testing.B, dagID, taskID string, cluster bool) sparkTaskRun {
	b.Helper()
	runID, done := s.r.trigger(dagID)
	key := store.TaskKey{DagID: dagID, RunID: runID, TaskID: taskID}
	ctx, cancel := context.WithCancel(context.Background())
	seenCh := make(chan driverSeen, 1)
	if cluster {
		go func() { seenCh <- s.followDriver(ctx, key) }()
	} else {
		seenCh <- driverSeen{}
	}
	var end runEnd
	select {
	case end = <-done:
	case <-time.After(sparkRunTimeout):
	}
	// The run can be recorded before the follower's next poll sees the
	// driver end: give it a few polls to catch up before stopping it.
	var seen driverSeen
	select {
	case seen = <-seenCh:
	case <-time.After(20 * sparkPoll):
		cancel()
		seen = <-seenCh
	}
	cancel()
	if end.state != store.RunSuccess {
		b.Fatalf("run %s of %s ended %q (driver %+v); task log:\n%s", runID, dagID, end.state, seen,
			s.taskLog(dagID, runID, taskID))
	}
	out := sparkTaskRun{ti: s.r.taskInstances(dagID, runID)[taskID], seen: seen}
	if err := json.Unmarshal(out.ti.Handle, &out.ids); err != nil {
		b.Fatalf("%s: handle %q: %v", taskID, out.ti.Handle, err)
	}
	if cluster && (seen.running.IsZero() || seen.finished.IsZero()) {
		b.Fatalf("%s: the driver was not seen RUNNING and then ended: %+v", taskID, seen)
	}
	if cluster && out.ids.AppID == "" {
		// The tracker records the application only if it polls while the
		// driver runs; the driver's log still names it.
		app, err := s.c.AppIDForDriver(context.Background(), out.ids.DriverID)
		if err != nil {
			b.Fatalf("%s: application of %s: %v", taskID, out.ids.DriverID, err)
		}
		out.ids.AppID = app
	}
	if out.ids.AppID == "" {
		b.Fatalf("%s: no application id in handle %s", taskID, out.ti.Handle)
	}
	out.app, out.driver = s.masterRecords(b, out.ids)
	return out
}

// followDriver polls the store for the task's handle until it names a
// driver, then the master's REST status of that driver until it ends,
// recording when each state is first seen.
func (s *sparkBench) followDriver(ctx context.Context, key store.TaskKey) driverSeen {
	var seen driverSeen
	tick := time.NewTicker(sparkPoll)
	defer tick.Stop()
	for ; ; <-tick.C {
		if ctx.Err() != nil {
			return seen
		}
		if seen.driverID == "" {
			ti, err := s.r.st.GetTaskInstance(ctx, key)
			var h sparkHandleIDs
			if err != nil || len(ti.Handle) == 0 || json.Unmarshal(ti.Handle, &h) != nil || h.DriverID == "" {
				continue
			}
			seen.driverID = h.DriverID
		}
		st, err := s.c.Status(ctx, seen.driverID)
		now := time.Now()
		seen.statusPolls++
		if err != nil {
			seen.fails++
			continue
		}
		if seen.running.IsZero() && (st.State == spark.StateRunning || st.Terminal()) {
			seen.running = now
		}
		if st.Terminal() {
			seen.finished, seen.finalState = now, st.State
			return seen
		}
	}
}

// masterRecords returns the master's record of the completed application
// and, for a cluster-mode task, of its driver, waiting a little for the
// application to move to the completed list.
func (s *sparkBench) masterRecords(b *testing.B, ids sparkHandleIDs) (spark.AppInfo, spark.DriverInfo) {
	b.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		m, err := s.c.Master(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		var app spark.AppInfo
		found := false
		for _, a := range m.CompletedApps {
			if a.ID == ids.AppID {
				app, found = a, true
			}
		}
		d, dok := m.Driver(ids.DriverID)
		if found && (ids.DriverID == "" || dok) {
			if app.Duration <= 0 || app.StartTime.IsZero() {
				b.Fatalf("application %s without start time or duration: %+v", ids.AppID, app)
			}
			return app, d
		}
		if time.Now().After(deadline) {
			b.Fatalf("the master lists no completed application %s (driver %q found: %v)", ids.AppID, ids.DriverID, dok)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// taskLog returns try 1's log of a task, for failures.
func (s *sparkBench) taskLog(dagID, runID, taskID string) string {
	data, err := os.ReadFile(tasklog.Path(s.r.cfg.LogsDir(), dagID, runID, taskID, 1))
	if err != nil {
		return err.Error()
	}
	return string(data)
}

// sparkSamples gathers one duration series per metric name, in the order
// first added, and reports each series' median.
type sparkSamples struct {
	names []string
	data  map[string][]time.Duration
}

func (s *sparkSamples) add(name string, d time.Duration) {
	if s.data == nil {
		s.data = map[string][]time.Duration{}
	}
	if _, ok := s.data[name]; !ok {
		s.names = append(s.names, name)
	}
	s.data[name] = append(s.data[name], d)
}

func (s *sparkSamples) report(b *testing.B) {
	for _, name := range s.names {
		b.ReportMetric(ms(percentile(slices.Clone(s.data[name]), 50)), name+"-p50-ms")
	}
	// Every sample, in run order, one line per operator (the name's
	// first word): go test keeps only 10 lines of a benchmark's log.
	var lines []string
	line := map[string]int{}
	for _, name := range s.names {
		op, metric, _ := strings.Cut(name, "-")
		i, ok := line[op]
		if !ok {
			i, line[op] = len(lines), len(lines)
			lines = append(lines, op+" (ms):")
		}
		var vals []string
		for _, d := range s.data[name] {
			vals = append(vals, fmt.Sprintf("%.0f", ms(d)))
		}
		lines[i] += " " + metric + "=" + strings.Join(vals, ",")
	}
	for _, l := range lines {
		b.Log(l)
	}
}

// BenchmarkSparkToRunning measures how soon a cluster-mode JVM driver is
// RUNNING on the master after its task starts, for spark_rest (one HTTP
// POST from Go) and spark_submit --deploy-mode cluster (a spark-submit JVM
// that submits over RPC), on the same cluster with the same application:
// the test jar's Sleep class, whose one Spark task sleeps 3s.
//
// to-running is the task's start_date in the store to the first answer of
// the master's REST status (/v1/submissions/status, polled every 50ms from
// the moment the task's stored handle names the driver) that says RUNNING.
// The master sets RUNNING when it hands the driver to a worker, which it
// does as it accepts the submission when the worker has room: the figure is
// the time to a submitted driver, not to a driver JVM that has started.
// to-submitted is the same span measured with the master's own clock (the
// driver's starttime, in ms, no polling error); to-app ends instead when
// the driver's SparkContext registered its application with the master
// (the driver JVM has started and initialised Spark).
// A to-running below two polls (100ms) is at the polling floor: trust
// to-submitted there. Wall times come in steps of the operator's 1s
// status_poll_interval. The two operators alternate their order in each
// iteration, which runs each once.
func BenchmarkSparkToRunning(b *testing.B) {
	s := startSparkBench(b, func(jar, _ string) map[string]string {
		jvm := func(op, extra string) string {
			return `
tasks:
  - id: sleep
    operator: ` + op + `
    conn_id: spark_cluster` + extra + `
    application: ` + jar + `
    java_class: ` + testenv.SparkSleepClass + `
    application_args: ["` + sparkSleepSeconds + `"]
    driver_memory: 512m
    total_executor_cores: "1"
`
		}
		return map[string]string{
			"rest_jvm":   "dag_id: rest_jvm" + jvm("spark_rest", ""),
			"submit_jvm": "dag_id: submit_jvm" + jvm("spark_submit", "\n    deploy_mode: cluster"),
		}
	})
	var m sparkSamples
	one := func(name, dagID string) {
		t := s.runSparkTask(b, dagID, "sleep", true)
		start := t.ti.StartDate
		m.add(name+"-to-running", t.seen.running.Sub(start))
		m.add(name+"-to-submitted", t.driver.StartTime.Sub(start))
		m.add(name+"-to-app", t.app.StartTime.Sub(start))
		m.add(name+"-wall", t.wall())
	}
	i := 0
	for b.Loop() {
		if i%2 == 0 {
			one("rest", "rest_jvm")
			one("submit", "submit_jvm")
		} else {
			one("submit", "submit_jvm")
			one("rest", "rest_jvm")
		}
		i++
	}
	m.report(b)
	b.ReportMetric(ms(sparkPoll), "poll-ms")
}

// BenchmarkSparkOverhead measures what a Spark task costs beyond the
// application itself: the task's wall time (end_date - start_date in the
// store) minus the application's run time as the master reports it (its
// completed application's duration: SparkContext registered to stopped),
// for the seed story's PySpark job (examples/jobs/seed_example.py) run by
// spark_rest (cluster mode: the driver runs on the worker) and by
// spark_submit in client mode (spark-submit, here, is the driver).
//
// The overhead splits at the application's ends: before-app is the task's
// start to the application's registration (submission, driver JVM and
// Python start, SparkContext set-up), after-app the application's end to
// the task's end (driver shutdown, then Sirocco noticing it). For
// spark_rest, detect is the part of after-app that is Sirocco's alone: from
// the first 50ms poll of the benchmark's that saw the driver FINISHED to
// the task's end (the operator polls every status_poll_interval, 1s by
// default, then copies the driver's last log lines and writes the task's
// success). For client mode, bare is the same spark-submit command run by
// hand with os/exec (just before or just after the task, alternately), and
// over-bare the task's wall time minus it: what Sirocco adds around a
// client-mode spark-submit. The runs alternate their order in each
// iteration, which runs each once.
func BenchmarkSparkOverhead(b *testing.B) {
	s := startSparkBench(b, func(_, seed string) map[string]string {
		return map[string]string{
			"rest_py": `
dag_id: rest_py
tasks:
  - {id: seed, operator: spark_rest, conn_id: spark_cluster, application: ` + seed + `, driver_memory: 512m, total_executor_cores: "1"}
`,
			"client_py": `
dag_id: client_py
tasks:
  - {id: seed, operator: spark_submit, conn_id: spark_cluster, application: ` + seed + `, total_executor_cores: "1"}
`,
		}
	})
	var m sparkSamples
	rest := func() {
		t := s.runSparkTask(b, "rest_py", "seed", true)
		m.add("rest-overhead", t.overhead())
		m.add("rest-wall", t.wall())
		m.add("rest-app", t.app.Duration)
		m.add("rest-before-app", t.app.StartTime.Sub(t.ti.StartDate))
		m.add("rest-after-app", t.ti.EndDate.Sub(t.appEnd()))
		m.add("rest-detect", t.ti.EndDate.Sub(t.seen.finished))
	}
	client := func(bareFirst bool) {
		var bare time.Duration
		if bareFirst {
			bare = s.bareClientSubmit(b)
		}
		t := s.runSparkTask(b, "client_py", "seed", false)
		if !bareFirst {
			bare = s.bareClientSubmit(b)
		}
		m.add("client-overhead", t.overhead())
		m.add("client-wall", t.wall())
		m.add("client-app", t.app.Duration)
		m.add("client-before-app", t.app.StartTime.Sub(t.ti.StartDate))
		m.add("client-after-app", t.ti.EndDate.Sub(t.appEnd()))
		m.add("client-bare", bare)
		m.add("client-over-bare", t.wall()-bare)
	}
	i := 0
	for b.Loop() {
		if i%2 == 0 {
			rest()
			client(false)
		} else {
			client(true)
			rest()
		}
		i++
	}
	m.report(b)
	b.ReportMetric(ms(sparkPoll), "poll-ms")
}

// bareClientSubmit runs the client-mode task's spark-submit command by
// hand, with the cluster's environment, and returns its wall time.
func (s *sparkBench) bareClientSubmit(b *testing.B) time.Duration {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), sparkRunTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(s.cl.SparkHome, "bin", "spark-submit"),
		"--master", s.cl.MasterURL, "--total-executor-cores", "1", "--name", "bare.seed",
		"--deploy-mode", "client", s.seed)
	cmd.Env = append(os.Environ(), s.cl.Env()...)
	cmd.Dir = filepath.Dir(s.seed)
	start := time.Now()
	out, err := cmd.CombinedOutput()
	took := time.Since(start)
	if err != nil {
		b.Fatalf("bare spark-submit: %v\n%s", errors.Join(err, ctx.Err()), out)
	}
	return took
}

package engine

// Spark tasks end to end against a real standalone cluster (master with its
// REST server + worker, from the pyspark package) started by testenv.

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/dag"
	"github.com/sirocco-dev/sirocco/internal/scheduler"
	"github.com/sirocco-dev/sirocco/internal/spark"
	"github.com/sirocco-dev/sirocco/internal/store"
	"github.com/sirocco-dev/sirocco/internal/testenv"
)

const sparkToken = "tok-Sirocco-9f3a1"

// sparkSite starts the cluster, points spark-submit at it through the
// environment, and defines the spark_local and spark_cluster connections
// (the cluster's with a password, to check it never leaks).
func sparkSite(t *testing.T) *testenv.SparkCluster {
	t.Helper()
	cl := testenv.Spark(t)
	for _, kv := range cl.Env() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	t.Setenv("SIROCCO_CONN_SPARK_LOCAL", "spark://?master="+url.QueryEscape("local[2]"))
	host := strings.TrimPrefix(cl.MasterURL, "spark://")
	t.Setenv("SIROCCO_CONN_SPARK_CLUSTER", fmt.Sprintf("spark://:%s@%s?rest_url=%s&master_ui=%s",
		sparkToken, host, url.QueryEscape(cl.RESTURL), url.QueryEscape(cl.MasterUI)))
	return cl
}

func jobPath(t *testing.T, name string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("..", "..", "examples", "jobs", name))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func (h *harness) handle(dagID, runID, taskID string) map[string]any {
	h.t.Helper()
	var m map[string]any
	ti := h.tis(dagID, runID)[taskID]
	if len(ti.Handle) > 0 {
		if err := json.Unmarshal(ti.Handle, &m); err != nil {
			h.t.Fatal(err)
		}
	}
	return m
}

// sleeperDAG is a DAG whose one task, sleeper, runs the test jar's Sleep
// class as a cluster driver through spark_rest for seconds (templated).
func sleeperDAG(id, jar, seconds string) string {
	return `
dag_id: ` + id + `
tasks:
  - id: sleeper
    operator: spark_rest
    conn_id: spark_cluster
    application: ` + jar + `
    java_class: sirocco.test.Sleep
    application_args: ["` + seconds + `"]
    driver_memory: 512m
`
}

// waitDriverID waits until the task's stored handle names its driver.
func (h *harness) waitDriverID(dagID, runID, taskID string) string {
	h.t.Helper()
	var id string
	testenv.Eventually(h.t, "the driver id to be stored", 5*time.Minute, func() (bool, string) {
		handle := h.handle(dagID, runID, taskID)
		id, _ = handle["driver_id"].(string)
		return id != "", fmt.Sprintf("%s; handle of %s: %v", h.states(dagID, runID), taskID, handle)
	})
	return id
}

func TestSparkSeedExampleLocalClientAndCluster(t *testing.T) {
	cl := sparkSite(t)
	seed := jobPath(t, "seed_example.py")
	h := start(t, map[string]string{"seed": `
dag_id: seed
default_args: {execution_timeout: 5m}
tasks:
  - {id: local_mode, operator: spark_submit, conn_id: spark_local, application: ` + seed + `}
  - {id: client_mode, operator: spark_submit, conn_id: spark_cluster, application: ` + seed + `, total_executor_cores: "1"}
  - {id: cluster_rest, operator: spark_rest, conn_id: spark_cluster, application: ` + seed + `, total_executor_cores: "1"}
`})
	runID := h.trigger("seed", nil)
	if run := h.waitRunWithin("seed", runID, 4*time.Minute); run.State != store.RunSuccess {
		t.Fatalf("run %s: %v\n%s", run.State, h.tis("seed", runID), h.log("seed", runID, "cluster_rest", 1))
	}
	for _, task := range []string{"local_mode", "client_mode", "cluster_rest"} {
		log := h.log("seed", runID, task, 1)
		if !strings.Contains(log, "|  Alice| 30|") {
			t.Errorf("%s: the DataFrame shown by the job is not in the task log:\n%s", task, log)
		}
	}
	if hd := h.handle("seed", runID, "client_mode"); !strings.HasPrefix(fmt.Sprint(hd["app_id"]), "app-") ||
		fmt.Sprint(hd["spark_ui"]) != cl.MasterUI+"/app/?appId="+fmt.Sprint(hd["app_id"]) {
		t.Errorf("client mode handle %v lacks the application id or the master's page of it", hd)
	}
	// Local mode has no application id in Spark 4's output, only its UI.
	if hd := h.handle("seed", runID, "local_mode"); !strings.HasPrefix(fmt.Sprint(hd["spark_ui"]), "http://") {
		t.Errorf("local mode handle %v lacks the Spark UI link", hd)
	}
	hd := h.handle("seed", runID, "cluster_rest")
	if hd["kind"] != "spark_driver" || !strings.HasPrefix(fmt.Sprint(hd["driver_id"]), "driver-") {
		t.Errorf("cluster handle %v lacks the driver id", hd)
	}
	if !strings.HasPrefix(fmt.Sprint(hd["app_id"]), "app-") || !strings.HasPrefix(fmt.Sprint(hd["spark_ui"]), cl.MasterUI) {
		t.Errorf("cluster handle %v lacks the application id and UI link", hd)
	}
	for _, task := range []string{"client_mode", "cluster_rest"} {
		if log := h.log("seed", runID, task, 1); strings.Contains(log, sparkToken) {
			t.Errorf("%s: the connection's password reached the task log", task)
		}
	}
}

func TestSparkSubmitClusterModeTracksDriver(t *testing.T) {
	cl := sparkSite(t)
	jar := testenv.SparkTestJar(t)
	h := start(t, map[string]string{"jvm": `
dag_id: jvm
tasks:
  - id: echo
    operator: spark_submit
    conn_id: spark_cluster
    deploy_mode: cluster
    application: ` + jar + `
    java_class: sirocco.test.Echo
    application_args: ["hello-from-the-driver", "` + sparkToken + `"]
    driver_memory: 512m
`})
	runID := h.trigger("jvm", nil)
	if run := h.waitRunWithin("jvm", runID, 3*time.Minute); run.State != store.RunSuccess {
		t.Fatalf("run %s\n%s", run.State, h.log("jvm", runID, "echo", 1))
	}
	hd := h.handle("jvm", runID, "echo")
	id := fmt.Sprint(hd["driver_id"])
	if hd["kind"] != "spark_driver" || !strings.HasPrefix(id, "driver-") {
		t.Fatalf("handle %v: the driver id was not stored", hd)
	}
	log := h.log("jvm", runID, "echo", 1)
	if !strings.Contains(log, "hello-from-the-driver") || !strings.Contains(log, "driver "+id+" is FINISHED") {
		t.Errorf("the driver's output and final state should be in the task log:\n%s", log)
	}
	if strings.Contains(log, sparkToken) || !strings.Contains(log, "***") {
		t.Errorf("the connection's password printed by the driver must be masked:\n%s", log)
	}
	c := &spark.Client{RESTURL: cl.RESTURL, MasterUIURL: cl.MasterUI}
	st, err := c.Status(context.Background(), id)
	if err != nil || st.State != "FINISHED" {
		t.Errorf("master says driver %s is %v (%v)", id, st.State, err)
	}
}

// TestSparkSubmitCancelledWhileSubmittingLeavesNoDriver: a timeout that
// fires while spark-submit is still starting (before the master answered)
// must not leave a driver nobody knows about: spark-submit may finish
// submitting, and the driver it reports is killed.
func TestSparkSubmitCancelledWhileSubmittingLeavesNoDriver(t *testing.T) {
	cl := sparkSite(t)
	jar := testenv.SparkTestJar(t)
	h := start(t, map[string]string{"early": `
dag_id: early
tasks:
  - id: sleeper
    operator: spark_submit
    conn_id: spark_cluster
    deploy_mode: cluster
    application: ` + jar + `
    java_class: sirocco.test.Sleep
    application_args: ["300"]
    driver_memory: 512m
    execution_timeout: 200ms
`})
	runID := h.trigger("early", nil)
	if run := h.waitRunWithin("early", runID, 3*time.Minute); run.State != store.RunFailed {
		t.Fatalf("run %s, want failed by the timeout", run.State)
	}
	log := h.log("early", runID, "sleeper", 1)
	id := fmt.Sprint(h.handle("early", runID, "sleeper")["driver_id"])
	if !strings.HasPrefix(id, "driver-") {
		t.Fatalf("the driver spark-submit reported after the timeout was not stored (handle %v):\n%s",
			h.handle("early", runID, "sleeper"), log)
	}
	if !strings.Contains(log, "waiting for spark-submit to report its driver") || !strings.Contains(log, "killing driver "+id) {
		t.Errorf("log should say the late driver was killed:\n%s", log)
	}
	wantKilled(t, cl, id)
}

func TestSparkFailingJobsShowTheTraceback(t *testing.T) {
	sparkSite(t)
	fails := jobPath(t, "fails.py")
	h := start(t, map[string]string{"boom": `
dag_id: boom
tasks:
  - {id: local, operator: spark_submit, conn_id: spark_local, application: ` + fails + `}
  - {id: cluster, operator: spark_rest, conn_id: spark_cluster, application: ` + fails + `, total_executor_cores: "1"}
`})
	runID := h.trigger("boom", nil)
	if run := h.waitRunWithin("boom", runID, 3*time.Minute); run.State != store.RunFailed {
		t.Fatalf("run %s, want failed", run.State)
	}
	for _, task := range []string{"local", "cluster"} {
		if s := h.tis("boom", runID)[task].State; s != store.StateFailed {
			t.Errorf("%s is %s, want failed", task, s)
		}
		log := h.log("boom", runID, task, 1)
		if !strings.Contains(log, "Traceback (most recent call last)") || !strings.Contains(log, "ValueError: boom from PySpark") {
			t.Errorf("%s: the Python traceback is not in the task log:\n%s", task, log)
		}
	}
}

func TestSparkTimeoutKillsTheDriver(t *testing.T) {
	cl := sparkSite(t)
	jar := testenv.SparkTestJar(t)
	h := start(t, map[string]string{"slow": `
dag_id: slow
tasks:
  - id: sleeper
    operator: spark_rest
    conn_id: spark_cluster
    application: ` + jar + `
    java_class: sirocco.test.Sleep
    application_args: ["300"]
    driver_memory: 512m
    execution_timeout: 25s
`})
	runID := h.trigger("slow", nil)
	if run := h.waitRunWithin("slow", runID, 2*time.Minute); run.State != store.RunFailed {
		t.Fatalf("run %s, want failed by the timeout", run.State)
	}
	id := fmt.Sprint(h.handle("slow", runID, "sleeper")["driver_id"])
	log := h.log("slow", runID, "sleeper", 1)
	if !strings.Contains(log, "execution_timeout of 25s exceeded") || !strings.Contains(log, "killing driver "+id) {
		t.Errorf("log should say the timeout killed the driver:\n%s", log)
	}
	wantKilled(t, cl, id)
}

// wantKilled checks that the master lists driver id as KILLED and not among
// its active drivers: nothing orphaned.
func wantKilled(t *testing.T, cl *testenv.SparkCluster, id string) {
	t.Helper()
	c := &spark.Client{RESTURL: cl.RESTURL, MasterUIURL: cl.MasterUI}
	m, err := c.Master(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if d, ok := m.Driver(id); !ok || d.State != "KILLED" {
		t.Errorf("master lists driver %s as %+v (found %v), want KILLED", id, d, ok)
	}
	for _, a := range m.ActiveDrivers {
		if a.ID == id {
			t.Errorf("driver %s is still active on the master: orphaned", id)
		}
	}
}

// TestSparkSecretsNotInProcessList runs a client-mode job and checks every
// process's command line while it runs: the connection's password is not
// passed on any of them.
func TestSparkSecretsNotInProcessList(t *testing.T) {
	sparkSite(t)
	jar := testenv.SparkTestJar(t)
	h := start(t, map[string]string{"ps": `
dag_id: ps
tasks:
  - id: sleeper
    operator: spark_submit
    conn_id: spark_cluster
    application: ` + jar + `
    java_class: sirocco.test.Sleep
    application_args: ["6"]
    total_executor_cores: "1"
`})
	runID := h.trigger("ps", nil)
	testenv.Eventually(t, "spark-submit to run", 5*time.Minute, func() (bool, string) {
		ti := h.tis("ps", runID)["sleeper"]
		return ti.State == store.StateRunning && len(ti.Handle) > 0, fmt.Sprintf("sleeper %s, handle %s", stateName(ti.State), ti.Handle)
	})
	sawSubmit := false
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		cmd, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		if strings.Contains(string(cmd), "sirocco.test.Sleep") {
			sawSubmit = true
		}
		if strings.Contains(string(cmd), sparkToken) {
			t.Errorf("process %s has the password on its command line: %q", e.Name(), cmd)
		}
	}
	if !sawSubmit {
		t.Error("precondition: spark-submit's process was not found")
	}
	if run := h.waitRunWithin("ps", runID, 2*time.Minute); run.State != store.RunSuccess {
		t.Fatalf("run %s\n%s", run.State, h.log("ps", runID, "sleeper", 1))
	}
}

// TestSparkCancelKillsTheDriver marks a running Spark task failed, as a
// user stopping it would: the executor notices on its heartbeat, kills the
// driver on the master and leaves the task failed.
func TestSparkCancelKillsTheDriver(t *testing.T) {
	cl := sparkSite(t)
	jar := testenv.SparkTestJar(t)
	h := start(t, map[string]string{"cancel": sleeperDAG("cancel", jar, "300")})
	runID := h.trigger("cancel", nil)
	id := h.waitDriverID("cancel", runID, "sleeper")
	now := time.Now().UTC()
	k := store.TaskKey{DagID: "cancel", RunID: runID, TaskID: "sleeper"}
	if ok, err := h.st.UpdateTask(context.Background(), store.TaskUpdate{Key: k, From: []store.TaskState{store.StateRunning},
		To: store.StateFailed, EndDate: &now}); err != nil || !ok {
		t.Fatalf("mark failed: %v %v", ok, err)
	}
	c := &spark.Client{RESTURL: cl.RESTURL, MasterUIURL: cl.MasterUI}
	testenv.Eventually(t, "the master to report the driver KILLED", time.Minute, func() (bool, string) {
		st, err := c.Status(context.Background(), id)
		return err == nil && st.State == "KILLED", fmt.Sprintf("driver %s: %s, %v", id, st, err)
	})
	if run := h.waitRunWithin("cancel", runID, time.Minute); run.State != store.RunFailed {
		t.Errorf("run %s, want failed", run.State)
	}
	if s := h.tis("cancel", runID)["sleeper"].State; s != store.StateFailed {
		t.Errorf("task %s, want failed", s)
	}
}

// TestSparkWordcountExample runs the shipped examples/dags/spark_wordcount.yaml
// as it is: a generated input, counted by a cluster-mode PySpark driver.
func TestSparkWordcountExample(t *testing.T) {
	sparkSite(t)
	body, err := os.ReadFile(filepath.Join("..", "..", "examples", "dags", "spark_wordcount.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	h := start(t, map[string]string{"spark_wordcount": string(body)})
	jobs, _ := filepath.Abs(filepath.Join("..", "..", "examples", "jobs"))
	if err := os.Symlink(jobs, filepath.Join(h.dir, "jobs")); err != nil {
		t.Fatal(err)
	}
	runID := h.trigger("spark_wordcount", map[string]any{"lines": 300})
	if run := h.waitRunWithin("spark_wordcount", runID, 3*time.Minute); run.State != store.RunSuccess {
		t.Fatalf("run %s\n%s", run.State, h.log("spark_wordcount", runID, "wordcount", 1))
	}
	log := h.log("spark_wordcount", runID, "wordcount", 1)
	if !strings.Contains(log, "distinct words, written to") || !strings.Contains(log, "spark\t") {
		t.Errorf("the driver's report (top words, spark first) is not in the task log:\n%s", log)
	}
}

// TestSparkClearRestartsTheDriver clears a running Spark task: the first
// driver is killed on the master before the task runs again with a second.
func TestSparkClearRestartsTheDriver(t *testing.T) {
	cl := sparkSite(t)
	jar := testenv.SparkTestJar(t)
	h := start(t, map[string]string{"again": sleeperDAG("again", jar, "{{ '300' if ti.try_number == 1 else '1' }}")})
	runID := h.trigger("again", nil)
	first := h.waitDriverID("again", runID, "sleeper")
	ti := h.tis("again", runID)["sleeper"]
	if ok, err := h.st.UpdateTask(context.Background(), store.TaskUpdate{Key: ti.TaskKey,
		From: []store.TaskState{store.StateRunning}, FromTry: &ti.TryNumber, To: store.StateRestarting}); err != nil || !ok {
		t.Fatalf("clear the running task: %v %v", ok, err)
	}
	if run := h.waitRunWithin("again", runID, 2*time.Minute); run.State != store.RunSuccess {
		t.Fatalf("run %s\n%s", run.State, h.log("again", runID, "sleeper", 2))
	}
	second, _ := h.handle("again", runID, "sleeper")["driver_id"].(string)
	if second == "" || second == first || h.tis("again", runID)["sleeper"].TryNumber != 2 {
		t.Fatalf("try 2 should have its own driver: first %s, second %s", first, second)
	}
	c := &spark.Client{RESTURL: cl.RESTURL, MasterUIURL: cl.MasterUI}
	m, err := c.Master(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if d, ok := m.Driver(first); !ok || d.State != "KILLED" {
		t.Errorf("the cleared try's driver %s is %+v, want KILLED before the retry", first, d)
	}
	if d, ok := m.Driver(second); !ok || d.State != "FINISHED" {
		t.Errorf("the new driver %s is %+v, want FINISHED", second, d)
	}
}

// lostSubmission stores, as a crashed Sirocco would have left it, a running
// try of the lost DAG's sleeper owned by a worker that is gone, whose
// handle says "submitting" with tag: Sirocco died between sending the
// submission and storing the master's answer.
func (h *harness) lostSubmission(cl *testenv.SparkCluster, tag string, submittedAt time.Time) string {
	h.t.Helper()
	d := h.eng.Bag.DAGs()["lost"]
	at := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	run, tis := scheduler.NewRunRecords(d, store.RunManual, dag.Interval{Start: at, End: at}, nil, time.Now().UTC())
	run.State, run.StartDate = store.RunRunning, time.Now().UTC()
	handle, err := json.Marshal(map[string]any{"kind": "spark_submitting", "conn_id": "spark_cluster",
		"master": cl.MasterURL, "rest_url": cl.RESTURL, "master_ui": cl.MasterUI,
		"submission": tag, "submitted_at": submittedAt.UnixMilli()})
	if err != nil {
		h.t.Fatal(err)
	}
	tis[0].State, tis[0].TryNumber, tis[0].WorkerID, tis[0].Handle = store.StateRunning, 1, "crashed-worker", handle
	tis[0].StartDate, tis[0].HeartbeatAt = submittedAt, submittedAt
	if err := h.st.CreateRun(context.Background(), run, tis); err != nil {
		h.t.Fatal(err)
	}
	h.eng.Loop.Kick()
	return run.RunID
}

// masterDrivers counts the drivers the master knows.
func masterDrivers(t *testing.T, c *spark.Client) int {
	t.Helper()
	m, err := c.Master(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return len(m.ActiveDrivers) + len(m.CompletedDrivers)
}

// TestSparkRestCrashWhileSubmittingFindsTheDriver: Sirocco died after the
// master accepted a spark_rest submission but before the driver id was
// stored. On the next start the try is adopted, its driver found by the
// submission tag, stored and tracked to the end: the master holds exactly
// the one driver, never a second submission.
func TestSparkRestCrashWhileSubmittingFindsTheDriver(t *testing.T) {
	cl := sparkSite(t)
	jar := testenv.SparkTestJar(t)
	c := &spark.Client{RESTURL: cl.RESTURL, MasterUIURL: cl.MasterUI, Token: sparkToken}
	before := masterDrivers(t, c)
	tag := "crash-test-" + fmt.Sprint(time.Now().UnixNano())
	submittedAt := time.Now()
	id, err := c.Submit(context.Background(), spark.SubmitRequest{
		AppResource: "file:" + jar, MainClass: testenv.SparkSleepClass, AppArgs: []string{"3"},
		SparkProperties: map[string]string{"spark.master": cl.MasterURL, "spark.submit.deployMode": "cluster",
			"spark.jars": "file:" + jar, "spark.driver.memory": "512m", "spark.app.name": "lost.sleeper",
			"spark.sirocco.submission": tag},
		ClientSparkVersion: "4.0.1",
	})
	if err != nil {
		t.Fatal(err)
	}
	h := start(t, map[string]string{"lost": sleeperDAG("lost", jar, "3")})
	runID := h.lostSubmission(cl, tag, submittedAt)
	if run := h.waitRunWithin("lost", runID, 3*time.Minute); run.State != store.RunSuccess {
		t.Fatalf("run %s\n%s", run.State, h.log("lost", runID, "sleeper", 1))
	}
	hd := h.handle("lost", runID, "sleeper")
	if hd["kind"] != "spark_driver" || hd["driver_id"] != id {
		t.Errorf("handle %v, want the driver %s found by its tag", hd, id)
	}
	log := h.log("lost", runID, "sleeper", 1)
	if !strings.Contains(log, "found driver "+id+" of submission "+tag) || !strings.Contains(log, "driver "+id+" is FINISHED") {
		t.Errorf("log should show the driver found and tracked:\n%s", log)
	}
	if n := masterDrivers(t, c) - before; n != 1 {
		t.Errorf("the master got %d drivers for the task, want exactly 1", n)
	}
}

// TestSparkRestCrashBeforeTheMasterAnswered: the submission never reached
// the master. The adopted try finds no driver, fails (its retries decide
// what follows), and nothing is left on the cluster.
func TestSparkRestCrashBeforeTheMasterAnswered(t *testing.T) {
	cl := sparkSite(t)
	jar := testenv.SparkTestJar(t)
	c := &spark.Client{RESTURL: cl.RESTURL, MasterUIURL: cl.MasterUI, Token: sparkToken}
	before := masterDrivers(t, c)
	h := start(t, map[string]string{"lost": sleeperDAG("lost", jar, "3")})
	runID := h.lostSubmission(cl, "never-sent-"+fmt.Sprint(time.Now().UnixNano()), time.Now())
	if run := h.waitRunWithin("lost", runID, 2*time.Minute); run.State != store.RunFailed {
		t.Fatalf("run %s, want failed\n%s", run.State, h.log("lost", runID, "sleeper", 1))
	}
	if log := h.log("lost", runID, "sleeper", 1); !strings.Contains(log, "the master never received submission") {
		t.Errorf("log should say nothing was submitted:\n%s", log)
	}
	if n := masterDrivers(t, c) - before; n != 0 {
		t.Errorf("the master got %d drivers, want none", n)
	}
}

package spark_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/spark"
	"github.com/sirocco-dev/sirocco/internal/testenv"
)

// These tests run against the real standalone cluster of testenv.Spark,
// one test at a time: they assert on the master's lists of drivers, which
// a concurrent test would change.

func TestMain(m *testing.M) { testenv.RunMain(m) }

// small keeps every JVM of a test application at 512 MiB and one core,
// so an application fits the test worker's 2 GiB.
var small = map[string]string{
	"spark.driver.memory":   "512m",
	"spark.executor.memory": "512m",
	"spark.cores.max":       "1",
}

func newClient(t *testing.T) (*testenv.SparkCluster, *spark.Client) {
	t.Helper()
	cl := testenv.Spark(t)
	return cl, &spark.Client{RESTURL: cl.RESTURL, MasterUIURL: cl.MasterUI}
}

// job returns the path of an example job in examples/jobs.
func job(t *testing.T, name string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("..", "..", "examples", "jobs", name))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// submitPy submits an example PySpark job with small JVMs.
func submitPy(t *testing.T, cl *testenv.SparkCluster, c *spark.Client, name string, args ...string) string {
	t.Helper()
	req := spark.PySparkRequest(cl.MasterURL, job(t, name), args, small,
		map[string]string{"PYSPARK_PYTHON": cl.Python}, nil)
	id, err := c.Submit(t.Context(), req)
	if err != nil {
		t.Fatalf("submit %s: %v", name, err)
	}
	if !strings.HasPrefix(id, "driver-") {
		t.Fatalf("submission id %q", id)
	}
	return id
}

// observed describes what a poll read, or why it read nothing.
func observed(what any, err error) string {
	if err != nil {
		return fmt.Sprintf("%v (error: %v)", what, err)
	}
	return fmt.Sprint(what)
}

// waitTerminal polls the driver's status until it has ended.
func waitTerminal(t *testing.T, c *spark.Client, id string) spark.DriverStatus {
	t.Helper()
	var st spark.DriverStatus
	testenv.Eventually(t, "driver "+id+" to end", 5*time.Minute, func() (bool, string) {
		var err error
		st, err = c.Status(t.Context(), id)
		return err == nil && st.Terminal(), observed(st, err)
	})
	return st
}

// readLog reads a driver's whole log by following DriverLog's offsets.
func readLog(t *testing.T, c *spark.Client, ui, id, logType string) string {
	t.Helper()
	var (
		b      strings.Builder
		offset int64
	)
	for {
		data, next, total, err := c.DriverLog(t.Context(), ui, id, logType, offset)
		if err != nil {
			t.Fatalf("%s of %s: %v", logType, id, err)
		}
		b.Write(data)
		if next >= total {
			return b.String()
		}
		offset = next
	}
}

// TestPySparkSeedExample runs the seed's PySpark example through the REST
// server: it finishes, its stdout has the DataFrame, and its application
// is found from the driver.
func TestPySparkSeedExample(t *testing.T) {
	cl, c := newClient(t)
	start := time.Now()
	id := submitPy(t, cl, c, "seed_example.py")
	st := waitTerminal(t, c, id)
	t.Logf("%s: %s after %s", id, st, time.Since(start).Round(time.Millisecond))
	if st.State != spark.StateFinished {
		t.Fatalf("state %s, want FINISHED (%s)", st, st.Message)
	}

	ui, err := c.WorkerWebUI(t.Context(), st.WorkerID)
	if err != nil || ui != cl.WorkerUI {
		t.Fatalf("worker UI %q, %v; want %s", ui, err, cl.WorkerUI)
	}
	stdout := readLog(t, c, ui, id, spark.Stdout)
	for _, row := range []string{"|   Name|Age|", "|  Alice| 30|", "|    Bob| 25|", "|Charlie| 35|"} {
		if !strings.Contains(stdout, row) {
			t.Errorf("stdout lacks %q:\n%s", row, stdout)
		}
	}

	appID, err := c.AppIDForDriver(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	ms, err := c.Master(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	app, ok := ms.App(appID)
	if !ok || app.Name != "SimplePySpark" || app.State != "FINISHED" || app.StartTime.IsZero() {
		t.Errorf("application %s: %+v (listed: %v), want SimplePySpark FINISHED", appID, app, ok)
	}
	d, ok := ms.Driver(id)
	if !ok || d.State != spark.StateFinished || d.MainClass != spark.SparkSubmitClass ||
		d.Worker != st.WorkerID || d.Memory != 512 || d.StartTime.Before(start.Add(-time.Minute)) {
		t.Errorf("driver %s in the master: %+v (listed: %v)", id, d, ok)
	}
}

// TestPySparkFailure: a job raising an exception ends FAILED with the
// Python traceback in the driver's log. PySpark's runner merges the Python
// process's stderr into its stdout, so the traceback is in the driver's
// stdout; its stderr has the JVM's log.
func TestPySparkFailure(t *testing.T) {
	cl, c := newClient(t)
	id := submitPy(t, cl, c, "fails.py")
	st := waitTerminal(t, c, id)
	if st.State != spark.StateFailed && st.State != spark.StateError {
		t.Fatalf("state %s, want FAILED or ERROR", st)
	}
	stdout := readLog(t, c, cl.WorkerUI, id, spark.Stdout)
	for _, want := range []string{"about to fail", "Traceback (most recent call last)", "ValueError: boom from PySpark"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout)
		}
	}
	if stderr := readLog(t, c, cl.WorkerUI, id, spark.Stderr); !strings.Contains(stderr, "Submitted application: FailingPySpark") {
		t.Errorf("stderr lacks the driver's JVM log:\n%s", stderr)
	}
}

// TestKillRunningDriver kills a cluster-mode JVM driver in the middle of
// its Spark job: it ends KILLED, the master lists it among the completed
// drivers and nothing stays active.
func TestKillRunningDriver(t *testing.T) {
	cl, c := newClient(t)
	jar := "file:" + testenv.SparkTestJar(t)
	props := map[string]string{
		"spark.master":            cl.MasterURL,
		"spark.app.name":          "sleep",
		"spark.jars":              jar,
		"spark.submit.deployMode": "cluster",
	}
	for k, v := range small {
		props[k] = v
	}
	id, err := c.Submit(t.Context(), spark.SubmitRequest{
		AppResource:     jar,
		MainClass:       testenv.SparkSleepClass,
		AppArgs:         []string{"600"},
		SparkProperties: props,
	})
	if err != nil {
		t.Fatal(err)
	}

	// Running, and inside its job: the application is registered.
	var appID string
	testenv.Eventually(t, "the application of "+id+" to register", 5*time.Minute, func() (bool, string) {
		var err error
		appID, err = c.AppIDForDriver(t.Context(), id)
		st, _ := c.Status(t.Context(), id)
		return err == nil, observed(st, err)
	})
	testenv.Eventually(t, id+" to start its job", 5*time.Minute, func() (bool, string) {
		data, _, _, err := c.DriverLog(t.Context(), cl.WorkerUI, id, spark.Stdout, 0)
		return strings.Contains(string(data), "sleeping 600s"), observed(fmt.Sprintf("stdout %q", data), err)
	})
	if st, err := c.Status(t.Context(), id); err != nil || st.State != spark.StateRunning {
		t.Fatalf("before the kill: %s, %v", st, err)
	}

	if err := c.Kill(t.Context(), id); err != nil {
		t.Fatal(err)
	}
	if st := waitTerminal(t, c, id); st.State != spark.StateKilled {
		t.Fatalf("after the kill: %s, want KILLED", st)
	}
	if err := c.Kill(t.Context(), id); !errors.Is(err, spark.ErrNotRunning) {
		t.Errorf("second kill: %v, want ErrNotRunning", err)
	}

	// The application goes once its driver is gone.
	var ms spark.MasterState
	testenv.Eventually(t, "the master to retire "+appID, time.Minute, func() (bool, string) {
		var err error
		ms, err = c.Master(t.Context())
		_, done := ms.App(appID)
		return err == nil && len(ms.ActiveApps) == 0 && done,
			observed(fmt.Sprintf("active apps %+v, %s completed: %v", ms.ActiveApps, appID, done), err)
	})
	if len(ms.ActiveDrivers) != 0 {
		t.Errorf("active drivers after the kill: %+v", ms.ActiveDrivers)
	}
	var found bool
	for _, d := range ms.CompletedDrivers {
		if d.ID == id {
			found = true
			if d.State != spark.StateKilled || d.MainClass != testenv.SparkSleepClass {
				t.Errorf("completed driver %+v, want %s KILLED", d, testenv.SparkSleepClass)
			}
		}
	}
	if !found {
		t.Errorf("%s not among the completed drivers %+v", id, ms.CompletedDrivers)
	}
}

// TestUnknownIDs: what the master does not know is ErrNotFound (or
// ErrNotRunning for a kill), and a rejected submission carries the
// server's message.
func TestUnknownIDs(t *testing.T) {
	cl, c := newClient(t)
	ctx := t.Context()
	const ghost = "driver-20000101000000-9999"
	if st, err := c.Status(ctx, ghost); !errors.Is(err, spark.ErrNotFound) {
		t.Errorf("status of an unknown driver: %s, %v; want ErrNotFound", st, err)
	}
	if err := c.Kill(ctx, ghost); !errors.Is(err, spark.ErrNotRunning) || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("kill of an unknown driver: %v; want ErrNotRunning with the master's message", err)
	}
	if _, err := c.AppIDForDriver(ctx, ghost); !errors.Is(err, spark.ErrNotFound) {
		t.Errorf("application of an unknown driver: %v; want ErrNotFound", err)
	}
	if _, _, _, err := c.DriverLog(ctx, cl.WorkerUI, ghost, spark.Stdout, 0); !errors.Is(err, spark.ErrNotFound) {
		t.Errorf("log of an unknown driver: %v; want ErrNotFound", err)
	}
	if _, err := c.WorkerWebUI(ctx, "worker-nope"); !errors.Is(err, spark.ErrNotFound) {
		t.Errorf("unknown worker: %v; want ErrNotFound", err)
	}

	bad := spark.PySparkRequest(cl.MasterURL, job(t, "seed_example.py"), nil,
		map[string]string{"spark.driver.memory": "lots"}, nil, nil)
	_, err := c.Submit(ctx, bad)
	var se *spark.Error
	if !errors.As(err, &se) || se.StatusCode != 400 || !strings.Contains(se.Message, "Malformed request") ||
		strings.Contains(se.Message, "\tat ") {
		t.Errorf("invalid submission: %v; want the server's message without stack frames", err)
	}

	down := &spark.Client{RESTURL: "http://127.0.0.1:1", MasterUIURL: "http://127.0.0.1:1"}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := down.Status(ctx, ghost); err == nil || errors.Is(err, spark.ErrNotFound) {
		t.Errorf("unreachable master: %v", err)
	}
}

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/spark"
	"github.com/sirocco-dev/sirocco/internal/testenv"
)

// TestSparkDriverReattachAfterKill9 kills `sirocco standalone` with SIGKILL
// while a cluster-mode driver runs, restarts it, and checks that it tracks
// the same driver to the end: the master has exactly one driver, finished.
func TestSparkDriverReattachAfterKill9(t *testing.T) {
	testSparkReattach(t, func(srv *server) { srv.kill9() })
}

// TestSparkDriverReattachAfterGracefulStop is the same with SIGTERM: a
// graceful stop leaves the driver running (it is not Sirocco's to kill) and
// the next start adopts it.
func TestSparkDriverReattachAfterGracefulStop(t *testing.T) {
	testSparkReattach(t, func(srv *server) { srv.stop() })
}

func testSparkReattach(t *testing.T, stop func(*server)) {
	cl := testenv.Spark(t)
	jar := testenv.SparkTestJar(t)
	s := newSite(t, map[string]string{"reattach.yaml": `dag_id: reattach
tasks:
  - id: long_driver
    operator: spark_rest
    conn_id: spark_cluster
    application: ` + jar + `
    java_class: sirocco.test.Sleep
    application_args: ["20"]
    driver_memory: 512m
`})
	host := strings.TrimPrefix(cl.MasterURL, "spark://")
	s.extraEnv = append(cl.Env(), fmt.Sprintf("SIROCCO_CONN_SPARK_CLUSTER=spark://%s?rest_url=%s&master_ui=%s",
		host, url.QueryEscape(cl.RESTURL), url.QueryEscape(cl.MasterUI)))
	c := &spark.Client{RESTURL: cl.RESTURL, MasterUIURL: cl.MasterUI}
	before, err := c.Master(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	known := len(before.ActiveDrivers) + len(before.CompletedDrivers)

	start := time.Now()
	srv := s.startServer()
	s.mustRun("dags", "trigger", "reattach", "--run-id", "r")
	var driverID string
	testenv.Eventually(t, "the driver id to be stored", 2*time.Minute, func() (bool, string) {
		out, _, _ := s.run("tasks", "state", "reattach", "r", "long_driver", "-o", "json")
		var tis []map[string]any
		if json.Unmarshal([]byte(out), &tis) != nil || len(tis) != 1 {
			return false, out
		}
		if st := tis[0]["state"]; st == "success" || st == "failed" || st == "up_for_retry" {
			t.Fatalf("the try ended before Sirocco was stopped: %s", out)
		}
		h, _ := tis[0]["handle"].(map[string]any)
		driverID, _ = h["driver_id"].(string)
		return driverID != "", out
	})
	t.Logf("%s: driver %s stored; stopping Sirocco", time.Since(start).Round(time.Millisecond), driverID)
	stop(srv)
	s.startServer()
	t.Logf("%s: Sirocco restarted", time.Since(start).Round(time.Millisecond))

	// The driver runs at Spark's pace: a JVM for it and one for its
	// executor, then its 20s job, which a loaded machine (CI runs other
	// packages' Spark clusters beside this one) stretches to minutes. Only
	// what follows its end is Sirocco's to do, and bounded as such.
	end := waitDriverEnd(t, c, driverID, 5*time.Minute)
	t.Logf("%s: driver %s ended %s", time.Since(start).Round(time.Millisecond), driverID, end)
	if end.State != spark.StateFinished {
		t.Fatalf("driver %s ended %s, want FINISHED: %s\ntry log:\n%s", driverID, end, end.Message,
			s.mustRun("tasks", "logs", "reattach", "r", "long_driver"))
	}
	testenv.Eventually(t, "Sirocco to see driver "+driverID+" FINISHED and the run succeed", time.Minute, func() (bool, string) {
		run, observed := s.states("reattach", "r")
		log, _, _ := s.run("tasks", "logs", "reattach", "r", "long_driver")
		observed += "the try's log ends:\n" + lastLines(log, 20)
		if run == "failed" {
			t.Fatalf("%s, want success", observed)
		}
		return run == "success", observed
	})
	t.Logf("%s: run succeeded", time.Since(start).Round(time.Millisecond))
	m, err := c.Master(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if n := len(m.ActiveDrivers) + len(m.CompletedDrivers) - known; n != 1 {
		t.Fatalf("the master has %d new drivers, want exactly 1 (no second submission): %+v", n, m.CompletedDrivers)
	}
	if d, ok := m.Driver(driverID); !ok || d.State != "FINISHED" {
		t.Errorf("driver %s is %+v, want FINISHED", driverID, d)
	}
	log := s.mustRun("tasks", "logs", "reattach", "r", "long_driver")
	if !strings.Contains(log, "resuming try 1") || !strings.Contains(log, "driver "+driverID+" is FINISHED") {
		t.Errorf("the try's log should show the reattachment and the end:\n%s", log)
	}
	if out := strings.TrimSpace(s.mustRun("tasks", "state", "reattach", "r", "long_driver")); out != "success" {
		t.Errorf("task state %s", out)
	}
}

// waitDriverEnd waits until the master reports the driver in a final state.
func waitDriverEnd(t *testing.T, c *spark.Client, id string, timeout time.Duration) spark.DriverStatus {
	t.Helper()
	var st spark.DriverStatus
	testenv.Eventually(t, "driver "+id+" to end", timeout, func() (bool, string) {
		var err error
		st, err = c.Status(t.Context(), id)
		if err != nil {
			return false, fmt.Sprintf("driver %s: %v", id, err)
		}
		return st.Terminal(), fmt.Sprintf("driver %s is %s", id, st)
	})
	return st
}

// lastLines returns the last n lines of text.
func lastLines(text string, n int) string {
	lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

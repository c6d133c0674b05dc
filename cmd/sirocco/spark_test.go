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

	srv := s.startServer()
	s.mustRun("dags", "trigger", "reattach", "--run-id", "r")
	var driverID string
	waitFor(t, "the driver id to be stored", time.Minute, func() bool {
		out, _, _ := s.run("tasks", "state", "reattach", "r", "long_driver", "-o", "json")
		var tis []map[string]any
		if json.Unmarshal([]byte(out), &tis) != nil || len(tis) != 1 {
			return false
		}
		h, _ := tis[0]["handle"].(map[string]any)
		driverID, _ = h["driver_id"].(string)
		return driverID != ""
	})
	stop(srv)
	s.startServer()

	waitFor(t, "the run to succeed after the restart", 2*time.Minute, func() bool {
		out, _, _ := s.run("dags", "state", "reattach", "r")
		return strings.TrimSpace(out) == "success"
	})
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

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

// sshConnURI is the URI of an ssh connection to srv, host key pinned by
// srv's known_hosts file.
func sshConnURI(srv *testenv.SSHServer) string {
	return fmt.Sprintf("ssh://%s@%s?key_file=%s&known_hosts=%s", srv.User, srv.Addr(),
		url.QueryEscape(srv.KeyFile), url.QueryEscape(srv.KnownHostsFile))
}

// appsNamed counts the master's applications (running or ended) named name.
func appsNamed(t *testing.T, c *spark.Client, name string) int {
	t.Helper()
	m, err := c.Master(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, a := range append(m.ActiveApps, m.CompletedApps...) {
		if a.Name == name {
			n++
		}
	}
	return n
}

// TestSparkSubmitOverSSHReattachAfterKill9: spark_submit with ssh_conn_id
// runs a client-mode driver (spark-submit itself) on the edge node (a
// loopback sshd). `sirocco standalone` is killed with SIGKILL while it
// runs; the remote spark-submit lives on, and the restarted Sirocco follows
// the same remote job from the stored offsets to its end: the run
// succeeds, the master saw exactly one application of the task, the
// try's log shows one start and the reattachment, and nothing is left
// running on the edge node.
func TestSparkSubmitOverSSHReattachAfterKill9(t *testing.T) {
	cl := testenv.Spark(t)
	edge := testenv.SSHD(t)
	jar := testenv.SparkTestJar(t)
	const app = "SiroccoSleep" // the name Sleep gives its session
	s := newSite(t, map[string]string{"ssh.yaml": `dag_id: reattach_ssh
tasks:
  - id: long_driver
    operator: spark_submit
    conn_id: spark_cluster
    ssh_conn_id: edge_node
    application: ` + jar + `
    java_class: sirocco.test.Sleep
    application_args: ["15"]
    total_executor_cores: "1"
    executor_memory: 512m
    env_vars: {SPARK_CONF_DIR: "` + cl.ConfDir + `", SPARK_LOCAL_IP: 127.0.0.1}
`})
	host := strings.TrimPrefix(cl.MasterURL, "spark://")
	s.extraEnv = append(cl.Env(),
		fmt.Sprintf("SIROCCO_CONN_SPARK_CLUSTER=spark://%s?rest_url=%s&master_ui=%s&spark_home=%s",
			host, url.QueryEscape(cl.RESTURL), url.QueryEscape(cl.MasterUI), url.QueryEscape(cl.SparkHome)),
		"SIROCCO_CONN_EDGE_NODE="+sshConnURI(edge))
	c := &spark.Client{RESTURL: cl.RESTURL, MasterUIURL: cl.MasterUI}
	known := appsNamed(t, c, app)

	srv := s.startServer()
	s.mustRun("dags", "trigger", "reattach_ssh", "--run-id", "r")
	testenv.Eventually(t, "the application id of the remote driver to be stored", 5*time.Minute, func() (bool, string) {
		out, _, _ := s.run("tasks", "state", "reattach_ssh", "r", "long_driver", "-o", "json")
		var tis []map[string]any
		if json.Unmarshal([]byte(out), &tis) != nil || len(tis) != 1 {
			return false, out
		}
		h, _ := tis[0]["handle"].(map[string]any)
		id, _ := h["app_id"].(string)
		return id != "", out
	})
	srv.kill9()
	if len(edge.SessionProcesses()) == 0 {
		t.Fatal("the remote spark-submit died with Sirocco; it must outlive it")
	}
	s.startServer()

	s.waitRunSuccess("reattach_ssh", "r", 5*time.Minute)
	if n := appsNamed(t, c, app) - known; n != 1 {
		t.Errorf("the master saw %d new applications named %s, want exactly 1 (no second submission)", n, app)
	}
	log := s.mustRun("tasks", "logs", "reattach_ssh", "r", "long_driver")
	if n := strings.Count(log, "(ssh connection edge_node, remote job "); n != 1 ||
		!strings.Contains(log, "resuming try 1") || !strings.Contains(log, "again from byte") || !strings.Contains(log, "slept 15s") {
		t.Errorf("the try's log should show one start (%d), the reattachment and the driver's end:\n%s", n, log)
	}
	if ps := edge.SessionProcesses(); len(ps) > 0 {
		t.Errorf("processes left on the edge node: %v", ps)
	}
}

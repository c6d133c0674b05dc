package main

// End-to-end tests of the REST API served by `sirocco standalone`.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/spark"
	"github.com/sirocco-dev/sirocco/internal/testenv"
)

const e2eToken = "tok-E2E-Api-Secret-31"

// apiClient talks to one server's /api/v1 with a bearer token.
type apiClient struct {
	t     *testing.T
	base  string
	token string
}

// call sends a request (body as JSON when not nil) and returns the status
// and the decoded JSON object answered.
func (c *apiClient) call(method, path string, body any) (int, map[string]any) {
	c.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			c.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := healthClient.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if strings.Contains(resp.Header.Get("Content-Type"), "json") {
		if err := json.Unmarshal(raw, &m); err != nil {
			c.t.Fatalf("%s %s: %d, not JSON: %s", method, path, resp.StatusCode, raw)
		}
	} else {
		m = map[string]any{"text": string(raw)}
	}
	return resp.StatusCode, m
}

// TestAPIShowsSparkDriverAppAndUI triggers a cluster-mode spark_rest task
// through the API of a standalone server and reads its task instance
// through the API while it runs: the driver id, application id and Spark
// UI link are there, match what the master's /json reports, and the link
// opens the application's page. Then the run succeeds.
func TestAPIShowsSparkDriverAppAndUI(t *testing.T) {
	cl := testenv.Spark(t)
	jar := testenv.SparkTestJar(t)
	s := newSite(t, map[string]string{"spark_api.yaml": `dag_id: spark_api
tasks:
  - {id: prep, operator: bash, command: echo ready}
  - id: driver
    operator: spark_rest
    depends_on: [prep]
    conn_id: spark_cluster
    application: ` + jar + `
    java_class: sirocco.test.Sleep
    application_args: ["10"]
    driver_memory: 512m
`})
	host := strings.TrimPrefix(cl.MasterURL, "spark://")
	s.extraEnv = append(cl.Env(), "SIROCCO_API_TOKEN="+e2eToken,
		fmt.Sprintf("SIROCCO_CONN_SPARK_CLUSTER=spark://%s?rest_url=%s&master_ui=%s",
			host, url.QueryEscape(cl.RESTURL), url.QueryEscape(cl.MasterUI)))
	srv := s.startServer()
	c := &apiClient{t: t, base: "http://" + srv.addr + "/api/v1", token: e2eToken}

	anon := &apiClient{t: t, base: c.base}
	if code, _ := anon.call("POST", "/dags/spark_api/dagRuns", map[string]any{}); code != http.StatusUnauthorized {
		t.Fatalf("trigger without the token: %d, want 401", code)
	}
	code, run := c.call("POST", "/dags/spark_api/dagRuns", map[string]any{"dag_run_id": "r1"})
	if code != http.StatusOK || run["dag_run_id"] != "r1" || run["state"] != "queued" {
		t.Fatalf("trigger: %d %v", code, run)
	}

	tiPath := "/dags/spark_api/dagRuns/r1/taskInstances/driver"
	var ti map[string]any
	testenv.Eventually(t, "the task instance to show the driver id, application id and Spark UI", 5*time.Minute, func() (bool, string) {
		code, ti = c.call("GET", tiPath, nil)
		if ti["state"] == "failed" {
			t.Fatalf("the try ended before its driver was shown: %v", ti)
		}
		return code == http.StatusOK && ti["driver_id"] != nil && ti["app_id"] != nil && ti["spark_ui"] != nil,
			fmt.Sprintf("%d %v", code, ti)
	})
	driverID, appID, sparkUI := ti["driver_id"].(string), ti["app_id"].(string), ti["spark_ui"].(string)
	handle, _ := ti["handle"].(map[string]any)
	if !strings.HasPrefix(driverID, "driver-") || !strings.HasPrefix(appID, "app-") ||
		sparkUI != cl.MasterUI+"/app/?appId="+appID || handle["driver_id"] != driverID || handle["kind"] != "spark_driver" {
		t.Fatalf("task instance ids and links: driver %q app %q ui %q handle %v", driverID, appID, sparkUI, handle)
	}
	if ti["state"] != "running" && ti["state"] != "success" {
		t.Errorf("task state %v while its driver is known", ti["state"])
	}

	master := &spark.Client{RESTURL: cl.RESTURL, MasterUIURL: cl.MasterUI}
	m, err := master.Master(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	d, ok := m.Driver(driverID)
	if !ok || d.Worker == "" || d.MainClass != "sirocco.test.Sleep" {
		t.Errorf("the master's /json has no launched Sleep driver %s: %+v", driverID, d)
	}
	if _, ok := m.App(appID); !ok {
		t.Errorf("the master's /json has no application %s: %+v %+v", appID, m.ActiveApps, m.CompletedApps)
	}
	// The application's UI answers slowly on a loaded machine: its page is
	// awaited, each look bounded by healthClient's short timeout.
	testenv.Eventually(t, "the Spark UI link to open the application's page", time.Minute, func() (bool, string) {
		resp, err := healthClient.Get(sparkUI)
		if err != nil {
			return false, err.Error()
		}
		page, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK && strings.Contains(string(page), appID),
			fmt.Sprintf("%s: %d, page mentions the application: %v", sparkUI, resp.StatusCode, strings.Contains(string(page), appID))
	})

	testenv.Eventually(t, "the run to end", 5*time.Minute, func() (bool, string) {
		_, run = c.call("GET", "/dags/spark_api/dagRuns/r1", nil)
		return run["state"] == "success" || run["state"] == "failed", fmt.Sprintf("run %v", run)
	})
	if run["state"] != "success" {
		_, tis := c.call("GET", "/dags/spark_api/dagRuns/r1/taskInstances", nil)
		_, log := c.call("GET", tiPath+"/logs/1", nil)
		t.Fatalf("run %v: %v\n%s", run["state"], tis, log["text"])
	}
	_, ti = c.call("GET", tiPath, nil)
	if ti["state"] != "success" || ti["driver_id"] != driverID || ti["app_id"] != appID || ti["spark_ui"] != sparkUI {
		t.Errorf("finished task instance: %v", ti)
	}
	if m, err = master.Master(context.Background()); err != nil {
		t.Fatal(err)
	}
	if d, ok := m.Driver(driverID); !ok || d.State != "FINISHED" {
		t.Errorf("driver %s at the master: %+v, want FINISHED", driverID, d)
	}
	code, log := c.call("GET", tiPath+"/logs/1", nil)
	if code != http.StatusOK || !strings.Contains(log["text"].(string), "driver "+driverID+" is FINISHED") {
		t.Errorf("log of try 1 (%d):\n%v", code, log["text"])
	}
	srv.stop() // its output is complete once it has exited
	if strings.Contains(srv.log.String(), e2eToken) {
		t.Error("the server's log shows the API token")
	}
}

// TestAPIServerRefusesOpenAddressWithoutToken: listening beyond loopback
// needs authentication (a user or a token) and TLS, and the reason is
// given before anything starts.
func TestAPIServerRefusesOpenAddressWithoutToken(t *testing.T) {
	s := newSite(t, map[string]string{"d.yaml": "dag_id: d\ntasks:\n  - {id: a, operator: empty}\n"})
	for _, c := range []struct {
		args []string
		fix  string
	}{
		{[]string{"standalone", "--listen", "0.0.0.0:0"}, "--tls-cert"},
		{[]string{"api-server", "--listen", ":0"}, "api_token"},
		{[]string{"api-server", "--listen", "127.0.0.1:0", "--tls-cert", "nope.pem"}, "--tls-key"},
	} {
		_, errOut, code := s.run(c.args...)
		if code == 0 || !strings.Contains(errOut, c.fix) {
			t.Errorf("sirocco %s: exit %d, stderr:\n%s", strings.Join(c.args, " "), code, errOut)
		}
	}
	if out := s.mustRun("config", "list", "-o", "json"); !strings.Contains(out, `"api_token"`) {
		t.Errorf("config list lacks api_token:\n%s", out)
	}
}

// startAPIServer runs `sirocco api-server` on a free loopback port.
func (s *site) startAPIServer() *server {
	s.t.Helper()
	addr := freeAddr(s.t)
	srv := &server{addr: addr, log: &bytes.Buffer{}, done: make(chan struct{})}
	srv.cmd = exec.Command(binary, "api-server", "--listen", addr)
	srv.cmd.Env = s.env()
	srv.cmd.Stdout, srv.cmd.Stderr = srv.log, srv.log
	if err := srv.cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	go func() { _ = srv.cmd.Wait(); close(srv.done) }()
	s.t.Cleanup(srv.stop)
	testenv.Eventually(s.t, "api-server to answer /health", time.Minute, func() (bool, string) {
		return healthy(addr)
	})
	return srv
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestAPIServerWithASeparateScheduler: `sirocco api-server` serves the
// DAGs folder and the database without running anything; a run triggered
// through it waits until a scheduler (another process) runs it, and the
// API server shows the result. A DAG added to the folder appears without
// a restart.
func TestAPIServerWithASeparateScheduler(t *testing.T) {
	s := newSite(t, map[string]string{"hello.yaml": "dag_id: hello\ntasks:\n  - {id: say, operator: bash, command: echo hello from the scheduler}\n"})
	srv := s.startAPIServer()
	c := &apiClient{t: t, base: "http://" + srv.addr + "/api/v1"}
	if code, run := c.call("POST", "/dags/hello/dagRuns", map[string]any{"dag_run_id": "r"}); code != http.StatusOK {
		t.Fatalf("trigger: %d %v", code, run)
	}
	_, h := c.call("GET", "/health", nil)
	if sched, _ := h["scheduler"].(map[string]any); sched["status"] != "unhealthy" {
		t.Errorf("health without any scheduler: %v", h)
	}

	sched := exec.Command(binary, "scheduler")
	sched.Env = s.env()
	var schedLog bytes.Buffer
	sched.Stdout, sched.Stderr = &schedLog, &schedLog
	if err := sched.Start(); err != nil {
		t.Fatal(err)
	}
	schedDone := make(chan struct{})
	go func() { _ = sched.Wait(); close(schedDone) }()
	t.Cleanup(func() {
		_ = sched.Process.Signal(syscall.SIGTERM)
		<-schedDone
	})
	testenv.Eventually(t, "the scheduler to run the API's run", time.Minute, func() (bool, string) {
		_, run := c.call("GET", "/dags/hello/dagRuns/r", nil)
		if run["state"] == "failed" {
			t.Fatalf("the API's run failed: %v", run)
		}
		return run["state"] == "success", fmt.Sprintf("run %v", run)
	})
	if code, log := c.call("GET", "/dags/hello/dagRuns/r/taskInstances/say/logs/1", nil); code != http.StatusOK ||
		!strings.Contains(log["text"].(string), "hello from the scheduler") {
		t.Errorf("log through the API server: %d %v", code, log)
	}
	testenv.Eventually(t, "the scheduler's heartbeat to show in health", time.Minute, func() (bool, string) {
		_, h := c.call("GET", "/health", nil)
		sched, _ := h["scheduler"].(map[string]any)
		return sched["status"] == "healthy", fmt.Sprintf("health %v", h)
	})

	s.write("later.yaml", "dag_id: later\ntasks:\n  - {id: a, operator: empty}\n")
	testenv.Eventually(t, "a new DAG file to show without a restart", time.Minute, func() (bool, string) {
		code, body := c.call("GET", "/dags/later", nil)
		return code == http.StatusOK, fmt.Sprintf("GET /dags/later: %d %v", code, body)
	})
}

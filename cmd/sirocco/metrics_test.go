package main

import (
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestStandaloneServesMetrics: after a run, the standalone's /metrics
// shows the scheduler's ticks, the tries' durations by state, the store's
// counts and the local executor's slots.
func TestStandaloneServesMetrics(t *testing.T) {
	s := newSite(t, map[string]string{
		"m.yaml": "dag_id: m\ntasks:\n  - {id: a, operator: bash, command: 'true'}\n" +
			"  - {id: b, operator: bash, command: 'exit 3', depends_on: [a]}\n",
	})
	const token = "metrics-scraper-token" // Prometheus sends a bearer token
	s.extraEnv = append(s.extraEnv, "SIROCCO_API_TOKEN="+token)
	srv := s.startServer()
	if _, _, code := s.run("dags", "trigger", "m", "--wait", "--run-id", "r1"); code != 1 {
		t.Fatalf("trigger --wait exited %d, want 1 (b fails)", code)
	}
	if resp, err := http.Get("http://" + srv.addr + "/metrics"); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("GET /metrics without credentials: %v %v, want 401", resp, err)
	} else {
		resp.Body.Close()
	}
	req, err := http.NewRequest("GET", "http://"+srv.addr+"/metrics", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %d %v", resp.StatusCode, err)
	}
	body := string(raw)
	sample := func(series string) float64 {
		t.Helper()
		m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`).FindStringSubmatch(body)
		if m == nil {
			t.Fatalf("no sample %s in /metrics:\n%s", series, grep(body, "sirocco_"))
		}
		v, err := strconv.ParseFloat(m[1], 64)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	if v := sample(`sirocco_task_duration_seconds_count{dag_id="m",state="success"}`); v != 1 {
		t.Errorf("successful tries = %v, want 1", v)
	}
	if v := sample(`sirocco_task_duration_seconds_count{dag_id="m",state="failed"}`); v != 1 {
		t.Errorf("failed tries = %v, want 1", v)
	}
	if v := sample(`sirocco_scheduler_loop_duration_seconds_count`); v < 2 {
		t.Errorf("loop ticks = %v, want some", v)
	}
	if v := sample(`sirocco_dag_runs{state="failed"}`); v != 1 {
		t.Errorf("failed runs = %v, want 1", v)
	}
	if v := sample(`sirocco_task_instances{state="success"}`); v != 1 {
		t.Errorf("successful task instances = %v, want 1", v)
	}
	if v := sample(`sirocco_executor_running_tasks{executor="local"}`); v != 0 {
		t.Errorf("running tasks after the run = %v, want 0", v)
	}
	if v := sample(`sirocco_executor_parallelism{executor="local"}`); v < 1 {
		t.Errorf("parallelism = %v", v)
	}
}

// grep returns the lines of s holding sub.
func grep(s, sub string) string {
	var out []string
	for line := range strings.Lines(s) {
		if strings.Contains(line, sub) {
			out = append(out, strings.TrimRight(line, "\n"))
		}
	}
	return strings.Join(out, "\n")
}

package api_test

import (
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/store"
)

// TestDeleteRun: DELETE dagRuns/{id} removes a finished run (204) and its
// task instances, refuses one with a running task (409, kept), and answers
// 404 for a missing run or DAG.
func TestDeleteRun(t *testing.T) {
	s := newSite(t, map[string]string{"etl.yaml": etlYAML})
	day := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s.createRun("etl", "keep", day, map[string]store.TaskState{"extract": store.StateSuccess})
	s.createRun("etl", "done", day.Add(24*time.Hour), map[string]store.TaskState{"extract": store.StateFailed})
	s.createRun("etl", "busy", day.Add(48*time.Hour), map[string]store.TaskState{"extract": store.StateRunning})

	if r := s.do("DELETE", "/api/v1/dags/etl/dagRuns/done", map[string]any{}); r.status != http.StatusNoContent {
		t.Fatalf("delete a finished run: %d %s", r.status, r.body)
	}
	wantProblem(t, "the deleted run", s.do("GET", "/api/v1/dags/etl/dagRuns/done", nil), http.StatusNotFound, "done")
	if tis, err := s.st.ListTaskInstances(t.Context(), "etl", "done"); err != nil || len(tis) != 0 {
		t.Errorf("task instances of the deleted run: %v %v", tis, err)
	}
	wantProblem(t, "a run with a running task", s.do("DELETE", "/api/v1/dags/etl/dagRuns/busy", map[string]any{}),
		http.StatusConflict, "busy", "running")
	s.get("/api/v1/dags/etl/dagRuns/busy")
	wantProblem(t, "a missing run", s.do("DELETE", "/api/v1/dags/etl/dagRuns/nope", map[string]any{}), http.StatusNotFound, "nope")
	wantProblem(t, "a missing DAG", s.do("DELETE", "/api/v1/dags/nope/dagRuns/keep", map[string]any{}), http.StatusNotFound)
	s.get("/api/v1/dags/etl/dagRuns/keep")
}

// TestConnectionTest: POST connections/{id}/test answers the preflight
// report: ok for a TCP port that listens, failed at tcp for one that does
// not, 404 for an unknown id.
func TestConnectionTest(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadAddr := closed.Addr().(*net.TCPAddr)
	closed.Close()
	s := newSite(t, nil)
	port := ln.Addr().(*net.TCPAddr).Port
	for id, p := range map[string]int{"up": port, "down": deadAddr.Port} {
		if r := s.do("POST", "/api/v1/connections", map[string]any{"connection_id": id, "conn_type": "postgres", "host": "127.0.0.1", "port": p}); r.status != http.StatusOK {
			t.Fatalf("add %s: %d %s", id, r.status, r.body)
		}
	}
	rep := s.do("POST", "/api/v1/connections/up/test", map[string]any{})
	if rep.status != http.StatusOK {
		t.Fatalf("test up: %d %s", rep.status, rep.body)
	}
	if m := rep.json(t); m["ok"] != true || m["conn_id"] != "up" || m["source"] != "store" {
		t.Errorf("report of a listening port: %v", m)
	}
	m := s.do("POST", "/api/v1/connections/down/test", map[string]any{}).json(t)
	steps, _ := m["steps"].([]any)
	failedTCP := false
	for _, st := range steps {
		step := st.(map[string]any)
		failedTCP = failedTCP || (step["name"] == "tcp" && step["outcome"] == "failed")
	}
	if m["ok"] != false || !failedTCP {
		t.Errorf("report of a closed port: %v", m)
	}
	wantProblem(t, "unknown connection", s.do("POST", "/api/v1/connections/nope/test", map[string]any{}), http.StatusNotFound, "nope")
}

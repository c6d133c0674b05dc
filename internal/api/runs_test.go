package api_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/api"
	"github.com/sirocco-dev/sirocco/internal/store"
)

func TestTriggerRun(t *testing.T) {
	s := newSite(t, map[string]string{"etl.yaml": etlYAML})
	r := s.do("POST", "/api/v1/dags/etl/dagRuns", map[string]any{
		"dag_run_id": "r1", "logical_date": "2026-05-06T07:08:09Z", "conf": map[string]any{"n": 7, "mode": "slow"}})
	if r.status != http.StatusOK {
		t.Fatalf("trigger: %d %s", r.status, r.body)
	}
	run := r.json(t)
	if run["dag_run_id"] != "r1" || run["dag_id"] != "etl" || run["state"] != "queued" || run["run_type"] != "manual" ||
		run["logical_date"] != "2026-05-06T07:08:09Z" || run["execution_date"] != run["logical_date"] ||
		run["external_trigger"] != true || fmt.Sprint(run["conf"]) != "map[mode:slow n:7]" || run["start_date"] != nil {
		t.Errorf("run = %v", run)
	}
	if s.kicks.Load() != 1 {
		t.Errorf("a trigger must wake the scheduler: %d kicks", s.kicks.Load())
	}
	tis, err := s.st.ListTaskInstances(t.Context(), "etl", "r1")
	if err != nil || len(tis) != 3 {
		t.Fatalf("task instances: %v %v", tis, err)
	}

	// Defaults: manual__<now>, empty conf.
	r = s.do("POST", "/api/v1/dags/etl/dagRuns", map[string]any{})
	if r.status != http.StatusOK {
		t.Fatalf("trigger with defaults: %d %s", r.status, r.body)
	}
	if run := r.json(t); len(run["dag_run_id"].(string)) < 10 || run["dag_run_id"].(string)[:8] != "manual__" || fmt.Sprint(run["conf"]) != "map[]" {
		t.Errorf("default run = %v", run)
	}

	bad := []struct {
		name  string
		body  any
		field string
		want  string
	}{
		{"conf of the wrong type", map[string]any{"conf": map[string]any{"n": "seven"}}, "conf", `param "n"`},
		{"conf outside the enum", map[string]any{"conf": map[string]any{"mode": "medium"}}, "conf", `param "mode"`},
		{"conf not an object", map[string]any{"conf": []int{1}}, "conf", "object"},
		{"bad logical date", map[string]any{"logical_date": "tomorrow"}, "logical_date", "tomorrow"},
		{"both dates", map[string]any{"logical_date": "2026-01-01", "execution_date": "2026-01-01"}, "execution_date", "not both"},
		{"empty run id", map[string]any{"dag_run_id": ""}, "dag_run_id", "empty"},
		{"unknown field", map[string]any{"note": "hi"}, "note", "unknown field"},
	}
	for _, c := range bad {
		p := wantProblem(t, c.name, s.do("POST", "/api/v1/dags/etl/dagRuns", c.body), http.StatusBadRequest, c.field, c.want)
		if p != nil && p["field"] != c.field {
			t.Errorf("%s: field %v, want %s", c.name, p["field"], c.field)
		}
	}
	wantProblem(t, "same run id", s.do("POST", "/api/v1/dags/etl/dagRuns", map[string]any{"dag_run_id": "r1"}),
		http.StatusConflict, "r1", "already exists")
	wantProblem(t, "same logical date", s.do("POST", "/api/v1/dags/etl/dagRuns", map[string]any{"logical_date": "2026-05-06T07:08:09Z"}),
		http.StatusConflict, "already exists")
	wantProblem(t, "unknown DAG", s.do("POST", "/api/v1/dags/nope/dagRuns", map[string]any{}), http.StatusNotFound, "nope")
	if runs, _ := s.st.ListRuns(t.Context(), store.RunFilter{DagID: "etl"}); len(runs) != 2 {
		t.Errorf("refused triggers created runs: %d runs", len(runs))
	}
}

func TestListAndGetRuns(t *testing.T) {
	s := newSite(t, map[string]string{"etl.yaml": etlYAML, "other.yaml": "dag_id: other\ntasks:\n  - {id: a, operator: empty}\n"})
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 5 {
		s.createRun("etl", fmt.Sprintf("r%d", i), base.Add(time.Duration(i)*time.Hour), nil)
	}
	s.createRun("other", "o1", base, nil)
	if ok, err := s.st.UpdateRun(t.Context(), store.RunUpdate{DagID: "etl", RunID: "r1", From: []store.RunState{store.RunQueued}, To: store.RunFailed}); !ok || err != nil {
		t.Fatal(ok, err)
	}

	runs, total := list(t, s.get("/api/v1/dags/etl/dagRuns"), "dag_runs")
	if total != 5 || ids(runs, "dag_run_id") != "r4,r3,r2,r1,r0" {
		t.Errorf("runs = %s (total %d), want newest first", ids(runs, "dag_run_id"), total)
	}
	if page, total := list(t, s.get("/api/v1/dags/etl/dagRuns?limit=2&offset=2"), "dag_runs"); total != 5 || ids(page, "dag_run_id") != "r2,r1" {
		t.Errorf("page = %s (total %d)", ids(page, "dag_run_id"), total)
	}
	if page, total := list(t, s.get("/api/v1/dags/etl/dagRuns?state=failed"), "dag_runs"); total != 1 || ids(page, "dag_run_id") != "r1" {
		t.Errorf("state=failed: %s (total %d)", ids(page, "dag_run_id"), total)
	}
	if _, total := list(t, s.get("/api/v1/dags/~/dagRuns"), "dag_runs"); total != 6 {
		t.Errorf("~ lists %d runs, want every DAG's 6", total)
	}
	wantProblem(t, "bad state", s.do("GET", "/api/v1/dags/etl/dagRuns?state=done", nil), http.StatusBadRequest, "state", "done")
	wantProblem(t, "unknown DAG", s.do("GET", "/api/v1/dags/nope/dagRuns", nil), http.StatusNotFound, "nope")

	run := s.get("/api/v1/dags/etl/dagRuns/r1")
	if run["state"] != "failed" || run["logical_date"] != "2026-01-01T01:00:00Z" || run["data_interval_start"] != run["logical_date"] {
		t.Errorf("run r1 = %v", run)
	}
	p := wantProblem(t, "unknown run", s.do("GET", "/api/v1/dags/etl/dagRuns/nope", nil), http.StatusNotFound, `"nope"`)
	if p != nil && p["title"] != "DAGRun not found" {
		t.Errorf("title %v", p["title"])
	}

	// Run ids with characters a path must escape come back whole, even
	// one with a '/' that an older version stored.
	s.createRun("etl", "manual__2026-02-01T00:00:00+00:00", base.Add(-time.Hour), nil)
	if run := s.get("/api/v1/dags/etl/dagRuns/manual__2026-02-01T00:00:00%2B00:00"); run["dag_run_id"] != "manual__2026-02-01T00:00:00+00:00" {
		t.Errorf("escaped run id: %v", run["dag_run_id"])
	}
	s.storeRun("etl", "old/x", base.Add(-2*time.Hour))
	if run := s.get("/api/v1/dags/etl/dagRuns/old%2Fx"); run["dag_run_id"] != "old/x" {
		t.Errorf("escaped run id: %v", run["dag_run_id"])
	}
}

// TestTriggerAnswersTheRunAsCreated wakes a scheduler that starts the run
// before the answer is written, as the in-process one can: the answer is
// still the queued run that was created, with the times the store keeps.
func TestTriggerAnswersTheRunAsCreated(t *testing.T) {
	var st store.Store
	s := newSite(t, map[string]string{"etl.yaml": etlYAML}, func(o *api.Options) {
		o.RunCreated = func() {
			ok, err := st.UpdateRun(context.Background(), store.RunUpdate{DagID: "etl", RunID: "r1",
				From: []store.RunState{store.RunQueued}, To: store.RunRunning})
			if !ok || err != nil {
				t.Errorf("the scheduler could not start the run: %v %v", ok, err)
			}
		}
	})
	st = s.st
	r := s.do("POST", "/api/v1/dags/etl/dagRuns", map[string]any{"dag_run_id": "r1"})
	if r.status != http.StatusOK {
		t.Fatalf("trigger: %d %s", r.status, r.body)
	}
	run := r.json(t)
	stored, err := s.st.GetRun(t.Context(), "etl", "r1")
	if err != nil {
		t.Fatal(err)
	}
	if run["state"] != "queued" || stored.State != store.RunRunning {
		t.Errorf("answer state %v (stored %s), want the queued run as created", run["state"], stored.State)
	}
	if run["logical_date"] != stored.LogicalDate.Format(time.RFC3339Nano) || run["queued_at"] != stored.QueuedAt.Format(time.RFC3339Nano) {
		t.Errorf("answer times %v %v, stored %v %v", run["logical_date"], run["queued_at"], stored.LogicalDate, stored.QueuedAt)
	}
}

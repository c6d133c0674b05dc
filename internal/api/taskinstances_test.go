package api_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/operator/spark"
	"github.com/sirocco-dev/sirocco/internal/store"
)

const sparkYAML = `dag_id: sparky
tasks:
  - {id: prep, operator: empty}
  - {id: job, operator: spark_rest, depends_on: [prep], conn_id: spark_cluster, application: /jobs/wc.py}
`

const tiPath = "/api/v1/dags/sparky/dagRuns/r/taskInstances"

func TestTaskInstanceShowsTheSparkHandle(t *testing.T) {
	s := newSite(t, map[string]string{"sparky.yaml": sparkYAML})
	s.createRun("sparky", "r", time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC), map[string]store.TaskState{"prep": store.StateSuccess})
	h := spark.Handle{Kind: "spark_driver", ConnID: "spark_cluster", Master: "spark://127.0.0.1:7077",
		RESTURL: "http://127.0.0.1:6066", MasterUI: "http://127.0.0.1:8080", DriverID: "driver-20261124204621-0003",
		AppID: "app-20261124204625-0007", SparkUI: "http://127.0.0.1:8080/app/?appId=app-20261124204625-0007"}
	raw, err := json.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	s.setState(store.TaskKey{DagID: "sparky", RunID: "r", TaskID: "job"}, store.StateRunning, raw)

	ti := s.get(tiPath + "/job")
	if ti["driver_id"] != h.DriverID || ti["app_id"] != h.AppID || ti["spark_ui"] != h.SparkUI || ti["master_ui"] != h.MasterUI {
		t.Errorf("top-level Spark fields of %v", ti)
	}
	handle, _ := ti["handle"].(map[string]any)
	if handle["kind"] != "spark_driver" || handle["driver_id"] != h.DriverID || handle["rest_url"] != h.RESTURL {
		t.Errorf("handle = %v", handle)
	}
	if ti["state"] != "running" || ti["try_number"] != float64(1) || ti["operator"] != "spark_rest" || ti["hostname"] != "worker-1" ||
		ti["execution_date"] != "2026-01-02T00:00:00Z" || ti["dag_run_id"] != "r" || ti["map_index"] != float64(-1) || ti["duration"] != nil {
		t.Errorf("task instance = %v", ti)
	}

	prep := s.get(tiPath + "/prep")
	if _, has := prep["driver_id"]; has || prep["handle"] != nil || prep["duration"] != 1.5 {
		t.Errorf("a task instance without handle: %v", prep)
	}

	all, total := list(t, s.get(tiPath), "task_instances")
	if total != 2 || ids(all, "task_id") != "prep,job" || all[1]["app_id"] != h.AppID {
		t.Errorf("list = %v", all)
	}
	if page, total := list(t, s.get(tiPath+"?limit=1&offset=1"), "task_instances"); total != 2 || ids(page, "task_id") != "job" {
		t.Errorf("page = %s (%d)", ids(page, "task_id"), total)
	}
	if page, _ := list(t, s.get(tiPath+"?state=running&state=none"), "task_instances"); ids(page, "task_id") != "job" {
		t.Errorf("state filter = %s", ids(page, "task_id"))
	}
	wantProblem(t, "unknown task", s.do("GET", tiPath+"/nope", nil), http.StatusNotFound, `"nope"`)
	wantProblem(t, "unknown run", s.do("GET", "/api/v1/dags/sparky/dagRuns/zz/taskInstances/job", nil), http.StatusNotFound, `"zz"`)
	wantProblem(t, "unknown run list", s.do("GET", "/api/v1/dags/sparky/dagRuns/zz/taskInstances", nil), http.StatusNotFound, `"zz"`)
}

func TestMarkTaskInstance(t *testing.T) {
	s := newSite(t, map[string]string{"etl.yaml": etlYAML})
	s.createRun("etl", "r", time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC), map[string]store.TaskState{"extract": store.StateFailed})
	path := "/api/v1/dags/etl/dagRuns/r/taskInstances/extract"
	kicks := s.kicks.Load()

	r := s.do("PATCH", path, map[string]any{"new_state": "success", "dry_run": true})
	if r.status != http.StatusOK || r.json(t)["state"] != "failed" {
		t.Fatalf("dry run: %d %s", r.status, r.body)
	}
	if s.kicks.Load() != kicks {
		t.Error("a dry run must not wake the scheduler")
	}
	r = s.do("PATCH", path, map[string]any{"new_state": "success"})
	if r.status != http.StatusOK || r.json(t)["state"] != "success" {
		t.Fatalf("mark: %d %s", r.status, r.body)
	}
	if s.kicks.Load() != kicks+1 {
		t.Error("a mark must wake the scheduler")
	}
	if ti, _ := s.st.GetTaskInstance(t.Context(), store.TaskKey{DagID: "etl", RunID: "r", TaskID: "extract"}); ti.State != store.StateSuccess {
		t.Errorf("store: %s", ti.State)
	}
	for name, body := range map[string]any{
		"running":   map[string]any{"new_state": "running"},
		"missing":   map[string]any{"dry_run": false},
		"not text":  map[string]any{"new_state": 3},
		"bad field": map[string]any{"new_state": "failed", "note": "x"},
	} {
		wantProblem(t, name, s.do("PATCH", path, body), http.StatusBadRequest)
	}
	p := wantProblem(t, "running", s.do("PATCH", path, map[string]any{"new_state": "running"}), http.StatusBadRequest, "success, failed or skipped")
	if p != nil && p["field"] != "new_state" {
		t.Errorf("field = %v", p["field"])
	}
	wantProblem(t, "unknown task", s.do("PATCH", "/api/v1/dags/etl/dagRuns/r/taskInstances/zz", map[string]any{"new_state": "failed"}),
		http.StatusNotFound, "zz")
}

func TestClearTaskInstances(t *testing.T) {
	s := newSite(t, map[string]string{"etl.yaml": etlYAML, "sparky.yaml": sparkYAML})
	s.createRun("etl", "r", time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC), map[string]store.TaskState{
		"extract": store.StateSuccess, "transform": store.StateFailed, "load": store.StateUpstreamFailed})
	clear := func(body map[string]any) response { return s.do("POST", "/api/v1/dags/etl/clearTaskInstances", body) }
	refs := func(r response) string {
		t.Helper()
		if r.status != http.StatusOK {
			t.Fatalf("clear: %d %s", r.status, r.body)
		}
		items, ok := r.json(t)["task_instances"].([]any)
		if !ok {
			t.Fatalf("no task_instances in %s", r.body)
		}
		var out []string
		for _, it := range items {
			m := it.(map[string]any)
			if m["dag_id"] != "etl" || m["dag_run_id"] != "r" || m["execution_date"] != "2026-01-02T00:00:00Z" {
				t.Errorf("reference %v", m)
			}
			out = append(out, m["task_id"].(string))
		}
		return strings.Join(out, ",")
	}
	kicks := s.kicks.Load()
	if got := refs(clear(map[string]any{"dag_run_id": "r", "only_failed": true, "dry_run": true})); got != "transform,load" {
		t.Errorf("dry run only_failed = %s", got)
	}
	if ti, _ := s.st.GetTaskInstance(t.Context(), store.TaskKey{DagID: "etl", RunID: "r", TaskID: "transform"}); ti.State != store.StateFailed || s.kicks.Load() != kicks {
		t.Fatalf("a dry run changed something: %s, %d kicks", ti.State, s.kicks.Load()-kicks)
	}
	if got := refs(clear(map[string]any{"dag_run_id": "r", "task_ids": []string{"extract"}, "include_downstream": true})); got != "extract,transform,load" {
		t.Errorf("clear extract downstream = %s", got)
	}
	if s.kicks.Load() != kicks+1 {
		t.Error("a clear must wake the scheduler")
	}
	for _, task := range []string{"extract", "transform", "load"} {
		ti := s.get("/api/v1/dags/etl/dagRuns/r/taskInstances/" + task)
		if ti["state"] != nil {
			t.Errorf("%s after clear: state %v, want null (none)", task, ti["state"])
		}
	}
	if run := s.get("/api/v1/dags/etl/dagRuns/r"); run["state"] != "queued" {
		t.Errorf("run after clear: %v", run["state"])
	}

	// A running task is stopped first and runs again: restarting.
	s.createRun("sparky", "r", time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC), map[string]store.TaskState{"job": store.StateRunning})
	r := s.do("POST", "/api/v1/dags/sparky/clearTaskInstances", map[string]any{"dag_run_id": "r", "task_ids": []string{"job"}})
	if r.status != http.StatusOK || !strings.Contains(string(r.body), `"job"`) {
		t.Fatalf("clear running: %d %s", r.status, r.body)
	}
	if ti := s.get(tiPath + "/job"); ti["state"] != "restarting" {
		t.Errorf("cleared running task: %v, want restarting", ti["state"])
	}

	for name, c := range map[string]struct {
		body   map[string]any
		status int
		field  string
	}{
		"no run id":      {map[string]any{"task_ids": []string{"extract"}}, http.StatusBadRequest, "dag_run_id"},
		"unknown task":   {map[string]any{"dag_run_id": "r", "task_ids": []string{"zz"}}, http.StatusBadRequest, "task_ids"},
		"unknown field":  {map[string]any{"dag_run_id": "r", "include_upstream": true}, http.StatusBadRequest, "include_upstream"},
		"task ids typed": {map[string]any{"dag_run_id": "r", "task_ids": "extract"}, http.StatusBadRequest, "task_ids"},
		"unknown run":    {map[string]any{"dag_run_id": "zz"}, http.StatusNotFound, ""},
	} {
		p := wantProblem(t, name, clear(c.body), c.status, c.field)
		if p != nil && c.field != "" && p["field"] != c.field {
			t.Errorf("%s: field %v, want %s", name, p["field"], c.field)
		}
	}
}

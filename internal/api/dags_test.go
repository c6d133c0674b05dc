package api_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// manyDAGs adds d01..d05 (tagged by parity) to etl and a broken file.
func manyDAGs() map[string]string {
	files := map[string]string{"etl.yaml": etlYAML,
		"broken.yaml": "dag_id: broken\ntasks:\n  - {id: a, operator: bash, comand: echo}\n"}
	for i := 1; i <= 5; i++ {
		tag := []string{"even", "odd"}[i%2]
		files[fmt.Sprintf("d%02d.yaml", i)] = fmt.Sprintf("dag_id: d%02d\nschedule: every 15m\nstart_date: 2026-01-01\ntags: [%s]\ntasks:\n  - {id: a, operator: empty}\n", i, tag)
	}
	return files
}

func TestListDAGsPaginatesAndFilters(t *testing.T) {
	s := newSite(t, manyDAGs())
	dags, total := list(t, s.get("/api/v1/dags"), "dags")
	if total != 6 || ids(dags, "dag_id") != "d01,d02,d03,d04,d05,etl" {
		t.Fatalf("dags = %s (total %d)", ids(dags, "dag_id"), total)
	}
	page, total := list(t, s.get("/api/v1/dags?limit=2&offset=1"), "dags")
	if total != 6 || ids(page, "dag_id") != "d02,d03" {
		t.Errorf("page 2 of 2 = %s (total %d)", ids(page, "dag_id"), total)
	}
	if page, total = list(t, s.get("/api/v1/dags?offset=10"), "dags"); len(page) != 0 || total != 6 {
		t.Errorf("past the end: %v (total %d)", page, total)
	}
	if page, _ = list(t, s.get("/api/v1/dags?tags=odd"), "dags"); ids(page, "dag_id") != "d01,d03,d05" {
		t.Errorf("tags=odd: %s", ids(page, "dag_id"))
	}
	if page, _ = list(t, s.get("/api/v1/dags?dag_id_pattern=ET"), "dags"); ids(page, "dag_id") != "etl" {
		t.Errorf("dag_id_pattern=ET: %s", ids(page, "dag_id"))
	}
	for _, q := range []string{"limit=0", "limit=x", "offset=-1", "paused=maybe"} {
		field := strings.Split(q, "=")[0]
		p := wantProblem(t, q, s.do("GET", "/api/v1/dags?"+q, nil), http.StatusBadRequest, field)
		if p != nil && p["field"] != field {
			t.Errorf("%s: field %v, want %s", q, p["field"], field)
		}
	}

	etl := dags[5]
	if etl["description"] != "Extract, transform, load." || etl["is_paused"] != false || etl["is_active"] != true ||
		!strings.HasSuffix(etl["fileloc"].(string), "etl.yaml") || etl["timetable_description"] != "@daily" {
		t.Errorf("etl = %v", etl)
	}
	if fmt.Sprint(etl["tags"]) != "[map[name:nightly] map[name:team-a]]" || fmt.Sprint(etl["owners"]) != "[]" {
		t.Errorf("etl tags %v owners %v", etl["tags"], etl["owners"])
	}
	if si := etl["schedule_interval"].(map[string]any); si["__type"] != "CronExpression" || si["value"] != "@daily" {
		t.Errorf("etl schedule_interval = %v", si)
	}
	if si := dags[0]["schedule_interval"].(map[string]any); si["__type"] != "TimeDelta" || si["seconds"] != float64(900) {
		t.Errorf("every 15m schedule_interval = %v", si)
	}
}

func TestGetDAGAndNotFound(t *testing.T) {
	s := newSite(t, manyDAGs())
	d := s.get("/api/v1/dags/etl")
	if d["dag_id"] != "etl" || d["timezone"] != "UTC" || d["catchup"] != false ||
		d["start_date"] != "2026-01-01T00:00:00Z" || fmt.Sprint(d["task_ids"]) != "[extract transform load]" {
		t.Errorf("etl detail = %v", d)
	}
	params := d["params"].(map[string]any)
	mode := params["mode"].(map[string]any)
	if mode["value"] != "fast" || fmt.Sprint(mode["schema"]) != "map[enum:[fast slow] type:string]" {
		t.Errorf("params = %v", params)
	}
	if n := params["n"].(map[string]any); n["description"] != "how many" || n["value"] != float64(1) {
		t.Errorf("param n = %v", n)
	}

	p := wantProblem(t, "unknown DAG", s.do("GET", "/api/v1/dags/nope", nil), http.StatusNotFound, `"nope"`)
	if p != nil && (p["title"] != "DAG not found" || !strings.HasSuffix(p["type"].(string), "#section/Errors/NotFound")) {
		t.Errorf("problem = %v", p)
	}
	wantProblem(t, "broken DAG", s.do("GET", "/api/v1/dags/broken", nil), http.StatusNotFound, "broken.yaml", "importErrors")
}

func TestPatchDAGPausesAndKicks(t *testing.T) {
	s := newSite(t, manyDAGs())
	r := s.do("PATCH", "/api/v1/dags/d02", map[string]any{"is_paused": true})
	if r.status != http.StatusOK || r.json(t)["is_paused"] != true {
		t.Fatalf("pause: %d %s", r.status, r.body)
	}
	if s.kicks.Load() != 1 {
		t.Errorf("a pause must wake the scheduler: %d kicks", s.kicks.Load())
	}
	if rec, err := s.st.GetDAG(t.Context(), "d02"); err != nil || !rec.Paused {
		t.Errorf("store: %+v %v", rec, err)
	}
	if page, _ := list(t, s.get("/api/v1/dags?paused=true"), "dags"); ids(page, "dag_id") != "d02" {
		t.Errorf("paused=true: %s", ids(page, "dag_id"))
	}
	if page, total := list(t, s.get("/api/v1/dags?paused=false"), "dags"); total != 5 || strings.Contains(ids(page, "dag_id"), "d02") {
		t.Errorf("paused=false: %s", ids(page, "dag_id"))
	}
	r = s.do("PATCH", "/api/v1/dags/d02", map[string]any{"is_paused": false})
	if r.status != http.StatusOK || r.json(t)["is_paused"] != false {
		t.Fatalf("unpause: %d %s", r.status, r.body)
	}

	wantProblem(t, "no field", s.do("PATCH", "/api/v1/dags/d02", map[string]any{}), http.StatusBadRequest, "is_paused")
	wantProblem(t, "wrong type", s.do("PATCH", "/api/v1/dags/d02", map[string]any{"is_paused": "yes"}), http.StatusBadRequest, "is_paused")
	wantProblem(t, "unknown field", s.do("PATCH", "/api/v1/dags/d02", map[string]any{"is_paused": true, "owners": []string{"me"}}),
		http.StatusBadRequest, "owners")
	wantProblem(t, "not JSON", s.do("PATCH", "/api/v1/dags/d02", "{is_paused: true"), http.StatusBadRequest, "not valid JSON")
	wantProblem(t, "empty body", s.do("PATCH", "/api/v1/dags/d02", ""), http.StatusBadRequest, "empty")
	wantProblem(t, "array body", s.do("PATCH", "/api/v1/dags/d02", "[true]"), http.StatusBadRequest, "JSON object")
	wantProblem(t, "unknown DAG", s.do("PATCH", "/api/v1/dags/nope", map[string]any{"is_paused": true}), http.StatusNotFound, "nope")
}

func TestTasks(t *testing.T) {
	s := newSite(t, map[string]string{"etl.yaml": etlYAML})
	tasks, total := list(t, s.get("/api/v1/dags/etl/tasks"), "tasks")
	if total != 3 || ids(tasks, "task_id") != "extract,transform,load" {
		t.Fatalf("tasks = %s (%d)", ids(tasks, "task_id"), total)
	}
	tr := tasks[1]
	if tr["operator"] != "bash" || fmt.Sprint(tr["downstream_task_ids"]) != "[load]" || fmt.Sprint(tr["upstream_task_ids"]) != "[extract]" ||
		tr["trigger_rule"] != "all_success" || tr["retries"] != float64(2) || tr["pool"] != "default_pool" {
		t.Errorf("transform = %v", tr)
	}
	if rd := tr["retry_delay"].(map[string]any); rd["__type"] != "TimeDelta" || rd["seconds"] != float64(30) {
		t.Errorf("retry_delay = %v", rd)
	}
	if fmt.Sprint(tasks[2]["downstream_task_ids"]) != "[]" || tasks[2]["execution_timeout"].(map[string]any)["seconds"] != float64(3600) {
		t.Errorf("load = %v", tasks[2])
	}
	if one := s.get("/api/v1/dags/etl/tasks/load"); one["task_id"] != "load" {
		t.Errorf("one task = %v", one)
	}
	wantProblem(t, "unknown task", s.do("GET", "/api/v1/dags/etl/tasks/nope", nil), http.StatusNotFound, "nope")
	wantProblem(t, "unknown DAG", s.do("GET", "/api/v1/dags/nope/tasks", nil), http.StatusNotFound, "nope")
}

// groupsYAML has a group with a nested group, and a task depending on the
// outer group.
const groupsYAML = `dag_id: grouped
tasks:
  - {id: start, operator: empty}
  - {id: load, operator: empty, depends_on: [extract]}
groups:
  - id: extract
    tooltip: Pull the sources
    depends_on: start
    tasks:
      - {id: a, operator: empty}
    groups:
      - id: clean
        depends_on: a
        tasks: [{id: check, operator: empty}]
`

// TestTaskGroupsInAPI: each task names its group (null at the top level)
// and the DAG's details hold the group tree.
func TestTaskGroupsInAPI(t *testing.T) {
	s := newSite(t, map[string]string{"grouped.yaml": groupsYAML})
	tasks, _ := list(t, s.get("/api/v1/dags/grouped/tasks"), "tasks")
	if ids(tasks, "task_id") != "start,load,extract.a,extract.clean.check" {
		t.Fatalf("tasks = %s", ids(tasks, "task_id"))
	}
	for i, want := range []any{nil, nil, "extract", "extract.clean"} {
		if got, ok := tasks[i]["task_group_id"]; !ok || got != want {
			t.Errorf("task %v: task_group_id = %v, want %v", tasks[i]["task_id"], got, want)
		}
	}
	if fmt.Sprint(tasks[1]["upstream_task_ids"]) != "[extract.clean.check]" {
		t.Errorf("load's upstream = %v, want the group's leaf", tasks[1]["upstream_task_ids"])
	}
	if one := s.get("/api/v1/dags/grouped/tasks/extract.clean.check"); one["task_group_id"] != "extract.clean" {
		t.Errorf("one task = %v", one)
	}
	d := s.get("/api/v1/dags/grouped")
	want := `[map[depends_on:[start] group_id:extract groups:[map[depends_on:[extract.a] group_id:extract.clean groups:[] label:clean prefix_group_id:true task_ids:[extract.clean.check] tooltip:]] label:extract prefix_group_id:true task_ids:[extract.a] tooltip:Pull the sources]]`
	if got := fmt.Sprint(d["task_groups"]); got != want {
		t.Errorf("task_groups = %s\nwant %s", got, want)
	}
	if etl := newSite(t, map[string]string{"etl.yaml": etlYAML}).get("/api/v1/dags/etl"); fmt.Sprint(etl["task_groups"]) != "[]" {
		t.Errorf("a DAG without groups: task_groups = %v, want []", etl["task_groups"])
	}
}

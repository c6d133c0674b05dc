package api_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/store"
)

const mapYAML = `dag_id: mp
tasks:
  - {id: m, operator: bash, expand: {command: [echo 0, echo 1, echo 2]}}
  - {id: later, operator: bash, depends_on: [m], expand: {command: [echo a]}}
  - {id: plain, operator: empty, depends_on: [m]}
`

// mapSite is a run r of mp whose m is expanded into 3 instances: m[0]
// success, m[1] failed, m[2] removed; later is not expanded yet.
func mapSite(t *testing.T, opts ...siteOption) *site {
	s := newSite(t, map[string]string{"mp.yaml": mapYAML}, opts...)
	if len(opts) > 0 {
		s.token = apiToken
	}
	s.createRun("mp", "r", time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC), nil)
	k := store.TaskKey{DagID: "mp", RunID: "r", TaskID: "m"}
	if ok, err := s.st.ExpandTask(context.Background(), k, 0, 3, time.Now()); err != nil || !ok {
		t.Fatalf("expand m: %v, %v", ok, err)
	}
	s.setState(k.WithMapIndex(0), store.StateSuccess, nil)
	s.setState(k.WithMapIndex(1), store.StateFailed, nil)
	s.setState(k.WithMapIndex(2), store.StateRemoved, nil)
	return s
}

// TestMappedTaskInstancePaths: Airflow 2.3+'s paths of a mapped task's
// instances, .../taskInstances/{task_id}/{map_index} (GET, PATCH) and
// .../listMapped, answer as ?map_index= does, which keeps working.
func TestMappedTaskInstancePaths(t *testing.T) {
	s := mapSite(t)
	const path = "/api/v1/dags/mp/dagRuns/r/taskInstances/"
	if ti := s.get(path + "m/1"); ti["map_index"] != float64(1) || ti["state"] != "failed" || ti["task_id"] != "m" {
		t.Errorf("m/1 = %v", ti)
	}
	if ti := s.get(path + "m?map_index=0"); ti["map_index"] != float64(0) || ti["state"] != "success" {
		t.Errorf("m?map_index=0 = %v", ti)
	}
	if ti := s.get(path + "m/0?map_index=0"); ti["map_index"] != float64(0) {
		t.Errorf("m/0?map_index=0 = %v", ti)
	}
	if ti := s.get(path + "m/1?map_index=01"); ti["map_index"] != float64(1) { // the same index, written otherwise
		t.Errorf("m/1?map_index=01 = %v", ti)
	}
	if ti := s.get(path + "plain/-1"); ti["map_index"] != float64(-1) {
		t.Errorf("plain/-1 = %v", ti)
	}
	wantProblem(t, "index out of range", s.do("GET", path+"m/7", nil), http.StatusNotFound, "instance 7")
	wantProblem(t, "not a number", s.do("GET", path+"m/x", nil), http.StatusBadRequest, "map_index")
	wantProblem(t, "two indexes", s.do("GET", path+"m/0?map_index=1", nil), http.StatusBadRequest, "map_index")
	// Airflow's user notes are not Sirocco's: say so, not "unknown field note" (trial12 #12).
	wantProblem(t, "setNote", s.do("PATCH", path+"plain/setNote", map[string]any{"note": "mine"}), http.StatusNotFound, "no user notes")

	r := s.do("PATCH", path+"m/1", map[string]any{"new_state": "success"})
	if r.status != http.StatusOK || r.json(t)["state"] != "success" || r.json(t)["map_index"] != float64(1) {
		t.Fatalf("PATCH m/1: %d %s", r.status, r.body)
	}
	if ti := s.get(path + "m/0"); ti["state"] != "success" || ti["try_number"] != float64(1) {
		t.Errorf("m/0 after marking m/1 = %v", ti)
	}

	// A removed instance is beyond its list: a mark would revive it.
	for _, body := range []map[string]any{{"new_state": "failed"}, {"new_state": "success", "dry_run": true}} {
		wantProblem(t, "mark removed", s.do("PATCH", path+"m/2", body), http.StatusConflict, "is removed")
	}

	all, total := list(t, s.get(path+"m/listMapped"), "task_instances")
	if total != 3 || vals(all, "map_index") != "0,1,2" || vals(all, "state") != "success,success,removed" {
		t.Errorf("listMapped = %v (%d)", all, total)
	}
	page, total := list(t, s.get(path+"m/listMapped?order_by=-map_index&limit=1&offset=1&state=success"), "task_instances")
	if total != 2 || vals(page, "map_index") != "0" {
		t.Errorf("listMapped page = %v (%d)", page, total)
	}
	if none, total := list(t, s.get(path+"later/listMapped"), "task_instances"); total != 0 || len(none) != 0 {
		t.Errorf("listMapped of a task not expanded yet = %v (%d)", none, total)
	}
	wantProblem(t, "not mapped", s.do("GET", path+"plain/listMapped", nil), http.StatusNotFound, "not mapped")
	wantProblem(t, "no task", s.do("GET", path+"nope/listMapped", nil), http.StatusNotFound, `"nope"`)
	wantProblem(t, "order", s.do("GET", path+"m/listMapped?order_by=state", nil), http.StatusBadRequest, "order_by")
	// A state that is no task state is a 400, as in the runs' list (trial11 #8).
	wantProblem(t, "bad state", s.do("GET", path+"m/listMapped?state=success&state=bogus", nil), http.StatusBadRequest, `"bogus"`)
	wantProblem(t, "bad state", s.do("GET", strings.TrimSuffix(path, "/")+"?state=bogus", nil), http.StatusBadRequest, `"bogus"`)
}

// TestClearTaskIDPairs: clearTaskInstances takes [task_id, map_index]
// pairs in task_ids, mixed with task ids, as Airflow 3's API does.
func TestClearTaskIDPairs(t *testing.T) {
	s := mapSite(t, withToken)
	const path = "/api/v1/dags/mp/clearTaskInstances"
	r := s.do("POST", path, `{"dag_run_id": "r", "task_ids": [["m", 1], "plain"], "dry_run": true}`)
	if r.status != http.StatusOK {
		t.Fatalf("dry run: %d %s", r.status, r.body)
	}
	got, _ := r.json(t)["task_instances"].([]any)
	if len(got) != 2 || got[0].(map[string]any)["map_index"] != float64(1) || got[1].(map[string]any)["task_id"] != "plain" {
		t.Errorf("dry run of m[1], plain = %s", r.body)
	}
	r = s.do("POST", path, `{"dag_run_id": "r", "task_ids": [["m", 1]]}`)
	if r.status != http.StatusOK {
		t.Fatalf("clear: %d %s", r.status, r.body)
	}
	// The audit log names the instances cleared (trial11 #6).
	if extra, _ := newestEntry(t, s)["extra"].(map[string]any); fmt.Sprint(extra["task_ids"], extra["map_indexes"]) != "[m] [1]" {
		t.Errorf("the clear's audit entry: %v; want task_ids [m] and map_indexes [1]", extra)
	}
	if ti := s.get("/api/v1/dags/mp/dagRuns/r/taskInstances/m/1"); ti["state"] != nil {
		t.Errorf("m/1 after its clear = %v", ti)
	}
	if ti := s.get("/api/v1/dags/mp/dagRuns/r/taskInstances/m/0"); ti["state"] != "success" {
		t.Errorf("m/0 after the clear of m/1 = %v", ti)
	}
	wantProblem(t, "out of range", s.do("POST", path, `{"dag_run_id": "r", "task_ids": [["m", 9]]}`), http.StatusNotFound, "map_index 9")
	wantProblem(t, "bad pair", s.do("POST", path, `{"dag_run_id": "r", "task_ids": [["m", "1"]]}`), http.StatusBadRequest, "task_ids")
	wantProblem(t, "both", s.do("POST", path, `{"dag_run_id": "r", "task_ids": [["m", 1]], "map_index": 1}`), http.StatusBadRequest, "map_index")
}

// vals joins the key of each item, whatever its JSON type.
func vals(items []map[string]any, key string) string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = fmt.Sprint(it[key])
	}
	return strings.Join(out, ",")
}

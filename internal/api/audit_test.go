package api_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/sirocco-dev/sirocco/internal/auth"
	"github.com/sirocco-dev/sirocco/internal/store"
)

// auditCase is one state-changing call and the audit entry it must leave:
// the route pattern as event, the DAG, run and task it concerns, and
// extra's keys. fromAnswer names what only the answer knows: "run" (the
// run a trigger created), "tasks" (the task instances a clear reached).
type auditCase struct {
	method, path string
	body         any
	status       int
	event        string
	dag, run     string
	task         string
	extra        map[string]any
	fromAnswer   string
}

// newestEntry returns the audit log's newest entry, read as an Admin.
func newestEntry(t *testing.T, s *site) map[string]any {
	t.Helper()
	tok := s.token
	s.token = apiToken
	defer func() { s.token = tok }()
	entries, _ := list(t, s.get("/api/v1/eventLogs?order_by=-event_log_id&limit=1"), "event_logs")
	if len(entries) != 1 {
		t.Fatalf("no audit entry")
	}
	return entries[0]
}

// checkEntry compares an audit entry with what c wants.
func checkEntry(t *testing.T, c auditCase, e map[string]any) {
	t.Helper()
	str := func(k string) string { v, _ := e[k].(string); return v }
	extra, _ := e["extra"].(map[string]any)
	what := c.method + " " + c.path
	if str("event") != c.event || str("dag_id") != c.dag || str("run_id") != c.run || str("task_id") != c.task {
		t.Errorf("%s: event %q dag %q run %q task %q, want %q %q %q %q", what,
			str("event"), str("dag_id"), str("run_id"), str("task_id"), c.event, c.dag, c.run, c.task)
	}
	if fmt.Sprint(extra["status"]) != fmt.Sprint(c.status) || extra["method"] != c.method {
		t.Errorf("%s: extra %v, want status %d", what, extra, c.status)
	}
	for k, v := range c.extra {
		if fmt.Sprint(extra[k]) != fmt.Sprint(v) {
			t.Errorf("%s: extra[%s] = %v, want %v", what, k, extra[k], v)
		}
	}
	for _, k := range []string{"dag_id", "run_id", "task_id"} { // null, not "", when the route concerns none
		if v, ok := e[k]; ok && v == "" {
			t.Errorf("%s: %s is an empty string, want null", what, k)
		}
	}
}

// TestAuditEveryWrite: every state-changing operation of the OpenAPI
// document leaves an audit entry whose event is its route pattern and
// whose dag_id, run_id and task_id name what it concerns: the run a
// trigger created, the run and tasks a clear reached (the first task in
// task_id, all in extra's task_ids), the id of the connection, variable or
// pool in extra. A write the table misses fails the test.
func TestAuditEveryWrite(t *testing.T) {
	s := newSite(t, map[string]string{"etl.yaml": etlYAML}, withToken)
	s.token = apiToken
	s.createRun("etl", "r1", s.now(), map[string]store.TaskState{"extract": store.StateFailed})
	s.createRun("etl", "r2", s.now().Add(-24*3600e9), nil)
	// s3://b/k exists (it had an event): POST /assets/events refuses an unknown asset.
	if _, err := s.st.RecordAssetEvents(context.Background(), []store.AssetEvent{{URI: "s3://b/k", Timestamp: s.now()}}, nil); err != nil {
		t.Fatal(err)
	}
	const (
		dagRoute = "/api/v1/dags/{dag_id}"
		runRoute = dagRoute + "/dagRuns/{dag_run_id}"
		tiRoute  = runRoute + "/taskInstances/{task_id}"
	)
	conn := map[string]any{"connection_id": "c1"}
	cases := []auditCase{
		{method: "PATCH", path: "/api/v1/dags/etl", body: map[string]any{"is_paused": true}, status: 200,
			event: "PATCH " + dagRoute, dag: "etl"},
		{method: "POST", path: "/api/v1/dags/etl/dagRuns", body: map[string]any{"conf": map[string]any{}}, status: 200,
			event: "POST " + dagRoute + "/dagRuns", dag: "etl", fromAnswer: "run"},
		{method: "POST", path: "/api/v1/dags/etl/clearTaskInstances", status: 200,
			body:  map[string]any{"dag_run_id": "r1", "task_ids": []string{"extract"}, "include_downstream": true},
			event: "POST " + dagRoute + "/clearTaskInstances", dag: "etl", run: "r1", task: "extract", fromAnswer: "tasks"},
		{method: "PATCH", path: "/api/v1/dags/etl/dagRuns/r1/taskInstances/load", body: map[string]any{"new_state": "success"},
			status: 200, event: "PATCH " + tiRoute, dag: "etl", run: "r1", task: "load"},
		{method: "PATCH", path: "/api/v1/dags/etl/dagRuns/r1/taskInstances/load/-1", body: map[string]any{"new_state": "failed"},
			status: 200, event: "PATCH " + tiRoute + "/{map_index}", dag: "etl", run: "r1", task: "load"},
		{method: "DELETE", path: "/api/v1/dags/etl/dagRuns/r2", body: map[string]any{}, status: 204,
			event: "DELETE " + runRoute, dag: "etl", run: "r2"},
		{method: "POST", path: "/api/v1/connections", status: 200, event: "POST /api/v1/connections", extra: conn,
			body: map[string]any{"connection_id": "c1", "conn_type": "http", "host": "127.0.0.1", "port": 1}},
		{method: "PATCH", path: "/api/v1/connections/c1", body: map[string]any{"login": "me"}, status: 200,
			event: "PATCH /api/v1/connections/{connection_id}", extra: conn},
		{method: "POST", path: "/api/v1/connections/c1/test", body: map[string]any{}, status: 200,
			event: "POST /api/v1/connections/{connection_id}/test", extra: conn},
		{method: "DELETE", path: "/api/v1/connections/c1", body: map[string]any{}, status: 204,
			event: "DELETE /api/v1/connections/{connection_id}", extra: conn},
		{method: "POST", path: "/api/v1/variables", body: map[string]any{"key": "v1", "value": "x"}, status: 200,
			event: "POST /api/v1/variables", extra: map[string]any{"variable_key": "v1"}},
		{method: "PATCH", path: "/api/v1/variables/v1", body: map[string]any{"value": "y"}, status: 200,
			event: "PATCH /api/v1/variables/{variable_key}", extra: map[string]any{"variable_key": "v1"}},
		{method: "DELETE", path: "/api/v1/variables/v1", body: map[string]any{}, status: 204,
			event: "DELETE /api/v1/variables/{variable_key}", extra: map[string]any{"variable_key": "v1"}},
		{method: "POST", path: "/api/v1/pools", body: map[string]any{"name": "p1", "slots": 2}, status: 200,
			event: "POST /api/v1/pools", extra: map[string]any{"pool_name": "p1"}},
		{method: "PATCH", path: "/api/v1/pools/p1", body: map[string]any{"slots": 3}, status: 200,
			event: "PATCH /api/v1/pools/{pool_name}", extra: map[string]any{"pool_name": "p1"}},
		{method: "DELETE", path: "/api/v1/pools/p1", body: map[string]any{}, status: 204,
			event: "DELETE /api/v1/pools/{pool_name}", extra: map[string]any{"pool_name": "p1"}},
		{method: "POST", path: "/api/v1/assets/events", body: map[string]any{"uri": "s3://b/k"}, status: 200,
			event: "POST /api/v1/assets/events", extra: map[string]any{"uri": "s3://b/k"}},
	}
	covered := map[string]bool{}
	for _, c := range cases {
		covered[c.event] = true
		r := s.do(c.method, c.path, c.body)
		if r.status != c.status {
			t.Fatalf("%s %s: %d, want %d\n%s", c.method, c.path, r.status, c.status, r.body)
		}
		switch c.fromAnswer {
		case "run":
			c.run, _ = r.json(t)["dag_run_id"].(string)
			if c.run == "" {
				t.Fatalf("trigger answered no dag_run_id: %s", r.body)
			}
		case "tasks":
			tis, _ := r.json(t)["task_instances"].([]any)
			var names []string
			for _, ti := range tis {
				names = append(names, ti.(map[string]any)["task_id"].(string))
			}
			if !slices.Contains(names, "load") {
				t.Fatalf("clear with downstream reached %v", names)
			}
			c.extra = map[string]any{"task_ids": names}
		}
		checkEntry(t, c, newestEntry(t, s))
	}
	for _, op := range documentedOperations(t, s) {
		if op.method != "GET" && !covered[op.method+" /api/v1"+op.path] {
			t.Errorf("%s %s: a state-changing operation the audit table does not check", op.method, op.path)
		}
	}
}

// TestAuditRefusalsUnderTheRoute: a refused write is recorded under its
// route pattern and the DAG, run and task its path names, whatever
// refused it: the content type (415), the body (400), an unknown DAG
// (404), the role (403), a conflict (409). A path no route has is recorded
// as "<method> other", never as the raw path.
func TestAuditRefusalsUnderTheRoute(t *testing.T) {
	s := newSite(t, map[string]string{"etl.yaml": etlYAML}, withToken)
	s.token = apiToken
	s.createRun("etl", "r1", s.now(), nil)
	users := auth.Users{Store: s.st}
	if err := users.Create(t.Context(), "vic", auth.Viewer, "password-vic"); err != nil {
		t.Fatal(err)
	}
	viewer, _, err := users.CreateToken(t.Context(), "vic", "t", 0)
	if err != nil {
		t.Fatal(err)
	}
	const trigger = "POST /api/v1/dags/{dag_id}/dagRuns"
	const mark = "PATCH /api/v1/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}"
	cases := []struct {
		auditCase
		token   string
		headers []string
	}{
		{auditCase: auditCase{method: "POST", path: "/api/v1/dags/etl/dagRuns", body: `{"dag_run_id": "x"}`, status: 415,
			event: trigger, dag: "etl", run: ""}, headers: []string{"Content-Type", "text/plain"}},
		{auditCase: auditCase{method: "POST", path: "/api/v1/dags/etl/dagRuns", body: map[string]any{"conf": 3}, status: 400,
			event: trigger, dag: "etl"}},
		{auditCase: auditCase{method: "POST", path: "/api/v1/dags/nope/dagRuns", body: map[string]any{"dag_run_id": "x"},
			status: 404, event: trigger, dag: "nope"}}, // the DAG is looked up before the body is read
		{auditCase: auditCase{method: "POST", path: "/api/v1/dags/etl/dagRuns", body: map[string]any{"dag_run_id": "r1"},
			status: 409, event: trigger, dag: "etl", run: "r1"}},
		{auditCase: auditCase{method: "POST", path: "/api/v1/dags/etl/dagRuns", body: map[string]any{}, status: 403,
			event: trigger, dag: "etl"}, token: viewer},
		{auditCase: auditCase{method: "PATCH", path: "/api/v1/dags/etl/dagRuns/r1/taskInstances/load",
			body: map[string]any{"new_state": "bogus"}, status: 400, event: mark, dag: "etl", run: "r1", task: "load"}},
		{auditCase: auditCase{method: "PATCH", path: "/api/v1/dags/etl/dagRuns/r1/taskInstances/load", body: "{}", status: 415,
			event: mark, dag: "etl", run: "r1", task: "load"}, headers: []string{"Content-Type", "text/csv"}},
		{auditCase: auditCase{method: "PATCH", path: "/api/v1/dags/etl/dagRuns/a%2Fb/taskInstances/t%20x",
			body: map[string]any{"new_state": "success"}, status: 404, event: mark, dag: "etl", run: "a/b", task: "t x"}},
		{auditCase: auditCase{method: "DELETE", path: "/api/v1/connections/gone", body: map[string]any{}, status: 404,
			event: "DELETE /api/v1/connections/{connection_id}", extra: map[string]any{"connection_id": "gone"}}},
		{auditCase: auditCase{method: "POST", path: "/api/v1/nowhere/x", body: map[string]any{}, status: 404,
			event: "POST other", extra: map[string]any{"path": "/api/v1/nowhere/x"}}},
		{auditCase: auditCase{method: "PUT", path: "/api/v1/dags/etl", body: map[string]any{}, status: 405,
			event: "PUT other"}},
		{auditCase: auditCase{method: "DELETE", path: "/api/v1/dags/etl", body: "", status: 415, event: "DELETE other"},
			headers: []string{"Content-Type", "text/plain"}},
	}
	for _, c := range cases {
		s.token = apiToken
		if c.token != "" {
			s.token = c.token
		}
		r := s.do(c.method, c.path, c.body, c.headers...)
		if r.status != c.status {
			t.Errorf("%s %s: %d, want %d\n%s", c.method, c.path, r.status, c.status, r.body)
			continue
		}
		e := newestEntry(t, s)
		if strings.Contains(fmt.Sprint(e["event"]), "etl") || strings.Contains(fmt.Sprint(e["event"]), "nowhere") {
			t.Errorf("%s %s: event %v holds the raw path", c.method, c.path, e["event"])
		}
		checkEntry(t, c.auditCase, e)
	}
	if runs, _ := s.st.ListRuns(t.Context(), store.RunFilter{}); len(runs) != 1 {
		t.Errorf("refused triggers created runs: %d", len(runs))
	}
	// A path to clean is redirected, not served: its entry names a route
	// pattern, never the cleaned path with its ids (which is what the
	// ServeMux's Handler names for it).
	s.token = apiToken
	req, _ := http.NewRequest("POST", s.srv.URL+"/api/v1//dags/etl/dagRuns", strings.NewReader("{}"))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+apiToken)
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if e := newestEntry(t, s); strings.Contains(fmt.Sprint(e["event"]), "etl") || !strings.HasPrefix(fmt.Sprint(e["event"]), "POST ") ||
		resp.StatusCode/100 != 3 {
		t.Errorf("a path to clean: %d, entry %v", resp.StatusCode, e)
	}
}

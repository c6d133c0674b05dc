package api

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzAuditRoute: for any method and path, the route and ids the audit
// log records before serving (auditRoute) are those http.ServeMux gives
// the handler it routes to: the same pattern, and dag_id, dag_run_id,
// task_id and the other wildcards equal to r.PathValue. A path the
// ServeMux redirects gives no ids; nothing panics.
func FuzzAuditRoute(f *testing.F) {
	for _, seed := range []struct{ method, path string }{
		{"POST", "/api/v1/dags/etl/dagRuns"},
		{"PATCH", "/api/v1/dags/etl/dagRuns/a%2Fb/taskInstances/t%20x"},
		{"POST", "/api/v1//dags/etl/dagRuns"},
		{"DELETE", "/api/v1/dags/etl/dagRuns/r/../r"},
		{"POST", "/api/v1/connections/c%ZZ/test"},
		{"PATCH", "/api/v1/pools/%2e%2e"},
		{"GET", "/api/v1/dags/d/dagRuns/r/taskInstances/t/logs/1"},
		{"POST", "/api/v1/nowhere"},
		{"PUT", "/api/v1/dags/etl"},
	} {
		f.Add(seed.method, seed.path)
	}
	s := newServer(Options{})
	probe := http.NewServeMux()
	var got *http.Request
	for _, rt := range s.routes() {
		probe.HandleFunc(rt.method+" "+Prefix+rt.path, func(_ http.ResponseWriter, r *http.Request) { got = r })
	}
	f.Fuzz(func(t *testing.T, method, path string) {
		if !strings.HasPrefix(path, "/") || strings.ContainsAny(method, " \t\r\n/") || method == "" {
			return
		}
		r, err := http.NewRequest(method, "http://localhost"+path, nil)
		if err != nil || r.URL.Host != "localhost" {
			return
		}
		rt := s.auditRoute(r)
		got = nil
		probe.ServeHTTP(httptest.NewRecorder(), r)
		if got == nil { // not routed: refused or redirected, so no ids
			if rt.DagID != "" || rt.RunID != "" || rt.TaskID != "" || len(rt.IDs) > 0 {
				t.Fatalf("%s %q: ids %+v for a request no route serves", method, path, rt)
			}
			return
		}
		if rt.Pattern != got.Pattern {
			t.Fatalf("%s %q: pattern %q, the ServeMux routed it to %q", method, path, rt.Pattern, got.Pattern)
		}
		want := map[string]string{"dag_id": rt.DagID, "dag_run_id": rt.RunID, "task_id": rt.TaskID}
		for k, v := range rt.IDs {
			want[k] = v
		}
		for k, v := range want {
			if got.PathValue(k) != v {
				t.Fatalf("%s %q: %s = %q, the handler gets %q", method, path, k, v, got.PathValue(k))
			}
		}
		for _, k := range []string{"connection_id", "pool_name", "variable_key", "task_try_number", "xcom_key", "event_log_id", "username"} {
			if got.PathValue(k) != "" && want[k] != got.PathValue(k) {
				t.Fatalf("%s %q: %s missing, the handler gets %q", method, path, k, got.PathValue(k))
			}
		}
	})
}

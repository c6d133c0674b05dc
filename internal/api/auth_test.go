package api_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/sirocco-dev/sirocco/internal/api"
	"github.com/sirocco-dev/sirocco/internal/store"
)

const apiToken = "tok-API-Secret-Value-64"

func withToken(o *api.Options) { o.Config.APIToken = apiToken }

// endpoints are a GET of every read route, for the auth checks.
var endpoints = []string{
	"/api/v1/dags", "/api/v1/dags/etl", "/api/v1/dags/etl/tasks", "/api/v1/dags/etl/tasks/extract",
	"/api/v1/dags/etl/dagRuns", "/api/v1/dags/etl/dagRuns/r", "/api/v1/dags/etl/dagRuns/r/taskInstances",
	"/api/v1/dags/etl/dagRuns/r/taskInstances/extract", "/api/v1/dags/etl/dagRuns/r/taskInstances/extract/logs/1",
	"/api/v1/dags/etl/dagRuns/r/taskInstances/extract/xcomEntries/k",
	"/api/v1/dags/etl/dagRuns/r/taskInstances/extract/xcomEntries", "/api/v1/connections", "/api/v1/connections/c",
	"/api/v1/pools", "/api/v1/pools/default_pool", "/api/v1/variables", "/api/v1/variables/v", "/api/v1/importErrors",
	"/api/v1/importErrors/1", "/api/v1/auth/me", "/api/v1/eventLogs", "/api/v1/users", "/api/v1/users/u",
}

// catalogWrites are a write of each kind on connections, variables and
// pools, for the guard checks; none may apply without the guard's consent.
var catalogWrites = []struct {
	method, path string
	body         any
}{
	{"POST", "/api/v1/connections", map[string]any{"connection_id": "c", "conn_type": "http"}},
	{"PATCH", "/api/v1/connections/c", map[string]any{"host": "h"}},
	{"DELETE", "/api/v1/connections/c", map[string]any{}},
	{"POST", "/api/v1/variables", map[string]any{"key": "v", "value": "x"}},
	{"PATCH", "/api/v1/variables/v", map[string]any{"value": "y"}},
	{"DELETE", "/api/v1/variables/v", map[string]any{}},
	{"POST", "/api/v1/pools", map[string]any{"name": "p", "slots": 1}},
	{"PATCH", "/api/v1/pools/default_pool", map[string]any{"slots": 1}},
	{"DELETE", "/api/v1/pools/p", map[string]any{}},
}

func TestTokenRequiredEverywhereButHealth(t *testing.T) {
	s := newSite(t, map[string]string{"etl.yaml": etlYAML}, withToken)
	s.token = apiToken
	s.createRun("etl", "r", s.now(), map[string]store.TaskState{"extract": store.StateSuccess})

	for _, path := range endpoints {
		for name, auth := range map[string]string{
			"no header": "", "wrong token": "Bearer nope", "token with a prefix": "Bearer " + apiToken + "x",
			"basic scheme": "Basic " + apiToken, "bare token": apiToken,
		} {
			s.token = ""
			var r response
			if auth == "" {
				r = s.do("GET", path, nil)
			} else {
				r = s.do("GET", path, nil, "Authorization", auth)
			}
			if r.status != http.StatusUnauthorized {
				t.Errorf("GET %s with %s: %d, want 401", path, name, r.status)
				continue
			}
			if r.header.Get("WWW-Authenticate") == "" || !strings.Contains(string(r.body), `"status": 401`) && !strings.Contains(string(r.body), `"status":401`) {
				t.Errorf("GET %s with %s: 401 without challenge or problem JSON: %v %s", path, name, r.header, r.body)
			}
		}
		s.token = apiToken
		if r := s.do("GET", path, nil); r.status == http.StatusUnauthorized || r.status >= 500 {
			t.Errorf("GET %s with the token: %d %s", path, r.status, r.body)
		} else if strings.Contains(string(r.body), apiToken) {
			t.Errorf("GET %s answers the token", path)
		}
	}
	s.token = apiToken
	if r := s.do("GET", "/api/v1/dags", nil, "Authorization", "bearer "+apiToken); r.status != http.StatusOK {
		t.Errorf("the scheme is case-insensitive: %d", r.status)
	}
	s.token = ""
	if r := s.do("POST", "/api/v1/dags/etl/dagRuns", map[string]any{}); r.status != http.StatusUnauthorized {
		t.Errorf("trigger without token: %d", r.status)
	}
	for _, w := range catalogWrites {
		if r := s.do(w.method, w.path, w.body); r.status != http.StatusUnauthorized {
			t.Errorf("%s %s without token: %d, want 401", w.method, w.path, r.status)
		}
	}
	if pools, _ := s.st.ListPools(t.Context()); len(pools) != 1 || pools[0].Slots != 128 {
		t.Errorf("writes without token changed the pools: %+v", pools)
	}
	for _, path := range []string{"/health", "/api/v1/health", "/api/v1/openapi.json", "/api/v1/openapi.yaml"} {
		if r := s.do("GET", path, nil); r.status != http.StatusOK {
			t.Errorf("GET %s without token: %d, want 200 (health and the OpenAPI document are open)", path, r.status)
		}
	}
	// With a token, any Host is fine: the token, not the name, is the proof.
	s.token = apiToken
	if r := s.do("GET", "/api/v1/dags", nil, "Host", "sirocco.example.com"); r.status != http.StatusOK {
		t.Errorf("other host with the token: %d", r.status)
	}
}

// TestWithoutTokenOnlyLoopbackHosts: without a token the API answers
// requests to a loopback name only, so a page whose domain was rebound to
// 127.0.0.1 (DNS rebinding) gets nothing.
func TestWithoutTokenOnlyLoopbackHosts(t *testing.T) {
	s := newSite(t, map[string]string{"etl.yaml": etlYAML})
	for _, host := range []string{"localhost:8080", "127.0.0.1", "[::1]:8080", "LOCALHOST"} {
		if r := s.do("GET", "/api/v1/dags", nil, "Host", host); r.status != http.StatusOK {
			t.Errorf("Host %s: %d", host, r.status)
		}
	}
	for _, host := range []string{"evil.example:8080", "10.1.2.3", "localhost.evil.example"} {
		wantProblem(t, "Host "+host, s.do("GET", "/api/v1/dags", nil, "Host", host), http.StatusForbidden, "loopback")
	}
	if r := s.do("GET", "/health", nil, "Host", "evil.example"); r.status != http.StatusOK {
		t.Errorf("health is open to any host: %d", r.status)
	}
}

// TestWritesNeedJSON: a write without Content-Type application/json is
// refused before it does anything, and no CORS preflight is granted, so a
// browser page of another origin cannot forge one.
func TestWritesNeedJSON(t *testing.T) {
	s := newSite(t, map[string]string{"etl.yaml": etlYAML})
	for _, ct := range []string{"text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", ""} {
		r := s.do("POST", "/api/v1/dags/etl/dagRuns", `{"dag_run_id": "forged"}`, "Content-Type", ct)
		wantProblem(t, "Content-Type "+ct, r, http.StatusUnsupportedMediaType, "application/json")
		r = s.do("PATCH", "/api/v1/dags/etl", `{"is_paused": true}`, "Content-Type", ct)
		wantProblem(t, "PATCH Content-Type "+ct, r, http.StatusUnsupportedMediaType, "application/json")
	}
	for _, w := range catalogWrites {
		b, _ := json.Marshal(w.body)
		wantProblem(t, w.method+" "+w.path+" as text", s.do(w.method, w.path, string(b), "Content-Type", "text/plain"),
			http.StatusUnsupportedMediaType, "application/json")
	}
	if pools, _ := s.st.ListPools(t.Context()); len(pools) != 1 || pools[0].Slots != 128 {
		t.Errorf("refused writes changed the pools: %+v", pools)
	}
	if conns, _ := s.st.ListConnections(t.Context()); len(conns) != 0 {
		t.Errorf("refused writes stored connections: %+v", conns)
	}
	if runs, _ := s.st.ListRuns(t.Context(), store.RunFilter{}); len(runs) != 0 || s.kicks.Load() != 0 {
		t.Errorf("refused writes created %d runs, %d kicks", len(runs), s.kicks.Load())
	}
	if r := s.do("POST", "/api/v1/dags/etl/dagRuns", `{"dag_run_id": "ok"}`, "Content-Type", "application/json; charset=utf-8"); r.status != http.StatusOK {
		t.Errorf("JSON with a charset: %d %s", r.status, r.body)
	}
	r := s.do("OPTIONS", "/api/v1/dags/etl/dagRuns", nil, "Origin", "https://evil.example",
		"Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "content-type")
	if r.status < 400 || r.header.Get("Access-Control-Allow-Origin") != "" || r.header.Get("Access-Control-Allow-Headers") != "" {
		t.Errorf("preflight: %d %v", r.status, r.header)
	}
	big := `{"conf": {"x": "` + strings.Repeat("a", 2<<20) + `"}}`
	wantProblem(t, "huge body", s.do("POST", "/api/v1/dags/etl/dagRuns", big), http.StatusRequestEntityTooLarge)
}

func TestUnknownRoutesAreProblems(t *testing.T) {
	s := newSite(t, map[string]string{"etl.yaml": etlYAML})
	wantProblem(t, "unknown path", s.do("GET", "/api/v1/nope", nil), http.StatusNotFound, "/api/v1/nope")
	wantProblem(t, "outside the API", s.do("GET", "/", nil), http.StatusNotFound)
	r := s.do("DELETE", "/api/v1/dags/etl", nil)
	wantProblem(t, "DELETE a DAG", r, http.StatusUnsupportedMediaType) // writes need JSON first
	r = s.do("DELETE", "/api/v1/dags/etl", map[string]any{})
	wantProblem(t, "DELETE a DAG", r, http.StatusMethodNotAllowed, "DELETE")
	if allow := r.header.Get("Allow"); allow != "GET, PATCH" {
		t.Errorf("Allow = %q", allow)
	}
	wantProblem(t, "POST health", s.do("POST", "/health", map[string]any{}), http.StatusMethodNotAllowed)
}

// TestCheckListen: beyond loopback the server needs both authentication
// and TLS, unless forced; each refusal says how to fix it.
func TestCheckListen(t *testing.T) {
	authTLS := api.Listen{Auth: true, TLS: true}
	for _, c := range []struct {
		addr string
		l    api.Listen
		fix  string // "" when accepted
	}{
		{"127.0.0.1:8080", api.Listen{}, ""},
		{"localhost:8080", api.Listen{}, ""},
		{"[::1]:8080", api.Listen{}, ""},
		{"127.0.0.2:0", api.Listen{}, ""},
		{":8080", api.Listen{}, "sirocco users create"},
		{"0.0.0.0:8080", api.Listen{TLS: true}, "api_token"},
		{"[::]:8080", api.Listen{Auth: true}, "--tls-cert"},
		{"0.0.0.0:8080", api.Listen{Auth: true}, "--insecure-listen"},
		{"0.0.0.0:8080", authTLS, ""},
		{":8080", authTLS, ""},
		{":8080", api.Listen{Insecure: true}, ""},
		{"nonsense", authTLS, "nonsense"},
	} {
		err := api.CheckListen(c.addr, c.l)
		if (err == nil) != (c.fix == "") || err != nil && !strings.Contains(err.Error(), c.fix) {
			t.Errorf("CheckListen(%q, %+v) = %v, want %q", c.addr, c.l, err, c.fix)
		}
	}
}

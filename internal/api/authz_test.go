package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/sirocco-dev/sirocco/internal/auth"
	"github.com/sirocco-dev/sirocco/internal/store"
)

// operation is one path × method of the OpenAPI document and the role it
// documents.
type operation struct {
	method, path string
	role         string
}

// documentedOperations reads the OpenAPI document the server serves, so a
// route added to the server and its document is in the matrix at once
// (TestOpenAPIMatchesRoutes keeps the two equal).
func documentedOperations(t *testing.T, s *site) []operation {
	t.Helper()
	r := s.do("GET", "/api/v1/openapi.yaml", nil)
	var doc struct {
		Paths map[string]map[string]yaml.Node `yaml:"paths"`
	}
	if err := yaml.Unmarshal(r.body, &doc); err != nil {
		t.Fatal(err)
	}
	var ops []operation
	for path, item := range doc.Paths {
		for method, node := range item {
			if method == "parameters" || method == "summary" || method == "description" {
				continue
			}
			var o struct {
				Role string `yaml:"x-sirocco-role"`
			}
			if err := node.Decode(&o); err != nil {
				t.Fatal(err)
			}
			if o.Role == "" {
				t.Errorf("%s %s documents no x-sirocco-role", strings.ToUpper(method), path)
			}
			ops = append(ops, operation{strings.ToUpper(method), path, o.Role})
		}
	}
	sort.Slice(ops, func(i, j int) bool { return ops[i].path+ops[i].method < ops[j].path+ops[j].method })
	return ops
}

var pathParam = regexp.MustCompile(`\{[a-z_]+\}`)

// concrete fills a documented path's parameters with ids of things that
// exist (so an allowed call is not a mere 404 everywhere).
func concrete(path string) string {
	ids := map[string]string{"{dag_id}": "etl", "{dag_run_id}": "r", "{task_id}": "extract", "{task_try_number}": "1", "{map_index}": "-1",
		"{xcom_key}": "k", "{connection_id}": "c", "{pool_name}": "default_pool", "{variable_key}": "v",
		"{import_error_id}": "1", "{event_log_id}": "1", "{username}": "viewer"}
	return "/api/v1" + pathParam.ReplaceAllStringFunc(path, func(p string) string { return ids[p] })
}

// TestAuthorizationMatrix: every documented operation × {no credentials,
// a wrong token, a revoked token, each role's token, the service token} →
// 401 without valid credentials, 403 below the operation's role, and
// otherwise neither (the call is served). Public operations answer
// everyone. The roles come from the document; the enforcement from the
// server.
func TestAuthorizationMatrix(t *testing.T) {
	s := newSite(t, map[string]string{"etl.yaml": etlYAML}, withToken)
	s.token = apiToken
	s.createRun("etl", "r", s.now(), map[string]store.TaskState{"extract": store.StateSuccess})
	s.token = ""
	users := auth.Users{Store: s.st}
	tokens := map[auth.Role]string{}
	for _, role := range auth.Roles() {
		name := strings.ToLower(role.String())
		if err := users.Create(t.Context(), name, role, "password-"+name); err != nil {
			t.Fatal(err)
		}
		tok, _, err := users.CreateToken(t.Context(), name, "matrix", 0)
		if err != nil {
			t.Fatal(err)
		}
		tokens[role] = tok
	}
	revoked, rt, err := users.CreateToken(t.Context(), "admin", "revoked", 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.st.DeleteAuthToken(t.Context(), rt.ID); err != nil {
		t.Fatal(err)
	}

	type caller struct {
		name  string
		token string
		role  auth.Role // NoRole: not authenticated
	}
	callers := []caller{{"no credentials", "", auth.NoRole}, {"a wrong token", "sirocco_wrong", auth.NoRole},
		{"a revoked token", revoked, auth.NoRole}, {"the service token", apiToken, auth.Admin}}
	for _, role := range auth.Roles() {
		callers = append(callers, caller{role.String(), tokens[role], role})
	}

	ops := documentedOperations(t, s)
	if len(ops) < 40 {
		t.Fatalf("only %d operations documented", len(ops))
	}
	for _, op := range ops {
		need, err := auth.ParseRole(op.role)
		if op.role == "Public" {
			need, err = auth.Public, nil
		}
		if err != nil {
			t.Errorf("%s %s: x-sirocco-role %q: %v", op.method, op.path, op.role, err)
			continue
		}
		for _, c := range callers {
			var body any
			if op.method != "GET" {
				body = map[string]any{}
			}
			var r response
			if c.token == "" {
				r = s.do(op.method, concrete(op.path), body)
			} else {
				r = s.do(op.method, concrete(op.path), body, "Authorization", "Bearer "+c.token)
			}
			want := "served"
			switch {
			case need == auth.Public:
			case c.role == auth.NoRole:
				want = "401"
			case !c.role.Allows(need):
				want = "403"
			}
			got := fmt.Sprint(r.status)
			if r.status != http.StatusUnauthorized && r.status != http.StatusForbidden {
				got = "served"
			}
			if got != want || r.status >= 500 {
				t.Errorf("%s %s by %s (needs %s): %d, want %s\n%s", op.method, op.path, c.name, op.role, r.status, want, r.body)
			}
		}
	}
}

// TestAuditLogRecordsWrites: each write by an identified caller, allowed
// or refused, lands in the audit log with who, what and from where;
// reads do not; only an Admin reads it.
func TestAuditLogRecordsWrites(t *testing.T) {
	s := newSite(t, map[string]string{"etl.yaml": etlYAML}, withToken)
	users := auth.Users{Store: s.st}
	for name, role := range map[string]auth.Role{"ann": auth.User, "vic": auth.Viewer} {
		if err := users.Create(t.Context(), name, role, "password-"+name); err != nil {
			t.Fatal(err)
		}
	}
	ann, _, _ := users.CreateToken(t.Context(), "ann", "t", 0)
	vic, _, _ := users.CreateToken(t.Context(), "vic", "t", 0)
	s.token = ann
	s.createRun("etl", "r1", s.now(), nil)
	if r := s.do("PATCH", "/api/v1/dags/etl/dagRuns/r1/taskInstances/extract", map[string]any{"new_state": "success"}); r.status != http.StatusOK {
		t.Fatalf("mark: %d %s", r.status, r.body)
	}
	s.get("/api/v1/dags/etl")
	s.token = vic
	if r := s.do("PATCH", "/api/v1/dags/etl", map[string]any{"is_paused": true}); r.status != http.StatusForbidden {
		t.Fatalf("a Viewer's pause: %d", r.status)
	}
	s.token = ""
	s.do("POST", "/api/v1/dags/etl/dagRuns", map[string]any{}) // anonymous: refused, not recorded

	s.token = ann
	if r := s.do("GET", "/api/v1/eventLogs", nil); r.status != http.StatusForbidden {
		t.Errorf("a User reads the audit log: %d", r.status)
	}
	s.token = apiToken
	entries, total := list(t, s.get("/api/v1/eventLogs"), "event_logs")
	if total != 3 {
		t.Fatalf("%d entries, want 3: %v", total, entries)
	}
	want := []struct{ owner, event, dag, run, task, status string }{
		{"ann", "POST /api/v1/dags/{dag_id}/dagRuns", "etl", "r1", "", "200"},
		{"ann", "PATCH /api/v1/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}", "etl", "r1", "extract", "200"},
		{"vic", "PATCH /api/v1/dags/{dag_id}", "etl", "", "", "403"},
	}
	for i, w := range want {
		e := entries[i]
		extra, _ := e["extra"].(map[string]any)
		str := func(k string) string { v, _ := e[k].(string); return v }
		if str("owner") != w.owner || str("event") != w.event || str("dag_id") != w.dag || str("run_id") != w.run ||
			str("task_id") != w.task || fmt.Sprint(extra["status"]) != w.status || extra["remote_addr"] != "127.0.0.1" ||
			extra["auth"] != "token" || str("when") == "" {
			t.Errorf("entry %d = %v, want %+v", i, e, w)
		}
	}
	newest, _ := list(t, s.get("/api/v1/eventLogs?order_by=-event_log_id&limit=1"), "event_logs")
	if len(newest) != 1 || newest[0]["owner"] != "vic" {
		t.Errorf("newest first: %v", newest)
	}
	id := fmt.Sprint(entries[0]["event_log_id"])
	if one := s.get("/api/v1/eventLogs/" + id); one["event"] != want[0].event {
		t.Errorf("eventLogs/%s = %v", id, one)
	}
	wantProblem(t, "missing entry", s.do("GET", "/api/v1/eventLogs/999", nil), http.StatusNotFound)
}

// TestPasswordHashNeverAnswered: the users endpoints, auth/me and the
// audit log never carry a password hash nor a token.
func TestPasswordHashNeverAnswered(t *testing.T) {
	s := newSite(t, nil, withToken)
	users := auth.Users{Store: s.st}
	if err := users.Create(t.Context(), "ann", auth.Admin, "password-ann"); err != nil {
		t.Fatal(err)
	}
	u, _ := s.st.GetUser(t.Context(), "ann")
	tok, _, _ := users.CreateToken(t.Context(), "ann", "t", 0)
	s.token = tok
	s.do("POST", "/api/v1/pools", map[string]any{"name": "p", "slots": 1})
	me := s.get("/api/v1/auth/me")
	if me["username"] != "ann" || me["role"] != "Admin" || me["auth"] != "token" {
		t.Errorf("auth/me = %v", me)
	}
	all, total := list(t, s.get("/api/v1/users"), "users")
	if total != 1 || all[0]["username"] != "ann" {
		t.Errorf("users = %v", all)
	}
	for _, path := range []string{"/api/v1/users", "/api/v1/users/ann", "/api/v1/auth/me", "/api/v1/eventLogs"} {
		body := string(s.do("GET", path, nil).body)
		salt := strings.Split(u.PasswordHash, "$")[4]
		for _, secret := range []string{u.PasswordHash, salt, "argon2", "password", tok} {
			if strings.Contains(body, secret) {
				t.Errorf("GET %s answers %q: %s", path, secret, body)
			}
		}
	}
	var one map[string]any
	_ = json.Unmarshal(s.do("GET", "/api/v1/users/ann", nil).body, &one)
	if roles, _ := one["roles"].([]any); len(roles) != 1 {
		t.Errorf("users/ann = %v", one)
	}
}

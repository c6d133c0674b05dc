package api_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/sirocco-dev/sirocco/internal/api"
	"github.com/sirocco-dev/sirocco/internal/connection"
)

// writeSecret and extraWriteSecret are sent in writes and must come back in
// no answer.
const (
	writeSecret      = "pw-Written-Secret-42"
	extraWriteSecret = "tok-Written-Extra-17"
)

// recorder keeps every answer of a test, to check afterwards that none
// carries a secret.
type recorder struct {
	*site
	answers []response
}

func (rc *recorder) do(method, path string, body any, headers ...string) response {
	rc.t.Helper()
	if method == "DELETE" && body == nil {
		headers = append(headers, "Content-Type", "application/json")
	}
	r := rc.site.do(method, path, body, headers...)
	rc.answers = append(rc.answers, r)
	return r
}

// noSecrets fails the test if any answer holds one of secrets.
func (rc *recorder) noSecrets(t *testing.T, secrets ...string) {
	t.Helper()
	for _, r := range rc.answers {
		for _, secret := range secrets {
			if strings.Contains(string(r.body), secret) {
				t.Errorf("an answer (%d) holds %q:\n%s", r.status, secret, r.body)
			}
		}
	}
}

// stored returns connection id as a task would get it, decrypted.
func (s *site) storedConn(id string) connection.Connection {
	s.t.Helper()
	c, err := (&connection.Resolver{Store: s.st, Keys: s.keys}).Get(context.Background(), id)
	if err != nil {
		s.t.Fatalf("connection %s: %v", id, err)
	}
	return c
}

// TestConnectionCreateUpdateDelete: a connection made through the API is
// stored with its secrets encrypted, changed field by field (update_mask or
// the fields given) and deleted; the password is taken and never answered.
func TestConnectionCreateUpdateDelete(t *testing.T) {
	rc := &recorder{site: newSite(t, nil)}
	r := rc.do("POST", "/api/v1/connections", map[string]any{
		"connection_id": "warehouse", "conn_type": "PostgreSQL", "host": "db.example", "port": 5432, "login": "etl",
		"password": writeSecret, "schema": "dw", "description": "the warehouse",
		"extra": `{"sslmode": "require", "api_token": "` + extraWriteSecret + `"}`,
	})
	if r.status != http.StatusOK {
		t.Fatalf("POST: %d %s", r.status, r.body)
	}
	got := r.json(t)
	if got["connection_id"] != "warehouse" || got["conn_type"] != "postgres" || got["source"] != "store" ||
		got["port"] != float64(5432) || !strings.Contains(got["extra"].(string), `"api_token":"***"`) {
		t.Errorf("POST answer = %v", got)
	}
	if _, has := got["password"]; has {
		t.Errorf("POST answers a password field: %s", r.body)
	}
	c := rc.storedConn("warehouse")
	if c.Password != writeSecret || c.Extra["api_token"] != extraWriteSecret || c.Host != "db.example" {
		t.Errorf("stored = %+v", c)
	}
	rec, err := rc.st.GetConnection(t.Context(), "warehouse")
	if err != nil || strings.Contains(rec.Password+rec.Extra, writeSecret) || strings.Contains(rec.Extra, extraWriteSecret) {
		t.Errorf("the store holds a secret in clear: %+v %v", rec, err)
	}

	// update_mask: only host changes, although the body gives port too.
	r = rc.do("PATCH", "/api/v1/connections/warehouse?update_mask=host", map[string]any{"host": "db2.example", "port": 1})
	if r.status != http.StatusOK || r.json(t)["host"] != "db2.example" || r.json(t)["port"] != float64(5432) {
		t.Errorf("PATCH with update_mask: %d %s", r.status, r.body)
	}
	// Without a mask: the fields given, and only those.
	r = rc.do("PATCH", "/api/v1/connections/warehouse", map[string]any{"connection_id": "warehouse", "login": nil, "port": 6432})
	if r.status != http.StatusOK {
		t.Fatalf("PATCH: %d %s", r.status, r.body)
	}
	c = rc.storedConn("warehouse")
	if c.Login != "" || c.Port != 6432 || c.Host != "db2.example" || c.Password != writeSecret || c.Schema != "dw" {
		t.Errorf("after PATCH = %+v", c)
	}
	// A client sends back what it read: *** keeps the stored secrets.
	read := rc.do("GET", "/api/v1/connections/warehouse", nil).json(t)
	r = rc.do("PATCH", "/api/v1/connections/warehouse", map[string]any{"password": "***", "extra": read["extra"], "host": "db3.example"})
	if r.status != http.StatusOK {
		t.Fatalf("PATCH of what was read: %d %s", r.status, r.body)
	}
	c = rc.storedConn("warehouse")
	if c.Password != writeSecret || c.Extra["api_token"] != extraWriteSecret || c.Extra["sslmode"] != "require" || c.Host != "db3.example" {
		t.Errorf("a round trip lost a secret: %+v", c)
	}
	// A new password and extras replace the old.
	r = rc.do("PATCH", "/api/v1/connections/warehouse?update_mask=password,extra",
		map[string]any{"password": "new-pass-word", "extra": map[string]any{"api_token": "new-token", "retries": 3}})
	if r.status != http.StatusOK {
		t.Fatalf("PATCH secrets: %d %s", r.status, r.body)
	}
	if c = rc.storedConn("warehouse"); c.Password != "new-pass-word" || c.Extra["api_token"] != "new-token" || c.Extra["retries"] != "3" || c.Extra["sslmode"] != "" {
		t.Errorf("new secrets = %+v", c)
	}
	rc.noSecrets(t, "new-pass-word", "new-token")

	if r := rc.do("DELETE", "/api/v1/connections/warehouse", nil); r.status != http.StatusNoContent || len(r.body) != 0 {
		t.Errorf("DELETE: %d %s", r.status, r.body)
	}
	wantProblem(t, "GET deleted", rc.do("GET", "/api/v1/connections/warehouse", nil), http.StatusNotFound, "warehouse")
	wantProblem(t, "DELETE again", rc.do("DELETE", "/api/v1/connections/warehouse", nil), http.StatusNotFound, "warehouse")
	rc.noSecrets(t, writeSecret, extraWriteSecret)
}

// TestConnectionWriteErrors: every refused write is a 400 naming the
// field, a 404 or a 409, and no answer, error or not, holds the password
// sent (not even one sent as a number).
func TestConnectionWriteErrors(t *testing.T) {
	env := []string{"SIROCCO_CONN_EDGE=ssh://spark@edge.example:22"}
	rc := &recorder{site: newSite(t, nil, func(o *api.Options) { o.Environ = func() []string { return env } })}
	if r := rc.do("POST", "/api/v1/connections", map[string]any{"connection_id": "wh", "conn_type": "postgres", "password": writeSecret}); r.status != http.StatusOK {
		t.Fatalf("POST: %d %s", r.status, r.body)
	}
	const numeric = 98765432123
	post := func(fields map[string]any) map[string]any {
		body := map[string]any{"connection_id": "new", "conn_type": "http", "password": writeSecret}
		for k, v := range fields {
			if v == nil {
				delete(body, k)
			} else {
				body[k] = v
			}
		}
		return body
	}
	for name, c := range map[string]struct {
		method, path string
		body         any
		status       int
		field        string
	}{
		"no id":              {"POST", "", post(map[string]any{"connection_id": nil}), 400, "connection_id"},
		"bad id":             {"POST", "", post(map[string]any{"connection_id": "a b"}), 400, "connection_id"},
		"no type":            {"POST", "", post(map[string]any{"conn_type": nil}), 400, "conn_type"},
		"bad type":           {"POST", "", post(map[string]any{"conn_type": "9x"}), 400, "conn_type"},
		"port too big":       {"POST", "", post(map[string]any{"port": 70000}), 400, "port"},
		"port negative":      {"POST", "", post(map[string]any{"port": -1}), 400, "port"},
		"port not integer":   {"POST", "", post(map[string]any{"port": 1.5}), 400, "port"},
		"port a string":      {"POST", "", post(map[string]any{"port": "22"}), 400, "port"},
		"password a number":  {"POST", "", post(map[string]any{"password": numeric}), 400, "password"},
		"extra a list":       {"POST", "", post(map[string]any{"extra": []any{1}}), 400, "extra"},
		"extra not JSON":     {"POST", "", post(map[string]any{"extra": "{nope"}), 400, "extra"},
		"unknown field":      {"POST", "", post(map[string]any{"passwd": "x"}), 400, "passwd"},
		"duplicate":          {"POST", "", post(map[string]any{"connection_id": "wh"}), 409, ""},
		"defined by env":     {"POST", "", post(map[string]any{"connection_id": "edge"}), 409, ""},
		"patch unknown":      {"PATCH", "/ghost", map[string]any{"host": "h"}, 404, ""},
		"patch env only":     {"PATCH", "/edge", map[string]any{"host": "h"}, 404, ""},
		"patch renames":      {"PATCH", "/wh", map[string]any{"connection_id": "other", "password": writeSecret}, 400, "connection_id"},
		"patch bad port":     {"PATCH", "/wh", map[string]any{"port": 70000, "password": writeSecret}, 400, "port"},
		"patch clears type":  {"PATCH", "/wh", map[string]any{"conn_type": nil}, 400, "conn_type"},
		"mask unknown field": {"PATCH", "/wh?update_mask=hostname", map[string]any{"host": "h"}, 400, "update_mask"},
		"mask not in body":   {"PATCH", "/wh?update_mask=host,login", map[string]any{"host": "h"}, 400, "update_mask"},
		"mask names the id":  {"PATCH", "/wh?update_mask=connection_id", map[string]any{"connection_id": "wh"}, 400, "update_mask"},
		"delete unknown":     {"DELETE", "/ghost", nil, 404, ""},
		"delete env only":    {"DELETE", "/edge", nil, 404, "SIROCCO_CONN_EDGE"},
	} {
		r := rc.do(c.method, "/api/v1/connections"+c.path, c.body)
		want := []string{}
		if c.status == 400 {
			want = append(want, c.field)
		} else if c.field != "" {
			want = append(want, c.field)
		}
		p := wantProblem(t, name, r, c.status, want...)
		if p != nil && c.status == 400 && p["field"] != c.field {
			t.Errorf("%s: field %v, want %s", name, p["field"], c.field)
		}
	}
	if c := rc.storedConn("wh"); c.Password != writeSecret || c.Type != "postgres" {
		t.Errorf("refused writes changed wh: %+v", c)
	}
	if _, err := rc.st.GetConnection(t.Context(), "new"); err == nil {
		t.Error("a refused POST stored a connection")
	}
	rc.noSecrets(t, writeSecret, "98765432123")
}

package api_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/sirocco-dev/sirocco/internal/api"
	"github.com/sirocco-dev/sirocco/internal/connection"
	"github.com/sirocco-dev/sirocco/internal/store"
	"github.com/sirocco-dev/sirocco/internal/testenv"
)

// storedVar returns the variable key as the store holds it and in clear.
func (s *site) storedVar(key string) (raw, clear store.Variable) {
	s.t.Helper()
	raw, err := s.st.GetVariable(s.t.Context(), key)
	if err != nil {
		s.t.Fatalf("variable %s: %v", key, err)
	}
	clear, err = connection.UnsealVariable(s.keys, raw)
	if err != nil {
		s.t.Fatalf("variable %s: %v", key, err)
	}
	return raw, clear
}

// TestVariableCreateUpdateDelete: variables made through the API are
// stored encrypted, as `variables set` stores them; the value of a
// secret-looking key is *** in every answer, and *** sent back keeps it.
func TestVariableCreateUpdateDelete(t *testing.T) {
	rc := &recorder{site: newSite(t, nil)}
	for _, v := range []map[string]any{
		{"key": "greeting", "value": "hello", "description": "said first"},
		{"key": "vendor_api_key", "value": varSecret},
	} {
		r := rc.do("POST", "/api/v1/variables", v)
		if r.status != http.StatusOK {
			t.Fatalf("POST %v: %d %s", v["key"], r.status, r.body)
		}
		want := v["value"]
		if v["key"] == "vendor_api_key" {
			want = "***"
		}
		if got := r.json(t); got["key"] != v["key"] || got["value"] != want {
			t.Errorf("POST answer = %v", got)
		}
	}
	raw, clear := rc.storedVar("vendor_api_key")
	if !raw.Encrypted || strings.Contains(raw.Value, varSecret) || clear.Value != varSecret {
		t.Errorf("stored %+v, in clear %+v", raw, clear)
	}
	if g := rc.get("/api/v1/variables/greeting"); g["value"] != "hello" || g["description"] != "said first" {
		t.Errorf("GET greeting = %v", g)
	}

	r := rc.do("PATCH", "/api/v1/variables/greeting?update_mask=description", map[string]any{"value": "ignored", "description": "changed"})
	if r.status != http.StatusOK || r.json(t)["value"] != "hello" || r.json(t)["description"] != "changed" {
		t.Errorf("PATCH with mask: %d %s", r.status, r.body)
	}
	r = rc.do("PATCH", "/api/v1/variables/greeting", map[string]any{"key": "greeting", "value": "bonjour"})
	if _, clear := rc.storedVar("greeting"); r.status != http.StatusOK || clear.Value != "bonjour" || clear.Description != "changed" {
		t.Errorf("PATCH value: %d %s; stored %+v", r.status, r.body, clear)
	}
	// What was read (***) sent back keeps the secret; a new value replaces it.
	read := rc.get("/api/v1/variables/vendor_api_key")
	r = rc.do("PATCH", "/api/v1/variables/vendor_api_key", map[string]any{"value": read["value"], "description": "vendor"})
	if _, clear := rc.storedVar("vendor_api_key"); r.status != http.StatusOK || clear.Value != varSecret || clear.Description != "vendor" {
		t.Errorf("round trip: %d %s; stored %+v", r.status, r.body, clear)
	}
	r = rc.do("PATCH", "/api/v1/variables/vendor_api_key", map[string]any{"value": "rotated-secret"})
	if raw, clear := rc.storedVar("vendor_api_key"); r.status != http.StatusOK || clear.Value != "rotated-secret" || !raw.Encrypted {
		t.Errorf("new value: %d %s; stored %+v", r.status, r.body, raw)
	}

	if r := rc.do("DELETE", "/api/v1/variables/greeting", nil); r.status != http.StatusNoContent {
		t.Errorf("DELETE: %d %s", r.status, r.body)
	}
	for name, c := range map[string]struct {
		method, path string
		body         any
		status       int
		field        string
	}{
		"no key":           {"POST", "", map[string]any{"value": "v"}, 400, "key"},
		"bad key":          {"POST", "", map[string]any{"key": "a b", "value": "v"}, 400, "key"},
		"long key":         {"POST", "", map[string]any{"key": strings.Repeat("k", 251), "value": "v"}, 400, "key"},
		"no value":         {"POST", "", map[string]any{"key": "k"}, 400, "value"},
		"value a number":   {"POST", "", map[string]any{"key": "k", "value": 12345678}, 400, "value"},
		"duplicate":        {"POST", "", map[string]any{"key": "vendor_api_key", "value": "x"}, 409, ""},
		"patch renames":    {"PATCH", "/vendor_api_key", map[string]any{"key": "other", "value": "x"}, 400, "key"},
		"patch null value": {"PATCH", "/vendor_api_key", map[string]any{"value": nil}, 400, "value"},
		"patch unknown":    {"PATCH", "/ghost", map[string]any{"value": "x"}, 404, ""},
		"mask unknown":     {"PATCH", "/vendor_api_key?update_mask=val", map[string]any{"value": "x"}, 400, "update_mask"},
		"delete deleted":   {"DELETE", "/greeting", nil, 404, ""},
	} {
		p := wantProblem(t, name, rc.do(c.method, "/api/v1/variables"+c.path, c.body), c.status, c.field)
		if p != nil && c.status == 400 && p["field"] != c.field {
			t.Errorf("%s: field %v, want %s", name, p["field"], c.field)
		}
	}
	if _, clear := rc.storedVar("vendor_api_key"); clear.Value != "rotated-secret" {
		t.Errorf("refused writes changed the variable: %+v", clear)
	}
	rc.noSecrets(t, varSecret, "rotated-secret")
}

// TestPoolCreateUpdateDelete: pools are created with slots ≥ 0, resized,
// described and deleted; default_pool can only be resized; each write
// wakes the scheduler.
func TestPoolCreateUpdateDelete(t *testing.T) {
	s := newSite(t, nil)
	rc := &recorder{site: s}
	r := rc.do("POST", "/api/v1/pools", map[string]any{"name": "gpu", "slots": 2, "description": "GPUs"})
	if got := r.json(t); r.status != http.StatusOK || got["name"] != "gpu" || got["slots"] != float64(2) ||
		got["open_slots"] != float64(2) || got["description"] != "GPUs" {
		t.Errorf("POST: %d %s", r.status, r.body)
	}
	if r := rc.do("POST", "/api/v1/pools", map[string]any{"name": "closed", "slots": 0}); r.status != http.StatusOK {
		t.Errorf("POST 0 slots: %d %s", r.status, r.body)
	}
	r = rc.do("PATCH", "/api/v1/pools/gpu?update_mask=slots", map[string]any{"slots": 8, "description": "ignored"})
	if got := r.json(t); r.status != http.StatusOK || got["slots"] != float64(8) || got["description"] != "GPUs" {
		t.Errorf("PATCH slots: %d %s", r.status, r.body)
	}
	r = rc.do("PATCH", "/api/v1/pools/gpu", map[string]any{"name": "gpu", "description": nil})
	if got := r.json(t); r.status != http.StatusOK || got["slots"] != float64(8) || got["description"] != nil {
		t.Errorf("PATCH description: %d %s", r.status, r.body)
	}
	r = rc.do("PATCH", "/api/v1/pools/default_pool", map[string]any{"name": "default_pool", "slots": 16})
	if r.status != http.StatusOK || r.json(t)["slots"] != float64(16) {
		t.Errorf("PATCH default_pool slots: %d %s", r.status, r.body)
	}
	if r := rc.do("DELETE", "/api/v1/pools/closed", nil); r.status != http.StatusNoContent {
		t.Errorf("DELETE: %d %s", r.status, r.body)
	}
	pools, err := s.st.ListPools(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	want := []store.Pool{{Name: "default_pool", Slots: 16, Description: "Default pool"}, {Name: "gpu", Slots: 8}}
	if len(pools) != 2 || pools[0] != want[0] || pools[1] != want[1] {
		t.Errorf("pools = %+v, want %+v", pools, want)
	}
	if k := s.kicks.Load(); k != 6 {
		t.Errorf("%d kicks for 6 writes", k)
	}

	for name, c := range map[string]struct {
		method, path string
		body         any
		status       int
		field        string
	}{
		"no name":             {"POST", "", map[string]any{"slots": 1}, 400, "name"},
		"control in name":     {"POST", "", map[string]any{"name": "a\x00b", "slots": 1}, 400, "name"},
		"no slots":            {"POST", "", map[string]any{"name": "p"}, 400, "slots"},
		"negative slots":      {"POST", "", map[string]any{"name": "p", "slots": -1}, 400, "slots"},
		"huge slots":          {"POST", "", map[string]any{"name": "p", "slots": int64(1) << 40}, 400, "slots"},
		"fractional slots":    {"POST", "", map[string]any{"name": "p", "slots": 1.5}, 400, "slots"},
		"duplicate":           {"POST", "", map[string]any{"name": "gpu", "slots": 1}, 409, ""},
		"duplicate default":   {"POST", "", map[string]any{"name": "default_pool", "slots": 1}, 409, ""},
		"rename":              {"PATCH", "/gpu", map[string]any{"name": "cpu"}, 400, "name"},
		"patch negative":      {"PATCH", "/gpu", map[string]any{"slots": -3}, 400, "slots"},
		"patch null slots":    {"PATCH", "/gpu", map[string]any{"slots": nil}, 400, "slots"},
		"default described":   {"PATCH", "/default_pool", map[string]any{"description": "mine"}, 400, "description"},
		"patch unknown":       {"PATCH", "/ghost", map[string]any{"slots": 1}, 404, ""},
		"mask unknown":        {"PATCH", "/gpu?update_mask=open_slots", map[string]any{"slots": 1}, 400, "update_mask"},
		"unknown field":       {"POST", "", map[string]any{"name": "p", "slots": 1, "open_slots": 1}, 400, "open_slots"},
		"delete default":      {"DELETE", "/default_pool", nil, 400, "pool_name"},
		"delete unknown":      {"DELETE", "/ghost", nil, 404, ""},
		"delete without JSON": {"DELETE", "/gpu", "", 415, ""},
	} {
		var headers []string
		if c.status == 415 {
			headers = []string{"Content-Type", "text/plain"}
		}
		p := wantProblem(t, name, rc.do(c.method, "/api/v1/pools"+c.path, c.body, headers...), c.status, c.field)
		if p != nil && c.status == 400 && p["field"] != c.field {
			t.Errorf("%s: field %v, want %s", name, p["field"], c.field)
		}
	}
	if after, _ := s.st.ListPools(t.Context()); len(after) != 2 || after[1] != want[1] || after[0] != want[0] {
		t.Errorf("refused writes changed the pools: %+v", after)
	}
}

// TestWritesRefuseNUL: a NUL in a field stored as text is a 400 naming the
// field, on both stores; PostgreSQL refuses NUL in text, which made the
// write a 500. Fields stored encrypted (password, extra, a variable's
// value) may hold any character.
func TestWritesRefuseNUL(t *testing.T) {
	for _, name := range []string{"sqlite", "postgres"} {
		t.Run(name, func(t *testing.T) {
			var opts []siteOption
			if name == "postgres" {
				pg := openStore(t, testenv.Postgres(t))
				opts = append(opts, func(o *api.Options) { o.Store = pg })
			}
			s := newSite(t, nil, opts...)
			const nul = "a\x00b"
			conn := func(field string) map[string]any {
				return map[string]any{"connection_id": "c", "conn_type": "http", field: nul}
			}
			for _, c := range []struct {
				method, path string
				body         map[string]any
				field        string
			}{
				{"POST", "/connections", conn("host"), "host"},
				{"POST", "/connections", conn("login"), "login"},
				{"POST", "/connections", conn("schema"), "schema"},
				{"POST", "/connections", conn("description"), "description"},
				{"POST", "/connections", conn("conn_type"), "conn_type"},
				{"POST", "/variables", map[string]any{"key": "k", "value": "v", "description": nul}, "description"},
				{"POST", "/pools", map[string]any{"name": "p", "slots": 1, "description": nul}, "description"},
				{"POST", "/pools", map[string]any{"name": nul, "slots": 1}, "name"},
			} {
				p := wantProblem(t, c.path+" "+c.field, s.do(c.method, "/api/v1"+c.path, c.body), http.StatusBadRequest, c.field)
				if p != nil && p["field"] != c.field {
					t.Errorf("%s %s: field %v", c.path, c.field, p["field"])
				}
			}
			for path, body := range map[string]map[string]any{
				"/api/v1/connections": {"connection_id": "c", "conn_type": "http", "password": nul, "extra": map[string]any{"k": nul}},
				"/api/v1/variables":   {"key": "k", "value": nul},
				"/api/v1/pools":       {"name": "q", "slots": 1},
			} {
				if r := s.do("POST", path, body); r.status != http.StatusOK {
					t.Errorf("POST %s with NUL in an encrypted field: %d %s", path, r.status, r.body)
				}
			}
			for path, body := range map[string]map[string]any{
				"/connections/c": {"host": nul}, "/variables/k": {"description": nul}, "/pools/q": {"description": nul},
			} {
				if r := s.do("PATCH", "/api/v1"+path, body); r.status != http.StatusBadRequest {
					t.Errorf("PATCH %s with NUL: %d %s", path, r.status, r.body)
				}
			}
		})
	}
}

package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/connection"
	"github.com/sirocco-dev/sirocco/internal/store"
)

// catalogEndpoints are the writes of connections, variables and pools;
// {id} is replaced by the fuzzed id.
var catalogEndpoints = []struct{ method, path string }{
	{"POST", "/connections"},
	{"PATCH", "/connections/{id}"},
	{"POST", "/variables"},
	{"PATCH", "/variables/{id}"},
	{"POST", "/pools"},
	{"PATCH", "/pools/{id}"},
	{"DELETE", "/connections/{id}"},
	{"DELETE", "/variables/{id}"},
	{"DELETE", "/pools/{id}"},
}

// fuzzPassword marks the password the harness puts in every connection
// body: no answer may ever hold it.
const fuzzPassword = "fzPw-7Qx9-"

// FuzzCatalogWrites sends arbitrary bodies, ids and update masks to the
// writes of connections, variables and pools of a real API over SQLite.
// The answer is never a 5xx nor a dropped connection, a 4xx is problem
// JSON, no answer holds the password the body gave, a connection write
// answered 200 stored exactly that password when it applied it, and what
// a write stored in clear holds no NUL (PostgreSQL refuses it).
func FuzzCatalogWrites(f *testing.F) {
	for _, seed := range []struct {
		endpoint       uint8
		id, mask, body string
	}{
		{0, "", "", `{"connection_id": "c1", "conn_type": "http", "host": "h", "port": 80, "extra": "{\"token\": \"t\"}"}`},
		{0, "", "", `{"connection_id": "c2", "conn_type": "Postgres-QL", "extra": {"a": [1, {"password": "x"}]}}`},
		{0, "", "", `{"connection_id": "wh", "conn_type": "http"}`},
		{0, "", "", `{"connection_id": "a b", "conn_type": "http", "port": 1e30}`},
		{1, "wh", "host,password", `{"host": "h2", "port": null}`},
		{1, "wh", "", `{"connection_id": "other", "extra": "[1]"}`},
		{1, "wh", " , ", `{"extra": {"api_token": "***"}, "password": "***"}`},
		{1, "ghost", "", `{}`},
		{2, "", "", `{"key": "k1", "value": "v", "description": null}`},
		{2, "", "", `{"key": "a\u0000", "value": "v"}`},
		{3, "v", "value", `{"value": "***", "description": "d"}`},
		{3, "v", "", `{"key": "v", "value": 1}`},
		{4, "", "", `{"name": "p1", "slots": 0}`},
		{4, "", "", `{"name": "p2", "slots": 2147483648}`},
		{5, "default_pool", "slots", `{"slots": 3}`},
		{5, "p", "", `{"name": "p", "slots": -1}`},
		{5, "default_pool", "", `{"description": "x"}`},
		{6, "c1", "", ``},
		{7, "\xff", "", ``},
		{8, "default_pool", "", ``},
		{0, "", "", `null`},
		{1, "wh", "", `{"password": 12345678901}`},
	} {
		f.Add(seed.endpoint, seed.id, seed.mask, []byte(seed.body))
	}
	s := newSite(f, nil)
	ctx := context.Background()
	if err := (&connection.Resolver{Store: s.st, Keys: s.keys}).Add(ctx, connection.Connection{ID: "wh", Type: "postgres", Password: storedSecret}); err != nil {
		f.Fatal(err)
	}
	if err := (&connection.Variables{Store: s.st, Keys: s.keys}).Set(ctx, store.Variable{Key: "v", Value: "value"}); err != nil {
		f.Fatal(err)
	}
	if err := s.st.SetPool(ctx, store.Pool{Name: "p", Slots: 1}); err != nil {
		f.Fatal(err)
	}
	client := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	seq := 0
	f.Fuzz(func(t *testing.T, endpoint uint8, id, mask string, body []byte) {
		ep := catalogEndpoints[int(endpoint)%len(catalogEndpoints)]
		target := s.srv.URL + "/api/v1" + strings.Replace(ep.path, "{id}", url.PathEscape(id), 1)
		if mask != "" {
			target += "?update_mask=" + url.QueryEscape(mask)
		}
		password := ""
		if strings.HasPrefix(ep.path, "/connections") && ep.method != "DELETE" {
			seq++
			password = fuzzPassword + strings.Repeat("z", seq%7)
			body = withPassword(body, password)
		}
		answer, got, ctype, ok := fuzzSend(t, client, ep.method, target, body)
		if !ok {
			return // a URL net/http cannot send
		}
		if got >= 400 {
			checkProblem(t, ctype, answer)
		}
		if bytes.Contains(answer, []byte(fuzzPassword)) {
			t.Fatalf("%s %s: the answer holds the password:\n%s", ep.method, target, answer)
		}
		if got == http.StatusOK {
			checkWritten(t, s, ep.path, answer, password, mask)
		}
	})
}

// withPassword returns body with its password set to pw when body is a
// JSON object that does not hold the marker already; otherwise body as is.
func withPassword(body []byte, pw string) []byte {
	var m map[string]json.RawMessage
	if json.Unmarshal(body, &m) != nil || m == nil || bytes.Contains(body, []byte(fuzzPassword)) {
		return body
	}
	b, _ := json.Marshal(pw)
	m["password"] = b
	out, err := json.Marshal(m)
	if err != nil {
		return body
	}
	return out
}

// checkWritten checks what a write answered 200 left in the store.
func checkWritten(t *testing.T, s *site, path string, answer []byte, password, mask string) {
	t.Helper()
	var a map[string]any
	if err := json.Unmarshal(answer, &a); err != nil {
		t.Fatalf("200 answer is not a JSON object: %s", answer)
	}
	ctx := context.Background()
	switch {
	case strings.HasPrefix(path, "/connections"):
		id, _ := a["connection_id"].(string)
		c, err := (&connection.Resolver{Store: s.st, Keys: s.keys}).Get(ctx, id)
		if err != nil {
			t.Fatalf("connection %q answered 200 but cannot be read: %v", id, err)
		}
		if _, has := a["password"]; has {
			t.Fatalf("a connection answer has a password field: %s", answer)
		}
		if password != "" && maskApplies(mask, "password") && c.Password != password {
			t.Fatalf("connection %q stored password %q, want the one sent", id, c.Password)
		}
		if strings.ContainsRune(c.Type+c.Host+c.Login+c.Schema+c.Description, 0) {
			t.Fatalf("connection %q stored a NUL in clear, which PostgreSQL refuses: %+v", id, c)
		}
	case strings.HasPrefix(path, "/variables"):
		key, _ := a["key"].(string)
		v, err := (&connection.Variables{Store: s.st, Keys: s.keys}).Get(ctx, key)
		if err != nil {
			t.Fatalf("variable %q answered 200 but cannot be read: %v", key, err)
		}
		if strings.ContainsRune(v.Key+v.Description, 0) {
			t.Fatalf("variable %q stored a NUL in clear, which PostgreSQL refuses", key)
		}
	case strings.HasPrefix(path, "/pools"):
		slots, _ := a["slots"].(float64)
		name, _ := a["name"].(string)
		desc, _ := a["description"].(string)
		if slots < 0 || slots > math.MaxInt32 || strings.ContainsRune(name+desc, 0) {
			t.Fatalf("pool answered as %v: negative, too large or holding a NUL", a)
		}
	}
}

// maskApplies reports whether a PATCH with update_mask mask changes
// field: no mask changes every field given.
func maskApplies(mask, field string) bool {
	var names []string
	for f := range strings.SplitSeq(mask, ",") {
		if f = strings.TrimSpace(f); f != "" {
			names = append(names, f)
		}
	}
	if len(names) == 0 {
		return true
	}
	for _, n := range names {
		if n == field {
			return true
		}
	}
	return false
}

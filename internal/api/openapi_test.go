package api

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/sirocco-dev/sirocco/internal/auth"
)

// TestOpenAPIMatchesRoutes: every registered route is documented and
// every documented operation is registered, so the document cannot drift.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	var doc struct {
		OpenAPI string                          `yaml:"openapi"`
		Servers []struct{ URL string }          `yaml:"servers"`
		Paths   map[string]map[string]yaml.Node `yaml:"paths"`
	}
	if err := yaml.Unmarshal(openAPIDoc, &doc); err != nil {
		t.Fatalf("openapi.yaml: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") || len(doc.Servers) != 1 || doc.Servers[0].URL != Prefix {
		t.Fatalf("openapi %q, servers %v", doc.OpenAPI, doc.Servers)
	}
	documented := map[string]string{} // operation -> x-sirocco-role
	for path, item := range doc.Paths {
		for key, op := range item {
			if key == "parameters" || key == "summary" || key == "description" {
				continue
			}
			var o struct {
				Role string `yaml:"x-sirocco-role"`
			}
			if err := op.Decode(&o); err != nil {
				t.Fatal(err)
			}
			documented[strings.ToUpper(key)+" "+path] = o.Role
		}
	}
	registered := map[string]bool{}
	for _, rt := range newServer(Options{}).routes() {
		op := rt.method + " " + rt.path
		registered[op] = true
		if rt.role == auth.NoRole {
			t.Errorf("route %s has no role: give it the least role that may call it", op)
		}
		if role, ok := documented[op]; ok && role != rt.role.String() {
			t.Errorf("openapi.yaml says %s needs %q, the route table %s", op, role, rt.role)
		}
	}
	for op := range registered {
		if _, ok := documented[op]; !ok {
			t.Errorf("route %s is not in openapi.yaml", op)
		}
	}
	for op := range documented {
		if !registered[op] {
			t.Errorf("openapi.yaml documents %s, which no route serves", op)
		}
	}
	if len(registered) < 20 {
		t.Errorf("only %d routes registered", len(registered))
	}
}

// TestOpenAPIRefsResolve: every $ref points at a component that exists.
func TestOpenAPIRefsResolve(t *testing.T) {
	var doc map[string]any
	if err := yaml.Unmarshal(openAPIDoc, &doc); err != nil {
		t.Fatal(err)
	}
	var walk func(any)
	walk = func(x any) {
		switch v := x.(type) {
		case map[string]any:
			if ref, ok := v["$ref"].(string); ok {
				parts := strings.Split(strings.TrimPrefix(ref, "#/"), "/")
				var cur any = doc
				for _, p := range parts {
					m, _ := cur.(map[string]any)
					cur = m[p]
				}
				if cur == nil {
					t.Errorf("$ref %s resolves to nothing", ref)
				}
			}
			for _, c := range v {
				walk(c)
			}
		case []any:
			for _, c := range v {
				walk(c)
			}
		}
	}
	walk(doc)
}

func TestOpenAPIServed(t *testing.T) {
	srv := httptest.NewServer(New(Options{}))
	defer srv.Close()
	for _, c := range []struct{ path, ctype string }{{"/api/v1/openapi.json", "application/json"}, {"/api/v1/openapi.yaml", "application/yaml"}} {
		resp, err := srv.Client().Get(srv.URL + c.path)
		if err != nil {
			t.Fatal(err)
		}
		var doc map[string]any
		if c.ctype == "application/json" {
			err = json.NewDecoder(resp.Body).Decode(&doc)
		} else {
			err = yaml.NewDecoder(resp.Body).Decode(&doc)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != c.ctype || err != nil {
			t.Fatalf("GET %s: %d %s %v", c.path, resp.StatusCode, resp.Header.Get("Content-Type"), err)
		}
		paths, _ := doc["paths"].(map[string]any)
		keys := make([]string, 0, len(paths))
		for k := range paths {
			keys = append(keys, k)
		}
		if !slices.Contains(keys, "/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}") {
			t.Errorf("GET %s lacks the task instance path: %v", c.path, keys)
		}
	}
}

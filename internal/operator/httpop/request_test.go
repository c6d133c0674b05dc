package httpop_test

import (
	"context"
	"encoding/base64"
	"net/url"
	"strings"
	"testing"

	"github.com/sirocco-dev/sirocco/internal/operator/httpop"
)

// TestRequestShape: method, endpoint, data (query or form or raw body),
// json, headers over the connection's, basic and bearer auth reach the
// server as Airflow's HttpOperator sends them.
func TestRequestShape(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		args  map[string]any
		extra string // connection URI suffix: base path and query
		user  string // login:password@
		check func(t *testing.T, got seen)
	}{
		{name: "GET is the default, endpoint joined to the base URL", args: map[string]any{"endpoint": "items/7"},
			check: func(t *testing.T, got seen) {
				if got.Method != "GET" || got.Path != "/items/7" {
					t.Errorf("got %s %s", got.Method, got.Path)
				}
			}},
		{name: "GET data object is the query", args: map[string]any{"endpoint": "/search?lang=en", "data": map[string]any{"q": "a b", "n": 3, "tag": []any{"x", "y"}}},
			check: func(t *testing.T, got seen) {
				q, _ := url.ParseQuery(got.Query)
				if q.Get("lang") != "en" || q.Get("q") != "a b" || q.Get("n") != "3" || strings.Join(q["tag"], ",") != "x,y" || got.Body != "" {
					t.Errorf("query %q, body %q", got.Query, got.Body)
				}
			}},
		{name: "GET data string is a query string", args: map[string]any{"data": "a=1&b=2"},
			check: func(t *testing.T, got seen) {
				if got.Query != "a=1&b=2" {
					t.Errorf("query %q", got.Query)
				}
			}},
		{name: "HEAD data is the query too", args: map[string]any{"method": "head", "data": map[string]any{"a": "1"}},
			check: func(t *testing.T, got seen) {
				if got.Method != "HEAD" || got.Query != "a=1" {
					t.Errorf("got %s ?%s", got.Method, got.Query)
				}
			}},
		{name: "POST data object is a form", args: map[string]any{"method": "POST", "data": map[string]any{"name": "sirocco", "n": 2, "none": nil}},
			check: func(t *testing.T, got seen) {
				if got.Header.Get("Content-Type") != "application/x-www-form-urlencoded" || got.Body != "n=2&name=sirocco&none=" {
					t.Errorf("content type %q, body %q", got.Header.Get("Content-Type"), got.Body)
				}
			}},
		{name: "PUT data string is the raw body", args: map[string]any{"method": "PUT", "data": "<x>1</x>", "headers": map[string]any{"Content-Type": "text/xml"}},
			check: func(t *testing.T, got seen) {
				if got.Method != "PUT" || got.Body != "<x>1</x>" || got.Header.Get("Content-Type") != "text/xml" {
					t.Errorf("got %s %q (%s)", got.Method, got.Body, got.Header.Get("Content-Type"))
				}
			}},
		{name: "PATCH json is a JSON body", args: map[string]any{"method": "PATCH", "json": map[string]any{"a": []any{1, "two"}, "b": nil}},
			check: func(t *testing.T, got seen) {
				if got.Method != "PATCH" || got.Header.Get("Content-Type") != "application/json" || got.Body != `{"a":[1,"two"],"b":null}` {
					t.Errorf("got %s %q (%s)", got.Method, got.Body, got.Header.Get("Content-Type"))
				}
			}},
		{name: "DELETE", args: map[string]any{"method": "DELETE", "endpoint": "items/7"},
			check: func(t *testing.T, got seen) {
				if got.Method != "DELETE" || got.Body != "" {
					t.Errorf("got %s %q", got.Method, got.Body)
				}
			}},
		{name: "task headers over the connection's", extra: "/?Accept=text%2Fplain&X-Team=data",
			args: map[string]any{"headers": map[string]any{"accept": "application/json", "X-Run": "r1"}},
			check: func(t *testing.T, got seen) {
				if got.Header.Get("Accept") != "application/json" || got.Header.Get("X-Team") != "data" || got.Header.Get("X-Run") != "r1" {
					t.Errorf("headers %v", got.Header)
				}
			}},
		{name: "basic auth from login and password", user: "etl:s3cr%40t@",
			check: func(t *testing.T, got seen) {
				want := "Basic " + base64.StdEncoding.EncodeToString([]byte("etl:s3cr@t"))
				if got.Header.Get("Authorization") != want {
					t.Errorf("Authorization %q, want %q", got.Header.Get("Authorization"), want)
				}
			}},
		{name: "bearer token from the extra wins over basic", user: "etl:pw12@", extra: "/?token=tok-123",
			check: func(t *testing.T, got seen) {
				if got.Header.Get("Authorization") != "Bearer tok-123" {
					t.Errorf("Authorization %q", got.Header.Get("Authorization"))
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := newServer(t, nil)
			uri := "http://" + tt.user + strings.TrimPrefix(srv.URL, "http://") + tt.extra
			r := execute(context.Background(), t, tt.args, map[string]string{"http_default": uri})
			if r.err != nil {
				t.Fatalf("execute: %v\n%s", r.err, r.log)
			}
			tt.check(t, srv.last(t))
		})
	}
}

// TestBasePathInHost: a host with its own protocol and base path (the
// https://api/v1 form) prefixes every endpoint; http_conn_id picks the
// connection.
func TestBasePathInHost(t *testing.T) {
	t.Parallel()
	srv := newServer(t, nil)
	conns := map[string]string{"api": "http://" + url.QueryEscape(srv.URL+"/v1/")}
	r := execute(context.Background(), t, map[string]any{"http_conn_id": "api", "endpoint": "/jobs"}, conns)
	if r.err != nil {
		t.Fatalf("execute: %v\n%s", r.err, r.log)
	}
	if got := srv.last(t).Path; got != "/v1/jobs" {
		t.Errorf("path %q, want /v1/jobs", got)
	}
}

// TestJoinEndpoint: relative endpoints join the base URL; an absolute one
// must keep the connection's scheme, host and port; a ".." segment, even
// percent-encoded, is refused (servers resolve it above the base path).
func TestJoinEndpoint(t *testing.T) {
	t.Parallel()
	base, _ := url.Parse("https://api.example.com/v1")
	tests := []struct{ endpoint, want, err string }{
		{endpoint: "", want: "https://api.example.com/v1"},
		{endpoint: "items", want: "https://api.example.com/v1/items"},
		{endpoint: "/items?x=1&y=%2F", want: "https://api.example.com/v1/items?x=1&y=%2F"},
		{endpoint: "?page=2", want: "https://api.example.com/v1/?page=2"},
		{endpoint: "//evil.example.com/x", want: "https://api.example.com/v1/evil.example.com/x"},
		{endpoint: "@evil.example.com", want: "https://api.example.com/v1/@evil.example.com"},
		{endpoint: "https://API.example.com:443/other", want: "https://API.example.com:443/other"},
		{endpoint: "items?next=https://evil.example.com", want: "https://api.example.com/v1/items?next=https://evil.example.com"},
		{endpoint: "https://evil.example.com/x", err: "leaves the connection's https://api.example.com"},
		{endpoint: "http://api.example.com/x", err: "must keep its scheme, host and port"},
		{endpoint: "https://api.example.com:8443/x", err: "must keep its scheme, host and port"},
		{endpoint: "https://u:p@api.example.com/x", err: "must keep"},
		{endpoint: "items#frag", err: "fragment"},
		{endpoint: "items\r\nX-Evil: 1", err: "line break"},
		{endpoint: "../admin", err: "holds a '..' path segment"},
		{endpoint: "items/../../admin", err: "climb out of the connection's base path \"/v1\""},
		{endpoint: "%2e%2e/admin", err: "'..' path segment"},
		{endpoint: "%2E%2e%2fadmin", err: "'..' path segment"},
		{endpoint: "..%2fadmin", err: "'..' path segment"},
		{endpoint: "..\\admin", err: "'..' path segment"},
		{endpoint: "%252e%252e/admin", err: "'..' path segment"},
		// A bad escape deeper down does not stop the decoding: a lenient
		// server decodes the rest of the path all the same.
		{endpoint: "%252e%252e/%25zz/admin", err: "'..' path segment"},
		{endpoint: "%25%252e%252e/admin", want: "https://api.example.com/v1/%25%252e%252e/admin"},
		{endpoint: "..%252f%25zz", err: "'..' path segment"},
		// Tomcat and Jetty drop a segment's ";parameters" before they
		// resolve it: "..;" climbs as ".." does.
		{endpoint: "..;/admin", err: "'..' path segment"},
		{endpoint: "items/..;jsessionid=1/../admin", err: "'..' path segment"},
		{endpoint: "%2e%2e%3b/admin", err: "'..' path segment"},
		{endpoint: "items;v=1/x", want: "https://api.example.com/v1/items;v=1/x"},
		{endpoint: "https://api.example.com/v1/../admin", err: "'..' path segment"},
		{endpoint: "items/..", err: "'..' path segment"},
		{endpoint: "items/...", want: "https://api.example.com/v1/items/..."},
		{endpoint: "items/..x/./y", want: "https://api.example.com/v1/items/..x/./y"},
		{endpoint: "items?up=../..", want: "https://api.example.com/v1/items?up=../.."},
	}
	for _, tt := range tests {
		u, err := httpop.JoinEndpoint(base, tt.endpoint)
		switch {
		case tt.err != "":
			if err == nil || !strings.Contains(err.Error(), tt.err) || !strings.Contains(err.Error(), "field endpoint") {
				t.Errorf("JoinEndpoint(%q) = %v, %v; want an error with %q", tt.endpoint, u, err, tt.err)
			}
		case err != nil:
			t.Errorf("JoinEndpoint(%q): %v", tt.endpoint, err)
		case u.String() != tt.want:
			t.Errorf("JoinEndpoint(%q) = %q, want %q", tt.endpoint, u, tt.want)
		}
	}
}

// TestFieldErrors: a field the loader cannot check is refused before any
// request, with the field named.
func TestFieldErrors(t *testing.T) {
	t.Parallel()
	srv := newServer(t, nil)
	tests := []struct {
		name  string
		args  map[string]any
		conns map[string]string
		want  string
	}{
		{"method", map[string]any{"method": "FETCH"}, nil, `field method: "FETCH", want one of GET, POST, PUT, PATCH, DELETE, HEAD`},
		{"data and json", map[string]any{"method": "POST", "data": "a", "json": 1}, nil, "fields data and json: give one body"},
		{"nested form", map[string]any{"method": "POST", "data": map[string]any{"a": map[string]any{"b": 1}}}, nil, "field data.a: a form value must be"},
		{"data list", map[string]any{"method": "POST", "data": []any{1}}, nil, "field data: want an object or a string, got a list"},
		{"timeout", map[string]any{"timeout": "0s"}, nil, "field timeout: 0s, want more than 0"},
		{"retries", map[string]any{"retries_on_5xx": -1}, nil, "field retries_on_5xx: -1, want 0..100"},
		{"max bytes", map[string]any{"max_response_bytes": 0}, nil, "field max_response_bytes: 0"},
		{"header name", map[string]any{"headers": map[string]any{"X Bad": "1"}}, nil, `field headers: "X Bad" is not a header name`},
		{"header value", map[string]any{"headers": map[string]any{"X-A": "1\r\nX-B: 2"}}, nil, "field headers.X-A: the value holds a line break"},
		{"filter", map[string]any{"response_filter": "$.a[?"}, nil, "field response_filter: \"$.a[?\" is not a JSONPath"},
		{"check", map[string]any{"response_check": map[string]any{"statuz": 200}}, nil, `field response_check: unknown key "statuz"`},
		{"missing connection", map[string]any{"http_conn_id": "nope"}, nil, "http connection nope: connection nope not found"},
		{"wrong connection type", nil, map[string]string{"http_default": "spark://m:7077"}, `connection http_default is of type "spark"`},
		{"connection schema", nil, map[string]string{"http_default": "http://h/v1"}, `schema "v1": want http or https`},
		{"ca bundle missing", map[string]any{"ca_bundle": "/nonexistent/ca.pem"}, nil, "ca_bundle: open /nonexistent/ca.pem"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			conns := tt.conns
			if conns == nil {
				conns = conn(srv)
			}
			r := execute(context.Background(), t, tt.args, conns)
			if r.err == nil || !strings.Contains(r.err.Error(), tt.want) {
				t.Fatalf("error = %v, want %q", r.err, tt.want)
			}
		})
	}
	if n := len(srv.requests()); n != 0 {
		t.Errorf("%d requests sent despite bad fields", n)
	}
}

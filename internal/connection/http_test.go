package connection

import (
	"maps"
	"net/url"
	"slices"
	"strings"
	"testing"
)

// TestHTTPSettings: the base URL from host, schema, port and type as
// Airflow's HttpHook builds it; headers, token and verify from the extra.
func TestHTTPSettings(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, uri   string
		wantBase    string
		wantHeaders map[string]string
		wantToken   string
		wantVerify  string // "", "true", "false"
		wantCA      string
		wantIgnored []string
	}{
		{name: "plain host is http", uri: "http://api.example.com", wantBase: "http://api.example.com"},
		{name: "https type", uri: "https://api.example.com", wantBase: "https://api.example.com"},
		{name: "schema https (Airflow's URI form)", uri: "http://u:p@api.example.com:8443/https", wantBase: "https://api.example.com:8443"},
		{name: "host with protocol and base path", uri: "http://https%3A%2F%2Fapi.example.com%2Fv1%2F", wantBase: "https://api.example.com/v1"},
		{name: "host protocol form", uri: "http://https://api.example.com", wantBase: "https://api.example.com"},
		{name: "ipv6 with port", uri: "http://[::1]:8080", wantBase: "http://[::1]:8080"},
		{name: "extras as headers", uri: "http://h?Accept=application%2Fjson&X-Api-Key=k1",
			wantBase: "http://h", wantHeaders: map[string]string{"Accept": "application/json", "X-Api-Key": "k1"}},
		{name: "headers extra", uri: `http://h?__extra__=%7B%22headers%22%3A%7B%22X-A%22%3A%22b%22%2C%22X-N%22%3A3%7D%7D`,
			wantBase: "http://h", wantHeaders: map[string]string{"X-A": "b", "X-N": "3"}},
		{name: "token", uri: "http://h?token=t0k", wantBase: "http://h", wantToken: "t0k"},
		{name: "bearer_token", uri: "http://h?bearer_token=t0k", wantBase: "http://h", wantToken: "t0k"},
		{name: "verify false", uri: "https://h?verify=false", wantBase: "https://h", wantVerify: "false"},
		{name: "verify path", uri: "https://h?verify=%2Fetc%2Fca.pem", wantBase: "https://h", wantCA: "/etc/ca.pem"},
		{name: "ca_bundle", uri: "https://h?ca_bundle=%2Fetc%2Fca.pem", wantBase: "https://h", wantCA: "/etc/ca.pem"},
		{name: "airflow settings ignored", uri: "http://h?proxies=x&timeout=3&stream=true", wantBase: "http://h",
			wantIgnored: []string{"proxies", "stream", "timeout"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse(tt.uri)
			if err != nil {
				t.Fatal(err)
			}
			c.ID = "api"
			s, err := c.HTTP()
			if err != nil {
				t.Fatal(err)
			}
			if got := s.BaseURL.String(); got != tt.wantBase {
				t.Errorf("base URL = %q, want %q", got, tt.wantBase)
			}
			want := tt.wantHeaders
			if want == nil {
				want = map[string]string{}
			}
			if !maps.Equal(s.Headers, want) {
				t.Errorf("headers = %v, want %v", s.Headers, want)
			}
			if s.BearerToken != tt.wantToken {
				t.Errorf("token = %q, want %q", s.BearerToken, tt.wantToken)
			}
			verify := ""
			if s.Verify != nil {
				verify = map[bool]string{true: "true", false: "false"}[*s.Verify]
			}
			if verify != tt.wantVerify || s.CABundle != tt.wantCA {
				t.Errorf("verify = %q, CA %q; want %q, %q", verify, s.CABundle, tt.wantVerify, tt.wantCA)
			}
			if !slices.Equal(s.Ignored, tt.wantIgnored) {
				t.Errorf("ignored = %v, want %v", s.Ignored, tt.wantIgnored)
			}
		})
	}
}

// TestHTTPSettingsErrors: what cannot be a base URL or a header is refused
// with the reason, never quoting a secret.
func TestHTTPSettingsErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		c    Connection
		want string
	}{
		{"no host", Connection{Type: "http"}, "no host"},
		{"bad schema", Connection{Type: "http", Host: "h", Schema: "api/v1"}, `schema "api/v1": want http or https`},
		{"ftp protocol", Connection{Type: "http", Host: "ftp://h"}, `protocol "ftp"`},
		{"userinfo in host", Connection{Type: "http", Host: "https://u:hunter22@h"}, "not in its host"},
		{"query in host", Connection{Type: "http", Host: "https://h/v1?a=b"}, "no query"},
		{"port twice", Connection{Type: "http", Host: "https://h:8443", Port: 443}, "port 443 given twice"},
		{"bad header name", Connection{Type: "http", Host: "h", Extra: map[string]string{"bad header": "x"}}, `"bad header" cannot be a header name`},
		{"header CRLF", Connection{Type: "http", Host: "h", Extra: map[string]string{"X-K": "hunter22\r\nX-Evil: 1"}}, `header "X-K": its value holds a line break`},
		{"headers not JSON", Connection{Type: "http", Host: "h", Extra: map[string]string{"headers": "[1]"}}, "extra headers must be a JSON object"},
		{"headers nested", Connection{Type: "http", Host: "h", Extra: map[string]string{"headers": `{"X":{"a":1}}`}}, `header "X" must be a string`},
		{"two tokens", Connection{Type: "http", Host: "h", Extra: map[string]string{"token": "a1234", "bearer_token": "b1234"}}, "disagree"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.c.ID = "api"
			_, err := tt.c.HTTP()
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "http connection api") {
				t.Fatalf("HTTP() error = %v, want one naming the connection and %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "hunter22") {
				t.Errorf("the error quotes a secret: %v", err)
			}
		})
	}
}

// FuzzHTTPSettings: any connection URI either fails to read as an http
// connection with an error naming it, or gives a base URL on http or
// https with a host, that prints and parses back to itself, and headers
// HTTP can carry.
func FuzzHTTPSettings(f *testing.F) {
	for _, seed := range []string{
		"http://api.example.com", "https://u:p@h:8443/https?X-Api-Key=k&token=t",
		"http://https%3A%2F%2Fapi.example.com%2Fv1%2F", "http://[::1]:80", "http://::1",
		"http://h/v1", "http://h?headers=%7B%22A%22%3A1%7D", "http://h?bad%20name=1",
		"http://h?verify=%2Fca.pem&ca_bundle=%2Fother.pem", "http://http://h:99999",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, uri string) {
		c, err := Parse(uri)
		if err != nil {
			return
		}
		c.ID = "f"
		s, err := c.HTTP()
		if err != nil {
			if !strings.HasPrefix(err.Error(), "http connection f: ") {
				t.Fatalf("error %q does not name the connection", err)
			}
			return
		}
		u := s.BaseURL
		if (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" || u.User != nil || u.RawQuery != "" {
			t.Fatalf("%q: base URL %q", uri, u)
		}
		again, err := url.Parse(u.String())
		if err != nil || again.Host != u.Host || again.Scheme != u.Scheme {
			t.Fatalf("%q: base URL %q parses back as %v (%v)", uri, u, again, err)
		}
		for k, v := range s.Headers {
			if !ValidHeaderName(k) || strings.ContainsAny(v, "\r\n\x00") {
				t.Fatalf("%q: header %q: %q", uri, k, v)
			}
		}
	})
}

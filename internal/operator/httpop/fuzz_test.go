package httpop_test

import (
	"encoding/json"
	"errors"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/sirocco-dev/sirocco/internal/operator/httpop"
)

// FuzzParseCheck: any response_check (as JSON, which is what YAML decodes
// to) either parses or fails with an error naming response_check, and a
// parsed check evaluates any status and body without panicking, failing
// only with ErrCheck.
func FuzzParseCheck(f *testing.F) {
	for _, seed := range []struct {
		check, body string
		status      int
	}{
		{`{"status": [200, "4xx"], "json_path": "$.a", "equals": 1}`, `{"a": 1}`, 200},
		{`{"json_path": "$..*", "exists": false}`, `[[[[[]]]]]`, 200},
		{`{"json_path": "$.items[?@.n > 2 && match(@.s, 'a.*')]"}`, `{"items": [{"n": 3, "s": "ab"}]}`, 201},
		{`{"regex": "(?i)^ok$"}`, "OK", 204},
		{`{"json_path": "$.n", "equals": "12345678901234567890"}`, `{"n": 12345678901234567890}`, 200},
		{`{"json_path": "$.n", "equals": "1e400"}`, `{"n": 1e400}`, 200},
		{`{"status": "5xx"}`, "", 503},
		{`{"status": []}`, "", 200},
		{`"2xx"`, "", 200},
		{`{"json_path": "$[", "exists": "yes"}`, "{}", 200},
	} {
		f.Add(seed.check, []byte(seed.body), seed.status)
	}
	f.Fuzz(func(t *testing.T, check string, body []byte, status int) {
		if len(check) > 8<<10 || len(body) > 64<<10 {
			return
		}
		var v any
		if json.Unmarshal([]byte(check), &v) != nil {
			return
		}
		c, err := httpop.ParseCheck(v)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "response_check") {
				t.Fatalf("error %q does not name response_check", err)
			}
			return
		}
		if err := c.Evaluate(&httpop.Response{Status: status, Body: body}); err != nil && !errors.Is(err, httpop.ErrCheck) {
			t.Fatalf("Evaluate failed outside the check: %v", err)
		}
	})
}

// escape is a valid percent-escape; FuzzJoinEndpoint decodes a path as a
// lenient server does, each valid escape, leaving the others.
var escape = regexp.MustCompile(`%[0-9a-fA-F]{2}`)

// FuzzJoinEndpoint: whatever the endpoint, the URL a request goes to is
// on the connection's scheme, host and port and its path has no ".."
// segment however many times a lenient server decodes it, or there is an
// error.
func FuzzJoinEndpoint(f *testing.F) {
	for _, seed := range []struct{ base, endpoint string }{
		{"https://api.example.com/v1", "items?x=1"},
		{"https://api.example.com", "//evil.example.com/x"},
		{"http://127.0.0.1:8080", "http://127.0.0.1:8080/x"},
		{"http://[::1]:8080/base", "@evil/x"},
		{"https://api.example.com", "https://evil.example.com"},
		{"https://api.example.com", "\\\\evil.example.com"},
		{"https://api.example.com", "https:evil.example.com"},
		{"https://api.example.com", "https://api.example.com@evil.example.com/"},
		{"https://api.example.com", "%2F%2Fevil.example.com"},
		{"https://api.example.com/v1/api", "../../admin"},
		{"https://api.example.com/v1/api", "%2e%2e/%2e%2e/admin"},
		{"https://api.example.com/v1/api", "..%2f..%2fadmin"},
		{"https://api.example.com/v1/api", "%252e%252e%252fadmin"},
		{"https://api.example.com/v1/api", "..\\admin"},
		{"https://api.example.com/v1/api", "https://api.example.com/v1/api/../../admin"},
	} {
		f.Add(seed.base, seed.endpoint)
	}
	f.Fuzz(func(t *testing.T, base, endpoint string) {
		b, err := url.Parse(base)
		if err != nil || (b.Scheme != "http" && b.Scheme != "https") || b.Hostname() == "" || b.User != nil || b.RawQuery != "" || b.Fragment != "" {
			return
		}
		u, err := httpop.JoinEndpoint(b, endpoint)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "field endpoint") {
				t.Fatalf("error %q does not name the field", err)
			}
			return
		}
		if !strings.Contains(b.Path, "..") {
			for p := u.EscapedPath(); ; {
				if slices.ContainsFunc(strings.FieldsFunc(p, func(r rune) bool { return r == '/' || r == '\\' }),
					func(seg string) bool { name, _, _ := strings.Cut(seg, ";"); return name == ".." }) {
					t.Fatalf("base %q + endpoint %q climbs out of the base path once decoded: %q", base, endpoint, u)
				}
				d := escape.ReplaceAllStringFunc(p, func(e string) string { c, _ := strconv.ParseUint(e[1:], 16, 8); return string(rune(c)) })
				if d == p {
					break
				}
				p = d
			}
		}
		again, err := url.Parse(u.String())
		if err != nil {
			t.Fatalf("the joined URL %q does not parse again: %v", u, err)
		}
		for _, x := range []*url.URL{u, again} {
			if !strings.EqualFold(x.Hostname(), b.Hostname()) || !strings.EqualFold(x.Scheme, b.Scheme) || x.User != nil {
				t.Fatalf("base %q + endpoint %q goes to %q", base, endpoint, x)
			}
		}
	})
}

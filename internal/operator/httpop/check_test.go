package httpop_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/sirocco-dev/sirocco/internal/operator/httpop"
)

// TestResponseCheck: the status list, json_path (equals, exists) and
// regex checks pass and fail against a real server, failures saying what
// the response held.
func TestResponseCheck(t *testing.T) {
	t.Parallel()
	const body = `{"state": "done", "count": 3, "big": 12345678901234567890, "items": [{"id": "a"}, {"id": "b"}], "ok": true}`
	tests := []struct {
		name   string
		status int
		body   string
		check  any
		want   string // "" = passes
	}{
		{name: "default 2xx passes 201", status: 201, body: body},
		{name: "default refuses 404", status: 404, body: body, want: "status 404 is not one of 2xx"},
		{name: "default refuses 302", status: 302, body: body, want: "status 302 is not one of 2xx"},
		{name: "status list accepts 404", status: 404, body: body, check: map[string]any{"status": []any{200, "404"}}},
		{name: "status class", status: 409, body: body, check: map[string]any{"status": "4xx"}},
		{name: "status list refuses 200", status: 200, body: body, check: map[string]any{"status": []any{202, "3xx"}}, want: "status 200 is not one of 202, 3xx"},
		{name: "equals string", status: 200, body: body, check: map[string]any{"json_path": "$.state", "equals": "done"}},
		{name: "equals refused", status: 200, body: body, check: map[string]any{"json_path": "$.state", "equals": "running"},
			want: `json_path $.state is "done", want "running"`},
		{name: "equals number", status: 200, body: body, check: map[string]any{"json_path": "$.count", "equals": 3}},
		{name: "equals rendered string to number", status: 200, body: body, check: map[string]any{"json_path": "$.count", "equals": "3"}},
		{name: "equals big integer exactly", status: 200, body: body, check: map[string]any{"json_path": "$.big", "equals": "12345678901234567890"}},
		{name: "equals big integer, one digit off", status: 200, body: body, check: map[string]any{"json_path": "$.big", "equals": "12345678901234567891"},
			want: "json_path $.big is 12345678901234567890, want \"12345678901234567891\""},
		{name: "equals float and integer", status: 200, body: body, check: map[string]any{"json_path": "$.count", "equals": 3.0}},
		{name: "equals bool", status: 200, body: body, check: map[string]any{"json_path": "$.ok", "equals": true}},
		{name: "equals a list of nodes", status: 200, body: body, check: map[string]any{"json_path": "$.items[*].id", "equals": []any{"a", "b"}}},
		{name: "filter expression", status: 200, body: body, check: map[string]any{"json_path": `$.items[?@.id == "b"]`}},
		{name: "exists refused", status: 200, body: body, check: map[string]any{"json_path": "$.error"}, want: "json_path $.error selects nothing, want it to exist"},
		{name: "exists false", status: 200, body: body, check: map[string]any{"json_path": "$.error", "exists": false}},
		{name: "exists false refused", status: 200, body: body, check: map[string]any{"json_path": "$.state", "exists": false},
			want: `json_path $.state selects "done", want nothing`},
		{name: "json_path on text", status: 200, body: "plain text", check: map[string]any{"json_path": "$.state"},
			want: "json_path $.state: the body is not JSON"},
		{name: "regex passes", status: 200, body: body, check: map[string]any{"regex": `"state":\s*"do`}},
		{name: "regex refused", status: 200, body: body, check: map[string]any{"regex": `^\{"error"`}, want: `the body does not match regex "^\\{\"error\""`},
		{name: "all together", status: 200, body: body, check: map[string]any{"status": 200, "json_path": "$.items[1].id", "equals": "b", "regex": "ok"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := newServer(t, jsonHandler(tt.status, tt.body))
			args := map[string]any{"allow_redirects": false}
			if tt.check != nil {
				args["response_check"] = tt.check
			}
			r := execute(context.Background(), t, args, conn(srv))
			if tt.want == "" {
				if r.err != nil {
					t.Fatalf("check failed: %v\n%s", r.err, r.log)
				}
				return
			}
			if r.err == nil || !strings.Contains(r.err.Error(), tt.want) || !errors.Is(r.err, httpop.ErrCheck) {
				t.Fatalf("error = %v, want a check failure with %q", r.err, tt.want)
			}
			if r.res.ReturnValue != nil {
				t.Errorf("a failed check pushed %q", *r.res.ReturnValue)
			}
		})
	}
}

// TestParseCheckErrors: a malformed response_check names the key at
// fault and what was expected.
func TestParseCheckErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		check any
		want  string
	}{
		{"2xx", "response_check: want an object with status, json_path, equals, exists, regex, got a string"},
		{map[string]any{"status": []any{}}, "response_check.status: empty list"},
		{map[string]any{"status": []any{200, "6xx"}}, `response_check.status[1]: "6xx" is not a status code`},
		{map[string]any{"status": []any{map[string]any{}}}, "response_check.status[0]: want a status code or class"},
		{map[string]any{"status": 99}, `response_check.status[0]: "99" is not a status code in 100..599`},
		{map[string]any{"equals": 1}, "equals and exists need a json_path"},
		{map[string]any{"json_path": 3}, "response_check.json_path: want a string, got a number"},
		{map[string]any{"json_path": ""}, "response_check.json_path: empty"},
		{map[string]any{"json_path": "state"}, `response_check.json_path: "state" is not a JSONPath`},
		{map[string]any{"json_path": "$.a", "equals": 1, "exists": true}, "give equals or exists, not both"},
		{map[string]any{"json_path": "$.a", "exists": "maybe"}, "response_check.exists: want true or false, got a string"},
		{map[string]any{"regex": "("}, "response_check.regex: not a regular expression"},
		{map[string]any{"regex": []any{"a"}}, "response_check.regex: want a string, got a list"},
		{map[string]any{"regex": strings.Repeat("a", 5000)}, "response_check.regex: longer than 4096 bytes"},
	}
	for _, tt := range tests {
		_, err := httpop.ParseCheck(tt.check)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseCheck(%v) = %v, want %q", tt.check, err, tt.want)
		}
	}
}

// TestCheckReusable: a sensor can evaluate a Check on a Response without
// the operator (the default accepts 2xx only).
func TestCheckReusable(t *testing.T) {
	t.Parallel()
	c, err := httpop.ParseCheck(map[string]any{"json_path": "$.phase", "equals": "Succeeded"})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Evaluate(&httpop.Response{Status: 200, Body: []byte(`{"phase":"Succeeded"}`)}); err != nil {
		t.Errorf("a passing response: %v", err)
	}
	if err := c.Evaluate(&httpop.Response{Status: 200, Body: []byte(`{"phase":"Running"}`)}); !errors.Is(err, httpop.ErrCheck) {
		t.Errorf("a running phase: %v, want ErrCheck", err)
	}
	if def, _ := httpop.ParseCheck(nil); def.Accepts(199) || !def.Accepts(299) || def.Accepts(300) {
		t.Error("the default check does not accept exactly 2xx")
	}
}

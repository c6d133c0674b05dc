package httpop

import (
	"encoding/json"
	"reflect"
	"testing"
	"unicode/utf8"
)

// FuzzXComResult: whatever a server sends, and whatever response_filter
// selects, the XCom is a string or a valid UTF-8 JSON value that is not
// a string (strings go as ReturnValue), and a whole JSON body's value is
// kept: it decodes to what the body decodes to.
func FuzzXComResult(f *testing.F) {
	for _, seed := range []struct{ body, filter string }{
		{`{"z": 1, "a": {"id": "x-1", "n": 12345678901234567890}}`, ""},
		{`{"a": {"id": "x-1"}}`, "$.a"},
		{`{"items": [1, 2]}`, "$.items[*]"},
		{`"done"`, ""},
		{"hello\nworld", ""},
		{"{\"s\": \"a\xffb\"}", ""},
		{"{\"s\": \"a\xffb\"}", "$.s"},
		{`{"a": 1, "a": 2}`, ""},
		{"  1.50  ", ""},
		{"", ""},
		{"[1] [2]", ""},
		{`{"n": 1e400}`, "$.n"},
	} {
		f.Add([]byte(seed.body), seed.filter)
	}
	f.Fuzz(func(t *testing.T, body []byte, filter string) {
		if len(body) > 64<<10 || len(filter) > 1<<10 {
			return
		}
		cfg := config{xcom: true}
		if filter != "" {
			p, err := ParsePath(filter)
			if err != nil {
				return
			}
			cfg.filter, cfg.filterText = p, filter
		}
		res, err := result(cfg, &Response{Status: 200, Body: body})
		if err != nil {
			if cfg.filter == nil {
				t.Fatalf("no filter, yet an error: %v", err)
			}
			return
		}
		if res.ReturnValue != nil && res.ReturnJSON != nil {
			t.Fatalf("both a string and a JSON value: %+v", res)
		}
		if res.ReturnJSON == nil {
			return
		}
		if !json.Valid(res.ReturnJSON) || !utf8.Valid(res.ReturnJSON) {
			t.Fatalf("ReturnJSON %q is not valid UTF-8 JSON", res.ReturnJSON)
		}
		got, err := decodeJSON(res.ReturnJSON)
		if err != nil {
			t.Fatalf("ReturnJSON %q: %v", res.ReturnJSON, err)
		}
		if _, isString := got.(string); isString {
			t.Fatalf("a string pushed as ReturnJSON %q", res.ReturnJSON)
		}
		if want, err := decodeJSON(body); cfg.filter == nil && utf8.Valid(body) && (err != nil || !reflect.DeepEqual(got, want)) {
			t.Fatalf("body %q pushed as %q (%v)", body, res.ReturnJSON, err)
		}
	})
}

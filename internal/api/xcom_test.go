package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/api"
	"github.com/sirocco-dev/sirocco/internal/connection"
	"github.com/sirocco-dev/sirocco/internal/store"
)

const xcomBase = "/api/v1/dags/etl/dagRuns/r/taskInstances/extract/xcomEntries"

// pushed is when the test's XComs were pushed.
var pushed = time.Date(2026, 1, 2, 3, 4, 5, 678000000, time.UTC)

// push stores XComs of extract in run r, pushed at pushed.
func (s *site) push(values map[string]string) {
	s.t.Helper()
	for key, value := range values {
		x := store.XCom{TaskKey: store.TaskKey{DagID: "etl", RunID: "r", TaskID: "extract"}, Key: key, Value: value, Timestamp: pushed}
		if err := s.st.SetXCom(context.Background(), x); err != nil {
			s.t.Fatal(err)
		}
	}
}

// decodeExact decodes JSON keeping numbers' text, to compare values
// without float rounding.
func decodeExact(t *testing.T, b []byte) any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("%v in %s", err, b)
	}
	return v
}

// TestXComEntries: the listing of a task instance's XComs, sorted by key,
// carries each value as the JSON value pushed (numbers exact, nested
// objects as objects), when it was pushed, and the run's identity in both
// Airflow's v1 and v2 names; one entry answers the same.
func TestXComEntries(t *testing.T) {
	s := newSite(t, map[string]string{"etl.yaml": etlYAML})
	s.createRun("etl", "r", time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC), map[string]store.TaskState{"extract": store.StateSuccess})
	s.push(map[string]string{
		"return_value": `{"rows": 42, "id": 12345678901234567890, "nested": {"list": [1, "two", null, true]}}`,
		"count":        `7`,
		"text":         `"hello"`,
		"not_json":     `plain words`,
	})
	r := s.do("GET", xcomBase, nil)
	if r.status != http.StatusOK {
		t.Fatalf("GET list: %d %s", r.status, r.body)
	}
	got := decodeExact(t, r.body).(map[string]any)
	entries, _ := got["xcom_entries"].([]any)
	if got["total_entries"] != json.Number("4") || len(entries) != 4 {
		t.Fatalf("list = %s", r.body)
	}
	wantValues := []struct {
		key   string
		value any
	}{
		{"count", json.Number("7")},
		{"not_json", "plain words"},
		{"return_value", map[string]any{"rows": json.Number("42"), "id": json.Number("12345678901234567890"),
			"nested": map[string]any{"list": []any{json.Number("1"), "two", nil, true}}}},
		{"text", "hello"},
	}
	for i, w := range wantValues {
		e := entries[i].(map[string]any)
		if e["key"] != w.key || !reflect.DeepEqual(e["value"], w.value) {
			t.Errorf("entry %d = %v, want key %s value %#v", i, e, w.key, w.value)
		}
		for field, want := range map[string]any{
			"dag_id": "etl", "dag_run_id": "r", "run_id": "r", "task_id": "extract", "map_index": json.Number("-1"),
			"timestamp": "2026-01-02T03:04:05.678Z", "logical_date": "2026-01-02T00:00:00Z", "execution_date": "2026-01-02T00:00:00Z",
		} {
			if e[field] != want {
				t.Errorf("entry %s: %s = %v, want %v", w.key, field, e[field], want)
			}
		}
	}

	one := s.do("GET", xcomBase+"/return_value", nil)
	if one.status != http.StatusOK || !reflect.DeepEqual(decodeExact(t, one.body), entries[2]) {
		t.Errorf("one entry differs from its listing:\n%s", one.body)
	}
	if x := s.get(xcomBase + "/return_value?stringify=true"); !strings.Contains(x["value"].(string), `"rows": 42`) {
		t.Errorf("stringified value = %#v", x["value"])
	}
	if x := s.get(xcomBase + "/return_value?deserialize=true"); x["value"].(map[string]any)["rows"] != float64(42) {
		t.Errorf("deserialize=true value = %#v", x["value"])
	}

	page, total := list(t, s.get(xcomBase+"?limit=2&offset=1"), "xcom_entries")
	if total != 4 || ids(page, "key") != "not_json,return_value" {
		t.Errorf("page = %s of %d", ids(page, "key"), total)
	}
	if one, total := list(t, s.get(xcomBase+"?xcom_key=text"), "xcom_entries"); total != 1 || ids(one, "key") != "text" {
		t.Errorf("xcom_key filter = %s of %d", ids(one, "key"), total)
	}
	if none, total := list(t, s.get("/api/v1/dags/etl/dagRuns/r/taskInstances/load/xcomEntries"), "xcom_entries"); total != 0 || len(none) != 0 {
		t.Errorf("load pushed nothing: %v", none)
	}
	for name, c := range map[string]struct {
		path   string
		status int
		want   string
	}{
		"unknown task":     {"/api/v1/dags/etl/dagRuns/r/taskInstances/nope/xcomEntries", 404, "nope"},
		"unknown run":      {"/api/v1/dags/etl/dagRuns/zz/taskInstances/extract/xcomEntries", 404, "zz"},
		"unknown key":      {xcomBase + "/nope", 404, "nope"},
		"bad stringify":    {xcomBase + "?stringify=maybe", 400, "stringify"},
		"bad deserialize":  {xcomBase + "/return_value?deserialize=perhaps", 400, "deserialize"},
		"bad limit":        {xcomBase + "?limit=0", 400, "limit"},
		"entry of no task": {"/api/v1/dags/etl/dagRuns/r/taskInstances/nope/xcomEntries/return_value", 404, "nope"},
	} {
		wantProblem(t, name, s.do("GET", c.path, nil), c.status, c.want)
	}
}

// TestXComMasksKnownSecrets: a task that pushed a secret it was given (a
// sensitive variable, from the store or the environment, or a connection
// password), plain, encoded, nested, as a key or as a number, has it
// masked in every XCom answer, listing included; the stored value is left
// whole for the tasks.
func TestXComMasksKnownSecrets(t *testing.T) {
	const envToken = "env-Token-Value-64"
	const pin = "31415926535"
	env := []string{"SIROCCO_VAR_SLACK_TOKEN=" + envToken}
	s := newSite(t, map[string]string{"etl.yaml": etlYAML}, func(o *api.Options) { o.Environ = func() []string { return env } })
	ctx := context.Background()
	if err := (&connection.Variables{Store: s.st, Keys: s.keys}).Set(ctx, store.Variable{Key: "db_password", Value: varSecret}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []connection.Connection{
		{ID: "wh", Type: "postgres", Host: "db", Password: storedSecret},
		{ID: "vault", Type: "http", Password: pin},
	} {
		if err := (&connection.Resolver{Store: s.st, Keys: s.keys}).Add(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	s.createRun("etl", "r", time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC), map[string]store.TaskState{"extract": store.StateSuccess})
	b64 := "dmFyLVNlY3JldC1WYWx1ZS05Mw==" // base64 of varSecret
	value := `{"pw": "` + varSecret + `", "auth": "` + b64 + `", "token": "` + envToken + `", "dsn": "postgres://u:` + storedSecret +
		`@db", "deep": [{"x": {"y": ["` + varSecret + `"]}}], "` + varSecret + `": "as a key", "pin": ` + pin + `, "rows": 3}`
	s.push(map[string]string{"return_value": value, "quoted": `"` + envToken + `"`})
	secrets := []string{varSecret, b64, envToken, storedSecret, pin}
	for _, p := range []string{xcomBase, xcomBase + "?stringify=true", xcomBase + "/return_value",
		xcomBase + "/return_value?deserialize=true", xcomBase + "/return_value?stringify=true", xcomBase + "/quoted"} {
		r := s.do("GET", p, nil)
		if r.status != http.StatusOK {
			t.Fatalf("%s: %d %s", p, r.status, r.body)
		}
		for _, secret := range secrets {
			if strings.Contains(string(r.body), secret) {
				t.Errorf("%s shows %q:\n%s", p, secret, r.body)
			}
		}
		if !strings.Contains(string(r.body), "***") {
			t.Errorf("%s masks nothing:\n%s", p, r.body)
		}
	}
	x := s.get(xcomBase + "/return_value")
	v, ok := x["value"].(map[string]any)
	if !ok || v["rows"] != float64(3) || v["pw"] != "***" || v["pin"] != "***" || v["***"] != "as a key" {
		t.Errorf("masked value = %#v; want an object with only the secrets masked", x["value"])
	}
	if x, err := s.st.GetXCom(ctx, store.TaskKey{DagID: "etl", RunID: "r", TaskID: "extract"}, "return_value"); err != nil || x.Value != value {
		t.Errorf("the stored XCom changed: %q, %v", x.Value, err)
	}
}

package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/sirocco-dev/sirocco/internal/store"
)

// fuzzYAML has no params, so any conf object is valid, and two tasks.
const fuzzYAML = `dag_id: fz
schedule: "@daily"
start_date: 2026-01-01
tasks:
  - {id: a, operator: empty}
  - {id: b, operator: empty, depends_on: [a]}
`

// fuzzEndpoints are the API's writes: each takes a JSON body, and the
// task instance's also the run id of its path.
var fuzzEndpoints = []struct {
	method, path string
	want         func(s *site, id string, body []byte) int
}{
	{"POST", "/dags/fz/dagRuns", wantTrigger},
	{"POST", "/dags/fz/clearTaskInstances", wantClear},
	{"PATCH", "/dags/fz/dagRuns/{id}/taskInstances/a", wantMark},
	{"PATCH", "/dags/fz", wantPause},
}

// FuzzAPIBodies sends arbitrary bytes as the body of every write of a
// real API over a SQLite store. The answer is never a 5xx nor a dropped
// connection (a panic), a 4xx is problem JSON, and it is a 2xx exactly
// when an oracle written apart from the handlers finds the body valid.
func FuzzAPIBodies(f *testing.F) {
	for _, seed := range []struct {
		endpoint uint8
		id, body string
	}{
		{0, "r", `{"dag_run_id": "r1", "logical_date": "2026-01-02", "conf": {"x": [1, "y"]}}`},
		{0, "r", `{"execution_date": "2026-01-02T03:04:05+02:00"}`},
		{0, "r", `{"dag_run_id": "` + strings.Repeat("x", 300) + `"}`},
		{0, "r", `{"dag_run_id": "col/lide"}`},
		{0, "r", `{"dag_run_id": "..", "conf": null}`},
		{0, "r", `{"logical_date": "0001-01-01"}`},
		{0, "r", `{"logical_date": "9999-12-31T23:59:59-01:00"}`},
		{0, "r", `{"conf": {"k": "a\u0000b"}}`},
		{0, "r", `{"dag_run_id": "scheduled__x"}`},
		{0, "r", `null`},
		{0, "r", `{}]`},
		{0, "r", `[]`},
		{1, "r", `{"dag_run_id": "r", "task_ids": ["a"], "include_downstream": true, "dry_run": true}`},
		{1, "r", `{"dag_run_id": "a\u0000b"}`},
		{1, "r", `{"dag_run_id": "r", "task_ids": ["zz"]}`},
		{1, "r", `{"dag_run_id": "r", "task_ids": [["a", -1], "b"], "dry_run": true}`},
		{1, "r", `{"dag_run_id": "r", "task_ids": [["a", 3]], "dry_run": true}`},
		{1, "r", `{"dag_run_id": "r", "task_ids": [["a"], ["b", 1.5], [1, 2]], "map_index": 0}`},
		{1, "r", `{"dag_run_id": "r", "task_ids": [["a", -1]], "map_index": -1}`},
		{2, "r", `{"new_state": "success", "dry_run": true}`},
		{2, "r", `{"new_state": "running"}`},
		{2, "a\x00b", `{"new_state": "failed"}`},
		{2, "\xff", `{"new_state": "failed"}`},
		{2, "a/b", `{"new_state": "skipped"}`},
		{2, "", `{"new_state": "skipped"}`},
		{3, "r", `{"is_paused": true}`},
		{3, "r", `{"is_paused": "yes"}`},
		{3, "r", `{"IS_PAUSED": false, "is_paused": true}`},
	} {
		f.Add(seed.endpoint, seed.id, []byte(seed.body))
	}
	s := newSite(f, map[string]string{"fz.yaml": fuzzYAML})
	s.storeFuzzRun("r")
	client := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	f.Fuzz(func(t *testing.T, endpoint uint8, id string, body []byte) {
		ep := fuzzEndpoints[int(endpoint)%len(fuzzEndpoints)]
		path := strings.Replace(ep.path, "{id}", url.PathEscape(id), 1)
		want := ep.want(s, id, body)
		answer, got, ctype, ok := fuzzSend(t, client, ep.method, s.srv.URL+"/api/v1"+path, body)
		if !ok {
			t.Fatalf("%s %s: net/http cannot send this request", ep.method, path)
		}
		switch {
		case want == http.StatusMovedPermanently:
			if (got < 300 || got >= 400) && got != http.StatusNotFound {
				t.Fatalf("%s %s: %d, want a redirect to the clean path or 404", ep.method, path, got)
			}
			return
		case want == http.StatusOK && got != http.StatusOK && got != http.StatusConflict:
			t.Fatalf("%s %s %q: %d, want 200 (or 409)\n%s", ep.method, path, body, got, answer)
		case want != http.StatusOK && got != want:
			t.Fatalf("%s %s %q: %d, want %d\n%s", ep.method, path, body, got, want, answer)
		}
		if got >= 400 {
			checkProblem(t, ctype, answer)
		}
	})
}

// fuzzSend sends body as JSON and returns the answer, its status and
// Content-Type, failing the test on a dropped connection (a handler that
// panicked) or any 5xx; ok is false for a request net/http cannot build.
func fuzzSend(t *testing.T, client *http.Client, method, target string, body []byte) (answer []byte, status int, ctype string, ok bool) {
	t.Helper()
	req, err := http.NewRequest(method, target, bytes.NewReader(body))
	if err != nil {
		return nil, 0, "", false
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s %q: %v (did the handler panic?)", method, target, body, err)
	}
	defer resp.Body.Close()
	if answer, err = io.ReadAll(resp.Body); err != nil {
		t.Fatalf("read answer: %v", err)
	}
	if resp.StatusCode >= 500 {
		t.Fatalf("%s %s %q: %d\n%s", method, target, body, resp.StatusCode, answer)
	}
	return answer, resp.StatusCode, resp.Header.Get("Content-Type"), true
}

// checkProblem fails unless answer is problem JSON with a detail.
func checkProblem(t *testing.T, contentType string, answer []byte) {
	t.Helper()
	var p struct {
		Status int    `json:"status"`
		Detail string `json:"detail"`
	}
	if mt, _, _ := mime.ParseMediaType(contentType); mt != "application/problem+json" ||
		json.Unmarshal(answer, &p) != nil || p.Status < 400 || p.Detail == "" {
		t.Fatalf("not problem JSON (%s): %s", contentType, answer)
	}
}

// storeFuzzRun writes a run of fz straight to the store.
func (s *site) storeFuzzRun(runID string) {
	s.t.Helper()
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	run := store.DagRun{DagID: "fz", RunID: runID, RunType: store.RunManual, State: store.RunQueued,
		LogicalDate: at, DataIntervalStart: at, DataIntervalEnd: at, QueuedAt: at}
	tis := []store.TaskInstance{
		{TaskKey: store.TaskKey{DagID: "fz", RunID: runID, TaskID: "a"}, Pool: "default_pool", PoolSlots: 1},
		{TaskKey: store.TaskKey{DagID: "fz", RunID: runID, TaskID: "b"}, Pool: "default_pool", PoolSlots: 1},
	}
	if err := s.st.CreateRun(s.t.Context(), run, tis); err != nil {
		s.t.Fatal(err)
	}
}

// object decodes body as the API's handlers must accept it: exactly one
// JSON object, its fields those of v (Go matches names without case),
// within the API's size limit. It reports the status of a body that is not.
func object(body []byte, v any) int {
	if len(body) > 1<<20 {
		return http.StatusRequestEntityTooLarge
	}
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if !json.Valid(body) || len(trimmed) == 0 || trimmed[0] != '{' {
		return http.StatusBadRequest
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if dec.Decode(v) != nil {
		return http.StatusBadRequest
	}
	return 0
}

// router routes the task instance path as the API's ServeMux does.
var router = func() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("PATCH /api/v1/dags/fz/dagRuns/{dag_run_id}/taskInstances/a", func(http.ResponseWriter, *http.Request) {})
	return mux
}()

// unreachable reports that ServeMux does not route the path of a run id
// to its pattern but redirects it to a clean path or finds nothing: the
// empty id, "." and "..", and "/" (a run id an older version accepted).
func unreachable(id string) bool {
	_, pattern := router.Handler(httptest.NewRequest("PATCH", "/api/v1/dags/fz/dagRuns/"+url.PathEscape(id)+"/taskInstances/a", nil))
	return pattern == ""
}

// odd reports an id no store can hold: the router answers 404 at once.
func odd(id string) bool { return !utf8.ValidString(id) || strings.ContainsRune(id, 0) }

var runIDPattern = regexp.MustCompile(`^[A-Za-z0-9_.~:+-]{1,250}$`)

// validRunID is Airflow's allowed_run_id_pattern, at most 250 characters,
// not dots alone and not a scheduled or backfill run's id.
func validRunID(id string) bool {
	return runIDPattern.MatchString(id) && strings.Trim(id, ".") != "" &&
		!strings.HasPrefix(id, "scheduled__") && !strings.HasPrefix(id, "backfill__")
}

// validDate is YYYY-MM-DD or RFC 3339 after the zero time and in year 9999
// at the latest, in UTC.
func validDate(s string) bool {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		if t, err = time.Parse(time.RFC3339, s); err != nil {
			return false
		}
	}
	t = t.UTC()
	return t.After(time.Time{}) && t.Year() <= 9999
}

// hasNUL reports a NUL in any key or string of a decoded JSON value.
func hasNUL(v any) bool {
	switch v := v.(type) {
	case string:
		return strings.ContainsRune(v, 0)
	case map[string]any:
		for k, x := range v {
			if strings.ContainsRune(k, 0) || hasNUL(x) {
				return true
			}
		}
	case []any:
		for _, x := range v {
			if hasNUL(x) {
				return true
			}
		}
	}
	return false
}

func wantTrigger(_ *site, _ string, body []byte) int {
	var b struct {
		DagRunID      *string        `json:"dag_run_id"`
		LogicalDate   *string        `json:"logical_date"`
		ExecutionDate *string        `json:"execution_date"`
		Conf          map[string]any `json:"conf"`
	}
	if st := object(body, &b); st != 0 {
		return st
	}
	date := b.LogicalDate
	if date == nil {
		date = b.ExecutionDate
	}
	switch {
	case b.DagRunID != nil && !validRunID(*b.DagRunID),
		b.LogicalDate != nil && b.ExecutionDate != nil,
		date != nil && !validDate(*date),
		hasNUL(b.Conf):
		return http.StatusBadRequest
	}
	return http.StatusOK
}

func wantClear(s *site, _ string, body []byte) int {
	var b struct {
		DagRunID          *string           `json:"dag_run_id"`
		TaskIDs           []json.RawMessage `json:"task_ids"`
		IncludeDownstream bool              `json:"include_downstream"`
		OnlyFailed        bool              `json:"only_failed"`
		DryRun            bool              `json:"dry_run"`
		MapIndex          *int              `json:"map_index"`
	}
	if st := object(body, &b); st != 0 {
		return st
	}
	// Each entry is a task id or a [task_id, map_index] pair; a, b are
	// not mapped, so only their map index -1 exists.
	ids, missing, pairs := []string{}, false, false
	for _, raw := range b.TaskIDs {
		var id string
		if json.Unmarshal(raw, &id) == nil {
			ids = append(ids, id)
			continue
		}
		var pair []json.RawMessage
		var idx int
		if json.Unmarshal(raw, &pair) != nil || len(pair) != 2 || json.Unmarshal(pair[0], &id) != nil ||
			json.Unmarshal(pair[1], &idx) != nil || idx < -1 {
			return http.StatusBadRequest
		}
		ids, pairs, missing = append(ids, id), true, missing || idx != -1
	}
	if pairs && b.MapIndex != nil {
		return http.StatusBadRequest
	}
	if b.DagRunID == nil || *b.DagRunID == "" {
		return http.StatusBadRequest
	}
	if odd(*b.DagRunID) || !s.runExists(*b.DagRunID) {
		return http.StatusNotFound
	}
	for _, id := range ids {
		if id != "a" && id != "b" {
			return http.StatusBadRequest
		}
	}
	if missing || (b.MapIndex != nil && *b.MapIndex != -1) {
		return http.StatusNotFound
	}
	return http.StatusOK
}

func wantMark(s *site, id string, body []byte) int {
	if unreachable(id) {
		return http.StatusMovedPermanently
	}
	if odd(id) {
		return http.StatusNotFound
	}
	var b struct {
		NewState *string `json:"new_state"`
		DryRun   bool    `json:"dry_run"`
	}
	if st := object(body, &b); st != 0 {
		return st
	}
	if b.NewState == nil || (*b.NewState != "success" && *b.NewState != "failed" && *b.NewState != "skipped") {
		return http.StatusBadRequest
	}
	if !s.runExists(id) {
		return http.StatusNotFound
	}
	return http.StatusOK
}

func wantPause(_ *site, _ string, body []byte) int {
	var b struct {
		IsPaused *bool `json:"is_paused"`
	}
	if st := object(body, &b); st != 0 {
		return st
	}
	if b.IsPaused == nil {
		return http.StatusBadRequest
	}
	return http.StatusOK
}

// runExists reports whether fz has a run with id, read from the store.
func (s *site) runExists(id string) bool {
	_, err := s.st.GetRun(context.Background(), "fz", id)
	return err == nil
}

package api_test

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/api"
	"github.com/sirocco-dev/sirocco/internal/store"
	"github.com/sirocco-dev/sirocco/internal/tasklog"
	"github.com/sirocco-dev/sirocco/internal/testenv"
)

// storeRun writes a queued run of etl with its task instances straight to
// the store, bypassing the API's checks, as an older version may have
// stored it.
func (s *site) storeRun(dagID, runID string, logical time.Time) {
	s.t.Helper()
	run := store.DagRun{DagID: dagID, RunID: runID, RunType: store.RunManual, State: store.RunQueued,
		LogicalDate: logical, DataIntervalStart: logical, DataIntervalEnd: logical, QueuedAt: logical}
	var tis []store.TaskInstance
	for _, task := range []string{"extract", "transform", "load"} {
		tis = append(tis, store.TaskInstance{TaskKey: store.TaskKey{DagID: dagID, RunID: runID, TaskID: task}, Pool: "default_pool", PoolSlots: 1})
	}
	if err := s.st.CreateRun(s.t.Context(), run, tis); err != nil {
		s.t.Fatal(err)
	}
}

// TestTriggerRefusesBadRunIDs: a run id the logs folder or a URL cannot
// hold is a 400 naming dag_run_id, and nothing is stored. A 300-character
// id used to be accepted; its tasks then failed for want of a log file.
func TestTriggerRefusesBadRunIDs(t *testing.T) {
	s := newSite(t, map[string]string{"etl.yaml": etlYAML})
	for _, tt := range []struct{ id, want string }{
		{strings.Repeat("r", 300), "300 characters; at most 250"},
		{"col/lide", `'/'`},
		{"two words", `' '`},
		{"tab\there", `'\t'`},
		{"nul\x00", `'\x00'`},
		{"..", "only dots"},
		{"%2F", `'%'`},
		{"scheduled__2026-01-01T00:00:00+00:00", "reserved for scheduled runs"},
	} {
		r := s.do("POST", "/api/v1/dags/etl/dagRuns", map[string]any{"dag_run_id": tt.id})
		if p := wantProblem(t, tt.id, r, http.StatusBadRequest, "dag_run_id", tt.want); p != nil && p["field"] != "dag_run_id" {
			t.Errorf("%q: field %v, want dag_run_id", tt.id, p["field"])
		}
	}
	runs, err := s.st.ListRuns(t.Context(), store.RunFilter{DagID: "etl"})
	if err != nil || len(runs) != 0 {
		t.Errorf("runs stored: %v %v", runs, err)
	}
	if r := s.do("POST", "/api/v1/dags/etl/dagRuns", map[string]any{"dag_run_id": strings.Repeat("r", 250)}); r.status != http.StatusOK {
		t.Errorf("a 250-character run id: %d %s", r.status, r.body)
	}
}

// TestTriggerLogicalDateRange: a logical date the stores cannot keep is a
// 400; the first instant of year 1 used to be stored as "no date".
func TestTriggerLogicalDateRange(t *testing.T) {
	s := newSite(t, map[string]string{"etl.yaml": etlYAML})
	for _, tt := range []struct{ field, date, want string }{
		{"logical_date", "0001-01-01T00:00:00Z", "zero time"},
		{"logical_date", "0000-12-31T00:00:00Z", "out of range"},
		{"execution_date", "9999-12-31T23:30:00-01:00", "out of range"},
	} {
		r := s.do("POST", "/api/v1/dags/etl/dagRuns", map[string]any{tt.field: tt.date})
		if p := wantProblem(t, tt.date, r, http.StatusBadRequest, tt.want); p != nil && p["field"] != "logical_date" {
			t.Errorf("%s: field %v", tt.date, p["field"])
		}
	}
	r := s.do("POST", "/api/v1/dags/etl/dagRuns", map[string]any{"logical_date": "9999-12-31T23:59:59.999999Z"})
	if r.status != http.StatusOK || r.json(t)["logical_date"] != "9999-12-31T23:59:59.999999Z" {
		t.Errorf("the last day: %d %s", r.status, r.body)
	}
}

// TestBodiesMustBeOneObject: null, an array or bytes after the object are
// refused; null and `{}]` used to be read as an empty request and create
// a run.
func TestBodiesMustBeOneObject(t *testing.T) {
	s := newSite(t, map[string]string{"etl.yaml": etlYAML})
	for body, want := range map[string]string{
		"null": "not null", "[]": "not an array", `"x"`: "not a string", "7": "not a number", "true": "not a boolean",
		"{}]": "more than one JSON value", "{} {}": "more than one JSON value", "{} x": "more than one JSON value",
		"{": "not valid JSON", "": "empty",
	} {
		wantProblem(t, body, s.do("POST", "/api/v1/dags/etl/dagRuns", body, "Content-Type", "application/json"), http.StatusBadRequest, want)
	}
	if r := s.do("POST", "/api/v1/dags/etl/dagRuns", " {} \n", "Content-Type", "application/json"); r.status != http.StatusOK {
		t.Errorf("{} with spaces: %d %s", r.status, r.body)
	}
}

// TestOddIDsAreNotFound looks up ids no store can hold, on both stores:
// PostgreSQL refuses NUL and invalid UTF-8 in text, which used to turn a
// lookup into a 500.
func TestOddIDsAreNotFound(t *testing.T) {
	for _, name := range []string{"sqlite", "postgres"} {
		t.Run(name, func(t *testing.T) {
			var opts []siteOption
			if name == "postgres" {
				pg := openStore(t, testenv.Postgres(t))
				opts = append(opts, func(o *api.Options) { o.Store = pg })
			}
			s := newSite(t, map[string]string{"etl.yaml": etlYAML}, opts...)
			s.createRun("etl", "r", time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), nil)
			for _, odd := range []string{"%00", "a%00b", "%FF", "%C3%28"} {
				for _, tt := range []struct{ method, path string }{
					{"GET", "/dags/" + odd},
					{"GET", "/dags/" + odd + "/dagRuns"},
					{"GET", "/dags/etl/dagRuns/" + odd},
					{"GET", "/dags/etl/dagRuns/" + odd + "/taskInstances"},
					{"GET", "/dags/etl/dagRuns/r/taskInstances/" + odd},
					{"PATCH", "/dags/etl/dagRuns/r/taskInstances/" + odd},
					{"GET", "/dags/etl/dagRuns/r/taskInstances/" + odd + "/logs/1"},
					{"GET", "/dags/etl/dagRuns/r/taskInstances/extract/xcomEntries/" + odd},
					{"GET", "/dags/etl/dagRuns/r/taskInstances/" + odd + "/xcomEntries"},
					{"PATCH", "/pools/" + odd},
					{"DELETE", "/pools/" + odd},
					{"PATCH", "/variables/" + odd},
					{"DELETE", "/variables/" + odd},
					{"PATCH", "/connections/" + odd},
					{"DELETE", "/connections/" + odd},
					{"GET", "/dags/etl/tasks/" + odd},
					{"GET", "/pools/" + odd},
					{"GET", "/variables/" + odd},
					{"GET", "/connections/" + odd},
					{"GET", "/importErrors/" + odd},
				} {
					var body any
					switch tt.method {
					case "PATCH":
						body = map[string]any{"new_state": "success"}
					case "DELETE":
						body = map[string]any{}
					}
					r := s.do(tt.method, "/api/v1"+tt.path, body)
					if r.status != http.StatusNotFound {
						t.Errorf("%s %s: %d, want 404\n%s", tt.method, tt.path, r.status, r.body)
					}
				}
			}
			for _, id := range []string{"a\x00b", "\xff", strings.Repeat("x", 5000)} {
				r := s.do("POST", "/api/v1/dags/etl/clearTaskInstances", map[string]any{"dag_run_id": id})
				wantProblem(t, "clear "+id, r, http.StatusNotFound, "not found")
			}
		})
	}
}

// TestLogOfALongRunID reads the log of a run whose id is too long for a
// file name, as an older version accepted: the log path hashes it, where
// the name used to be refused by the file system and answered 500.
func TestLogOfALongRunID(t *testing.T) {
	s := newSite(t, map[string]string{"etl.yaml": etlYAML})
	id := strings.Repeat("r", 300)
	s.storeRun("etl", id, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	key := store.TaskKey{DagID: "etl", RunID: id, TaskID: "extract"}
	s.setState(key, store.StateSuccess, nil)
	path := "/api/v1/dags/etl/dagRuns/" + id + "/taskInstances/extract/logs/1"
	wantProblem(t, "no log yet", s.do("GET", path, nil), http.StatusNotFound, "no log file")

	file := tasklog.Path(s.cfg.LogsDir(), "etl", id, "extract", 1)
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, []byte("hello\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := s.do("GET", path, nil); r.status != http.StatusOK || string(r.body) != "hello\n" {
		t.Errorf("log: %d %q", r.status, r.body)
	}
	// A try that has not started says where the task is ("1 tries" read
	// wrong, trial12).
	later := "/api/v1/dags/etl/dagRuns/" + id + "/taskInstances/extract/logs/2"
	wantProblem(t, "a later try", s.do("GET", later, nil), http.StatusNotFound, "is at try 1; try 2 has not started")
}

// TestLogJSONIsBounded: the JSON form of a log bigger than 1 MiB holds its
// last lines only (from a line's start) and says so, rather than reading a
// file of any size into memory; the text form is still the whole file.
func TestLogJSONIsBounded(t *testing.T) {
	s := newSite(t, map[string]string{"etl.yaml": etlYAML})
	s.storeRun("etl", "r", time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	s.setState(store.TaskKey{DagID: "etl", RunID: "r", TaskID: "extract"}, store.StateSuccess, nil)
	file := tasklog.Path(s.cfg.LogsDir(), "etl", "r", "extract", 1)
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for i := range 150000 {
		fmt.Fprintf(&b, "line %06d\n", i) // 12 bytes a line: 1.8 MB
	}
	if err := os.WriteFile(file, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	path := "/api/v1/dags/etl/dagRuns/r/taskInstances/extract/logs/1"
	r := s.do("GET", path, nil, "Accept", "application/json")
	js := r.json(t)
	content, _ := js["content"].(string)
	skipped, _ := js["skipped_bytes"].(float64)
	if r.status != http.StatusOK || js["truncated"] != true || len(content) > 1<<20 || len(content) < 1<<20-12 ||
		content != b.String()[int(skipped):] || int(skipped)%12 != 0 {
		t.Errorf("JSON log: %d, truncated %v, %d bytes after %v skipped", r.status, js["truncated"], len(content), skipped)
	}
	if r := s.do("GET", path, nil); len(r.body) != b.Len() {
		t.Errorf("text log: %d bytes, want %d", len(r.body), b.Len())
	}
}

package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/api"
	"github.com/sirocco-dev/sirocco/internal/auth"
	"github.com/sirocco-dev/sirocco/internal/config"
	"github.com/sirocco-dev/sirocco/internal/connection"
	"github.com/sirocco-dev/sirocco/internal/dag"
	"github.com/sirocco-dev/sirocco/internal/operator/all"
	"github.com/sirocco-dev/sirocco/internal/store"
	"github.com/sirocco-dev/sirocco/internal/store/sqlstore"
	"github.com/sirocco-dev/sirocco/internal/template"
	"github.com/sirocco-dev/sirocco/internal/testenv"
)

func TestMain(m *testing.M) { testenv.RunMain(m) }

// etlYAML is the DAG most tests use: a chain with params, tags and retries.
const etlYAML = `dag_id: etl
description: Extract, transform, load.
schedule: "@daily"
start_date: 2026-01-01
tags: [nightly, team-a]
params:
  n: {type: integer, default: 1, description: how many}
  mode: {type: string, default: fast, enum: [fast, slow]}
tasks:
  - {id: extract, operator: bash, command: echo extract}
  - {id: transform, operator: bash, depends_on: [extract], command: echo transform, retries: 2, retry_delay: 30s}
  - {id: load, operator: bash, depends_on: [transform], command: echo load, execution_timeout: 1h}
`

// site is an API over a real SQLite store and DAGs loaded from YAML files,
// served by httptest on loopback.
type site struct {
	t     testing.TB
	st    store.Store
	cfg   config.Config
	keys  *connection.Keyring
	srv   *httptest.Server
	kicks atomic.Int32
	token string // sent as the bearer token, when set
}

type siteOption func(*api.Options)

// newSite writes files (name -> YAML) to a DAGs folder, loads it and
// serves the API over it.
func newSite(t testing.TB, files map[string]string, opts ...siteOption) *site {
	t.Helper()
	home := t.TempDir()
	dags := filepath.Join(home, "dags")
	if err := os.MkdirAll(dags, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dags, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	bag, err := dag.LoadDir(dags, dag.LoadOptions{Operators: all.Registry().Specs(), CheckTemplate: template.Check})
	if err != nil {
		t.Fatal(err)
	}
	cfg := config.Defaults()
	cfg.Home, cfg.DagsFolder = home, dags
	cfg.DatabaseURL = "sqlite://" + filepath.Join(home, "sirocco.db")
	st := openStore(t, cfg.DatabaseURL)
	keys, err := connection.NewKeyring(bytes.Repeat([]byte{7}, connection.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	s := &site{t: t, st: st, cfg: cfg, keys: keys}
	o := api.Options{Store: st, Config: cfg, Keys: keys, Kick: func() { s.kicks.Add(1) },
		DAGs:    func() (map[string]*dag.DAG, map[string]error) { return bag.DAGs, bag.Errors },
		Environ: func() []string { return nil }, SchedulerInProcess: true}
	for _, f := range opts {
		f(&o)
	}
	s.cfg = o.Config
	s.srv = httptest.NewServer(api.Site(o, auth.Options{Store: st, ServiceToken: o.Config.APIToken, Logger: o.Logger}, nil))
	t.Cleanup(s.srv.Close)
	return s
}

// guarded puts h behind authentication over st, as the CLI serves it:
// with no user and no token, loopback callers are an anonymous Admin.
func guarded(st store.Store, h http.Handler) http.Handler {
	return auth.New(auth.Options{Store: st}).Handler(h)
}

func openStore(t testing.TB, url string) store.Store {
	t.Helper()
	st, err := sqlstore.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return st
}

// response is one answer, its body kept raw for leak checks.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("answer is not a JSON object (%d): %v\n%s", r.status, err, r.body)
	}
	return m
}

// do sends a request; a non-nil body is sent as JSON unless it is a string,
// sent as is. Headers are name, value pairs.
func (s *site) do(method, path string, body any, headers ...string) response {
	s.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		js, err := json.Marshal(b)
		if err != nil {
			s.t.Fatal(err)
		}
		rd = bytes.NewReader(js)
	}
	req, err := http.NewRequest(method, s.srv.URL+path, rd)
	if err != nil {
		s.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if s.token != "" {
		req.Header.Set("Authorization", "Bearer "+s.token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i] == "Host" {
			req.Host = headers[i+1]
			continue
		}
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := s.srv.Client().Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		s.t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: raw}
}

// get expects 200 and returns the JSON object answered.
func (s *site) get(path string) map[string]any {
	s.t.Helper()
	r := s.do("GET", path, nil)
	if r.status != http.StatusOK {
		s.t.Fatalf("GET %s: %d\n%s", path, r.status, r.body)
	}
	return r.json(s.t)
}

// wantProblem checks that r is problem JSON with status and a detail
// containing each of want.
func wantProblem(t *testing.T, what string, r response, status int, want ...string) map[string]any {
	t.Helper()
	if r.status != status {
		t.Errorf("%s: status %d, want %d\n%s", what, r.status, status, r.body)
		return nil
	}
	if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("%s: Content-Type %q, want application/problem+json", what, ct)
	}
	p := r.json(t)
	if p["status"] != float64(status) || p["title"] == "" || p["type"] == "" || p["detail"] == "" {
		t.Errorf("%s: incomplete problem %v", what, p)
	}
	detail, _ := p["detail"].(string)
	for _, w := range want {
		if !strings.Contains(detail, w) {
			t.Errorf("%s: detail %q lacks %q", what, detail, w)
		}
	}
	return p
}

// createRun creates a run through the store-facing action path the API
// uses, with its task instances moved to states (each with one try).
func (s *site) createRun(dagID, runID string, logical time.Time, states map[string]store.TaskState) {
	s.t.Helper()
	r := s.do("POST", "/api/v1/dags/"+dagID+"/dagRuns", map[string]any{"dag_run_id": runID, "logical_date": logical.Format(time.RFC3339)})
	if r.status != http.StatusOK {
		s.t.Fatalf("create run: %d %s", r.status, r.body)
	}
	for task, state := range states {
		s.setState(store.TaskKey{DagID: dagID, RunID: runID, TaskID: task}, state, nil)
	}
}

// setState starts a try of the task instance and moves it to state, with
// handle stored when not nil.
func (s *site) setState(key store.TaskKey, state store.TaskState, handle []byte) {
	s.t.Helper()
	now := time.Now().UTC()
	u := store.TaskUpdate{Key: key, From: []store.TaskState{store.StateNone}, To: state, IncTry: true, StartDate: &now}
	if state.Finished() {
		end := now.Add(1500 * time.Millisecond)
		u.EndDate = &end
	}
	if handle != nil {
		u.Handle = &handle
	}
	host := "worker-1"
	u.Hostname = &host
	ok, err := s.st.UpdateTask(context.Background(), u)
	if err != nil || !ok {
		s.t.Fatalf("set %v to %s: %v %v", key, state, ok, err)
	}
}

// list returns the items of a collection answer and its total_entries.
func list(t *testing.T, m map[string]any, name string) ([]map[string]any, int) {
	t.Helper()
	raw, ok := m[name].([]any)
	if !ok {
		t.Fatalf("answer has no %q list: %v", name, m)
	}
	out := make([]map[string]any, len(raw))
	for i, x := range raw {
		out[i] = x.(map[string]any)
	}
	total, ok := m["total_entries"].(float64)
	if !ok {
		t.Fatalf("answer has no total_entries: %v", m)
	}
	return out, int(total)
}

func ids(items []map[string]any, key string) string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i], _ = it[key].(string)
	}
	return strings.Join(out, ",")
}

func (s *site) now() time.Time { return time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC) }

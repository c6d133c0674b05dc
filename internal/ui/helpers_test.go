package ui_test

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/api"
	"github.com/sirocco-dev/sirocco/internal/auth"
	"github.com/sirocco-dev/sirocco/internal/config"
	"github.com/sirocco-dev/sirocco/internal/dag"
	"github.com/sirocco-dev/sirocco/internal/operator/all"
	"github.com/sirocco-dev/sirocco/internal/store"
	"github.com/sirocco-dev/sirocco/internal/store/sqlstore"
	"github.com/sirocco-dev/sirocco/internal/template"
	"github.com/sirocco-dev/sirocco/internal/testenv"
	"github.com/sirocco-dev/sirocco/internal/ui"
)

func TestMain(m *testing.M) { testenv.RunMain(m) }

// etlYAML is a small DAG with params, tags and a chain.
const etlYAML = `dag_id: etl
description: Extract, transform, load.
schedule: "@daily"
start_date: 2026-01-01
tags: [nightly]
params:
  n: {type: integer, default: 1, description: how many}
tasks:
  - {id: extract, operator: bash, command: echo extract}
  - {id: transform, operator: bash, depends_on: [extract], command: echo transform}
  - {id: load, operator: bash, depends_on: [transform], command: echo load}
`

// site is the UI and the REST API over a real SQLite store, mounted as
// the CLI mounts them, served by httptest on loopback.
type site struct {
	t   testing.TB
	st  store.Store
	cfg config.Config
	srv *httptest.Server
}

func newSite(t testing.TB, files map[string]string, opts ...func(*ui.Options)) *site {
	t.Helper()
	return newSiteWith(t, files, nil, opts...)
}

// newSiteWith is newSite behind package auth's middleware when authOpts
// is set (its Store is filled in), mounted as the CLI mounts it: /login,
// /logout and /auth/token served, the UI's streams re-checked with
// StillValid.
func newSiteWith(t testing.TB, files map[string]string, authOpts *auth.Options, opts ...func(*ui.Options)) *site {
	t.Helper()
	home := t.TempDir()
	dagsDir := filepath.Join(home, "dags")
	if err := os.MkdirAll(dagsDir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dagsDir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	bag, err := dag.LoadDir(dagsDir, dag.LoadOptions{Operators: all.Registry().Specs(), CheckTemplate: template.Check})
	if err != nil {
		t.Fatal(err)
	}
	cfg := config.Defaults()
	cfg.Home, cfg.DagsFolder = home, dagsDir
	st, err := sqlstore.Open(context.Background(), "sqlite://"+filepath.Join(home, "sirocco.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	dags := func() (map[string]*dag.DAG, map[string]error) { return bag.DAGs, bag.Errors }
	o := ui.Options{Store: st, DAGs: dags, Config: cfg, PollInterval: 20 * time.Millisecond}
	for _, f := range opts {
		f(&o)
	}
	mux := http.NewServeMux()
	apiHandler := api.New(api.Options{Store: st, DAGs: dags, Config: cfg})
	mux.Handle("/api/v1/", apiHandler)
	var handler http.Handler = mux
	if authOpts != nil {
		authOpts.Store = st
		a := auth.New(*authOpts)
		o.Recheck, handler = a.StillValid, a.Handler(mux)
	}
	mux.Handle("/", ui.New(o))
	s := &site{t: t, st: st, cfg: cfg, srv: httptest.NewServer(handler)}
	t.Cleanup(s.srv.Close)
	return s
}

// get answers the status and body of GET path.
func (s *site) get(path string, headers ...string) (int, string, http.Header) {
	s.t.Helper()
	req, err := http.NewRequest("GET", s.srv.URL+path, nil)
	if err != nil {
		s.t.Fatal(err)
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
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		s.t.Fatal(err)
	}
	return resp.StatusCode, string(b), resp.Header
}

// createRun inserts a run of the DAG with task instances in the states given.
func (s *site) createRun(dagID, runID string, logical time.Time, states map[string]store.TaskState, tasks ...string) {
	s.t.Helper()
	run := store.DagRun{DagID: dagID, RunID: runID, RunType: store.RunManual, State: store.RunRunning, LogicalDate: logical,
		DataIntervalStart: logical, DataIntervalEnd: logical, QueuedAt: logical}
	tis := make([]store.TaskInstance, len(tasks))
	for i, id := range tasks {
		tis[i] = store.TaskInstance{TaskKey: store.TaskKey{TaskID: id}, Pool: "default_pool", PoolSlots: 1, Queue: "default"}
	}
	if err := s.st.CreateRun(context.Background(), run, tis); err != nil {
		s.t.Fatal(err)
	}
	for task, state := range states {
		s.setState(store.TaskKey{DagID: dagID, RunID: runID, TaskID: task}, state, nil)
	}
}

// setState starts a try of the task instance and moves it to state.
func (s *site) setState(key store.TaskKey, state store.TaskState, handle []byte) {
	s.t.Helper()
	now := time.Now().UTC()
	u := store.TaskUpdate{Key: key, To: state, IncTry: true, StartDate: &now}
	if state.Finished() {
		end := now.Add(1500 * time.Millisecond)
		u.EndDate = &end
	}
	if handle != nil {
		u.Handle = &handle
	}
	if ok, err := s.st.UpdateTask(context.Background(), u); err != nil || !ok {
		s.t.Fatalf("set %v to %s: %v %v", key, state, ok, err)
	}
}

// event is one server-sent event.
type event struct{ name, id, data string }

// stream opens an event stream; events arrive on the channel until the
// test ends or the server ends the stream (then it is closed).
func (s *site) stream(path string, headers ...string) <-chan event {
	s.t.Helper()
	events, _ := s.openStream(path, headers...)
	return events
}

// openStream is stream that also returns the function closing it (and
// waiting for its reader); headers are name, value pairs.
func (s *site) openStream(path string, headers ...string) (<-chan event, func()) {
	s.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, "GET", s.srv.URL+path, nil)
	if err != nil {
		s.t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := s.srv.Client().Do(req) //nolint:bodyclose // the reader goroutine closes it
	if err != nil {
		cancel()
		s.t.Fatal(err)
	}
	body := resp.Body
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		body.Close()
		cancel()
		s.t.Fatalf("GET %s: %d %s", path, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	out := make(chan event, 100)
	done := make(chan struct{})
	stop := func() { cancel(); <-done }
	s.t.Cleanup(stop)
	go func() {
		defer close(done)
		defer close(out)
		defer body.Close()
		sc := bufio.NewScanner(body)
		sc.Buffer(make([]byte, 64<<10), 4<<20) // a chunk's JSON is up to 6 x 256 KiB
		var ev event
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if ev.name != "" {
					out <- ev
				}
				ev = event{}
			case strings.HasPrefix(line, "event: "):
				ev.name = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "id: "):
				ev.id = strings.TrimPrefix(line, "id: ")
			case strings.HasPrefix(line, "data: "):
				ev.data = strings.TrimPrefix(line, "data: ")
			}
		}
	}()
	return out, stop
}

// next waits for the next event, failing the test after timeout.
func next(t *testing.T, events <-chan event, timeout time.Duration) (event, bool) {
	t.Helper()
	select {
	case ev, ok := <-events:
		return ev, ok
	case <-time.After(timeout):
		t.Fatalf("no event within %s", timeout)
		return event{}, false
	}
}

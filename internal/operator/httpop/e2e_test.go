package httpop_test

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/config"
	"github.com/sirocco-dev/sirocco/internal/dag"
	"github.com/sirocco-dev/sirocco/internal/engine"
	"github.com/sirocco-dev/sirocco/internal/operator/all"
	"github.com/sirocco-dev/sirocco/internal/scheduler"
	"github.com/sirocco-dev/sirocco/internal/store"
	"github.com/sirocco-dev/sirocco/internal/store/sqlstore"
	"github.com/sirocco-dev/sirocco/internal/tasklog"
	"github.com/sirocco-dev/sirocco/internal/testenv"
)

// site is a real engine (SQLite, local executor) over a DAGs folder.
type site struct {
	t   *testing.T
	eng *engine.Engine
	st  store.Store
	cfg config.Config
}

func startEngine(t *testing.T, dags map[string]string) *site {
	t.Helper()
	dir := t.TempDir()
	dagsDir := filepath.Join(dir, "dags")
	if err := os.MkdirAll(dagsDir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, body := range dags {
		if err := os.WriteFile(filepath.Join(dagsDir, name+".yaml"), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cfg := config.Defaults()
	cfg.Home, cfg.DagsFolder = dir, dagsDir
	cfg.DatabaseURL = "sqlite://" + filepath.Join(dir, "sirocco.db")
	cfg.PollInterval, cfg.Heartbeat, cfg.KillGrace = 100*time.Millisecond, 100*time.Millisecond, 500*time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	st, err := sqlstore.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if err := st.Migrate(ctx); err != nil {
		cancel()
		t.Fatal(err)
	}
	eng, err := engine.New(ctx, engine.Options{Config: cfg, Store: st, Operators: all.Registry()})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if errs := eng.Bag.Errors(); len(errs) > 0 {
		cancel()
		t.Fatalf("DAG errors: %v", errs)
	}
	done := make(chan error, 1)
	go func() { done <- eng.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("engine: %v", err)
		}
		st.Close()
	})
	return &site{t: t, eng: eng, st: st, cfg: cfg}
}

// trigger creates a manual run and waits for it to finish.
func (s *site) trigger(dagID string) (string, store.DagRun) {
	s.t.Helper()
	d := s.eng.Bag.DAGs()[dagID]
	at := time.Date(2026, 2, 3, 4, 5, 6, 0, time.UTC)
	run, tis := scheduler.NewRunRecords(d, store.RunManual, dag.Interval{Start: at, End: at}, nil, time.Now().UTC())
	if err := s.st.CreateRun(context.Background(), run, tis); err != nil {
		s.t.Fatal(err)
	}
	s.eng.Loop.Kick()
	var got store.DagRun
	testenv.Eventually(s.t, "run "+run.RunID+" to finish", 30*time.Second, func() (bool, string) {
		var err error
		got, err = s.st.GetRun(context.Background(), dagID, run.RunID)
		if err != nil {
			s.t.Fatal(err)
		}
		return got.State.Finished(), "run " + string(got.State)
	})
	return run.RunID, got
}

func (s *site) log(dagID, runID, taskID string, try int) string {
	s.t.Helper()
	data, err := os.ReadFile(tasklog.Path(s.cfg.LogsDir(), dagID, runID, taskID, try))
	if err != nil {
		s.t.Fatal(err)
	}
	return string(data)
}

func (s *site) xcom(dagID, runID, taskID string) string {
	s.t.Helper()
	x, err := s.st.GetXCom(context.Background(), store.TaskKey{DagID: dagID, RunID: runID, TaskID: taskID}, "return_value")
	if err != nil {
		s.t.Fatalf("xcom of %s: %v", taskID, err)
	}
	return x.Value
}

// TestEndToEnd: through the real engine on SQLite, the shipped example
// (examples/dags/http_example.yaml, its connection pointed at a loopback
// server) and a POST of a templated JSON body each pass their checks, and
// a downstream bash task pulls the response XCom; the connection's
// password never reaches the try's log.
func TestEndToEnd(t *testing.T) {
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/api/v1/health":
			io.WriteString(w, `{"metadatabase": {"status": "healthy"}, "scheduler": {"status": "healthy", "heartbeat_age_seconds": 0.5}}`)
		case "/jobs":
			w.WriteHeader(http.StatusCreated)
			io.WriteString(w, `{"job": {"id": "job-42", "state": "queued"}}`)
		default:
			w.WriteHeader(http.StatusNotFound)
		}
	})
	host := strings.TrimPrefix(srv.URL, "http://")
	t.Setenv("SIROCCO_CONN_SIROCCO_API", "http://"+host)
	t.Setenv("SIROCCO_CONN_JOBS_API", "http://etl:pw-e2e-9911@"+host)

	example, err := os.ReadFile(filepath.Join("..", "..", "..", "examples", "dags", "http_example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	s := startEngine(t, map[string]string{"http_example": string(example), "post": `
dag_id: post_job
tasks:
  - id: submit
    operator: http
    http_conn_id: jobs_api
    method: POST
    endpoint: jobs
    json: {day: "{{ ds }}", tags: [a, b]}
    response_check: {status: [201], json_path: $.job.state, equals: queued}
    response_filter: $.job
  - id: use
    operator: bash
    depends_on: [submit]
    command: echo got {{ ti.xcom_pull(task_ids='submit')['id'] | shquote }} {{ ti.xcom_pull(task_ids='submit') | tojson | shquote }}
`})

	runID, run := s.trigger("http_example")
	if run.State != store.RunSuccess {
		t.Fatalf("http_example run %s\n%s", run.State, s.log("http_example", runID, "health", 1))
	}
	if got := s.xcom("http_example", runID, "health"); got != `"healthy"` {
		t.Errorf("health return_value = %s, want \"healthy\"", got)
	}
	mustContain(t, "report's log", s.log("http_example", runID, "report", 1), "scheduler is healthy")
	mustContain(t, "health's log", s.log("http_example", runID, "health", 1),
		"http: GET "+srv.URL+"/api/v1/health", "200 OK", "http: response body:")
	if h := srv.requests()[0].Header.Get("X-Sirocco-Run"); h != runID {
		t.Errorf("the templated header reached the server as %q, want %q", h, runID)
	}

	runID, run = s.trigger("post_job")
	if run.State != store.RunSuccess {
		t.Fatalf("post_job run %s\n%s", run.State, s.log("post_job", runID, "submit", 1))
	}
	last := srv.last(t)
	if last.Method != "POST" || last.Body != `{"day":"2026-02-03","tags":["a","b"]}` || !strings.HasPrefix(last.Header.Get("Authorization"), "Basic ") {
		t.Errorf("the server got %s %q (%v)", last.Method, last.Body, last.Header)
	}
	// The selected object is stored as an object: a template indexes it.
	if got := s.xcom("post_job", runID, "submit"); got != `{"id":"job-42","state":"queued"}` {
		t.Errorf("submit return_value = %s", got)
	}
	mustContain(t, "use's log", s.log("post_job", runID, "use", 1), `got job-42 {"id":"job-42","state":"queued"}`)
	if log := s.log("post_job", runID, "submit", 1); strings.Contains(log, "pw-e2e-9911") {
		t.Errorf("the password is in the log:\n%s", log)
	}
}

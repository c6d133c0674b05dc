package api_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/api"
	"github.com/sirocco-dev/sirocco/internal/config"
	"github.com/sirocco-dev/sirocco/internal/dag"
	"github.com/sirocco-dev/sirocco/internal/engine"
	"github.com/sirocco-dev/sirocco/internal/operator/all"
	"github.com/sirocco-dev/sirocco/internal/testenv"
)

// TestTriggerRunAndReadLogs serves the API over a running engine: a run
// triggered through the API runs at once (Kick), and each try's log file
// is served as text or JSON.
func TestTriggerRunAndReadLogs(t *testing.T) {
	home := t.TempDir()
	dags := filepath.Join(home, "dags")
	if err := os.MkdirAll(dags, 0o755); err != nil {
		t.Fatal(err)
	}
	yaml := `dag_id: hello
params: {who: {type: string, default: world}}
tasks:
  - id: greet
    operator: bash
    retries: 1
    retry_delay: 0s
    command: |
      echo "hello {{ params.who }} try $SIROCCO_CTX_TRY_NUMBER"
      [ "$SIROCCO_CTX_TRY_NUMBER" = 2 ]
`
	if err := os.WriteFile(filepath.Join(dags, "hello.yaml"), []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := config.Defaults()
	cfg.Home, cfg.DagsFolder = home, dags
	cfg.DatabaseURL = "sqlite://" + filepath.Join(home, "sirocco.db")
	// A slow poll: only the API's wake-up after the trigger (RunCreated, as
	// standalone wires it) can make the run start promptly.
	cfg.PollInterval, cfg.Heartbeat, cfg.KillGrace = time.Minute, 100*time.Millisecond, 500*time.Millisecond
	st := openStore(t, cfg.DatabaseURL)
	ctx, cancel := context.WithCancel(context.Background())
	eng, err := engine.New(ctx, engine.Options{Config: cfg, Store: st, Operators: all.Registry()})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- eng.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("engine: %v", err)
		}
	})
	srv := httptest.NewServer(guarded(st, api.New(api.Options{Store: st, Config: cfg, Kick: eng.Loop.Kick, RunCreated: eng.Loop.RunCreated,
		SchedulerInProcess: true,
		DAGs:               func() (map[string]*dag.DAG, map[string]error) { return eng.Bag.DAGs(), eng.Bag.Errors() }})))
	t.Cleanup(srv.Close)
	s := &site{t: t, st: st, cfg: cfg, srv: srv}

	r := s.do("POST", "/api/v1/dags/hello/dagRuns", map[string]any{"dag_run_id": "r", "conf": map[string]any{"who": "api"}})
	if r.status != http.StatusOK {
		t.Fatalf("trigger: %d %s", r.status, r.body)
	}
	// Under the loop's poll interval of 1m: only the kick can run it in time.
	testenv.Eventually(t, "the run to succeed (poll interval 1m: was the scheduler kicked?)", 30*time.Second, func() (bool, string) {
		run := s.get("/api/v1/dags/hello/dagRuns/r")
		return run["state"] == "success", fmt.Sprintf("run %v; task instances %s",
			run["state"], s.do("GET", "/api/v1/dags/hello/dagRuns/r/taskInstances", nil).body)
	})
	ti := s.get("/api/v1/dags/hello/dagRuns/r/taskInstances/greet")
	if ti["state"] != "success" || ti["try_number"] != float64(2) || ti["hostname"] == "" {
		t.Errorf("task instance = %v", ti)
	}

	logs := "/api/v1/dags/hello/dagRuns/r/taskInstances/greet/logs/"
	for try, want := range map[string]string{"1": "hello api try 1", "2": "hello api try 2"} {
		r := s.do("GET", logs+try, nil)
		if r.status != http.StatusOK || !strings.HasPrefix(r.header.Get("Content-Type"), "text/plain") ||
			!strings.Contains(string(r.body), want) || !strings.HasPrefix(string(r.body), "[20") {
			t.Errorf("log of try %s: %d %s\n%s", try, r.status, r.header.Get("Content-Type"), r.body)
		}
		if strings.Contains(string(r.body), map[string]string{"1": "try 2", "2": "try 1"}[try]) {
			t.Errorf("log of try %s holds another try's output:\n%s", try, r.body)
		}
	}
	js := s.do("GET", logs+"2", nil, "Accept", "application/json")
	if content, _ := js.json(t)["content"].(string); js.status != http.StatusOK || !strings.Contains(content, "hello api try 2") {
		t.Errorf("JSON log: %d %s", js.status, js.body)
	}
	if r := s.do("GET", logs+"2", nil, "Accept", "text/plain, application/json"); !strings.HasPrefix(r.header.Get("Content-Type"), "text/plain") {
		t.Errorf("text first in Accept: %s", r.header.Get("Content-Type"))
	}
	wantProblem(t, "a try not started", s.do("GET", logs+"3", nil), http.StatusNotFound, "is at try 2; try 3 has not started")
	wantProblem(t, "try 0", s.do("GET", logs+"0", nil), http.StatusBadRequest, "task_try_number")
	wantProblem(t, "try x", s.do("GET", logs+"x", nil), http.StatusBadRequest, "task_try_number")
	wantProblem(t, "unknown task", s.do("GET", "/api/v1/dags/hello/dagRuns/r/taskInstances/zz/logs/1", nil), http.StatusNotFound, "zz")
}

package python_test

import (
	"context"
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

const engineDAG = `dag_id: pycall
params: {n: {type: integer, default: 3}}
tasks:
  - id: produce
    operator: python
    callable: steps:produce
    op_args: ["{{ ds }}"]
    op_kwargs: {n: "{{ params.n }}", who: "{{ dag.dag_id }}"}
  - id: consume
    operator: python
    depends_on: [produce]
    callable: steps:consume
    op_kwargs: {produced: "{{ ti.xcom_pull(task_ids='produce') }}"}
  - id: show
    operator: bash
    depends_on: [produce]
    command: echo 'pulled {{ ti.xcom_pull(task_ids="produce") }}'
`

const engineModule = `import json

def produce(day, n, who, run_id):
    print("producing for", who, "on", day)
    return {"day": day, "n": int(n), "run_id": run_id}

def consume(produced):
    data = json.loads(produced)
    return data["n"] * 2
`

// TestCallableThroughTheEngine runs a DAG on the real engine (SQLite,
// local executor): a function's templated arguments are rendered, its
// return value is stored as the XCom, and downstream tasks, a function
// and a bash command, pull it.
func TestCallableThroughTheEngine(t *testing.T) {
	dir := t.TempDir()
	dags := filepath.Join(dir, "dags")
	if err := os.MkdirAll(dags, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, body := range map[string]string{"pycall.yaml": engineDAG, "steps.py": engineModule} {
		if err := os.WriteFile(filepath.Join(dags, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cfg := config.Defaults()
	cfg.Home, cfg.DagsFolder = dir, dags
	cfg.DatabaseURL = "sqlite://" + filepath.Join(dir, "sirocco.db")
	cfg.PollInterval, cfg.Heartbeat, cfg.KillGrace = 100*time.Millisecond, 100*time.Millisecond, 500*time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	st, err := sqlstore.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	eng, err := engine.New(ctx, engine.Options{Config: cfg, Store: st, Operators: all.Registry()})
	if err != nil {
		t.Fatal(err)
	}
	if errs := eng.Bag.Errors(); len(errs) > 0 {
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

	at := time.Date(2026, 2, 3, 4, 5, 6, 0, time.UTC)
	run, tis := scheduler.NewRunRecords(eng.Bag.DAGs()["pycall"], store.RunManual, dag.Interval{Start: at, End: at}, map[string]any{"n": 5}, time.Now().UTC())
	if err := st.CreateRun(context.Background(), run, tis); err != nil {
		t.Fatal(err)
	}
	eng.Loop.Kick()
	logOf := func(task string) string {
		data, _ := os.ReadFile(tasklog.Path(cfg.LogsDir(), "pycall", run.RunID, task, 1))
		return string(data)
	}
	testenv.Eventually(t, "the run to finish", time.Minute, func() (bool, string) {
		r, err := st.GetRun(context.Background(), "pycall", run.RunID)
		if err != nil {
			t.Fatal(err)
		}
		return r.State.Finished(), string(r.State)
	})
	if r, _ := st.GetRun(context.Background(), "pycall", run.RunID); r.State != store.RunSuccess {
		t.Fatalf("run %s\nproduce:\n%s\nconsume:\n%s", r.State, logOf("produce"), logOf("consume"))
	}
	xcom := func(task string) string {
		x, err := st.GetXCom(context.Background(), store.TaskKey{DagID: "pycall", RunID: run.RunID, TaskID: task}, "return_value")
		if err != nil {
			t.Fatalf("xcom of %s: %v", task, err)
		}
		return x.Value
	}
	// The runner stores an operator's return value as a JSON string: a
	// function's dict arrives downstream as its JSON text.
	produced := `{"day": "2026-02-03", "n": 5, "run_id": "` + run.RunID + `"}`
	if got := xcom("produce"); got != quoteJSON(produced) {
		t.Errorf("produce's XCom = %s, want the JSON text %s", got, produced)
	}
	if got := xcom("consume"); got != `"10"` {
		t.Errorf("consume's XCom = %s, want 10", got)
	}
	if log := logOf("produce"); !strings.Contains(log, "producing for pycall on 2026-02-03") || !strings.Contains(log, "Done. Returned value was: "+produced) {
		t.Errorf("produce's log:\n%s", log)
	}
	if log := logOf("show"); !strings.Contains(log, "pulled "+produced) {
		t.Errorf("show's log lacks the pulled value:\n%s", log)
	}
}

// quoteJSON is s as a JSON string, as the runner stores a return value.
func quoteJSON(s string) string {
	return `"` + strings.ReplaceAll(s, `"`, `\"`) + `"`
}

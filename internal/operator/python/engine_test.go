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
    multiple_outputs: true
  - id: consume
    operator: python
    depends_on: [produce]
    callable: steps:consume
    op_kwargs: {produced: "{{ ti.xcom_pull(task_ids='produce') | tojson }}"}
  - id: context
    operator: python
    callable: steps:context
  - id: secret
    operator: python
    callable: steps:leak
    op_kwargs: {token: "{{ var.value.api_token }}"}
  - id: show
    operator: bash
    depends_on: [produce]
    command: echo 'pulled n={{ ti.xcom_pull("produce")["n"] }} day={{ ti.xcom_pull(task_ids="produce", key="day") }}'
`

const engineModule = `import json

def produce(day, n, who, run_id):
    print("producing for", who, "on", day)
    return {"day": day, "n": int(n), "run_id": run_id}

def leak(token):
    print("the token is", token)
    return token

def consume(produced):
    data = json.loads(produced)
    return data["n"] * 2

def context(params, data_interval_start, **kw):
    return {"params": params, "start": data_interval_start.isoformat(),
            "end": kw["data_interval_end"].isoformat(), "conf": kw["dag_run"].conf}
`

// engineRun is a real engine (SQLite, local executor, every operator)
// over a DAGs folder holding files, with one manual run of a DAG done.
type engineRun struct {
	t     *testing.T
	st    store.Store
	cfg   config.Config
	dagID string
	runID string
	state store.RunState
}

// runOnEngine starts the engine over files, runs dagID once with conf at
// 2026-02-03T04:05:06Z, and waits for the run to finish.
func runOnEngine(t *testing.T, files map[string]string, dagID string, conf map[string]any) *engineRun {
	t.Helper()
	dir := t.TempDir()
	dags := filepath.Join(dir, "dags")
	if err := os.MkdirAll(dags, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, body := range files {
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
	done := make(chan error, 1)
	go func() { done <- eng.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("engine: %v", err)
		}
		st.Close()
	})
	if errs := eng.Bag.Errors(); len(errs) > 0 {
		t.Fatalf("DAG errors: %v", errs)
	}
	at := time.Date(2026, 2, 3, 4, 5, 6, 0, time.UTC)
	run, tis := scheduler.NewRunRecords(eng.Bag.DAGs()[dagID], store.RunManual, dag.Interval{Start: at, End: at}, conf, time.Now().UTC())
	if err := st.CreateRun(context.Background(), run, tis); err != nil {
		t.Fatal(err)
	}
	eng.Loop.Kick()
	r := &engineRun{t: t, st: st, cfg: cfg, dagID: dagID, runID: run.RunID}
	testenv.Eventually(t, "the run to finish", time.Minute, func() (bool, string) {
		got, err := st.GetRun(context.Background(), dagID, run.RunID)
		if err != nil {
			t.Fatal(err)
		}
		r.state = got.State
		return got.State.Finished(), string(got.State)
	})
	return r
}

// log is a task's first try's log.
func (r *engineRun) log(task string) string {
	data, _ := os.ReadFile(tasklog.Path(r.cfg.LogsDir(), r.dagID, r.runID, task, 1))
	return string(data)
}

// xcom is a task's stored return_value.
func (r *engineRun) xcom(task string) string {
	r.t.Helper()
	return r.xcomKey(task, "return_value")
}

// xcomKey is a task's stored XCom of a key.
func (r *engineRun) xcomKey(task, key string) string {
	r.t.Helper()
	x, err := r.st.GetXCom(context.Background(), store.TaskKey{DagID: r.dagID, RunID: r.runID, TaskID: task}, key)
	if err != nil {
		r.t.Fatalf("xcom %s of %s: %v", key, task, err)
	}
	return x.Value
}

// TestCallableThroughTheEngine runs a DAG on the real engine (SQLite,
// local executor): a function's templated arguments are rendered, its
// return value is stored as the XCom, and downstream tasks, a function
// and a bash command, pull it; secrets are masked in the log.
func TestCallableThroughTheEngine(t *testing.T) {
	const token = "tok-51f0c2aa93-sensitive"
	t.Setenv("SIROCCO_VAR_API_TOKEN", token)
	r := runOnEngine(t, map[string]string{"pycall.yaml": engineDAG, "steps.py": engineModule}, "pycall", map[string]any{"n": 5})
	if r.state != store.RunSuccess {
		t.Fatalf("run %s\nproduce:\n%s\nconsume:\n%s", r.state, r.log("produce"), r.log("consume"))
	}
	// A function's dict is stored as the JSON value it is, and with
	// multiple_outputs each item under its own key too; a number stays a
	// number.
	produced := `{"day": "2026-02-03", "n": 5, "run_id": "` + r.runID + `"}`
	if got := r.xcom("produce"); got != produced {
		t.Errorf("produce's XCom = %s, want the JSON value %s", got, produced)
	}
	for key, want := range map[string]string{"day": `"2026-02-03"`, "n": "5", "run_id": `"` + r.runID + `"`} {
		if got := r.xcomKey("produce", key); got != want {
			t.Errorf("produce's XCom %s = %s, want %s", key, got, want)
		}
	}
	if got := r.xcom("consume"); got != "10" {
		t.Errorf("consume's XCom = %s, want 10", got)
	}
	// params, the data interval and dag_run.conf reach a function by name.
	wantCtx := `{"params": {"n": 5}, "start": "2026-02-03T04:05:06+00:00", "end": "2026-02-03T04:05:06+00:00", "conf": {"n": 5}}`
	if got := r.xcom("context"); got != wantCtx {
		t.Errorf("context's XCom = %s, want %s\n%s", got, wantCtx, r.log("context"))
	}
	if log := r.log("produce"); !strings.Contains(log, "producing for pycall on 2026-02-03") || !strings.Contains(log, "Done. Returned value was: "+produced) {
		t.Errorf("produce's log:\n%s", log)
	}
	// A sensitive variable given in op_kwargs is masked in what the
	// function prints and in the value the log shows.
	if log := r.log("secret"); strings.Contains(log, token) || !strings.Contains(log, "the token is ***") ||
		!strings.Contains(log, `Done. Returned value was: "***"`) {
		t.Errorf("secret's log shows the token or lacks its mask:\n%s", log)
	}
	if log := r.log("show"); !strings.Contains(log, "pulled n=5 day=2026-02-03") {
		t.Errorf("show's log lacks the pulled value:\n%s", log)
	}
}

// TestCallableExample runs the shipped examples/dags/python_callable.yaml
// with its module, as they are.
func TestCallableExample(t *testing.T) {
	files := map[string]string{}
	for _, name := range []string{"python_callable.yaml", "sales_stats.py"} {
		body, err := os.ReadFile(filepath.Join("..", "..", "..", "examples", "dags", name))
		if err != nil {
			t.Fatal(err)
		}
		files[name] = string(body)
	}
	r := runOnEngine(t, files, "python_callable", map[string]any{"region": "south", "orders": 4})
	if r.state != store.RunSuccess {
		t.Fatalf("run %s\nsummarise:\n%s\nreport:\n%s", r.state, r.log("summarise"), r.log("report"))
	}
	if log := r.log("summarise"); !strings.Contains(log, "4 orders in south on 2026-02-03 (a Tuesday)") {
		t.Errorf("summarise's log:\n%s", log)
	}
	if log := r.log("report"); !strings.Contains(log, "south, 2026-02-03: 4 orders, ") || !strings.Contains(log, "(try 1)") {
		t.Errorf("report's log:\n%s", log)
	}
	if got := r.xcom("summarise"); !strings.HasPrefix(got, `{"region": "south", "day": "2026-02-03", "orders": 4, "total": `) {
		t.Errorf("summarise's XCom = %s", got)
	}
	total := r.xcomKey("summarise", "total")
	if log := r.log("announce"); !strings.Contains(log, "4 orders, "+total+" in all") {
		t.Errorf("announce's log lacks the orders and the total %s:\n%s", total, log)
	}
}

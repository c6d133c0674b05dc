package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/config"
	"github.com/sirocco-dev/sirocco/internal/dag"
	"github.com/sirocco-dev/sirocco/internal/operator/all"
	"github.com/sirocco-dev/sirocco/internal/scheduler"
	"github.com/sirocco-dev/sirocco/internal/store"
	"github.com/sirocco-dev/sirocco/internal/store/sqlstore"
	"github.com/sirocco-dev/sirocco/internal/tasklog"
	"github.com/sirocco-dev/sirocco/internal/testenv"
)

func TestMain(m *testing.M) { testenv.RunMain(m) }

// harness runs a real engine (SQLite, bash) over a temporary DAGs folder.
type harness struct {
	t   *testing.T
	eng *Engine
	st  store.Store
	cfg config.Config
	dir string
	// stop ends the engine and closes its store (a restart's first half);
	// the test's cleanup calls it otherwise.
	stop func()
}

func start(t *testing.T, dags map[string]string, tweak ...func(*config.Config)) *harness {
	t.Helper()
	return startOn(t, "", dags, tweak...)
}

// startOn is start with a database URL; empty means a fresh SQLite file.
func startOn(t *testing.T, dbURL string, dags map[string]string, tweak ...func(*config.Config)) *harness {
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
	if dbURL != "" {
		cfg.DatabaseURL = dbURL
	}
	cfg.PollInterval, cfg.Heartbeat, cfg.KillGrace = 100*time.Millisecond, 100*time.Millisecond, 500*time.Millisecond
	cfg.Parallelism = 4
	for _, f := range tweak {
		f(&cfg)
	}
	ctx, cancel := context.WithCancel(context.Background())
	st, err := sqlstore.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	eng, err := New(ctx, Options{Config: cfg, Store: st, Operators: all.Registry()})
	if err != nil {
		t.Fatal(err)
	}
	if errs := eng.Bag.Errors(); len(errs) > 0 {
		t.Fatalf("DAG errors: %v", errs)
	}
	done := make(chan error, 1)
	go func() { done <- eng.Run(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("engine: %v", err)
			}
			st.Close()
		})
	}
	t.Cleanup(stop)
	return &harness{t: t, eng: eng, st: st, cfg: cfg, dir: dir, stop: stop}
}

// trigger creates a manual run and kicks the scheduler.
func (h *harness) trigger(dagID string, conf map[string]any) string {
	h.t.Helper()
	d := h.eng.Bag.DAGs()[dagID]
	at := time.Date(2026, 2, 3, 4, 5, 6, 0, time.UTC)
	run, tis := scheduler.NewRunRecords(d, store.RunManual, dag.Interval{Start: at, End: at}, conf, time.Now().UTC())
	if err := h.st.CreateRun(context.Background(), run, tis); err != nil {
		h.t.Fatal(err)
	}
	h.eng.Loop.Kick()
	return run.RunID
}

func (h *harness) waitRun(dagID, runID string) store.DagRun {
	h.t.Helper()
	return h.waitRunWithin(dagID, runID, 30*time.Second)
}

func (h *harness) waitRunWithin(dagID, runID string, timeout time.Duration) store.DagRun {
	h.t.Helper()
	var run store.DagRun
	testenv.Eventually(h.t, "run "+runID+" to finish", timeout, func() (bool, string) {
		var err error
		run, err = h.st.GetRun(context.Background(), dagID, runID)
		if err != nil {
			h.t.Fatal(err)
		}
		return run.State.Finished(), "run " + string(run.State) + "; " + h.states(dagID, runID)
	})
	return run
}

// states describes a run's task instances for a wait's observation.
func (h *harness) states(dagID, runID string) string {
	h.t.Helper()
	list, err := h.st.ListTaskInstances(context.Background(), dagID, runID)
	if err != nil {
		return "task instances: " + err.Error()
	}
	parts := make([]string, len(list))
	for i, ti := range list {
		parts[i] = fmt.Sprintf("%s %s (try %d)", ti.TaskID, stateName(ti.State), ti.TryNumber)
	}
	return "tasks: " + strings.Join(parts, ", ")
}

// stateName spells the empty state as the CLI and UI do.
func stateName(s store.TaskState) string {
	if s == store.StateNone {
		return "none"
	}
	return string(s)
}

func (h *harness) tis(dagID, runID string) map[string]store.TaskInstance {
	h.t.Helper()
	list, err := h.st.ListTaskInstances(context.Background(), dagID, runID)
	if err != nil {
		h.t.Fatal(err)
	}
	out := map[string]store.TaskInstance{}
	for _, ti := range list {
		out[ti.TaskID] = ti
	}
	return out
}

func (h *harness) log(dagID, runID, taskID string, try int) string {
	h.t.Helper()
	data, err := os.ReadFile(tasklog.Path(h.cfg.LogsDir(), dagID, runID, taskID, try))
	if err != nil {
		h.t.Fatal(err)
	}
	return string(data)
}

func TestChainTemplatesXComAndContext(t *testing.T) {
	h := start(t, map[string]string{"chain": `
dag_id: chain
params: {who: {type: string, default: world}}
tasks:
  - id: a
    operator: bash
    command: echo "ctx $SIROCCO_CTX_DAG_ID $SIROCCO_CTX_TASK_ID $SIROCCO_CTX_TRY_NUMBER"; echo "hello {{ params.who }}"
    append_env: true
  - id: b
    operator: bash
    depends_on: [a]
    command: echo {{ ti.xcom_pull(task_ids='a') | shquote }}-{{ ds }}-{{ macros.ds_add(ds, 1) }}
`})
	runID := h.trigger("chain", map[string]any{"who": "sirocco"})
	if run := h.waitRun("chain", runID); run.State != store.RunSuccess {
		t.Fatalf("run %s", run.State)
	}
	tis := h.tis("chain", runID)
	if !tis["b"].StartDate.After(tis["a"].EndDate) && !tis["b"].StartDate.Equal(tis["a"].EndDate) {
		t.Errorf("b started %v before a ended %v", tis["b"].StartDate, tis["a"].EndDate)
	}
	if got := h.log("chain", runID, "a", 1); !strings.Contains(got, "ctx chain a 1") {
		t.Errorf("a's log lacks SIROCCO_CTX_* values:\n%s", got)
	}
	if got := h.log("chain", runID, "b", 1); !strings.Contains(got, "hello sirocco-2026-02-03-2026-02-04") {
		t.Errorf("b's log lacks the rendered xcom/ds/macro:\n%s", got)
	}
	x, err := h.st.GetXCom(context.Background(), store.TaskKey{DagID: "chain", RunID: runID, TaskID: "b"}, "return_value")
	if err != nil || x.Value != `"hello sirocco-2026-02-03-2026-02-04"` {
		t.Errorf("b's return_value = %q, %v", x.Value, err)
	}
	var rendered map[string]map[string]any
	if err := json.Unmarshal(tis["b"].Rendered, &rendered); err != nil {
		t.Fatal(err)
	}
	if cmd := rendered["args"]["command"]; cmd != "echo 'hello sirocco'-2026-02-03-2026-02-04" {
		t.Errorf("stored rendered command = %q", cmd)
	}
}

// TestRunsOnPostgres runs a DAG with a retry and a fan-in end to end on a
// real PostgreSQL server.
func TestRunsOnPostgres(t *testing.T) {
	h := startOn(t, testenv.Postgres(t), map[string]string{"pg": `
dag_id: pg
tasks:
  - {id: a, operator: bash, command: echo a}
  - id: flaky
    operator: bash
    retries: 1
    retry_delay: 0s
    append_env: true
    command: test "$SIROCCO_CTX_TRY_NUMBER" -ge 2
  - {id: join, operator: empty, depends_on: [a, flaky]}
`})
	runID := h.trigger("pg", nil)
	if run := h.waitRun("pg", runID); run.State != store.RunSuccess {
		t.Fatalf("run %s", run.State)
	}
	tis := h.tis("pg", runID)
	if tis["flaky"].TryNumber != 2 || tis["join"].State != store.StateSuccess {
		t.Fatalf("flaky try %d, join %s", tis["flaky"].TryNumber, tis["join"].State)
	}
}

func TestRetryWithOneLogPerTry(t *testing.T) {
	h := start(t, map[string]string{"flaky": `
dag_id: flaky
tasks:
  - id: f
    operator: bash
    retries: 2
    retry_delay: 0s
    append_env: true
    command: echo "try $SIROCCO_CTX_TRY_NUMBER"; test "$SIROCCO_CTX_TRY_NUMBER" -ge 2
`})
	runID := h.trigger("flaky", nil)
	if run := h.waitRun("flaky", runID); run.State != store.RunSuccess {
		t.Fatalf("run %s", run.State)
	}
	ti := h.tis("flaky", runID)["f"]
	if ti.TryNumber != 2 || ti.State != store.StateSuccess {
		t.Fatalf("f: try %d state %s, want try 2 success", ti.TryNumber, ti.State)
	}
	if !strings.Contains(h.log("flaky", runID, "f", 1), "try 1") || !strings.Contains(h.log("flaky", runID, "f", 2), "try 2") {
		t.Error("each try should have its own log")
	}
	if !strings.Contains(h.log("flaky", runID, "f", 1), "exited with code 1") {
		t.Errorf("try 1's log should say why it failed:\n%s", h.log("flaky", runID, "f", 1))
	}
}

func TestExecutionTimeoutKillsTheProcessGroup(t *testing.T) {
	h := start(t, map[string]string{"slow": `
dag_id: slow
tasks:
  - id: s
    operator: bash
    execution_timeout: 1s
    command: sleep 60 & echo $! > "{{ params.pidfile }}"; wait
params: {pidfile: {type: string, default: ""}}
`})
	pidfile := filepath.Join(h.dir, "pid")
	runID := h.trigger("slow", map[string]any{"pidfile": pidfile})
	if run := h.waitRun("slow", runID); run.State != store.RunFailed {
		t.Fatalf("run %s, want failed", run.State)
	}
	data, err := os.ReadFile(pidfile)
	if err != nil {
		t.Fatal(err)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(data)))
	testenv.EventuallyDead(t, pid, 30*time.Second) // the timed-out task's background child
	if got := h.log("slow", runID, "s", 1); !strings.Contains(got, "execution_timeout of 1s exceeded") {
		t.Errorf("log should name the timeout:\n%s", got)
	}
}

func TestSkipTriggerRulesAndRunOutcome(t *testing.T) {
	h := start(t, map[string]string{"rules": `
dag_id: rules
tasks:
  - {id: skipper, operator: bash, command: exit 99}
  - {id: after_skip, operator: bash, depends_on: [skipper], command: echo never}
  - {id: boom, operator: bash, command: exit 3}
  - {id: on_fail, operator: bash, depends_on: [boom], trigger_rule: one_failed, command: echo handling}
  - {id: cleanup, operator: empty, depends_on: [boom, skipper], trigger_rule: all_done}
  - {id: need_all, operator: empty, depends_on: [boom], trigger_rule: all_success}
`})
	runID := h.trigger("rules", nil)
	if run := h.waitRun("rules", runID); run.State != store.RunFailed {
		t.Fatalf("run %s, want failed (need_all is an upstream_failed leaf)", run.State)
	}
	want := map[string]store.TaskState{
		"skipper": store.StateSkipped, "after_skip": store.StateSkipped, "boom": store.StateFailed,
		"on_fail": store.StateSuccess, "cleanup": store.StateSuccess, "need_all": store.StateUpstreamFailed,
	}
	for id, ti := range h.tis("rules", runID) {
		if ti.State != want[id] {
			t.Errorf("%s is %s, want %s", id, ti.State, want[id])
		}
	}
}

func TestPoolSerialisesTasks(t *testing.T) {
	h := start(t, map[string]string{"pooled": `
dag_id: pooled
default_args: {pool: single}
params: {lock: {type: string, default: ""}}
tasks:
  - {id: a, operator: bash, command: 'mkdir "{{ params.lock }}" && sleep 0.2 && rmdir "{{ params.lock }}"'}
  - {id: b, operator: bash, command: 'mkdir "{{ params.lock }}" && sleep 0.2 && rmdir "{{ params.lock }}"'}
  - {id: c, operator: bash, command: 'mkdir "{{ params.lock }}" && sleep 0.2 && rmdir "{{ params.lock }}"'}
`})
	if err := h.st.SetPool(context.Background(), store.Pool{Name: "single", Slots: 1}); err != nil {
		t.Fatal(err)
	}
	runID := h.trigger("pooled", map[string]any{"lock": filepath.Join(h.dir, "lock")})
	if run := h.waitRun("pooled", runID); run.State != store.RunSuccess {
		t.Fatalf("run %s: two tasks of a 1-slot pool overlapped (%v)", run.State, h.tis("pooled", runID))
	}
}

func TestScheduledRunsWithCatchup(t *testing.T) {
	start3 := time.Now().UTC().Add(-72 * time.Hour).Format("2006-01-02")
	h := start(t, map[string]string{"daily": `
dag_id: daily
schedule: "@daily"
start_date: ` + start3 + `
catchup: true
tasks:
  - id: t
    operator: bash
    command: echo "{{ ds }}"
`})
	var runs []store.DagRun
	testenv.Eventually(t, "3 successful scheduled runs", time.Minute, func() (bool, string) {
		all, err := h.st.ListRuns(context.Background(), store.RunFilter{DagID: "daily"})
		if err != nil {
			t.Fatal(err)
		}
		runs = runs[:0]
		seen := make([]string, len(all))
		for i, r := range all {
			if r.State == store.RunSuccess {
				runs = append(runs, r)
			}
			seen[i] = r.RunID + " " + string(r.State)
		}
		return len(runs) >= 3, "runs: " + strings.Join(seen, ", ")
	})
	for i, r := range runs { // newest first
		if r.RunType != store.RunScheduled {
			t.Errorf("run %s has type %s", r.RunID, r.RunType)
		}
		if i > 0 && !runs[i-1].LogicalDate.Equal(r.DataIntervalEnd) {
			t.Errorf("gap between runs %s and %s", r.RunID, runs[i-1].RunID)
		}
	}
}

func TestDagrunTimeoutFailsRunAndKillsTask(t *testing.T) {
	h := start(t, map[string]string{"dt": `
dag_id: dt
dagrun_timeout: 1s
tasks:
  - {id: long, operator: bash, command: sleep 30}
  - {id: next, operator: bash, depends_on: [long], command: echo never}
`})
	runID := h.trigger("dt", nil)
	if run := h.waitRun("dt", runID); run.State != store.RunFailed {
		t.Fatalf("run %s, want failed", run.State)
	}
	testenv.Eventually(t, "the killed try to be recorded failed", 30*time.Second, func() (bool, string) {
		return h.tis("dt", runID)["long"].State == store.StateFailed, h.states("dt", runID)
	})
	if s := h.tis("dt", runID)["next"].State; s != store.StateSkipped {
		t.Errorf("next is %s, want skipped", s)
	}
}

func TestClearDownstreamRerunsTasks(t *testing.T) {
	h := start(t, map[string]string{"c": `
dag_id: c
tasks:
  - {id: a, operator: bash, command: echo a}
  - {id: b, operator: bash, depends_on: [a], command: echo b}
  - {id: other, operator: bash, command: echo other}
`})
	runID := h.trigger("c", nil)
	h.waitRun("c", runID)
	d := h.eng.Bag.DAGs()["c"]
	retries := map[string]int{}
	for _, id := range d.DownstreamClosure("a") {
		retries[id] = 0
	}
	n, err := h.st.ClearTasks(context.Background(), "c", runID, retries, time.Now().UTC())
	if err != nil || n != 2 {
		t.Fatalf("cleared %d, %v; want 2", n, err)
	}
	h.eng.Loop.Kick()
	if run := h.waitRun("c", runID); run.State != store.RunSuccess {
		t.Fatalf("run %s after clear", run.State)
	}
	tis := h.tis("c", runID)
	if tis["a"].TryNumber != 2 || tis["b"].TryNumber != 2 || tis["other"].TryNumber != 1 {
		t.Fatalf("tries a=%d b=%d other=%d, want 2 2 1", tis["a"].TryNumber, tis["b"].TryNumber, tis["other"].TryNumber)
	}
}

// TestClearRunningTaskRestartsIt clears a task while it runs: the try is
// stopped (its process group killed) and the task runs again, once. The
// stopped try's outcome (failed) loses its write, so the hand-off written
// with it (after → upstream_failed, the run failed) must not go through,
// whether or not the loop has seen the clear when it decides.
func TestClearRunningTaskRestartsIt(t *testing.T) {
	h := start(t, map[string]string{"restart": `
dag_id: restart
params: {dir: {type: string, default: ""}}
tasks:
  - id: long
    operator: bash
    append_env: true
    command: |
      echo "try $SIROCCO_CTX_TRY_NUMBER" >> "{{ params.dir }}/tries"
      if [ "$SIROCCO_CTX_TRY_NUMBER" = 1 ]; then sleep 60 & echo $! > "{{ params.dir }}/pid"; wait; fi
  - {id: after, operator: bash, depends_on: [long], command: echo after}
`})
	runID := h.trigger("restart", map[string]any{"dir": h.dir})
	pidFile := filepath.Join(h.dir, "pid")
	var pid int
	testenv.Eventually(t, "try 1 to start its child", time.Minute, func() (bool, string) {
		data, err := os.ReadFile(pidFile)
		if err == nil {
			if pid, err = strconv.Atoi(strings.TrimSpace(string(data))); err == nil {
				return true, ""
			}
		}
		return false, fmt.Sprintf("%v; %s", err, h.states("restart", runID))
	})
	ti := h.tis("restart", runID)["long"]
	ok, err := h.st.UpdateTask(context.Background(), store.TaskUpdate{Key: ti.TaskKey,
		From: []store.TaskState{store.StateRunning}, FromTry: &ti.TryNumber, To: store.StateRestarting})
	if err != nil || !ok {
		t.Fatalf("clear the running task: %v %v", ok, err)
	}
	if run := h.waitRun("restart", runID); run.State != store.RunSuccess {
		t.Fatalf("run %s after restarting a task", run.State)
	}
	if got := h.tis("restart", runID)["long"].TryNumber; got != 2 {
		t.Errorf("long ran %d tries, want 2", got)
	}
	testenv.EventuallyDead(t, pid, 30*time.Second) // try 1's child
	tries, _ := os.ReadFile(filepath.Join(h.dir, "tries"))
	if strings.Fields(string(tries))[1] != "1" || strings.Count(string(tries), "try") != 2 {
		t.Errorf("tries file %q, want exactly try 1 then try 2", tries)
	}
}

// TestStopWhileStartingIsClean: a stop asked for while the engine starts
// (SIGTERM right after `sirocco standalone` starts; run.sh's signal test
// caught "register worker: context canceled" and exit 1) ends Run without
// an error, wherever the start was.
func TestStopWhileStartingIsClean(t *testing.T) {
	dir := t.TempDir()
	cfg := config.Defaults()
	cfg.Home, cfg.DagsFolder = dir, filepath.Join(dir, "dags")
	if err := os.MkdirAll(cfg.DagsFolder, 0o755); err != nil {
		t.Fatal(err)
	}
	cfg.DatabaseURL = "sqlite://" + filepath.Join(dir, "sirocco.db")
	ctx := context.Background()
	st, err := sqlstore.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	eng, err := New(ctx, Options{Config: cfg, Store: st, Operators: all.Registry()})
	if err != nil {
		t.Fatal(err)
	}
	stopped, cancel := context.WithCancel(ctx)
	cancel()
	if err := eng.Run(stopped); err != nil {
		t.Fatalf("Run with a stop asked for before it started: %v, want a clean stop (nil)", err)
	}
}

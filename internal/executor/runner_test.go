package executor_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/executor"
	"github.com/sirocco-dev/sirocco/internal/operator/process"
	"github.com/sirocco-dev/sirocco/internal/store"
	"github.com/sirocco-dev/sirocco/internal/testenv"
)

const gatedDAG = `
dag_id: gated
params:
  gate: {type: string, default: ""}
  who: world
tasks:
  - id: wait
    operator: bash
    env: {GREETING: "hello {{ params.who }}"}
    command: 'echo "try $SIROCCO_CTX_TRY_NUMBER $GREETING"; while [ ! -e {{ params.gate | shquote }} ]; do sleep 0.02; done; echo "done {{ ds }}"'
`

// TestRunClaimsRecordsHandleWhileRunningAndSucceeds follows one try from
// queued to success, looking at the store while the process runs.
func TestRunClaimsRecordsHandleWhileRunningAndSucceeds(t *testing.T) {
	t.Parallel()
	e := newEnv(t, gatedDAG)
	gate := filepath.Join(t.TempDir(), "gate")
	runID := e.createRun(map[string]any{"gate": gate, "who": "sirocco"})
	k := e.queue(runID, "wait")
	queuedAt := e.ti(k).QueuedAt

	done := e.runAsync(context.Background(), k)
	ti := e.waitTI(k, "the handle of the running try", func(ti store.TaskInstance) bool { return len(ti.Handle) > 0 })

	// While the process runs: claimed by us, try 1, rendered fields and a
	// handle of the live process group in the store.
	if ti.State != store.StateRunning || ti.TryNumber != 1 {
		t.Errorf("while running: state %s try %d, want running try 1", ti.State, ti.TryNumber)
	}
	if ti.Hostname != "host-1" || ti.WorkerID != "worker-1" || ti.StartDate.IsZero() || ti.HeartbeatAt.IsZero() {
		t.Errorf("claim did not record host %q, worker %q, start %v, heartbeat %v", ti.Hostname, ti.WorkerID, ti.StartDate, ti.HeartbeatAt)
	}
	if !ti.QueuedAt.Equal(queuedAt) {
		t.Errorf("queued_at changed from %v to %v", queuedAt, ti.QueuedAt)
	}
	var rendered struct {
		Args map[string]any    `json:"args"`
		Env  map[string]string `json:"env"`
	}
	if err := json.Unmarshal(ti.Rendered, &rendered); err != nil {
		t.Fatalf("rendered fields %q: %v", ti.Rendered, err)
	}
	wantCmd := `echo "try $SIROCCO_CTX_TRY_NUMBER $GREETING"; while [ ! -e '` + gate + `' ]; do sleep 0.02; done; echo "done 2026-02-03"`
	if rendered.Args["command"] != wantCmd {
		t.Errorf("rendered command = %q\nwant %q", rendered.Args["command"], wantCmd)
	}
	if rendered.Env["GREETING"] != "hello sirocco" {
		t.Errorf("rendered env = %v", rendered.Env)
	}
	var h process.Handle
	if err := json.Unmarshal(ti.Handle, &h); err != nil {
		t.Fatalf("handle %q: %v", ti.Handle, err)
	}
	if h.Kind != "process" || h.PGID != h.PID || !testenv.Alive(h.PID) || process.StartTime(h.PID) != h.StartTime {
		t.Errorf("handle %s does not describe the live process group (start time now %d)", ti.Handle, process.StartTime(h.PID))
	}
	if _, err := e.st.GetXCom(context.Background(), k, "return_value"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("return_value exists before the task ended: %v", err)
	}

	if err := os.WriteFile(gate, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := wait(t, done, 15*time.Second); err != nil {
		t.Fatalf("Run = %v", err)
	}
	ti = e.ti(k)
	if ti.State != store.StateSuccess || ti.TryNumber != 1 || ti.EndDate.Before(ti.StartDate) {
		t.Errorf("after the try: state %s try %d start %v end %v", ti.State, ti.TryNumber, ti.StartDate, ti.EndDate)
	}
	x, err := e.st.GetXCom(context.Background(), k, "return_value")
	if err != nil || x.Value != `"done 2026-02-03"` {
		t.Errorf("return_value = %q, %v; want the last line as JSON", x.Value, err)
	}
	if x.Timestamp.IsZero() || x.Timestamp.Before(ti.StartDate) || x.Timestamp.After(ti.EndDate) {
		t.Errorf("return_value pushed at %v, want within the try (%v to %v)", x.Timestamp, ti.StartDate, ti.EndDate)
	}
	log := e.log(k, 1)
	for _, want := range []string{
		"] sirocco: starting try 1 of wait (run " + runID + ") on host-1\n",
		"] try 1 hello sirocco\n",
		"] done 2026-02-03\n",
		"] sirocco: task succeeded\n",
	} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
	stamped := regexp.MustCompile(`^\[\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\] `)
	for line := range strings.Lines(log) {
		if !stamped.MatchString(line) {
			t.Errorf("unstamped log line %q", line)
		}
	}
	testenv.EventuallyDead(t, h.PID, 30*time.Second)
}

func TestRunOutcomes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		task      string
		wantState store.TaskState
		wantLog   string
		wantValue string // "" = no return_value
	}{
		{name: "success", task: "{id: t, operator: bash, command: 'echo out'}", wantState: store.StateSuccess, wantLog: "sirocco: task succeeded", wantValue: `"out"`},
		{name: "empty operator", task: "{id: t, operator: empty}", wantState: store.StateSuccess},
		{name: "skip code", task: "{id: t, operator: bash, command: 'exit 99', retries: 2}", wantState: store.StateSkipped, wantLog: "sirocco: task skipped: exit code 99"},
		{name: "failure without retries", task: "{id: t, operator: bash, command: 'exit 3'}", wantState: store.StateFailed, wantLog: "sirocco: task failed: process exited with code 3"},
		{name: "failure with retries", task: "{id: t, operator: bash, command: 'exit 3', retries: 1}", wantState: store.StateUpForRetry, wantLog: "sirocco: task failed: process exited with code 3"},
		{name: "python script", task: "{id: t, operator: python, script: job.py, args: ['{{ ds_nodash }}']}", wantState: store.StateSuccess, wantValue: `"job 20260203"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, "dag_id: outcomes\ntasks:\n  - "+tt.task+"\n")
			if err := os.WriteFile(filepath.Join(e.dir, "job.py"), []byte("import sys\nprint('job', sys.argv[1])\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			k := e.queue(e.createRun(nil), "t")
			if err := e.runner.Run(context.Background(), k); err != nil {
				t.Fatalf("Run = %v", err)
			}
			ti := e.ti(k)
			if ti.State != tt.wantState || ti.TryNumber != 1 {
				t.Errorf("state %s try %d, want %s try 1", ti.State, ti.TryNumber, tt.wantState)
			}
			if ti.EndDate.IsZero() {
				t.Error("no end date recorded")
			}
			if log := e.log(k, 1); !strings.Contains(log, tt.wantLog) {
				t.Errorf("log lacks %q:\n%s", tt.wantLog, log)
			}
			x, err := e.st.GetXCom(context.Background(), k, "return_value")
			switch {
			case tt.wantValue == "" && !errors.Is(err, store.ErrNotFound):
				t.Errorf("return_value = %q, %v; want none", x.Value, err)
			case tt.wantValue != "" && (err != nil || x.Value != tt.wantValue):
				t.Errorf("return_value = %q, %v; want %s", x.Value, err, tt.wantValue)
			}
		})
	}
}

func TestRunRetryThenSecondTryWithItsOwnLog(t *testing.T) {
	t.Parallel()
	e := newEnv(t, `
dag_id: flaky
tasks:
  - id: f
    operator: bash
    retries: 1
    retry_delay: 30s
    command: echo "try $SIROCCO_CTX_TRY_NUMBER of {{ ti.try_number }}"; test "$SIROCCO_CTX_TRY_NUMBER" -ge 2
`)
	runID := e.createRun(nil)
	k := e.queue(runID, "f")
	if err := e.runner.Run(context.Background(), k); err != nil {
		t.Fatal(err)
	}
	ti := e.ti(k)
	if ti.State != store.StateUpForRetry || ti.TryNumber != 1 {
		t.Fatalf("after try 1: %s try %d, want up_for_retry try 1", ti.State, ti.TryNumber)
	}
	if d := ti.NextRetryAt.Sub(ti.EndDate); d != 30*time.Second {
		t.Errorf("next retry %v after the end, want retry_delay 30s", d)
	}
	e.queue(runID, "f")
	if err := e.runner.Run(context.Background(), k); err != nil {
		t.Fatal(err)
	}
	if ti := e.ti(k); ti.State != store.StateSuccess || ti.TryNumber != 2 {
		t.Fatalf("after try 2: %s try %d, want success try 2", ti.State, ti.TryNumber)
	}
	if log := e.log(k, 1); !strings.Contains(log, "] try 1 of 1\n") || strings.Contains(log, "try 2") {
		t.Errorf("try 1's log:\n%s", log)
	}
	if log := e.log(k, 2); !strings.Contains(log, "] try 2 of 2\n") || strings.Contains(log, "try 1") {
		t.Errorf("try 2's log:\n%s", log)
	}
}

func TestRunTemplateFailureFailsTheTry(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		task    string
		wantLog []string
	}{
		{name: "undefined name in command", task: "{id: t, operator: bash, command: 'echo {{ undefined_name }}', retries: 0}",
			wantLog: []string{`sirocco: render command: line 1: "undefined_name" is undefined`}},
		{name: "undefined name in env", task: "{id: t, operator: bash, command: 'echo hi', env: {X: '{{ nope.deeper }}'}}",
			wantLog: []string{"sirocco: render env X: line 1:", `"nope" is undefined`}},
		{name: "missing variable", task: "{id: t, operator: bash, command: 'echo {{ var.value.sirocco_test_missing_variable }}'}",
			wantLog: []string{`sirocco: render command: line 1:`, `variable "sirocco_test_missing_variable"`, "not found"}},
		{name: "xcom_pull of a task the DAG lacks", task: "{id: t, operator: bash, command: 'echo {{ ti.xcom_pull(\"no\" ~ \"body\") }}'}",
			wantLog: []string{`sirocco: render command: line 1:`, `DAG "bad_template" has no task "nobody"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, "dag_id: bad_template\ntasks:\n  - "+tt.task+"\n")
			k := e.queue(e.createRun(nil), "t")
			if err := e.runner.Run(context.Background(), k); err != nil {
				t.Fatalf("Run = %v; a task's own failure is recorded, not returned", err)
			}
			ti := e.ti(k)
			if ti.State != store.StateFailed || ti.TryNumber != 1 || len(ti.Handle) != 0 || len(ti.Rendered) != 0 {
				t.Errorf("state %s try %d handle %q rendered %q; want failed try 1, nothing run or rendered", ti.State, ti.TryNumber, ti.Handle, ti.Rendered)
			}
			log := e.log(k, 1)
			for _, want := range append([]string{"sirocco: starting try 1"}, tt.wantLog...) {
				if !strings.Contains(log, want) {
					t.Errorf("log lacks %q:\n%s", want, log)
				}
			}
		})
	}
}

// TestRunTemplatesReadTheStore renders a variable and an upstream XCom.
func TestRunTemplatesReadTheStore(t *testing.T) {
	t.Parallel()
	e := newEnv(t, `
dag_id: ctx
tasks:
  - {id: up, operator: empty}
  - id: down
    operator: bash
    depends_on: [up]
    command: echo {{ var.value.greeting | shquote }} {{ ti.xcom_pull(task_ids='up') | shquote }} {{ ti.xcom_pull(task_ids='up', key='raw') }} [{{ ti.xcom_pull(task_ids='up', key='nothing') }}]
`)
	ctx := context.Background()
	runID := e.createRun(nil)
	if err := e.st.SetVariable(ctx, store.Variable{Key: "greeting", Value: "hi there"}); err != nil {
		t.Fatal(err)
	}
	up := store.TaskKey{DagID: "ctx", RunID: runID, TaskID: "up"}
	if err := e.st.SetXCom(ctx, store.XCom{TaskKey: up, Key: "return_value", Value: `"from up"`}); err != nil {
		t.Fatal(err)
	}
	if err := e.st.SetXCom(ctx, store.XCom{TaskKey: up, Key: "raw", Value: `not json`}); err != nil {
		t.Fatal(err)
	}
	k := e.queue(runID, "down")
	if err := e.runner.Run(ctx, k); err != nil {
		t.Fatal(err)
	}
	if ti := e.ti(k); ti.State != store.StateSuccess {
		t.Fatalf("state %s\n%s", ti.State, e.log(k, 1))
	}
	x, err := e.st.GetXCom(ctx, k, "return_value")
	if err != nil || x.Value != `"hi there from up not json [None]"` {
		t.Errorf("return_value = %q, %v", x.Value, err)
	}
}

func TestRunSkipsTaskNotQueued(t *testing.T) {
	t.Parallel()
	for _, state := range []store.TaskState{store.StateNone, store.StateScheduled, store.StateRunning, store.StateSuccess, store.StateUpForRetry} {
		name := string(state)
		if state == store.StateNone {
			name = "none"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, `
dag_id: notq
params: {marker: ""}
tasks:
  - {id: t, operator: bash, command: 'touch {{ params.marker | shquote }}'}
`)
			marker := filepath.Join(t.TempDir(), "ran")
			k := store.TaskKey{DagID: "notq", RunID: e.createRun(map[string]any{"marker": marker}), TaskID: "t"}
			if state != store.StateNone {
				ok, err := e.st.UpdateTask(context.Background(), store.TaskUpdate{Key: k, To: state})
				if err != nil || !ok {
					t.Fatal(ok, err)
				}
			}
			before := e.ti(k)
			if err := e.runner.Run(context.Background(), k); err != nil {
				t.Fatalf("Run = %v, want nil", err)
			}
			after := e.ti(k)
			if after.State != state || after.TryNumber != before.TryNumber || after.WorkerID != "" || len(after.Rendered) != 0 {
				t.Errorf("task instance changed: %+v", after)
			}
			if _, err := os.Stat(e.logPath(k, 1)); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("a log was created for a try that did not start: %v", err)
			}
			if _, err := os.Stat(marker); !errors.Is(err, os.ErrNotExist) {
				t.Error("the command ran")
			}
		})
	}
}

func TestRunTaskMissingFromDAGFailsWithoutRetry(t *testing.T) {
	t.Parallel()
	e := newEnv(t, `
dag_id: shrink
tasks:
  - {id: keep, operator: empty}
  - {id: gone, operator: bash, command: 'echo hi', retries: 3}
`)
	k := e.queue(e.createRun(nil), "gone")
	e.dags.set(e.parse("dag_id: shrink\ntasks:\n  - {id: keep, operator: empty}\n"))
	if err := e.runner.Run(context.Background(), k); err != nil {
		t.Fatal(err)
	}
	if ti := e.ti(k); ti.State != store.StateFailed || ti.TryNumber != 1 {
		t.Errorf("state %s try %d, want failed try 1 (retries cannot help)", ti.State, ti.TryNumber)
	}
	if log := e.log(k, 1); !strings.Contains(log, "task gone is not in the loaded DAG shrink") {
		t.Errorf("log:\n%s", log)
	}
}

func TestRunExecutionTimeout(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		retries   string
		wantState store.TaskState
	}{
		{name: "retries left", retries: "1", wantState: store.StateUpForRetry},
		{name: "no retries", retries: "0", wantState: store.StateFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, `
dag_id: slow
tasks:
  - id: s
    operator: bash
    retries: `+tt.retries+`
    execution_timeout: 300ms
    command: sleep 30
`)
			k := e.queue(e.createRun(nil), "s")
			start := time.Now()
			if err := e.runner.Run(context.Background(), k); err != nil {
				t.Fatal(err)
			}
			if took := time.Since(start); took < 300*time.Millisecond || took > 5*time.Second {
				t.Errorf("the try took %s with an execution_timeout of 300ms", took)
			}
			ti := e.ti(k)
			if ti.State != tt.wantState || ti.TryNumber != 1 {
				t.Errorf("state %s try %d, want %s try 1", ti.State, ti.TryNumber, tt.wantState)
			}
			if log := e.log(k, 1); !strings.Contains(log, "sirocco: task failed: execution_timeout of 300ms exceeded") {
				t.Errorf("log should name the timeout:\n%s", log)
			}
			// On a loaded machine the timeout may come before the handle was
			// due (process.HandleAfter): the note in the log has it then.
			var h process.Handle
			if err := json.Unmarshal(executor.LeftHandle(e.runner.LogsDir, ti), &h); err != nil || h.PID == 0 {
				t.Fatalf("handle %+v: %v", h, err)
			}
			testenv.EventuallyDead(t, h.PID, 30*time.Second)
		})
	}
}

func TestRunnerRenderDoesNotRun(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "dag_id: r\ntasks:\n  - {id: t, operator: bash, command: 'echo {{ ti.try_number }} {{ run_id }}', cwd: '{{ ds }}'}\n")
	runID := e.createRun(nil)
	run, err := e.st.GetRun(context.Background(), "r", runID)
	if err != nil {
		t.Fatal(err)
	}
	js, err := e.runner.Render(context.Background(), e.d, e.d.Task("t"), run, store.TaskKey{DagID: e.d.ID, RunID: run.RunID, TaskID: "t"}, 3)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(js, &got); err != nil {
		t.Fatal(err)
	}
	args, _ := got["args"].(map[string]any)
	if args["command"] != "echo 3 "+runID || args["cwd"] != "2026-02-03" {
		t.Errorf("rendered %s", js)
	}
	if ti := e.ti(store.TaskKey{DagID: "r", RunID: runID, TaskID: "t"}); ti.State != store.StateNone || len(ti.Rendered) != 0 {
		t.Errorf("Render changed the task instance: %+v", ti)
	}
}

package executor_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/dag"
	"github.com/sirocco-dev/sirocco/internal/operator"
	"github.com/sirocco-dev/sirocco/internal/operator/all"
	"github.com/sirocco-dev/sirocco/internal/store"
)

// fileOp stands for an operator whose work outlives Sirocco (a remote job):
// the work is done when the file named in its handle exists. Execute is
// never what a resumed try calls.
type fileOp struct{}

// fileKind is the kind of fileOp's handles.
const fileKind = "file"

// fileHandle is fileOp's handle of the work that ends when path exists.
func fileHandle(path string) string {
	b, _ := json.Marshal(map[string]any{"kind": fileKind, "version": 1, "path": path})
	return string(b)
}

func (fileOp) Execute(context.Context, *operator.Task) (operator.Result, error) {
	return operator.Result{}, errors.New("Execute called on a resumed try")
}

func (fileOp) HandleKinds() []string { return []string{fileKind} }

func (fileOp) CanResume(h []byte) bool { return filePath(h) != "" }

func (fileOp) Stop(context.Context, *operator.Task, []byte) error { return nil }

func filePath(h []byte) string {
	var fh struct {
		Path string `json:"path"`
	}
	_ = json.Unmarshal(h, &fh)
	return fh.Path
}

func (fileOp) Resume(ctx context.Context, t *operator.Task, h []byte) (operator.Result, error) {
	path := filePath(h)
	tick := time.NewTicker(10 * time.Millisecond) // the work is elsewhere: poll it
	defer tick.Stop()
	for {
		if _, err := os.Stat(path); err == nil {
			msg := operator.Args(t.Args).String("msg", "")
			return operator.Result{ReturnValue: &msg}, nil
		}
		select {
		case <-ctx.Done():
			return operator.Result{}, ctx.Err()
		case <-tick.C:
		}
	}
}

func resumableRegistry() operator.Registry {
	r := all.Registry()
	r["remote"] = operator.Factory{
		Spec:      dag.OperatorSpec{Name: "remote", Fields: []dag.FieldSpec{{Name: "msg", Kind: dag.FieldString, Templated: true}}},
		New:       func() operator.Operator { return fileOp{} },
		Recoverer: fileOp{},
	}
	return r
}

const resumeDAG = `
dag_id: resume
tasks:
  - {id: remote, operator: remote, msg: 'rendered again {{ ds }}', retries: 1}
  - {id: slow, operator: remote, msg: x, retries: 1, execution_timeout: 10m}
  - {id: local, operator: bash, command: 'sleep 30', retries: 1}
`

// adopted puts a task instance in the state the scheduler leaves an
// adopted try in: running, owned by worker, with the dead worker's handle
// and rendered fields.
func adopted(t *testing.T, e *env, k store.TaskKey, worker string, started time.Time, handle string) {
	t.Helper()
	h := []byte(handle)
	rendered := []byte(`{"args": {"msg": "as rendered at the start"}, "env": {}}`)
	ok, err := e.st.UpdateTask(context.Background(), store.TaskUpdate{
		Key: k, From: []store.TaskState{store.StateNone}, To: store.StateRunning, IncTry: true,
		StartDate: &started, WorkerID: &worker, HeartbeatAt: &started, Handle: &h, Rendered: &rendered,
	})
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
}

func TestResumeTracksAdoptedWorkToItsEnd(t *testing.T) {
	t.Parallel()
	e := newEnvWith(t, resumeDAG, resumableRegistry())
	l, finished, _ := startLocal(t, e)
	k := store.TaskKey{DagID: "resume", RunID: e.createRun(nil), TaskID: "remote"}
	done := filepath.Join(t.TempDir(), "done")
	adopted(t, e, k, "worker-1", time.Now().UTC(), fileHandle(done))
	if !e.runner.CanResume(e.ti(k)) {
		t.Fatal("CanResume = false for the operator's own handle")
	}
	// The dead worker's lines stay in the try's log.
	if err := os.MkdirAll(filepath.Dir(e.logPath(k, 1)), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(e.logPath(k, 1), []byte("[2026-02-03T04:05:06.000Z] from the dead worker\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	l.Resume(k)
	e.waitTI(k, "the resumed try to be heartbeated", func(ti store.TaskInstance) bool { return ti.HeartbeatAt.After(ti.StartDate) })
	if ti := e.ti(k); ti.State != store.StateRunning {
		t.Fatalf("the try ended before its work did: %s", ti.State)
	}
	if err := os.WriteFile(done, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	waitFinished(t, finished)
	ti := e.ti(k)
	if ti.State != store.StateSuccess || ti.TryNumber != 1 {
		t.Errorf("state %s try %d, want success try 1 (a resume is the same try)", ti.State, ti.TryNumber)
	}
	x, err := e.st.GetXCom(context.Background(), k, "return_value")
	if err != nil || x.Value != `"as rendered at the start"` {
		t.Errorf("return_value = %q, %v; want the stored rendered fields, not a new rendering", x.Value, err)
	}
	log := e.log(k, 1)
	for _, want := range []string{"] from the dead worker\n", "] sirocco: resuming try 1 of remote on host-1", "] sirocco: task succeeded\n"} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
}

func TestResumeOutcomes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		task      string
		worker    string
		started   time.Duration // before now
		handle    string
		wantState store.TaskState
		wantLog   string // "" = no log at all
		within    time.Duration
	}{
		{name: "handle it cannot resume", task: "local", worker: "worker-1", handle: `{"kind":"process","pid":1}`,
			wantState: store.StateUpForRetry, wantLog: "sirocco: try 1 of local cannot be resumed after a restart"},
		{name: "execution_timeout already spent", task: "slow", worker: "worker-1", started: time.Hour, handle: fileHandle("/nonexistent/never"),
			wantState: store.StateUpForRetry, wantLog: "sirocco: task failed: execution_timeout of 10m0s exceeded", within: 5 * time.Second},
		{name: "owned by another worker", task: "remote", worker: "worker-2", handle: fileHandle("/nonexistent/never"),
			wantState: store.StateRunning},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnvWith(t, resumeDAG, resumableRegistry())
			k := store.TaskKey{DagID: "resume", RunID: e.createRun(nil), TaskID: tt.task}
			adopted(t, e, k, tt.worker, time.Now().UTC().Add(-tt.started), tt.handle)
			start := time.Now()
			if err := e.runner.Resume(context.Background(), k); err != nil {
				t.Fatalf("Resume = %v", err)
			}
			if tt.within > 0 && time.Since(start) > tt.within {
				t.Errorf("Resume took %s", time.Since(start))
			}
			ti := e.ti(k)
			if ti.State != tt.wantState || ti.TryNumber != 1 {
				t.Errorf("state %s try %d, want %s try 1", ti.State, ti.TryNumber, tt.wantState)
			}
			if tt.wantLog == "" {
				if _, err := os.Stat(e.logPath(k, 1)); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("a try that is not ours got a log: %v", err)
				}
				return
			}
			if log := e.log(k, 1); !strings.Contains(log, tt.wantLog) {
				t.Errorf("log lacks %q:\n%s", tt.wantLog, log)
			}
		})
	}
}

// TestResumeOfAFinishedRunStopsTheWork: a try adopted after its run ended
// (it timed out while Sirocco was down) is not followed but stopped at
// once, and ends failed without a retry.
func TestResumeOfAFinishedRunStopsTheWork(t *testing.T) {
	t.Parallel()
	e := newEnvWith(t, resumeDAG, resumableRegistry())
	runID := e.createRun(nil)
	k := store.TaskKey{DagID: "resume", RunID: runID, TaskID: "remote"}
	adopted(t, e, k, "worker-1", time.Now().UTC(), fileHandle("/nonexistent/never"))
	if ok, err := e.st.UpdateRun(context.Background(), store.RunUpdate{DagID: "resume", RunID: runID, To: store.RunFailed}); !ok || err != nil {
		t.Fatal(ok, err)
	}
	if err := e.runner.Resume(context.Background(), k); err != nil {
		t.Fatalf("Resume = %v", err)
	}
	if ti := e.ti(k); ti.State != store.StateFailed {
		t.Errorf("state %s, want failed: the work of an ended run is stopped, not retried", ti.State)
	}
	if log := e.log(k, 1); !strings.Contains(log, "run "+runID+" is failed") {
		t.Errorf("log should say why the work was stopped:\n%s", log)
	}
}

func TestCanResume(t *testing.T) {
	t.Parallel()
	e := newEnvWith(t, resumeDAG, resumableRegistry())
	runID := e.createRun(nil)
	ti := func(task, handle string) store.TaskInstance {
		var h []byte
		if handle != "" {
			h = []byte(handle)
		}
		return store.TaskInstance{TaskKey: store.TaskKey{DagID: "resume", RunID: runID, TaskID: task}, State: store.StateRunning, Handle: h}
	}
	processHandle, _ := json.Marshal(map[string]any{"kind": "process", "pid": 1})
	tests := []struct {
		name string
		ti   store.TaskInstance
		want bool
	}{
		{name: "resumable operator and handle", ti: ti("remote", fileHandle("/x")), want: true},
		{name: "no handle", ti: ti("remote", "")},
		{name: "handle its kind's owner rejects", ti: ti("remote", `{"kind":"file"}`)},
		{name: "handle of a kind nobody owns", ti: ti("remote", `{"kind":"pod","version":1}`)},
		{name: "handle that is not JSON", ti: ti("remote", "file:/x")},
		{name: "handle of another operator's kind", ti: ti("remote", string(processHandle))},
		{name: "operator without Resume", ti: ti("local", string(processHandle))},
		{name: "task not in the DAG", ti: ti("gone", fileHandle("/x"))},
		{name: "DAG not loaded", ti: store.TaskInstance{TaskKey: store.TaskKey{DagID: "nope", TaskID: "remote"}, Handle: []byte(fileHandle("/x"))}},
	}
	for _, tt := range tests {
		if got := e.runner.CanResume(tt.ti); got != tt.want {
			t.Errorf("%s: CanResume = %v, want %v", tt.name, got, tt.want)
		}
	}
}

package triggerdag

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/operator"
)

// fakeRuns is an in-memory RunControl: pure logic for the operator's
// decisions (the engine tests use the real one on both stores).
type fakeRuns struct {
	mu      sync.Mutex
	runs    map[string]operator.RunInfo
	confs   map[string]map[string]any
	calls   []string
	paused  bool
	onRead  func(id string) string // the state a read returns, when set
	trigErr error
	// deleteOnClear deletes the run a clear is about to clear, once.
	deleteOnClear bool
}

func newFake() *fakeRuns {
	return &fakeRuns{runs: map[string]operator.RunInfo{}, confs: map[string]map[string]any{}}
}

func (f *fakeRuns) Trigger(_ context.Context, r operator.TriggerRequest) (operator.RunInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, "trigger "+r.RunID)
	if f.trigErr != nil {
		return operator.RunInfo{}, f.trigErr
	}
	for _, x := range f.runs {
		if x.RunID == r.RunID || x.LogicalDate.Equal(r.LogicalDate) {
			return x, fmt.Errorf("%w: run %s exists", operator.ErrRunExists, x.RunID)
		}
	}
	info := operator.RunInfo{DagID: r.DagID, RunID: r.RunID, State: "queued", LogicalDate: r.LogicalDate}
	f.runs[r.RunID], f.confs[r.RunID] = info, r.Conf
	return info, nil
}

func (f *fakeRuns) Run(ctx context.Context, _, runID string) (operator.RunInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return operator.RunInfo{}, fmt.Errorf("get run %s: %w", runID, err) // as a read of the database would
	}
	x, ok := f.runs[runID]
	if !ok {
		return x, operator.ErrRunNotFound
	}
	if f.onRead != nil {
		x.State = f.onRead(runID)
	}
	return x, nil
}

func (f *fakeRuns) Clear(_ context.Context, _, runID string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, "clear "+runID)
	if f.deleteOnClear {
		delete(f.runs, runID) // deleted by someone else just before the clear
		f.deleteOnClear = false
	}
	if _, ok := f.runs[runID]; !ok {
		return fmt.Errorf("%w: %s", operator.ErrRunNotFound, runID)
	}
	if x, ok := f.runs[runID]; ok && (x.State == "success" || x.State == "failed") {
		x.State, x.QueuedAt = "queued", x.QueuedAt.Add(time.Second) // as ClearTasks requeues a finished run
		f.runs[runID] = x
	}
	return nil
}

func (f *fakeRuns) Paused(context.Context, string) (bool, error) { return f.paused, nil }

func task(f *fakeRuns, args map[string]any, saved *[][]byte) *operator.Task {
	return &operator.Task{DagID: "p", RunID: "r", TaskID: "t", Args: args, Runs: f, Log: &bytes.Buffer{},
		SaveHandle: func(_ context.Context, h []byte) error {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.calls = append(f.calls, "save")
			*saved = append(*saved, h)
			return nil
		}}
}

// TestTriggerSavesTheHandleFirst: the run id is stored before the run is
// created, then marked triggered; the default run id is manual__<logical
// date>; conf and the logical date reach the trigger.
func TestTriggerSavesTheHandleFirst(t *testing.T) {
	t.Parallel()
	f := newFake()
	var saved [][]byte
	res, err := Operator{}.Execute(t.Context(), task(f, map[string]any{"trigger_dag_id": "target",
		"logical_date": "2026-04-05 06:07:08+00:00", "conf": `{"a": 1}`}, &saved))
	if err != nil {
		t.Fatal(err)
	}
	want := "manual__2026-04-05T06:07:08Z"
	if got := strings.Join(f.calls, ", "); got != "save, trigger "+want+", save" {
		t.Errorf("calls %s", got)
	}
	var h handle
	if err := json.Unmarshal(saved[0], &h); err != nil || h.RunID != want || h.Triggered || h.Kind != HandleKind {
		t.Errorf("first handle %s (%v)", saved[0], err)
	}
	if err := json.Unmarshal(saved[1], &h); err != nil || !h.Triggered {
		t.Errorf("second handle %s (%v)", saved[1], err)
	}
	if f.confs[want]["a"] != float64(1) {
		t.Errorf("conf %v", f.confs[want])
	}
	if string(res.XComs["trigger_run_id"]) != `"`+want+`"` {
		t.Errorf("XComs %q", res.XComs)
	}
}

// TestTriggerExisting: an existing run fails the try, is skipped with
// skip_when_already_exists, or is cleared with reset_dag_run.
func TestTriggerExisting(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		args    map[string]any
		wantErr error
		errText string
		calls   string
	}{
		{"fails", map[string]any{}, operator.ErrRunExists, "set reset_dag_run", "save, trigger x"},
		{"skips", map[string]any{"skip_when_already_exists": true}, operator.ErrSkip, "", "save, trigger x"},
		{"resets", map[string]any{"reset_dag_run": true, "skip_when_already_exists": true}, nil, "", "save, trigger x, save, clear old, save"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFake()
			f.runs["old"] = operator.RunInfo{DagID: "target", RunID: "old", State: "success",
				LogicalDate: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
			args := map[string]any{"trigger_dag_id": "target", "trigger_run_id": "x", "logical_date": "2026-01-01"}
			for k, v := range tt.args {
				args[k] = v
			}
			var saved [][]byte
			_, err := Operator{}.Execute(t.Context(), task(f, args, &saved))
			if tt.wantErr == nil && err != nil || tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Fatalf("err %v, want %v", err, tt.wantErr)
			}
			if err != nil && !strings.Contains(err.Error(), tt.errText) {
				t.Errorf("err %q lacks %q", err, tt.errText)
			}
			if got := strings.Join(f.calls, ", "); got != tt.calls {
				t.Errorf("calls %s, want %s", got, tt.calls)
			}
		})
	}
}

// TestTriggerWait: the wait ends in success on an allowed state and fails
// on a failed state, reading every poke_interval.
func TestTriggerWait(t *testing.T) {
	t.Parallel()
	for _, end := range []string{"success", "failed"} {
		f := newFake()
		reads := 0
		f.onRead = func(string) string {
			reads++
			if reads < 3 {
				return "running"
			}
			return end
		}
		var saved [][]byte
		_, err := Operator{}.Execute(t.Context(), task(f, map[string]any{"trigger_dag_id": "target",
			"wait_for_completion": true, "poke_interval": "1ms"}, &saved))
		if (end == "success") != (err == nil) || reads != 3 {
			t.Errorf("run %s: err %v after %d reads", end, err, reads)
		}
	}
}

// TestRetryAfterAFailedRunTriggersAnew: a retry takes the run an earlier
// try triggered when that run may still end well (running, or a success
// the earlier try did not see), but one that ended in failed_states, which
// failed the earlier try, would only fail the retry again: the retry
// triggers a new run, as Airflow's does.
func TestRetryAfterAFailedRunTriggersAnew(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		earlier  string
		triggers bool
	}{{"failed", true}, {"running", false}, {"success", false}} {
		f := newFake()
		f.runs["first"] = operator.RunInfo{DagID: "target", RunID: "first", State: c.earlier,
			LogicalDate: time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)}
		var saved [][]byte
		tk := task(f, map[string]any{"trigger_dag_id": "target", "wait_for_completion": true, "poke_interval": "1ms",
			"allowed_states": []any{"success", "running", "queued"}, "failed_states": []any{"failed"}}, &saved)
		tk.TryNumber = 2
		tk.OwnXCom = func(_ context.Context, key string) ([]byte, bool, error) {
			return []byte(`"first"`), key == "trigger_run_id", nil
		}
		_, err := Operator{}.Execute(t.Context(), tk)
		triggered := strings.Contains(strings.Join(f.calls, ", "), "trigger ")
		if err != nil || triggered != c.triggers {
			t.Errorf("earlier run %s: err %v, calls %v; want a new run triggered: %v", c.earlier, err, f.calls, c.triggers)
		}
		if log := tk.Log.(*bytes.Buffer).String(); c.triggers != strings.Contains(log, "triggers a new run") {
			t.Errorf("earlier run %s: log\n%s", c.earlier, log)
		}
	}
}

// TestRetryAfterAFailedRunItCannotReplace: a retry after the failed run
// whose id (a fixed trigger_run_id) or logical date a new run would reuse
// cannot trigger anew: it fails on that run as before, and
// skip_when_already_exists, meant for a run that is not this task's, does
// not turn the failure into a skip.
func TestRetryAfterAFailedRunItCannotReplace(t *testing.T) {
	t.Parallel()
	day := time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)
	for name, args := range map[string]map[string]any{
		"fixed run id":      {"trigger_run_id": "first"},
		"same logical date": {"trigger_run_id": "second", "logical_date": "2026-01-02"},
	} {
		f := newFake()
		f.runs["first"] = operator.RunInfo{DagID: "target", RunID: "first", State: "failed", LogicalDate: day}
		var saved [][]byte
		a := map[string]any{"trigger_dag_id": "target", "wait_for_completion": true, "poke_interval": "1ms",
			"skip_when_already_exists": true}
		for k, v := range args {
			a[k] = v
		}
		tk := task(f, a, &saved)
		tk.TryNumber = 2
		tk.OwnXCom = func(_ context.Context, key string) ([]byte, bool, error) {
			return []byte(`"first"`), key == "trigger_run_id", nil
		}
		_, err := Operator{}.Execute(t.Context(), tk)
		if err == nil || errors.Is(err, operator.ErrSkip) || !strings.Contains(err.Error(), "ended failed") {
			t.Errorf("%s: err %v, calls %v; want the try failed by run first", name, err, f.calls)
		}
	}
}

// TestWaitEndedByTheTryIsNoReadError: a wait cut by the try's own end
// (execution_timeout) fails with that, and does not log the read the
// deadline interrupted as a database error to try again (trial12 #13).
func TestWaitEndedByTheTryIsNoReadError(t *testing.T) {
	t.Parallel()
	f := newFake()
	f.onRead = func(string) string { return "running" }
	var saved [][]byte
	tk := task(f, map[string]any{"trigger_dag_id": "target", "wait_for_completion": true, "poke_interval": "1ms"}, &saved)
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	_, err := Operator{}.Execute(ctx, tk)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err %v, want the deadline", err)
	}
	if log := tk.Log.(*bytes.Buffer).String(); strings.Contains(log, "trying again") {
		t.Errorf("the log reports the interrupted read as an error:\n%s", log)
	}
}

// TestResumeDoesNotTriggerTwice: a resumed try whose run exists only waits;
// one whose crash came before the run was created creates it once.
func TestResumeDoesNotTriggerTwice(t *testing.T) {
	t.Parallel()
	f := newFake()
	f.runs["made"] = operator.RunInfo{DagID: "target", RunID: "made", State: "success"}
	var saved [][]byte
	for _, id := range []string{"made", "missing"} {
		h, _ := json.Marshal(handle{Kind: HandleKind, Version: 1, DagID: "target", RunID: id, Wait: true, Poke: "1ms",
			LogicalDate: time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC), Allowed: []string{"success", "queued"}, Failed: []string{"failed"}})
		if _, err := (Recoverer{}).Resume(t.Context(), task(f, nil, &saved), h); err != nil {
			t.Fatalf("resume %s: %v", id, err)
		}
	}
	if got := strings.Join(f.calls, ", "); got != "trigger missing, save" {
		t.Errorf("calls %s, want only the missing run triggered", got)
	}
}

// TestBadFields: wrong states, a bad date, a conf that is not a mapping
// and a paused DAG with fail_when_dag_is_paused fail before anything is
// triggered.
func TestBadFields(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args   map[string]any
		paused bool
		want   string
	}{
		{map[string]any{"allowed_states": []any{"done"}}, false, `unknown run state "done"`},
		{map[string]any{"allowed_states": []any{"failed"}}, false, "in both allowed_states and failed_states"},
		{map[string]any{"logical_date": "yesterday"}, false, `logical_date "yesterday"`},
		{map[string]any{"conf": "[1]"}, false, "not a mapping"},
		{map[string]any{"trigger_dag_id": " "}, false, "trigger_dag_id is empty"},
		{map[string]any{"fail_when_dag_is_paused": true}, true, "DAG target is paused"},
	}
	for _, tt := range tests {
		f := newFake()
		f.paused = tt.paused
		args := map[string]any{"trigger_dag_id": "target"}
		for k, v := range tt.args {
			args[k] = v
		}
		var saved [][]byte
		_, err := Operator{}.Execute(t.Context(), task(f, args, &saved))
		if err == nil || !strings.Contains(err.Error(), tt.want) || len(f.calls) > 0 {
			t.Errorf("%v: err %v, calls %v; want %q and nothing triggered", tt.args, err, f.calls, tt.want)
		}
	}
}

// TestTriggerInATestRunDoesNotWait: `dags test` runs only its own run, so
// waiting on the triggered one would never end: it is created, not waited
// for.
func TestTriggerInATestRunDoesNotWait(t *testing.T) {
	t.Parallel()
	f := newFake()
	f.onRead = func(string) string { t.Error("the run was read: the try waits"); return "success" }
	var saved [][]byte
	ot := task(f, map[string]any{"trigger_dag_id": "target", "wait_for_completion": true}, &saved)
	ot.RunType = "test"
	if _, err := (Operator{}).Execute(t.Context(), ot); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(ot.Log.(*bytes.Buffer).String(), "does not wait") || len(f.runs) != 1 {
		t.Errorf("log %q, runs %v", ot.Log, f.runs)
	}
}

// TestResumeRedoesTheTriggerOfAnExistingRun: a try that crashed after
// saving its handle, when a run with its id existed before it, does not
// take that run for its own: reset_dag_run still clears it, and without
// reset or skip the try fails as the first one would have.
func TestResumeRedoesTheTriggerOfAnExistingRun(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		reset   bool
		wantErr error
		calls   string
	}{
		{"reset clears", true, nil, "trigger x, save, clear x, save"},
		{"no reset fails", false, operator.ErrRunExists, "trigger x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFake()
			at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			f.runs["x"] = operator.RunInfo{DagID: "target", RunID: "x", State: "success", LogicalDate: at}
			h, _ := json.Marshal(handle{Kind: HandleKind, Version: 1, DagID: "target", RunID: "x", LogicalDate: at,
				Reset: tt.reset, Existed: true, Poke: "1ms", Allowed: []string{"success"}, Failed: []string{"failed"}})
			var saved [][]byte
			_, err := (Recoverer{}).Resume(t.Context(), task(f, nil, &saved), h)
			if tt.wantErr == nil && err != nil || tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Fatalf("err %v, want %v", err, tt.wantErr)
			}
			if got := strings.Join(f.calls, ", "); got != tt.calls {
				t.Errorf("calls %s, want %s", got, tt.calls)
			}
		})
	}
}

// TestResetResumedAfterTheClearDoesNotClearTwice: a reset_dag_run try
// that crashed after its clear (its last handle saved before the clear)
// resumes by waiting on the cleared run, without a second clear that
// would run the run's tasks again.
func TestResetResumedAfterTheClearDoesNotClearTwice(t *testing.T) {
	t.Parallel()
	f := newFake()
	f.runs["old"] = operator.RunInfo{DagID: "target", RunID: "old", State: "success",
		LogicalDate: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	var saved [][]byte
	tk := task(f, map[string]any{"trigger_dag_id": "target", "trigger_run_id": "x", "logical_date": "2026-01-01",
		"reset_dag_run": true}, &saved)
	save := tk.SaveHandle
	crash := errors.New("crash")
	tk.SaveHandle = func(ctx context.Context, h []byte) error {
		if strings.Contains(string(h), `"triggered":true`) {
			return crash // the process dies before marking the trigger done
		}
		return save(ctx, h)
	}
	if _, err := (Operator{}).Execute(t.Context(), tk); !errors.Is(err, crash) {
		t.Fatalf("err %v, want the crash", err)
	}
	if _, err := (Recoverer{}).Resume(t.Context(), task(f, nil, &saved), saved[len(saved)-1]); err != nil {
		t.Fatalf("resume: %v", err)
	}
	if got := strings.Count(strings.Join(f.calls, ", "), "clear old"); got != 1 {
		t.Errorf("calls %s: run old cleared %d times, want once", strings.Join(f.calls, ", "), got)
	}
}

// TestResetRacingADelete: the run a reset_dag_run collided with is
// deleted before its clear; the try triggers the run it asked for and
// waits on it, instead of failing on a run that is gone.
func TestResetRacingADelete(t *testing.T) {
	f := newFake()
	at := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	f.runs["fixed"] = operator.RunInfo{DagID: "d", RunID: "fixed", State: "success", LogicalDate: at}
	f.deleteOnClear = true
	var saved [][]byte
	tk := task(f, map[string]any{"trigger_dag_id": "d", "trigger_run_id": "fixed", "logical_date": "2026-05-01",
		"reset_dag_run": true}, &saved)
	res, err := Operator{}.Execute(context.Background(), tk)
	if err != nil {
		t.Fatalf("execute: %v\n%s", err, tk.Log)
	}
	if got := strings.Join(f.calls, ", "); got != "save, trigger fixed, save, clear fixed, save, trigger fixed, save" {
		t.Errorf("calls = %s", got)
	}
	if x, ok := f.runs["fixed"]; !ok || x.State != "queued" {
		t.Errorf("run fixed = %+v, %v; want created again", x, ok)
	}
	if string(res.XComs["trigger_run_id"]) != `"fixed"` {
		t.Errorf("XComs = %v", res.XComs)
	}
}

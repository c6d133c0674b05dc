package bash_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/sirocco-dev/sirocco/internal/operator"
	"github.com/sirocco-dev/sirocco/internal/operator/bash"
	"github.com/sirocco-dev/sirocco/internal/operator/process"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// logBuffer is the try's log: stdout and stderr write to it concurrently.
type logBuffer struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	changed chan struct{}
}

func newLog() *logBuffer { return &logBuffer{changed: make(chan struct{})} }

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	close(l.changed)
	l.changed = make(chan struct{})
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func (l *logBuffer) waitFor(t *testing.T, s string, timeout time.Duration) {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		l.mu.Lock()
		got, ch := l.buf.String(), l.changed
		l.mu.Unlock()
		if strings.Contains(got, s) {
			return
		}
		select {
		case <-ch:
		case <-deadline.C:
			t.Fatalf("timed out waiting for %q in the log:\n%s", s, got)
		}
	}
}

func newTask(args map[string]any, env map[string]string, log *logBuffer) *operator.Task {
	return &operator.Task{
		DagID: "d", RunID: "r", TaskID: "t", TryNumber: 1,
		Args:   args,
		Env:    env,
		CtxEnv: map[string]string{"SIROCCO_CTX_DAG_ID": "d", "SIROCCO_CTX_TASK_ID": "t"},
		Log:    log,
	}
}

func TestBashOutcomes(t *testing.T) {
	t.Parallel()
	home := os.Getenv("HOME")
	if home == "" {
		t.Fatal("HOME is not set in the test environment")
	}
	tests := []struct {
		name      string
		args      map[string]any
		env       map[string]string
		wantValue string // "" = no return_value
		wantSkip  bool
		wantCode  int // non-zero: an *process.ExitError with this code
		wantLog   []string
	}{
		{name: "last stdout line is the value", args: map[string]any{"command": "echo first; echo second; echo"}, wantValue: "second", wantLog: []string{"first\nsecond\n"}},
		{name: "do_xcom_push false", args: map[string]any{"command": "echo second", "do_xcom_push": false}, wantLog: []string{"second\n"}},
		{name: "no output, no value", args: map[string]any{"command": "true"}},
		{name: "stderr goes to the log, not the value", args: map[string]any{"command": "echo out; echo oops >&2"}, wantValue: "out", wantLog: []string{"oops\n", "out\n"}},
		{name: "exit 99 skips", args: map[string]any{"command": "echo bye; exit 99"}, wantSkip: true, wantLog: []string{"bye\n"}},
		{name: "custom skip codes", args: map[string]any{"command": "exit 4", "skip_on_exit_code": []any{3, 4}}, wantSkip: true},
		{name: "custom list replaces 99", args: map[string]any{"command": "exit 99", "skip_on_exit_code": []any{3}}, wantCode: 99},
		{name: "empty list never skips", args: map[string]any{"command": "exit 99", "skip_on_exit_code": []any{}}, wantCode: 99},
		{name: "exit 1 fails", args: map[string]any{"command": "echo failing; exit 1"}, wantCode: 1, wantLog: []string{"failing\n"}},
		{name: "failure keeps no value", args: map[string]any{"command": "echo partial; exit 2"}, wantCode: 2},
		{name: "env replaces the environment", args: map[string]any{"command": `echo "home=${HOME-unset} foo=$FOO ctx=$SIROCCO_CTX_DAG_ID/$SIROCCO_CTX_TASK_ID"`},
			env: map[string]string{"FOO": "bar"}, wantValue: "home=unset foo=bar ctx=d/t"},
		{name: "append_env keeps the environment", args: map[string]any{"command": `echo "home=${HOME-unset} foo=$FOO ctx=$SIROCCO_CTX_DAG_ID/$SIROCCO_CTX_TASK_ID"`, "append_env": true},
			env: map[string]string{"FOO": "bar"}, wantValue: "home=" + home + " foo=bar ctx=d/t"},
		{name: "no env inherits", args: map[string]any{"command": `echo "home=${HOME-unset} ctx=$SIROCCO_CTX_TASK_ID"`}, wantValue: "home=" + home + " ctx=t"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			log := newLog()
			res, err := bash.Factory.New().Execute(context.Background(), newTask(tt.args, tt.env, log))
			switch {
			case tt.wantSkip:
				if !errors.Is(err, operator.ErrSkip) {
					t.Fatalf("Execute = %v, want ErrSkip", err)
				}
			case tt.wantCode != 0:
				var ee *process.ExitError
				if !errors.As(err, &ee) || ee.Code != tt.wantCode {
					t.Fatalf("Execute = %v, want exit code %d", err, tt.wantCode)
				}
				if errors.Is(err, operator.ErrSkip) {
					t.Errorf("exit %d must fail, not skip", tt.wantCode)
				}
			case err != nil:
				t.Fatalf("Execute = %v", err)
			}
			got := ""
			if res.ReturnValue != nil {
				got = *res.ReturnValue
				if got == "" {
					t.Error("ReturnValue points at an empty string; want nil")
				}
			}
			if got != tt.wantValue {
				t.Errorf("return value = %q, want %q", got, tt.wantValue)
			}
			for _, s := range tt.wantLog {
				if !strings.Contains(log.String(), s) {
					t.Errorf("log lacks %q:\n%s", s, log.String())
				}
			}
		})
	}
}

func TestBashSkipMessage(t *testing.T) {
	t.Parallel()
	_, err := (bash.Operator{}).Execute(context.Background(), newTask(map[string]any{"command": "exit 7", "skip_on_exit_code": []any{7}}, nil, newLog()))
	if !errors.Is(err, operator.ErrSkip) || !strings.Contains(err.Error(), "exit code 7") {
		t.Errorf("Execute = %v, want ErrSkip naming exit code 7", err)
	}
}

func TestBashWorkingDirectory(t *testing.T) {
	t.Parallel()
	dagDir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dagDir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	other := t.TempDir()
	here, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	real := func(p string) string {
		t.Helper()
		r, err := filepath.EvalSymlinks(p)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	tests := []struct {
		name, dagDir, cwd, want string
	}{
		{name: "default is the DAG folder", dagDir: dagDir, want: real(dagDir)},
		{name: "relative to the DAG folder", dagDir: dagDir, cwd: "sub", want: real(filepath.Join(dagDir, "sub"))},
		{name: "absolute", dagDir: dagDir, cwd: other, want: real(other)},
		{name: "no DAG folder", want: real(here)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			args := map[string]any{"command": "pwd -P"}
			if tt.cwd != "" {
				args["cwd"] = tt.cwd
			}
			task := newTask(args, nil, newLog())
			task.DagDir = tt.dagDir
			res, err := (bash.Operator{}).Execute(context.Background(), task)
			if err != nil {
				t.Fatal(err)
			}
			if res.ReturnValue == nil || *res.ReturnValue != tt.want {
				t.Errorf("ran in %v, want %s", res.ReturnValue, tt.want)
			}
		})
	}
	missing := &operator.Task{Args: map[string]any{"command": "true", "cwd": "missing"}, DagDir: dagDir, Log: newLog()}
	if _, err := (bash.Operator{}).Execute(context.Background(), missing); err == nil {
		t.Error("a missing cwd should fail the try")
	}
}

func TestBashSavesHandle(t *testing.T) {
	t.Parallel()
	var h process.Handle
	task := newTask(map[string]any{"command": "echo ok"}, nil, newLog())
	task.SaveHandle = func(_ context.Context, data []byte) error { return json.Unmarshal(data, &h) }
	if _, err := (bash.Operator{}).Execute(context.Background(), task); err != nil {
		t.Fatal(err)
	}
	if h.Kind != "process" || h.PID <= 0 || h.PGID != h.PID || h.StartTime == 0 {
		t.Errorf("handle = %+v", h)
	}
}

// TestBashCancelIsNotASkip: a command that exits with a skip code because it
// was stopped (its TERM trap exits 99) is a cancelled try, not a skip.
func TestBashCancelIsNotASkip(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	log := newLog()
	done := make(chan error, 1)
	go func() {
		_, err := (bash.Operator{}).Execute(ctx, newTask(map[string]any{"command": "trap 'exit 99' TERM; echo ready; sleep 30 & wait"}, nil, log))
		done <- err
	}()
	log.waitFor(t, "ready\n", 10*time.Second)
	cancel()
	var err error
	select {
	case err = <-done:
	case <-time.After(4 * time.Second):
		t.Fatal("Execute did not return after cancel")
	}
	if errors.Is(err, operator.ErrSkip) || !errors.Is(err, context.Canceled) {
		t.Errorf("Execute = %v, want context.Canceled and no skip", err)
	}
}

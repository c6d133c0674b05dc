package python_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"go.uber.org/goleak"

	"github.com/sirocco-dev/sirocco/internal/operator"
	"github.com/sirocco-dev/sirocco/internal/operator/process"
	"github.com/sirocco-dev/sirocco/internal/operator/python"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// logBuffer is the try's log: stdout and stderr write to it concurrently.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

const reportScript = `import os, sys
print("args:", sys.argv[1:])
print("cwd:", os.path.realpath(os.getcwd()))
print("foo:", os.environ.get("FOO", "unset"), "home:", "HOME" in os.environ)
print("ctx:", os.environ.get("SIROCCO_CTX_DAG_ID"), os.environ.get("SIROCCO_CTX_TRY_NUMBER"))
print("last line")
`

// dagFolder makes a DAG folder with the scripts these tests run and a
// wrapper interpreter at bin/python that announces itself on stderr.
func dagFolder(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"jobs/report.py": reportScript,
		"jobs/fail.py":   "print('before')\nraise ValueError('boom')\n",
		"jobs/quiet.py":  "pass\n",
		"bin/python":     "#!/bin/sh\necho \"wrapper interpreter $*\" >&2\nexec python3 \"$@\"\n",
	}
	for name, body := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "work"), 0o755); err != nil {
		t.Fatal(err)
	}
	real, err := filepath.EvalSymlinks(dir)
	if err != nil {
		t.Fatal(err)
	}
	return real
}

func run(t *testing.T, dagDir string, args map[string]any, env map[string]string) (operator.Result, string, error) {
	t.Helper()
	log := &logBuffer{}
	res, err := python.Factory.New().Execute(context.Background(), &operator.Task{
		DagID: "d", RunID: "r", TaskID: "t", TryNumber: 2,
		Args: args, Env: env, DagDir: dagDir, Log: log,
		CtxEnv: map[string]string{"SIROCCO_CTX_DAG_ID": "d", "SIROCCO_CTX_TRY_NUMBER": "2"},
	})
	return res, log.String(), err
}

func TestPythonRunsScriptFromDagFolder(t *testing.T) {
	t.Parallel()
	dir := dagFolder(t)
	res, log, err := run(t, dir, map[string]any{"script": "jobs/report.py", "args": []any{"a b", 2}}, map[string]string{"FOO": "bar"})
	if err != nil {
		t.Fatalf("Execute = %v\n%s", err, log)
	}
	for _, want := range []string{
		"args: ['a b', '2']\n",
		"cwd: " + dir + "\n",
		"foo: bar home: True\n", // append_env defaults to true
		"ctx: d 2\n",
	} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
	if res.ReturnValue == nil || *res.ReturnValue != "last line" {
		t.Errorf("return value = %v, want \"last line\"", res.ReturnValue)
	}
}

func TestPythonOptions(t *testing.T) {
	t.Parallel()
	dir := dagFolder(t)
	tests := []struct {
		name      string
		args      map[string]any
		env       map[string]string
		wantLog   []string
		wantValue string
	}{
		{name: "interpreter path relative to the DAG folder", args: map[string]any{"script": "jobs/report.py", "python": "bin/python"},
			wantLog: []string{"wrapper interpreter -u " + filepath.Join(dir, "jobs/report.py") + "\n", "args: []\n"}, wantValue: "last line"},
		{name: "absolute script", args: map[string]any{"script": filepath.Join(dir, "jobs/report.py")}, wantValue: "last line"},
		{name: "append_env false replaces the environment", args: map[string]any{"script": "jobs/report.py", "append_env": false},
			env: map[string]string{"FOO": "bar"}, wantLog: []string{"foo: bar home: False\n", "ctx: d 2\n"}, wantValue: "last line"},
		{name: "no env inherits even without append_env", args: map[string]any{"script": "jobs/report.py", "append_env": false},
			wantLog: []string{"foo: unset home: True\n"}, wantValue: "last line"},
		{name: "cwd relative to the DAG folder", args: map[string]any{"script": "jobs/report.py", "cwd": "work"},
			wantLog: []string{"cwd: " + filepath.Join(dir, "work") + "\n"}, wantValue: "last line"},
		{name: "do_xcom_push false", args: map[string]any{"script": "jobs/report.py", "do_xcom_push": false}, wantLog: []string{"last line\n"}},
		{name: "no output, no value", args: map[string]any{"script": "jobs/quiet.py"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res, log, err := run(t, dir, tt.args, tt.env)
			if err != nil {
				t.Fatalf("Execute = %v\n%s", err, log)
			}
			for _, want := range tt.wantLog {
				if !strings.Contains(log, want) {
					t.Errorf("log lacks %q:\n%s", want, log)
				}
			}
			got := ""
			if res.ReturnValue != nil {
				got = *res.ReturnValue
			}
			if got != tt.wantValue {
				t.Errorf("return value = %q, want %q", got, tt.wantValue)
			}
		})
	}
}

func TestPythonFailingScript(t *testing.T) {
	t.Parallel()
	res, log, err := run(t, dagFolder(t), map[string]any{"script": "jobs/fail.py"}, nil)
	var ee *process.ExitError
	if !errors.As(err, &ee) || ee.Code != 1 {
		t.Fatalf("Execute = %v, want exit code 1", err)
	}
	if res.ReturnValue != nil {
		t.Errorf("a failed try returned %q", *res.ReturnValue)
	}
	// Not "before\n": with -u, print writes the text and its newline
	// separately, so stderr may land in between.
	for _, want := range []string{"before", "Traceback (most recent call last):", "ValueError: boom"} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
}

func TestPythonStartFailures(t *testing.T) {
	t.Parallel()
	dir := dagFolder(t)
	tests := []struct {
		name string
		args map[string]any
	}{
		{name: "missing script", args: map[string]any{"script": "jobs/missing.py"}},
		{name: "missing interpreter name", args: map[string]any{"script": "jobs/report.py", "python": "sirocco-no-such-python"}},
		{name: "missing interpreter path", args: map[string]any{"script": "jobs/report.py", "python": "venv/bin/python"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if res, log, err := run(t, dir, tt.args, nil); err == nil || res.ReturnValue != nil {
				t.Errorf("Execute = %v, %v; want an error\n%s", res, err, log)
			}
		})
	}
}

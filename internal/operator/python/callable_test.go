package python_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/operator"
	"github.com/sirocco-dev/sirocco/internal/operator/process"
	"github.com/sirocco-dev/sirocco/internal/operator/python"
	"github.com/sirocco-dev/sirocco/internal/testenv"
)

// funcsModule is the module next to the DAG file the tests call into.
const funcsModule = `import json, os, sys

def add(a, b, scale=1):
    print('{"looks": "like json"}')
    print("adding", a, b, file=sys.stderr)
    return (a + b) * scale

def greet(name, greeting="hello"):
    return "%s %s" % (greeting, name)

def nothing():
    print("side effect only")

def listing():
    return [1, "two", None, {"three": 3.5}]

def number():
    return 42

def boom():
    print("before the failure")
    raise ValueError("boom in the function")

def unserialisable():
    return {"s": {1, 2}}

def not_a_number():
    return float("nan")

def context_named(ds, logical_date, run_id, dag_id, task_id, try_number, templates_dict, ts_nodash, unused=None):
    return {"ds": ds, "logical_date": logical_date.isoformat(), "utc": logical_date.utcoffset().total_seconds() == 0,
            "run_id": run_id, "dag_id": dag_id, "task_id": task_id, "try_number": try_number,
            "templates_dict": templates_dict, "ts_nodash": ts_nodash}

def context_all(x, **kwargs):
    return {"x": x, "keys": sorted(kwargs)}

def needs_ti(ti):
    return ti

def run_context(params, data_interval_start, dag_run, **kw):
    return {"params": params, "start": data_interval_start.isoformat(), "end": kw["data_interval_end"].isoformat(),
            "conf": dag_run.conf, "run": [dag_run.dag_id, dag_run.run_id, dag_run.logical_date.isoformat(),
            dag_run.data_interval_end == kw["data_interval_end"]], "ts": kw["ts"],
            "ts_nodash_with_tz": kw["ts_nodash_with_tz"], "key": kw["task_instance_key_str"]}

def needs_conf(conf):
    return conf

def summary():
    return {"total": 42, "rows": [1, 2], "return_value": "shadowed"}

def int_keys():
    return {1: "one"}

def empty_key():
    return {"": 1}

def positional_ds(ds):
    return ds

def exits():
    sys.exit(0)

def where():
    return {"path0": sys.path[0], "argv": sys.argv, "cwd": os.getcwd(), "prefix": sys.prefix}

NOT_CALLABLE = 3

def huge():
    raise ValueError("x" * 100000)

def surrogate():
    return "caf" + os.fsdecode(b"\xe9")

def surrogate_in_dict():
    return {"name": os.fsdecode(b"\xff"), "ok": "\u00e9\U0001F600"}

def astral():
    return "caf\u00e9 \U0001F600"
`

// callFolder is dagFolder with the modules the callable tests import.
func callFolder(t *testing.T) string {
	t.Helper()
	dir := dagFolder(t)
	files := map[string]string{
		"funcs.py":        funcsModule,
		"pkg/__init__.py": "",
		"pkg/mod.py":      "def fn(x):\n    return {'pkg': x}\n\nclass K:\n    @staticmethod\n    def m():\n        return 'static'\n",
		"broken.py":       "import sirocco_no_such_dependency\n",
	}
	for name, body := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// callTask runs a python task whose run context is set, as the runner
// does: logical date, data interval, params and conf.
func callTask(t *testing.T, dagDir string, args map[string]any) (operator.Result, string, error) {
	t.Helper()
	log := &logBuffer{}
	res, err := python.Factory.New().Execute(context.Background(), &operator.Task{
		DagID: "d", RunID: "manual__1", TaskID: "t", TryNumber: 2, LogicalDate: "2026-02-03T04:05:06Z",
		DataIntervalStart: time.Date(2026, 2, 2, 4, 5, 6, 0, time.UTC), DataIntervalEnd: time.Date(2026, 2, 3, 4, 5, 6, 0, time.UTC),
		Params: map[string]any{"region": "north", "n": 3}, Conf: map[string]any{"n": 3, "note": "hi"},
		Args: args, DagDir: dagDir, Log: log,
		CtxEnv: map[string]string{"SIROCCO_CTX_DAG_ID": "d"},
	})
	return res, log.String(), err
}

// value is the return_value's JSON as the runner stores it: a string
// (ReturnValue) quoted, a JSON value (ReturnJSON) as it is.
func value(res operator.Result) string {
	switch {
	case res.ReturnJSON != nil && res.ReturnValue != nil:
		return "<both ReturnJSON and ReturnValue>"
	case res.ReturnJSON != nil:
		return string(res.ReturnJSON)
	case res.ReturnValue != nil:
		return strconv.Quote(*res.ReturnValue)
	}
	return "<none>"
}

func TestCallableReturnValues(t *testing.T) {
	t.Parallel()
	dir := callFolder(t)
	tests := []struct {
		name    string
		args    map[string]any
		want    string
		wantLog []string
	}{
		{name: "module next to the DAG, op_args and op_kwargs", args: map[string]any{"callable": "funcs:add", "op_args": []any{2, 3}, "op_kwargs": map[string]any{"scale": 10}},
			want: "50", wantLog: []string{`{"looks": "like json"}` + "\n", "adding 2 3\n", "Done. Returned value was: 50\n"}},
		{name: "a string is the XCom as it is", args: map[string]any{"callable": "funcs:greet", "op_kwargs": map[string]any{"name": "Ada", "greeting": "hi"}},
			want: `"hi Ada"`, wantLog: []string{`Done. Returned value was: "hi Ada"` + "\n"}},
		{name: "a list as JSON", args: map[string]any{"callable": "funcs:listing"}, want: `[1, "two", null, {"three": 3.5}]`},
		{name: "a number as JSON", args: map[string]any{"callable": "funcs:number"}, want: "42"},
		{name: "astral and accented text stay whole", args: map[string]any{"callable": "funcs:astral"}, want: strconv.Quote("caf\u00e9 \U0001F600")},
		{name: "None pushes nothing", args: map[string]any{"callable": "funcs:nothing"},
			want: "<none>", wantLog: []string{"side effect only\n", "Done. Returned value was: None\n"}},
		{name: "package module", args: map[string]any{"callable": "pkg.mod:fn", "op_args": []any{map[string]any{"k": []any{"v"}}}}, want: `{"pkg": {"k": ["v"]}}`},
		{name: "attribute path", args: map[string]any{"callable": "pkg.mod:K.m"}, want: `"static"`},
		{name: "show_return_value_in_logs false", args: map[string]any{"callable": "funcs:number", "show_return_value_in_logs": false},
			want: "42", wantLog: []string{"Done. Returned value not shown\n"}},
		{name: "do_xcom_push false", args: map[string]any{"callable": "funcs:number", "do_xcom_push": false}, want: "<none>"},
		{name: "the context by name", args: map[string]any{"callable": "funcs:context_named", "templates_dict": map[string]any{"a": "b"}},
			want: `{"ds": "2026-02-03", "logical_date": "2026-02-03T04:05:06+00:00", "utc": true, "run_id": "manual__1", "dag_id": "d", "task_id": "t", "try_number": 2, "templates_dict": {"a": "b"}, "ts_nodash": "20260203T040506"}`},
		{name: "the whole context with **kwargs", args: map[string]any{"callable": "funcs:context_all", "op_kwargs": map[string]any{"x": 1, "extra": true}},
			want: `{"x": 1, "keys": ["dag_id", "dag_run", "data_interval_end", "data_interval_start", "ds", "ds_nodash", "extra", "logical_date", "params", "run_id", "task_id", "task_instance_key_str", "templates_dict", "try_number", "ts", "ts_nodash", "ts_nodash_with_tz"]}`},
		{name: "params, data interval and dag_run by name", args: map[string]any{"callable": "funcs:run_context"},
			want: `{"params": {"n": 3, "region": "north"}, "start": "2026-02-02T04:05:06+00:00", "end": "2026-02-03T04:05:06+00:00", "conf": {"n": 3, "note": "hi"}, ` +
				`"run": ["d", "manual__1", "2026-02-03T04:05:06+00:00", true], "ts": "2026-02-03T04:05:06+00:00", "ts_nodash_with_tz": "20260203T040506+0000", "key": "d__t__20260203"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res, log, err := callTask(t, dir, tt.args)
			if err != nil {
				t.Fatalf("Execute = %v\n%s", err, log)
			}
			if got := value(res); got != tt.want {
				t.Errorf("return value = %s, want %s\n%s", got, tt.want, log)
			}
			for _, want := range tt.wantLog {
				if !strings.Contains(log, want) {
					t.Errorf("log lacks %q:\n%s", want, log)
				}
			}
		})
	}
}

// TestCallableWhereItRuns: the DAG folder is first on sys.path (not the
// shim's private folder), sys.argv holds only the callable, the working
// directory is the DAG folder, and the interpreter is the task's: here a
// virtualenv's bin/python, given relative to the DAG folder.
func TestCallableWhereItRuns(t *testing.T) {
	t.Parallel()
	dir := callFolder(t)
	if out, err := exec.Command("python3", "-m", "venv", "--without-pip", filepath.Join(dir, "venv")).CombinedOutput(); err != nil {
		t.Fatalf("python3 -m venv: %v\n%s", err, out)
	}
	res, log, err := callTask(t, dir, map[string]any{"callable": "funcs:where", "python": "venv/bin/python"})
	if err != nil {
		t.Fatalf("Execute = %v\n%s", err, log)
	}
	want := `{"path0": "` + dir + `", "argv": ["funcs:where"], "cwd": "` + dir + `", "prefix": "` + filepath.Join(dir, "venv") + `"}`
	if got := value(res); got != want {
		t.Errorf("return value = %s\nwant %s", got, want)
	}
}

// TestCallablePython38: the embedded shim is written in Python 3.8's
// grammar, the oldest the callable supports, checked by the python3 on
// PATH with ast.parse(feature_version=(3, 8)); a snippet of 3.10 syntax
// shows that this interpreter's check refuses newer grammar. Without a
// python3 it fails under CI=true.
func TestCallablePython38(t *testing.T) {
	t.Parallel()
	py, err := exec.LookPath("python3")
	testenv.RequireCI(t, "python3", err)
	const check = `import ast,sys; ast.parse(open(sys.argv[1]).read(), feature_version=(3,8))`
	newer := filepath.Join(t.TempDir(), "newer.py")
	if err := os.WriteFile(newer, []byte("match 1:\n    case 1:\n        pass\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(py, "-c", check, newer).CombinedOutput(); err == nil {
		t.Fatalf("%s accepts a match statement as Python 3.8 (%s): its check proves nothing", py, out)
	}
	if out, err := exec.Command(py, "-c", check, "shim.py").CombinedOutput(); err != nil {
		t.Fatalf("shim.py is not Python 3.8 grammar: %v\n%s", err, out)
	}
}

// TestCallableMultipleOutputs: with multiple_outputs a returned dict is
// the return_value and each of its items an XCom of its own (Airflow's
// rule); anything but a dict with string keys fails the try, None and
// do_xcom_push false push nothing.
func TestCallableMultipleOutputs(t *testing.T) {
	t.Parallel()
	dir := callFolder(t)
	tests := []struct {
		name      string
		args      map[string]any
		want      string
		wantXComs map[string]string
		wantErr   string
	}{
		{name: "a dict", args: map[string]any{"callable": "funcs:summary", "multiple_outputs": true},
			want:      `{"total": 42, "rows": [1, 2], "return_value": "shadowed"}`,
			wantXComs: map[string]string{"total": "42", "rows": "[1, 2]", "return_value": `"shadowed"`}},
		{name: "without multiple_outputs", args: map[string]any{"callable": "funcs:summary"},
			want: `{"total": 42, "rows": [1, 2], "return_value": "shadowed"}`},
		{name: "None", args: map[string]any{"callable": "funcs:nothing", "multiple_outputs": true}, want: "<none>"},
		{name: "do_xcom_push false", args: map[string]any{"callable": "funcs:number", "multiple_outputs": true, "do_xcom_push": false}, want: "<none>"},
		{name: "a number", args: map[string]any{"callable": "funcs:number", "multiple_outputs": true},
			wantErr: "multiple_outputs: it returned a value of type int, expected a dict"},
		{name: "a string", args: map[string]any{"callable": "funcs:greet", "op_args": []any{"x"}, "multiple_outputs": true},
			wantErr: "multiple_outputs: it returned a value of type str, expected a dict"},
		{name: "a list", args: map[string]any{"callable": "funcs:listing", "multiple_outputs": true},
			wantErr: "multiple_outputs: it returned a value of type list, expected a dict"},
		{name: "int keys", args: map[string]any{"callable": "funcs:int_keys", "multiple_outputs": true},
			wantErr: "multiple_outputs: the returned dict's keys must be strings, found 1 (int)"},
		{name: "an empty key", args: map[string]any{"callable": "funcs:empty_key", "multiple_outputs": true},
			wantErr: "python callable funcs:empty_key: multiple_outputs: the returned dict has an empty key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res, log, err := callTask(t, dir, tt.args)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || value(res) != "<none>" || res.XComs != nil {
					t.Fatalf("Execute = %s %s, %v; want the error %q\n%s", value(res), res.XComs, err, tt.wantErr, log)
				}
				return
			}
			if err != nil {
				t.Fatalf("Execute = %v\n%s", err, log)
			}
			if got := value(res); got != tt.want {
				t.Errorf("return value = %s, want %s", got, tt.want)
			}
			if len(res.XComs) != len(tt.wantXComs) {
				t.Errorf("XComs = %s, want %v", res.XComs, tt.wantXComs)
			}
			for k, want := range tt.wantXComs {
				if got := string(res.XComs[k]); got != want {
					t.Errorf("XCom %s = %s, want %s", k, got, want)
				}
			}
		})
	}
}

func TestCallableFailures(t *testing.T) {
	t.Parallel()
	dir := callFolder(t)
	tests := []struct {
		name    string
		args    map[string]any
		wantErr []string
		wantLog []string
		noLog   []string
	}{
		{name: "exception", args: map[string]any{"callable": "funcs:boom"},
			wantErr: []string{"python callable funcs:boom: raised ValueError: boom in the function", "exited with code 1"},
			wantLog: []string{"before the failure", "Traceback (most recent call last):", `funcs.py", line 22, in boom`, "ValueError: boom in the function"},
			noLog:   []string{"sirocco_call.py", "Done. Returned value"}},
		{name: "a huge message is cut", args: map[string]any{"callable": "funcs:huge"},
			wantErr: []string{"raised ValueError: xxx", "xxx… (cut) (process exited with code 1)"}},
		{name: "not serialisable", args: map[string]any{"callable": "funcs:unserialisable"},
			wantErr: []string{"its return value (a dict) is not JSON serialisable: Object of type set is not JSON serializable"}},
		{name: "NaN", args: map[string]any{"callable": "funcs:not_a_number"},
			wantErr: []string{"its return value (a float) is not JSON serialisable: Out of range float values are not JSON compliant"}},
		{name: "missing module", args: map[string]any{"callable": "nosuchmod:fn"},
			wantErr: []string{"cannot import module 'nosuchmod': No module named 'nosuchmod' (looked in the DAG folder " + dir + " first"},
			noLog:   []string{"Traceback"}},
		{name: "missing package module", args: map[string]any{"callable": "pkg.nosuch:fn"},
			wantErr: []string{"cannot import module 'pkg.nosuch': No module named 'pkg.nosuch'"}},
		{name: "module failing to import", args: map[string]any{"callable": "broken:fn"},
			wantErr: []string{"importing module 'broken' failed: ModuleNotFoundError: No module named 'sirocco_no_such_dependency'"},
			wantLog: []string{"Traceback (most recent call last):", `broken.py", line 1`}},
		{name: "missing function", args: map[string]any{"callable": "funcs:nope"},
			wantErr: []string{"'funcs' has no attribute 'nope' (module file " + filepath.Join(dir, "funcs.py") + ")"}},
		{name: "not callable", args: map[string]any{"callable": "funcs:NOT_CALLABLE"},
			wantErr: []string{"NOT_CALLABLE is of type int, not a function"}},
		{name: "wrong arguments", args: map[string]any{"callable": "funcs:add", "op_args": []any{1}, "op_kwargs": map[string]any{"c": 2}},
			wantErr: []string{`cannot call it with 1 positional argument(s) (op_args) and the keyword arguments ["c"]: missing a required argument: 'b'`}},
		{name: "a context key Sirocco lacks", args: map[string]any{"callable": "funcs:needs_ti"},
			wantErr: []string{"ti: Sirocco does not pass it to a callable; it passes dag_id, dag_run, data_interval_end,"}},
		{name: "conf is Airflow's configuration", args: map[string]any{"callable": "funcs:needs_conf"},
			wantErr: []string{"conf: Sirocco does not pass it", "the run's conf is dag_run.conf"}},
		{name: "op_args over a context name", args: map[string]any{"callable": "funcs:positional_ds", "op_args": []any{"x"}},
			wantErr: []string{"the key 'ds' in op_args is a part of op_kwargs or the context and therefore reserved"}},
		{name: "sys.exit(0) in the function", args: map[string]any{"callable": "funcs:exits"},
			wantErr: []string{"python callable funcs:exits: the process ended without a result"}},
		{name: "bad callable", args: map[string]any{"callable": "funcs"}, wantErr: []string{`expected "module:function"`}},
		{name: "op_args not a list", args: map[string]any{"callable": "funcs:add", "op_args": "1, 2"}, wantErr: []string{"op_args: expected a list, got a string"}},
		{name: "both script and callable", args: map[string]any{"callable": "funcs:add", "script": "jobs/quiet.py"}, wantErr: []string{"exclude each other"}},
		{name: "a lone surrogate in a string", args: map[string]any{"callable": "funcs:surrogate"},
			wantErr: []string{`its returned string holds a lone surrogate ('\udce9' at character 3), which is not text`, "errors='replace'"}},
		{name: "a lone surrogate in a dict", args: map[string]any{"callable": "funcs:surrogate_in_dict"},
			wantErr: []string{`the JSON of its return value (a dict) holds a lone surrogate ('\udcff' at character`}},
		{name: "missing interpreter", args: map[string]any{"callable": "funcs:add", "python": "venv/bin/python"}, wantErr: []string{"start "}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res, log, err := callTask(t, dir, tt.args)
			if err == nil || res.ReturnValue != nil || res.ReturnJSON != nil || res.XComs != nil {
				t.Fatalf("Execute = %s, %v; want an error\n%s", value(res), err, log)
			}
			if len(err.Error()) > 2200 {
				t.Errorf("error of %d bytes", len(err.Error()))
			}
			for _, want := range tt.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error lacks %q:\n%v", want, err)
				}
			}
			for _, want := range tt.wantLog {
				if !strings.Contains(log, want) {
					t.Errorf("log lacks %q:\n%s", want, log)
				}
			}
			for _, bad := range tt.noLog {
				if strings.Contains(log, bad) {
					t.Errorf("log has %q:\n%s", bad, log)
				}
			}
		})
	}
}

// TestCallableFailureIsAnExit: a raising function fails the try with a
// non-zero exit the runner and the retry logic see as such.
func TestCallableFailureIsAnExit(t *testing.T) {
	t.Parallel()
	_, _, err := callTask(t, callFolder(t), map[string]any{"callable": "funcs:boom"})
	var ee *process.ExitError
	if !errors.As(err, &ee) || ee.Code != 1 {
		t.Fatalf("Execute = %v, want exit code 1", err)
	}
}

// TestCallableCancel: a cancelled try (timeout, mark failed, clear) stops
// the function's process group at once, as for a script, and its private
// folder goes with it.
func TestCallableCancel(t *testing.T) {
	t.Parallel()
	dir := dagFolder(t)
	body := "import os, time\ndef hang(fifo):\n    with open(fifo, 'w') as f:\n        f.write(str(os.getpid()))\n    time.sleep(3600)\n"
	if err := writeFile(filepath.Join(dir, "hang.py"), body); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "pid.fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done, finished := make(chan error, 1), make(chan struct{})
	log := &logBuffer{}
	go func() {
		defer close(finished)
		_, err := python.Factory.New().Execute(ctx, &operator.Task{DagID: "d", RunID: "r", TaskID: "t", TryNumber: 1,
			Args: map[string]any{"callable": "hang:hang", "op_args": []any{fifo}}, DagDir: dir, Log: log, KillGrace: 200 * time.Millisecond})
		done <- err
	}()
	pid, ok := readFIFO(fifo, finished)
	if !ok {
		t.Fatalf("the call ended before the function started: %v\n%s", <-done, log)
	}
	cmdline, err := os.ReadFile("/proc/" + pid + "/cmdline")
	if err != nil {
		t.Fatal(err)
	}
	private := filepath.Dir(strings.Split(string(cmdline), "\x00")[2])
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Execute = %v, want context.Canceled\n%s", err, log)
	}
	if _, err := os.Stat("/proc/" + pid); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the function's process %s outlived the cancel (%v)", pid, err)
	}
	if _, err := os.Stat(private); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the private folder %s outlived the try (%v)", private, err)
	}
}

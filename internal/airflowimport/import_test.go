package airflowimport

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"github.com/sirocco-dev/sirocco/internal/testenv"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/dag"
	"github.com/sirocco-dev/sirocco/internal/engine"
	"github.com/sirocco-dev/sirocco/internal/operator/all"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

func needPython(t *testing.T) {
	t.Helper()
	_, err := exec.LookPath("python3")
	testenv.RequireCI(t, "python3", err)
}

func loadOptions(out string) dag.LoadOptions {
	return engine.NewBag(out, all.Registry().Specs()).LoadOptions()
}

// importInto converts paths into a new folder and returns the result.
func importInto(t *testing.T, paths ...string) (Result, string, string) {
	t.Helper()
	needPython(t)
	out := t.TempDir()
	var report bytes.Buffer
	res, err := Import(t.Context(), paths, Options{Out: out, Load: loadOptions(out), Report: &report, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatalf("Import: %v\n%s", err, report.String())
	}
	return res, out, report.String()
}

// TestCorpusConverts: every file of the corpus gives DAGs the real loader
// accepts, the seed's Examples 2 and 3 among them.
func TestCorpusConverts(t *testing.T) {
	res, out, report := importInto(t, "testdata/airflow")
	files, _ := filepath.Glob("testdata/airflow/*.py")
	if len(files) < 20 || len(res.Files) != len(files) {
		t.Fatalf("converted %d files of %d (want at least 20)\n%s", len(res.Files), len(files), report)
	}
	for _, f := range res.Files {
		if f.Error != nil {
			t.Errorf("%s: %s at %s", f.File, f.Error.Message, f.Error.Loc)
		}
		for _, d := range f.DAGs {
			if d.Invalid != nil {
				t.Errorf("%s: %s does not load: %v", f.File, d.DagID, d.Invalid)
			}
		}
	}
	bag, err := dag.LoadDir(out, loadOptions(out))
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"remote_pyspark_dag", "remote_pyspark_ssh", "taskflow_etl", "factory_alpha", "factory_beta"} {
		if bag.DAGs[id] == nil {
			t.Errorf("DAG %s missing from %s (errors: %v)", id, out, bag.Errors)
		}
	}
	if k8s := bag.DAGs["remote_pyspark_dag"]; k8s != nil && k8s.Tasks[0].Operator != "kubernetes_pod" {
		t.Errorf("seed Example 2: operator %s, want kubernetes_pod", k8s.Tasks[0].Operator)
	}
}

// TestGolden compares a few outputs with testdata/golden (go test -update
// rewrites them).
func TestGolden(t *testing.T) {
	names := []string{"classic_bash", "taskflow_etl", "nested_groups", "seed_remote_pyspark_k8s", "branch_python", "unsupported_misc",
		"cross_run_classic", "cross_run_taskflow", "trigger_dagrun", "trigger_dagrun_sdk",
		"sensors_classic", "sensors_sdk", "callbacks_classic", "deadline_sdk", "assets_classic", "assets_sdk", "unsupported_sensors", "python_sensors", "closures", "templates_airflow2", "attrs_after",
		"mapping_classic", "mapping_taskflow", "mapping_sdk", "unsupported_mapping"}
	paths := make([]string, len(names))
	for i, n := range names {
		paths[i] = "testdata/airflow/" + n + ".py"
	}
	_, out, _ := importInto(t, paths...)
	written, _ := filepath.Glob(filepath.Join(out, "*"))
	if len(written) == 0 {
		t.Fatal("nothing written")
	}
	for _, w := range written {
		got, err := os.ReadFile(w)
		if err != nil {
			t.Fatal(err)
		}
		golden := filepath.Join("testdata/golden", filepath.Base(w))
		if *update {
			if err := os.WriteFile(golden, got, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Fatalf("%v (run go test -update)", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from %s:\n%s", w, golden, got)
		}
	}
}

// TestNotConvertedIsReported: each unsupported feature is named with its
// FILE:LINE and a rewrite, in the report and in the YAML's head comment,
// and its task fails instead of pretending to run.
func TestNotConvertedIsReported(t *testing.T) {
	cases := []struct{ file, dag, want string }{
		{"unsupported_sensors", "unsupported_sensors", "unsupported_sensors.py:12: task wait_file: recursive=True: ** in filepath matches one folder level"},
		{"unsupported_sensors", "unsupported_sensors", "unsupported_sensors.py:13: task wait_s3: S3KeySensor: not supported by this version: the sensor S3KeySensor; written as a bash task that fails; rewrite it as a bash_sensor"},
		{"sensors_sdk", "sensors_sdk", "sensors_sdk.py:25: task other_dag: execution_date_fn=a Python function (<lambda>) is not kept; write execution_date: a template"},
		{"callbacks_classic", "callbacks_classic", "callbacks_classic.py:23: on_failure_callback=a Python function (page_oncall) is not converted: Sirocco does not run Python callbacks; write a notifier instead: {command: ...}"},
		{"callbacks_classic", "callbacks_classic", "callbacks_classic.py:23: sla_miss_callback=a Python function (page_oncall): not supported by this version: SLAs"},
		{"callbacks_classic", "callbacks_classic", "callbacks_classic.py:23: email=\"ops@example.com; data@example.com\": written as an email notifier of on_failure_callback through the smtp connection smtp_default"},
		{"callbacks_classic", "callbacks_classic", "callbacks_classic.py:31: task load: sla=2h: not converted: Sirocco has no per-task SLA; alert when the whole run is late with the DAG's deadline"},
		{"callbacks_classic", "callbacks_classic", "callbacks_classic.py:31: task load: on_execute_callback=a Python function (page_oncall) is not converted"},
		{"deadline_sdk", "deadline_fixed", "deadline_sdk.py:38: deadline: the reference FIXED_DATETIME is not converted"},
		{"assets_classic", "assets_classic_producer", "assets_classic.py:14: task refresh_customers: outlets: the asset \"reference_regions\" has no URI scheme: written x-airflow-asset://reference_regions"},
		{"unsupported_mapping", "unsupported_mapping", "unsupported_mapping.py:18: task size: @task size: not supported by this version: dynamic task mapping (.partial().expand(name=the XCom of files)): a python task expands only its whole op_kwargs, so one argument cannot take files's XCom list element by element; written as a bash task that fails; the items come from task files at run time: loop over them inside one task (a python task taking files's XCom), or make files push a list of dicts of arguments and use .expand_kwargs(), which converts"},
		{"unsupported_mapping", "unsupported_mapping", "unsupported_mapping.py:19: task echo: BashOperator: not supported by this version: dynamic task mapping (.partial().expand(bash_command=the XCom of files__1)): XComArg.map() of files__1 makes its list at run time, which Sirocco does not; written as a bash task that fails; do the .map() in a @task that returns the finished list"},
		{"unsupported_mapping", "unsupported_mapping", "unsupported_mapping.py:26: task add: @task add: not supported by this version: dynamic task mapping (.expand(x=the XCom of files__2, y=a list of 1)): XComArg.zip() of files__2"},
		{"unsupported_mapping", "unsupported_mapping", "unsupported_mapping.py:34: task per_item.show: @task show: not supported by this version: dynamic task mapping (the task group per_item mapped with .expand(item=a list of 2)): Sirocco does not map task groups; written as a bash task that fails; the items are known when the file runs: make one task per item with a for loop"},
		{"unsupported_mapping", "unsupported_mapping", "unsupported_mapping.py:37: task not_a_list: BashOperator: not supported by this version: dynamic task mapping (.partial().expand(bash_command=\"echo 1\")): Sirocco expands over a list or an upstream task's XCom, not \"echo 1\""},
		{"unsupported_mapping", "unsupported_mapping", "unsupported_mapping.py:38: task named: map_index_template=\"{{ task.bash_command }}\" is not kept; Sirocco names a mapped task's instances by map_index only; remove it"},
		{"unsupported_mapping", "unsupported_mapping", "unsupported_mapping.py:39: task no_field: BashOperator: not supported by this version: dynamic task mapping (.partial().expand(output_encoding=a list of 1)): the mapped argument output_encoding has no field in Sirocco's bash operator"},
		{"unsupported_misc", "unsupported_misc", "unsupported_misc.py:13: on_failure_callback=a Python function (notify) is not converted: Sirocco does not run Python callbacks"},
		{"trigger_dagrun_sdk", "trigger_sdk", "trigger_dagrun_sdk.py:15: task hand_over: deferrable=true is not kept; Sirocco has no triggerer"},
		{"trigger_dagrun_sdk", "trigger_sdk", "trigger_dagrun_sdk.py:15: task hand_over: unknown argument note=\"handed over by trigger_sdk\" of TriggerDagRunOperator is not converted"},
		{"unsupported_misc", "unsupported_misc", "unsupported_misc.py:16: task produce: unknown argument output_encoding=\"utf-8\" of BashOperator is not converted"},
		{"custom_operator", "custom_operator", "custom_operator.py:19: task hello: HelloOperator (defined in the DAG file) has no Sirocco operator"},
		{"http_operator", "http_operator", "http_operator.py:19: task get_op: response_check=a Python function (<lambda>) is not converted: `len(r.json()) > 1` is not a status, text or JSON comparison"},
		{"http_operator", "http_operator", "http_operator.py:23: task b: response_check=a Python function (<lambda>) is not converted: its source was not found, or another lambda on its line takes the same parameters"},
		{"group_shadowing", "group_shadowing", "group_shadowing.py:12: task g.use: depends_on prepare, written inside group g, names g.prepare in Sirocco"},
		{"taskflow_context", "taskflow_context", "taskflow_context.py:20: task show: function show asks for ti, which Sirocco does not pass"},
		{"legacy_imports", "legacy_imports", "legacy_imports.py:9: start_date=days_ago(2) is fixed to"},
		{"templates_airflow2", "templates_airflow2", "templates_airflow2.py:10: task old_names: the template echo {{ execution_date }} {{ prev_ds }} does not render in Sirocco: line 1: \"execution_date\" is undefined; write logical_date"},
		{"templates_airflow2", "templates_airflow2", "templates_airflow2.py:11: task connection: the template psql -h {{ conn.warehouse.host }} does not render in Sirocco"},
		{"templates_airflow2", "templates_airflow2", "templates_airflow2.py:12: task python_macros: the template echo {{ macros.dateutil.relativedelta(days=1) }} does not render in Sirocco"},
		{"templates_airflow2", "templates_airflow2", "templates_airflow2.py:13: task fine: the template {{ next_ds }} does not render in Sirocco: line 1: \"next_ds\" is undefined; write {{ data_interval_end.strftime('%Y-%m-%d') }}"},
		{"current_context", "current_context", "current_context.py:12: function f reads get_current_context (a function of Airflow) from the DAG file, which the importer cannot copy"},
		{"catchup_airflow2", "catchup_airflow2", "catchup_airflow2.py:7: catchup is not given: written without it, so Sirocco creates only the latest missed run (Airflow 3's default); Airflow 2 creates every run missed since start_date (catchup_by_default); set catchup: true to keep that"},
	}
	byFile := map[string][]string{}
	dagOf := map[string]string{}
	for _, c := range cases {
		byFile[c.file] = append(byFile[c.file], c.want)
		dagOf[c.file] = c.dag
	}
	for file, wants := range byFile {
		_, out, report := importInto(t, "testdata/airflow/"+file+".py")
		body, err := os.ReadFile(filepath.Join(out, dagOf[file]+".yaml"))
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range wants {
			if !strings.Contains(report, w) {
				t.Errorf("report lacks %q:\n%s", w, report)
			}
			if !strings.Contains(string(body), "#   - testdata/airflow/"+w) {
				t.Errorf("%s.yaml's head comment lacks %q:\n%s", file, w, body)
			}
		}
	}
}

// TestBadFilesFail: a file that raises, does not parse, defines no DAG or
// never ends fails with the FILE:LINE of the problem, and the others go on.
func TestBadFilesFail(t *testing.T) {
	needPython(t)
	out := t.TempDir()
	var report bytes.Buffer
	res, err := Import(t.Context(), []string{"testdata/airflow_bad", "testdata/airflow/loops.py"},
		Options{Out: out, Load: loadOptions(out), Report: &report, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatalf("Import: %v\n%s", err, report.String())
	}
	if res.Failed() != 4 {
		t.Errorf("%d files failed, want 4\n%s", res.Failed(), report.String())
	}
	for _, want := range []string{
		"testdata/airflow_bad/raises.py: FAILED at testdata/airflow_bad/raises.py:7: ValueError: config file missing",
		"testdata/airflow_bad/syntax_error.py: FAILED at testdata/airflow_bad/syntax_error.py:2: SyntaxError",
		"testdata/airflow_bad/no_dag.py: FAILED at testdata/airflow_bad/no_dag.py:1: the file defines no DAG",
		"testdata/airflow_bad/endless.py: FAILED at testdata/airflow_bad/endless.py:2: FileTimeout",
		`File "testdata/airflow_bad/raises.py", line 11, in <module>`,
		"DAG loops -> ",
	} {
		if !strings.Contains(report.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, report.String())
		}
	}
	if strings.Contains(report.String(), "sirocco_af_") {
		t.Errorf("the traceback shows the shim's frames:\n%s", report.String())
	}
}

// TestShimRemoved: the shim's temporary folder is gone after an import,
// also one stopped half-way (Ctrl-C cancels the context).
func TestShimRemoved(t *testing.T) {
	needPython(t)
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	out := t.TempDir()
	if _, err := Import(t.Context(), []string{"testdata/airflow/loops.py"}, Options{Out: out, Load: loadOptions(out)}); err != nil {
		t.Fatal(err)
	}
	assertEmpty(t, tmp)

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	stop := &cancelOnWrite{cancel: cancel}
	_, err := Import(ctx, []string{"testdata/airflow/loops.py", "testdata/airflow_bad/endless.py"},
		Options{Out: out, Load: loadOptions(out), Report: stop, Timeout: time.Minute})
	if err == nil || !strings.Contains(err.Error(), "import stopped") {
		t.Errorf("cancelled import: %v, want import stopped", err)
	}
	assertEmpty(t, tmp)
}

type cancelOnWrite struct{ cancel func() }

func (c *cancelOnWrite) Write(p []byte) (int, error) { c.cancel(); return len(p), nil }

func assertEmpty(t *testing.T, dir string) {
	t.Helper()
	left, _ := os.ReadDir(dir)
	for _, e := range left {
		t.Errorf("left behind in TMPDIR: %s", e.Name())
	}
}

// TestPythonNotFound: a missing interpreter is a clear error naming --python.
func TestPythonNotFound(t *testing.T) {
	out := t.TempDir()
	_, err := Import(t.Context(), []string{"testdata/airflow/loops.py"}, Options{Out: out, Python: "/nonexistent/python9", Load: loadOptions(out)})
	if err == nil || !strings.Contains(err.Error(), "--python") {
		t.Errorf("err = %v, want one naming --python", err)
	}
}

// TestExampleIsUpToDate: examples/dags/orders_airflow.yaml and its
// callables module are what the importer makes of
// examples/airflow/orders_airflow.py today.
func TestExampleIsUpToDate(t *testing.T) {
	needPython(t)
	t.Chdir("../..")
	out := t.TempDir()
	res, err := Import(t.Context(), []string{"examples/airflow/orders_airflow.py"}, Options{Out: out, Load: loadOptions(out)})
	if err != nil || res.Failed() > 0 || len(res.Files[0].DAGs[0].Problems) > 0 || res.Files[0].DAGs[0].Invalid != nil {
		t.Fatalf("import: %v %+v", err, res)
	}
	for _, name := range []string{"orders_airflow.yaml", "orders_airflow_callables.py"} {
		got, _ := os.ReadFile(filepath.Join(out, name))
		want, _ := os.ReadFile(filepath.Join("examples/dags", name))
		if !bytes.Equal(got, want) {
			t.Errorf("examples/dags/%s is not what the importer writes now (sirocco dags import-airflow examples/airflow/orders_airflow.py --out examples/dags):\n%s", name, got)
		}
	}
}

// TestInvalidOutputReported: a DAG that converts but that Sirocco's
// loader refuses (a schedule without start_date) is reported with the
// loader's error, and the command still counts it as written.
func TestInvalidOutputReported(t *testing.T) {
	src := filepath.Join(t.TempDir(), "nostart.py")
	body := "from airflow import DAG\nfrom airflow.operators.bash import BashOperator\n" +
		"with DAG('nostart', schedule='@daily'):\n    BashOperator(task_id='a', bash_command='echo')\n"
	if err := os.WriteFile(src, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	res, _, report := importInto(t, src)
	if res.Failed() != 0 || len(res.Files[0].DAGs) != 1 || res.Files[0].DAGs[0].Invalid == nil {
		t.Fatalf("result %+v, want one DAG written and invalid\n%s", res, report)
	}
	if !strings.Contains(report, "INVALID: the written file does not load") || !strings.Contains(report, "start_date") {
		t.Errorf("report lacks the loader's error:\n%s", report)
	}
}

// TestPendulumFallback: without pendulum installed, the shim's stand-in
// gives pendulum.datetime a zone and pendulum.duration a timedelta.
func TestPendulumFallback(t *testing.T) {
	needPython(t)
	if exec.Command("python3", "-c", "import pendulum").Run() == nil {
		t.Skip("pendulum is installed: the real one is used")
	}
	res, out, report := importInto(t, "testdata/airflow/pendulum_params.py")
	if res.Failed() != 0 {
		t.Fatal(report)
	}
	body, _ := os.ReadFile(filepath.Join(out, "pendulum_params.yaml"))
	for _, want := range []string{"timezone: Europe/Paris", "dagrun_timeout: 30m", "retry_delay: 10s"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("pendulum_params.yaml lacks %q:\n%s", want, body)
		}
	}
}

// TestPokeHelper: a Python sensor's function, run by the converted
// bash_sensor's command, exits 0 when done, 99 (the task's
// retry_exit_code) when not yet, and 1 when it raises, which fails the try.
func TestPokeHelper(t *testing.T) {
	needPython(t)
	cases := []struct {
		fn, args, params string
		code             int
	}{
		{"marker_exists", `{"op_kwargs":{"path":"/"}}`, `{}`, 0},
		{"marker_exists", `{"op_kwargs":{"path":"/no/such/marker"}}`, `{}`, 99},
		{"marker_exists", `{}`, `{}`, 1}, // path missing: a TypeError
		{"decorated", `{}`, `{}`, 0},     // a PokeReturnValue
		// The run's params reach the function as Airflow's context["params"].
		{"param_marker_exists", `{}`, `{"path":"/"}`, 0},
		{"param_marker_exists", `{}`, `{"path":"/no/such/marker"}`, 99},
	}
	for _, c := range cases {
		cmd := exec.Command("python3", "-c", "import sys, python_sensors_callables as m; m._sirocco_poke(*sys.argv[1:])", c.fn, c.args, c.params)
		cmd.Dir = "testdata/golden"
		cmd.Env = append(os.Environ(), "PYTHONDONTWRITEBYTECODE=1")
		out, err := cmd.CombinedOutput()
		code := 0
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			code = exit.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if code != c.code {
			t.Errorf("%s %s: exit %d, want %d\n%s", c.fn, c.args, code, c.code, out)
		}
	}
}

// TestClosuresKeepTheirValues: two tasks of one @task function made in a
// loop call functions that return each its own closed-over values.
func TestClosuresKeepTheirValues(t *testing.T) {
	_, out, report := importInto(t, "testdata/airflow/closures.py")
	body, _ := os.ReadFile(filepath.Join(out, "closures.yaml"))
	for _, want := range []string{"callable: closures_callables:export\n", "callable: closures_callables:export_2\n"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("closures.yaml lacks %q:\n%s\n%s", want, body, report)
		}
	}
	cmd := exec.Command("python3", "-c", "import closures_callables as m; print(m.export(), m.export_2())")
	cmd.Dir = out
	cmd.Env = append(os.Environ(), "PYTHONDONTWRITEBYTECODE=1")
	got, err := cmd.CombinedOutput()
	if err != nil || strings.TrimSpace(string(got)) != "eu:10 us:20" {
		t.Errorf("export(), export_2() = %q (%v), want \"eu:10 us:20\"", got, err)
	}
}

// TestAirflow3CatchupDefault: a file of Airflow 3 (airflow.sdk) leaves
// catchup to its default, which is Sirocco's: nothing is reported.
func TestAirflow3CatchupDefault(t *testing.T) {
	res, _, report := importInto(t, "testdata/airflow/catchup_airflow3.py")
	if res.Failed() != 0 || len(res.Files[0].DAGs[0].Problems) != 0 {
		t.Errorf("want no problem:\n%s", report)
	}
}

// TestFileWritingToStdout: what a DAG file writes to the process's
// stdout (os.system, sys.__stdout__) goes to stderr; the results of the
// other files are still read.
func TestFileWritingToStdout(t *testing.T) {
	res, _, report := importInto(t, "testdata/airflow_noisy/writes_stdout.py", "testdata/airflow/loops.py")
	if res.Failed() != 0 || len(res.Files) != 2 || res.Files[0].DAGs[0].DagID != "writes_stdout" {
		t.Errorf("result %+v\n%s", res, report)
	}
}

// TestFileIgnoringTimeout: a file that catches the timeout's exception in
// an endless loop is killed past its timeout and reported; the files after
// it are converted by a new process.
func TestFileIgnoringTimeout(t *testing.T) {
	needPython(t)
	out := t.TempDir()
	var report bytes.Buffer
	res, err := Import(t.Context(), []string{"testdata/airflow_stuck/stubborn.py", "testdata/airflow/loops.py"},
		Options{Out: out, Load: loadOptions(out), Report: &report, Timeout: time.Second})
	if err != nil {
		t.Fatalf("Import: %v\n%s", err, report.String())
	}
	if res.Failed() != 1 || len(res.Files) != 2 || len(res.Files[1].DAGs) == 0 {
		t.Errorf("result %+v\n%s", res, report.String())
	}
	if !strings.Contains(report.String(), "testdata/airflow_stuck/stubborn.py: FAILED at testdata/airflow_stuck/stubborn.py:0: the file went on past its timeout") {
		t.Errorf("report:\n%s", report.String())
	}
}

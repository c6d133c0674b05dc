package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/sirocco-dev/sirocco/internal/testenv"
)

// importSite is a home whose DAGs folder is filled by import-airflow.
func importSite(t *testing.T) (dags string, run func(args ...string) (string, error)) {
	t.Helper()
	_, err := exec.LookPath("python3")
	testenv.RequireCI(t, "python3", err)
	home := t.TempDir()
	dags = filepath.Join(home, "dags")
	flags := []string{"--home", home, "--dags", dags, "--database-url", "sqlite://" + filepath.Join(home, "sirocco.db")}
	run = func(args ...string) (string, error) {
		var out testenv.SyncBuffer
		root := NewRoot(&out, &out)
		root.SetArgs(append(flags, args...))
		err := root.ExecuteContext(t.Context())
		return out.String(), err
	}
	return dags, run
}

// TestImportAirflowThenValidateAndTest: the corpus converts through the
// CLI, `dags validate` accepts every file written, and the DAGs that need
// only local things (bash, python, empty, branch) succeed under `dags
// test`, their branches and short circuits skipping what Airflow skips;
// the trigger_dag tasks converted from TriggerDagRunOperator create the
// target DAG's runs (a dags test run does not wait for them); the converted
// sensors (Python ones included) poke and pass, and the converted Slack
// notifiers and deadline alert post their rendered texts to a local
// webhook.
func TestImportAirflowThenValidateAndTest(t *testing.T) {
	dags, run := importSite(t)
	hooks := newHookServer(t)
	t.Setenv("SIROCCO_CONN_SLACK_HOOK", hooks.URL)
	t.Setenv("SIROCCO_CONN_API", hooks.URL)
	out, err := run("dags", "import-airflow", "../airflowimport/testdata/airflow", "--out", dags)
	if err != nil {
		t.Fatalf("import-airflow: %v\n%s", err, out)
	}
	if !strings.Contains(out, "53 DAG(s) written to "+dags+" from 46 file(s); 0 file(s) failed") {
		t.Errorf("import-airflow summary:\n%s", out)
	}
	if out, err := run("dags", "validate", dags); err != nil || !strings.Contains(out, "53 DAG(s) valid, 0 file(s) with errors") {
		t.Fatalf("dags validate: %v\n%s", err, out)
	}
	if out, err := run("db", "migrate"); err != nil {
		t.Fatalf("db migrate: %v\n%s", err, out)
	}
	cases := []struct {
		dag   string
		tasks map[string]string
	}{
		{"classic_bash", map[string]string{"print_date": "success", "sleep": "success", "templated": "success"}},
		{"taskflow_etl", map[string]string{"extract": "success", "transform": "success", "load": "success"}},
		{"sdk_airflow3", map[string]string{"numbers": "success", "total": "success", "report": "success"}},
		{"python_operator", map[string]string{"compute": "success", "show": "success"}},
		{"closures", map[string]string{"export_eu": "success", "export_us": "success"}},
		{"branch_python", map[string]string{"pick": "success", "full_load": "success", "incremental_load": "skipped", "join": "success"}},
		{"task_branch", map[string]string{"weekday_or_not": "success", "weekday": "success", "weekend": "skipped"}},
		{"short_circuit", map[string]string{"always_true": "success", "after_true": "success", "never": "success", "after_false": "skipped"}},
		{"nested_groups", map[string]string{"extract.clean.check": "success", "flat_one": "success", "load": "success"}},
		{"task_group_decorator", map[string]string{"section.confirm": "success", "section__1.confirm": "success"}},
		{"loops", map[string]string{"export_orders": "success", "done": "success"}},
		{"chain_lists", map[string]string{"d": "success"}},
		{"legacy_imports", map[string]string{"run_this_last": "success"}},
		{"pendulum_params", map[string]string{"show": "success"}},
		{"taskflow_context", map[string]string{"stats": "success", "show": "success"}},
		// A dags test run is manual, hence the latest: latest_only follows its downstream tasks.
		{"cross_run_classic", map[string]string{"load": "success", "latest_only": "success", "task1": "success", "task3": "success", "task4": "success"}},
		{"cross_run_taskflow", map[string]string{"latest_only": "success", "publish": "success"}},
		{"example_trigger_controller_dag", map[string]string{"test_trigger_dagrun": "success"}},
		{"trigger_sdk", map[string]string{"message": "success", "hand_over": "success"}},
		// Sensors whose condition holds at once; an external_task_sensor with nothing to watch times out, soft_fail skips it.
		{"sensors_classic", map[string]string{"wait_file": "success", "cool_down": "success", "after_start": "success",
			"after_ds": "success", "tmp_exists": "success", "upstream_done": "skipped", "report": "success"}},
		{"sensors_sdk", map[string]string{"api_ready": "success", "api_says_ok": "success", "file_here": "success",
			"now": "success", "shell_ok": "success", "done": "success", "other_dag": "skipped"}},
		// PythonSensor and @task.sensor poke their function from a bash_sensor.
		{"python_sensors", map[string]string{"classic": "success", "decorated": "success", "after": "success"}},
		{"callbacks_classic", map[string]string{"extract": "success", "load": "success"}},
		{"deadline_sdk", map[string]string{"slow": "success"}},
		{"assets_classic_producer", map[string]string{"refresh_orders": "success", "refresh_customers": "success"}},
		{"assets_sdk_producer", map[string]string{"ingest": "success", "train": "success"}},
		{"mapping_classic", map[string]string{"list_files": "success"}},
		{"mapping_taskflow", map[string]string{"total": "success", "make_pairs": "success"}},
	}
	for _, c := range cases {
		// 2026-01-05 is a Monday: task_branch follows weekday.
		out, err := run("dags", "test", c.dag, "2026-01-05")
		if err != nil {
			t.Errorf("dags test %s: %v\n%s", c.dag, err, out)
			continue
		}
		for id, want := range c.tasks {
			if got := taskState(out, id); got != want {
				t.Errorf("%s: task %s is %q, want %s\n%s", c.dag, id, got, want, out)
			}
		}
	}
	checkImportedMapping(t, run)
	// The converted notifiers posted their rendered Slack texts: the
	// tasks' and the runs' successes, and the deadline the slow run missed.
	for _, want := range []string{`task "extract" done`, "DAG callbacks_classic succeeded: run ", "deadline_sdk done",
		"Dag deadline_sdk missed its deadline at 20"} {
		if !hooks.got(want) {
			t.Errorf("no webhook posted %q; got %q", want, hooks.texts())
		}
	}
	// The converted outlets and asset schedules link producers and consumers,
	// and the producers' test runs recorded events.
	out, err = run("assets", "list")
	for uri, want := range map[string][]string{
		"s3://warehouse/orders":               {"assets_classic_producer.refresh_orders", "assets_classic_all,assets_classic_nested", "1"},
		"x-airflow-asset://reference_regions": {"assets_classic_producer.refresh_customers", "assets_classic_nested", "1"},
		"file:///srv/raw/events":              {"assets_sdk_producer.ingest", "assets_sdk_either,assets_sdk_one", "1"},
	} {
		if got := assetRow(out, uri); err != nil || !slices.Equal(got, want) {
			t.Errorf("assets list (%v): %s has %v, want %v\n%s", err, uri, got, want, out)
		}
	}
	out, err = run("dags", "list-runs", "example_trigger_target_dag")
	for _, want := range []string{"manual__2026-01-05T00:00:00Z", "handed_over__20260105", "2025-01-01T06:30:00Z"} {
		if err != nil || !strings.Contains(out, want) {
			t.Errorf("the triggered runs (list-runs: %v) lack %q:\n%s", err, want, out)
		}
	}
}

// assetRow is the producers, consumers and event count `assets list`
// shows for uri.
func assetRow(out, uri string) []string {
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) >= 4 && f[0] == uri {
			return f[1:4]
		}
	}
	return nil
}

// checkImportedMapping: the tasks converted from .expand and
// .expand_kwargs ran one instance per element (a cross product for
// several lists), each a success, and a downstream @task got the list of
// the mapped @task's results (1+1, 1+2, 1+3); a partial() argument from
// an XCom reaches each instance, and a PythonOperator maps its op_args.
func checkImportedMapping(t *testing.T, run func(...string) (string, error)) {
	t.Helper()
	want := map[string]map[string]int{
		"mapping_classic":  {"echo": 2, "cross": 4, "from_xcom": 2, "per_dict": 2},
		"mapping_taskflow": {"add": 3, "cross": 4, "literal_kwargs": 2, "xcom_kwargs": 2},
		"mapping_sdk":      {"run_commands": 3, "greet_each": 2, "greet_args": 2, "greet_kwargs": 2, "shift": 2},
	}
	// The first instance's result: the sum over add's instances, base's 100 + 1.
	results := map[string]map[string]string{"mapping_taskflow": {"total": "9"}, "mapping_sdk": {"shift": "101", "greet_args": `"hello ada"`}}
	for d, counts := range want {
		out, err := run("dags", "test", d, "2026-01-06")
		if err != nil {
			t.Errorf("dags test %s: %v\n%s", d, err, out)
			continue
		}
		for id, n := range counts {
			got := taskStates(out, id)
			if len(got) != n || slices.ContainsFunc(got, func(s string) bool { return s != "success" }) {
				t.Errorf("%s: task %s instances %v, want %d successes\n%s", d, id, got, n, out)
			}
		}
		for id, want := range results[d] {
			log, err := os.ReadFile(taskLog(out, id))
			if err != nil || !strings.Contains(string(log), "Returned value was: "+want+"\n") {
				t.Errorf("%s: %s's log (%v) lacks its result %s:\n%s", d, id, err, want, log)
			}
		}
	}
}

// taskStates is the state of each instance of task id in order (the
// summary names a mapped one id[N]).
func taskStates(out, id string) []string {
	var states []string
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) >= 2 && isInstanceOf(f[0], id) {
			states = append(states, f[1])
		}
	}
	return states
}

// taskLog is the log file `dags test` names for task id.
func taskLog(out, id string) string {
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) >= 4 && isInstanceOf(f[0], id) && f[2] == "log:" {
			return f[3]
		}
	}
	return ""
}

func taskState(out, id string) string {
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == id {
			return f[1]
		}
	}
	return ""
}

// TestImportAirflowFailsOnBadFiles: files that crash or define no DAG make
// the command exit 1 with their FILE:LINE; the others are still written.
func TestImportAirflowFailsOnBadFiles(t *testing.T) {
	dags, run := importSite(t)
	out, err := run("dags", "import-airflow", "../airflowimport/testdata/airflow_bad", "../airflowimport/testdata/airflow/loops.py",
		"--out", dags, "--timeout", "2s")
	var code exitCode
	if !errors.As(err, &code) || code != 1 {
		t.Fatalf("import-airflow: %v, want exit status 1\n%s", err, out)
	}
	for _, want := range []string{"raises.py:7: ValueError: config file missing", "syntax_error.py:2: SyntaxError",
		"1 DAG(s) written to " + dags + " from 5 file(s); 4 file(s) failed"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// TestImportedExampleRuns: the example converted from Airflow
// (examples/dags/orders_airflow.yaml, its functions module beside it) runs
// under dags test: the group's counts, the total from their XComs, and the
// branch following celebrate (30 orders) and skipping carry_on.
func TestImportedExampleRuns(t *testing.T) {
	dags, run := importSite(t)
	if err := os.MkdirAll(dags, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"orders_airflow.yaml", "orders_airflow_callables.py"} {
		data, err := os.ReadFile(filepath.Join("../../examples/dags", name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dags, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if out, err := run("db", "migrate"); err != nil {
		t.Fatalf("db migrate: %v\n%s", err, out)
	}
	out, err := run("dags", "test", "orders_airflow")
	if err != nil {
		t.Fatalf("dags test: %v\n%s", err, out)
	}
	want := map[string]string{"per_region.count_north": "success", "per_region.count_south": "success", "total": "success",
		"report": "success", "big_day": "success", "celebrate": "success", "carry_on": "skipped"}
	for id, w := range want {
		if got := taskState(out, id); got != w {
			t.Errorf("task %s is %q, want %s\n%s", id, got, w, out)
		}
	}
	body, err := os.ReadFile(strings.TrimSpace(logPathIn(out, "report")))
	if err != nil || !strings.Contains(string(body), "total 30 on ") {
		t.Errorf("report's log (%v) lacks the total:\n%s", err, body)
	}
}

// hookServer stands for Slack's webhooks and the API the http sensors
// poke: it records the text of each JSON POST and answers GET /health.
type hookServer struct {
	*httptest.Server
	mu   sync.Mutex
	seen []string
}

func newHookServer(t *testing.T) *hookServer {
	h := &hookServer{}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && r.URL.Path == "/health" {
			_, _ = io.WriteString(w, `{"status": "ready", "ok": true}`)
			return
		}
		var body struct{ Text string }
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		h.mu.Lock()
		h.seen = append(h.seen, body.Text)
		h.mu.Unlock()
	}))
	t.Cleanup(h.Close)
	return h
}

func (h *hookServer) texts() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.seen)
}

func (h *hookServer) got(part string) bool {
	return slices.ContainsFunc(h.texts(), func(s string) bool { return strings.Contains(s, part) })
}

// TestImportedEmailOnFailure: Airflow's email_on_failure and an
// SmtpNotifier, converted to email notifiers, send their messages through
// a real SMTP server when the task fails under dags test.
func TestImportedEmailOnFailure(t *testing.T) {
	srv := testenv.SMTP(t)
	dags, run := importSite(t)
	src := filepath.Join(t.TempDir(), "mail_on_failure.py")
	body := `from datetime import datetime
from airflow import DAG
from airflow.operators.bash import BashOperator
from airflow.providers.smtp.notifications.smtp import SmtpNotifier

with DAG("mail_on_failure", start_date=datetime(2024, 1, 1), schedule=None,
         default_args={"email": ["ops@example.test"], "retries": 0}):
    BashOperator(task_id="boom", bash_command="echo cannot load; exit 3",
                 on_failure_callback=SmtpNotifier(to="oncall@example.test", subject="{{ ti.task_id }} broke",
                                                  html_content="{{ reason }}"))
`
	if err := os.WriteFile(src, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := run("dags", "import-airflow", src, "--out", dags); err != nil {
		t.Fatalf("import-airflow: %v\n%s", err, out)
	}
	if out, err := run("db", "migrate"); err != nil {
		t.Fatalf("db migrate: %v\n%s", err, out)
	}
	t.Setenv("SIROCCO_CONN_SMTP_DEFAULT", fmt.Sprintf("smtp://%s:%d?from_email=sirocco%%40example.test", srv.Host, srv.Port))
	out, err := run("dags", "test", "mail_on_failure")
	if err == nil || taskState(out, "boom") != "failed" {
		t.Fatalf("dags test: %v, want the task failed\n%s", err, out)
	}
	subjects := map[string]string{}
	for _, m := range srv.Messages(t) {
		subjects[m.Header.Get("To")] = m.Header.Get("Subject")
	}
	if got := subjects["oncall@example.test"]; got != "boom broke" {
		t.Errorf("SmtpNotifier's message: subject %q (all: %v)", got, subjects)
	}
	if got := subjects["ops@example.test"]; !strings.Contains(got, "mail_on_failure.boom failed") {
		t.Errorf("email_on_failure's message: subject %q (all: %v)", got, subjects)
	}
}

// isInstanceOf reports whether name, as the summary of dags test writes
// it, is task id or an instance id[N] of it.
func isInstanceOf(name, id string) bool {
	rest, ok := strings.CutPrefix(name, id)
	return ok && (rest == "" || (strings.HasPrefix(rest, "[") && strings.HasSuffix(rest, "]")))
}

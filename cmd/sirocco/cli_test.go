package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/testenv"
)

func TestPauseBackfillUnpause(t *testing.T) {
	s := newSite(t, map[string]string{"daily.yaml": `dag_id: daily
schedule: "@daily"
start_date: 2026-01-01
catchup: false
max_active_runs: 2
tasks:
  - id: t
    operator: bash
    command: echo "day {{ ds }}"
`})
	s.mustRun("dags", "pause", "daily")
	s.startServer()
	out := s.mustRun("dags", "backfill", "daily", "--from", "2026-01-01", "--to", "2026-01-03", "--wait")
	if !strings.Contains(out, "3 backfill run(s) created") {
		t.Fatalf("backfill output:\n%s", out)
	}
	var runs []map[string]any
	if err := json.Unmarshal([]byte(s.mustRun("dags", "list-runs", "daily", "-o", "json")), &runs); err != nil {
		t.Fatal(err)
	}
	var days []string
	for _, r := range runs {
		if r["run_type"] != "backfill" || r["state"] != "success" {
			t.Errorf("run %v: a paused DAG must only have the backfill runs, all successful", r)
		}
		days = append(days, r["logical_date"].(string)[:10])
	}
	if strings.Join(days, ",") != "2026-01-03,2026-01-02,2026-01-01" {
		t.Errorf("backfill logical dates %v", days)
	}
	if log := s.mustRun("tasks", "logs", "daily", "backfill__2026-01-02T00:00:00Z", "t"); !strings.Contains(log, "day 2026-01-02") {
		t.Errorf("backfill run log:\n%s", log)
	}

	s.mustRun("dags", "unpause", "daily")
	testenv.Eventually(t, "a scheduled run once unpaused", time.Minute, func() (bool, string) {
		out, _, _ := s.run("dags", "list-runs", "daily", "-o", "json")
		return strings.Contains(out, `"run_type": "scheduled"`), "runs of daily: " + out
	})
}

func TestShowAndTasksTestRecordNothing(t *testing.T) {
	s := newSite(t, map[string]string{"d.yaml": `dag_id: d
params: {name: {type: string, default: "O'Brien"}}
tasks:
  - {id: a, operator: empty}
  - id: b
    operator: bash
    depends_on: [a]
    command: echo hi {{ params.name | shquote }} on {{ ds_nodash }} via {{ var.value.greeting }}
`})
	dot := s.mustRun("dags", "show", "d", "--format", "dot")
	if !strings.Contains(dot, `"a" -> "b";`) || !strings.HasPrefix(dot, `digraph "d"`) {
		t.Errorf("dot output:\n%s", dot)
	}
	tree := s.mustRun("dags", "show", "d")
	if !strings.Contains(tree, "└── a [empty]") || !strings.Contains(tree, "    └── b [bash]") {
		t.Errorf("tree output:\n%s", tree)
	}
	s.mustRun("variables", "set", "greeting", "hello-var")
	if v := strings.TrimSpace(s.mustRun("variables", "get", "greeting")); v != "hello-var" {
		t.Errorf("variables get = %q", v)
	}
	out := s.mustRun("tasks", "test", "d", "b", "2026-05-06")
	if !strings.Contains(out, "hi O'Brien on 20260506 via hello-var") || !strings.Contains(out, "Task b succeeded") {
		t.Errorf("tasks test output:\n%s", out)
	}
	if runs := strings.TrimSpace(s.mustRun("dags", "list-runs", "d", "-o", "json")); runs != "[]" {
		t.Errorf("tasks test must record no run, found %s", runs)
	}
	if _, _, code := s.run("tasks", "test", "d", "nope"); code == 0 {
		t.Error("tasks test of an unknown task must fail")
	}
}

func TestLogsFollowTailsARunningTask(t *testing.T) {
	s := newSite(t, map[string]string{"f.yaml": `dag_id: f
tasks:
  - id: ticker
    operator: bash
    command: for i in 1 2 3; do echo "tick $i"; sleep 0.3; done
`})
	s.startServer()
	s.mustRun("dags", "trigger", "f", "--run-id", "r")
	out := s.mustRun("tasks", "logs", "f", "r", "ticker", "--follow")
	for _, want := range []string{"tick 1", "tick 2", "tick 3", "task succeeded"} {
		if !strings.Contains(out, want) {
			t.Errorf("followed log lacks %q:\n%s", want, out)
		}
	}
}

func TestPoolsAndConfigList(t *testing.T) {
	s := newSite(t, nil)
	s.mustRun("pools", "set", "spark", "3", "Spark cluster slots")
	var pools []map[string]any
	if err := json.Unmarshal([]byte(s.mustRun("pools", "list", "-o", "json")), &pools); err != nil {
		t.Fatal(err)
	}
	found := map[string]float64{}
	for _, p := range pools {
		found[p["pool"].(string)] = p["slots"].(float64)
	}
	if found["spark"] != 3 || found["default_pool"] != 128 {
		t.Errorf("pools = %v", pools)
	}
	cmd := exec.Command(binary, "config", "list", "--parallelism", "7", "-o", "json")
	cmd.Env = append(s.env(), "SIROCCO_PARALLELISM=5")
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	var entries []map[string]any
	if err := json.Unmarshal(out, &entries); err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e["key"] == "parallelism" && e["value"] != "7" {
			t.Errorf("parallelism = %v; the flag must win over SIROCCO_PARALLELISM", e["value"])
		}
		if e["key"] == "dags_folder" && e["value"] != s.dags {
			t.Errorf("dags_folder = %v, want SIROCCO_DAGS_FOLDER %s", e["value"], s.dags)
		}
	}
}

func TestConnectionsNeverShowSecrets(t *testing.T) {
	s := newSite(t, nil)
	const secret = "pw-Very-Secret-42"
	cmd := exec.Command(binary, "connections", "add", "spark_cluster", "--conn-uri",
		"spark://127.0.0.1:7077?deploy_mode=cluster", "--conn-password", "-")
	cmd.Env = s.env()
	cmd.Stdin = strings.NewReader(secret + "\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("connections add: %v\n%s", err, out)
	}
	for _, args := range [][]string{
		{"connections", "list"}, {"connections", "list", "-o", "json"}, {"connections", "get", "spark_cluster", "-o", "yaml"},
	} {
		out := s.mustRun(args...)
		if strings.Contains(out, secret) || !strings.Contains(out, "***") {
			t.Errorf("%v shows the password or no mask:\n%s", args, out)
		}
	}
	db, err := os.ReadFile(filepath.Join(s.home, "sirocco.db"))
	if err != nil {
		t.Fatal(err)
	}
	wal, _ := os.ReadFile(filepath.Join(s.home, "sirocco.db-wal"))
	if strings.Contains(string(db)+string(wal), secret) {
		t.Error("the password is stored in clear in the database")
	}
	exported := filepath.Join(t.TempDir(), "conns.json")
	s.mustRun("connections", "export", exported)
	data, _ := os.ReadFile(exported)
	if strings.Contains(string(data), secret) {
		t.Errorf("export without --include-secrets wrote the password:\n%s", data)
	}
	s.mustRun("connections", "delete", "spark_cluster")
	if _, _, code := s.run("connections", "get", "spark_cluster"); code == 0 {
		t.Error("a deleted connection is still found")
	}
}

// Read-only commands never change the schema (a scheduler of another
// version may be running on it); they say how to migrate instead. Where
// there is no database file at all they create none (a second terminal
// without SIROCCO_HOME would otherwise make an empty database beside the
// scheduler's) and say which home they looked in (trial12 #10).
func TestCommandsOtherThanMigrateDoNotMigrate(t *testing.T) {
	home := t.TempDir()
	s := &site{t: t, home: home, dags: home}
	for _, args := range [][]string{{"dags", "list"}, {"connections", "list"}, {"tasks", "state", "d", "r"}} {
		_, errOut, code := s.run(args...)
		if code == 0 || !strings.Contains(errOut, "run `sirocco db migrate`") || !strings.Contains(errOut, "no Sirocco database at "+home) {
			t.Errorf("sirocco %s without a database: exit %d, stderr %q; want a failure naming the home and saying to run db migrate",
				strings.Join(args, " "), code, errOut)
		}
		if _, err := os.Stat(filepath.Join(home, "sirocco.db")); err == nil {
			t.Fatalf("sirocco %s created a database", strings.Join(args, " "))
		}
	}
	// A database file without the schema (made by something else, or an
	// older Sirocco's empty file) is not migrated either.
	if err := os.WriteFile(filepath.Join(home, "sirocco.db"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, errOut, code := s.run("dags", "list"); code == 0 || !strings.Contains(errOut, "no Sirocco schema yet: run `sirocco db migrate`") {
		t.Errorf("dags list on an empty database file: exit %d, stderr %q", code, errOut)
	}
	s.mustRun("db", "migrate")
	s.mustRun("dags", "list")
}

// A command that printed its own error exits non-zero without a second,
// meaningless "Error: exit status 1" line.
func TestNoStrayExitStatusLine(t *testing.T) {
	s := newSite(t, map[string]string{"bad.yaml": "dag_id: bad\ntasks: 3\n"})
	_, errOut, code := s.run("dags", "validate")
	if code == 0 {
		t.Fatal("dags validate passed a bad DAG")
	}
	if strings.Contains(errOut, "exit status") {
		t.Errorf("dags validate printed a stray exit status line:\n%s", errOut)
	}
}

// TestClosedPipeIsNoError: output into a reader that went away (`| head`)
// ends the command quietly, as a killed writer (141), not with "Error:
// ... broken pipe" (trial12 #11).
func TestClosedPipeIsNoError(t *testing.T) {
	s := newSite(t, nil)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	r.Close() // the reader is gone before the first write
	cmd := exec.Command(binary, "config", "list", "-o", "yaml")
	cmd.Env = s.env()
	var errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = w, &errb
	err = cmd.Run()
	w.Close()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 141 || errb.Len() != 0 {
		t.Errorf("config list into a closed pipe: %v, stderr %q; want exit 141 and nothing on stderr", err, errb.String())
	}
}

// dotLabels returns each node's label as Graphviz renders it: the DOT
// string unquoted, with \n as a line break and \\ as a backslash.
func dotLabels(t *testing.T, dot string) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, line := range strings.Split(dot, "\n") {
		node, rest, ok := strings.Cut(strings.TrimSpace(line), " [label=\"")
		if !ok {
			continue
		}
		var b strings.Builder
		i := 0
		for ; i < len(rest) && rest[i] != '"'; i++ {
			if rest[i] == '\\' && i+1 < len(rest) {
				i++
				switch rest[i] {
				case 'n':
					b.WriteByte('\n')
				default: // \\ and \" stand for themselves
					b.WriteByte(rest[i])
				}
				continue
			}
			b.WriteByte(rest[i])
		}
		if i == len(rest) {
			t.Fatalf("unterminated label in %q", line)
		}
		out[strings.Trim(node, `"`)] = strings.Split(b.String(), "\n")
	}
	return out
}

func TestDotLabelsRenderOnTwoLines(t *testing.T) {
	s := newSite(t, map[string]string{"d.yaml": "dag_id: d\ntasks:\n  - {id: extract, operator: bash, command: 'true'}\n  - {id: load, operator: empty, depends_on: [extract]}\n"})
	labels := dotLabels(t, s.mustRun("dags", "show", "d", "--format", "dot"))
	for node, want := range map[string][]string{"extract": {"extract", "(bash)"}, "load": {"load", "(empty)"}} {
		if got := labels[node]; strings.Join(got, "|") != strings.Join(want, "|") {
			t.Errorf("label of %s renders as lines %q, want %q", node, got, want)
		}
	}
}

// dags test says why a failed task failed and lists the tasks it held back.
func TestDagsTestReportsFailuresAndUpstreamFailed(t *testing.T) {
	s := newSite(t, map[string]string{"f.yaml": `dag_id: f
tasks:
  - {id: a, operator: bash, command: "echo working; echo 'no such table' >&2; exit 3"}
  - {id: b, operator: bash, command: "true", depends_on: [a]}
  - {id: c, operator: empty, depends_on: [b]}
`})
	out, _, code := s.run("dags", "test", "f")
	if code == 0 {
		t.Fatalf("dags test of a failing DAG exited 0:\n%s", out)
	}
	for _, want := range []string{"| no such table", "reason: process exited with code 3", "upstream failed: a", "upstream failed: b"} {
		if !strings.Contains(out, want) {
			t.Errorf("dags test output lacks %q:\n%s", want, out)
		}
	}
}

// The local-mode Spark connection run.sh makes is fine to test: there is no
// cluster to reach, which is not a failure.
func TestConnectionsTestOfLocalSpark(t *testing.T) {
	s := newSite(t, nil)
	s.extraEnv = append(s.extraEnv, "SIROCCO_CONN_SPARK_LOCAL=spark://?master=local%5B2%5D")
	out := s.mustRun("connections", "test", "spark_local")
	if !strings.Contains(out, "Spark's local mode runs in the task's own process; nothing to reach") || !strings.Contains(out, "Result: ok") {
		t.Errorf("connections test spark_local: %s", out)
	}
}

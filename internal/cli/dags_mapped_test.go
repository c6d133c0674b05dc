package cli

import (
	"bytes"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/sirocco-dev/sirocco/internal/dag"
	"github.com/sirocco-dev/sirocco/internal/store"
	"github.com/sirocco-dev/sirocco/internal/testenv"
)

// failMapYAML maps a task over two commands, the second failing, with a
// task downstream of it.
const failMapYAML = `dag_id: failmap
schedule: none
tasks:
  - {id: m, operator: bash, expand: {command: ["echo ok", "echo no; exit 3"]}}
  - {id: after, operator: bash, command: echo after, depends_on: [m]}
`

// noListYAML maps a task over an XCom that is not a list.
const noListYAML = `dag_id: nolist
schedule: none
tasks:
  - {id: up, operator: bash, command: echo hello}
  - {id: m, operator: bash, depends_on: [up], expand: {command: {xcom: up}}}
`

// mappedCLISite is a home with the shipped example mapping, failmap and
// nolist, and the files of more.
func mappedCLISite(t *testing.T, more ...map[string]string) func(args ...string) (string, error) {
	t.Helper()
	home := t.TempDir()
	dags := filepath.Join(home, "dags")
	if err := os.MkdirAll(dags, 0o755); err != nil {
		t.Fatal(err)
	}
	example, err := os.ReadFile(filepath.Join("..", "..", "examples", "dags", "mapping.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{"mapping.yaml": string(example), "failmap.yaml": failMapYAML, "nolist.yaml": noListYAML}
	for _, m := range more {
		maps.Copy(files, m)
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dags, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	db := "sqlite://" + filepath.Join(home, "sirocco.db")
	run := func(args ...string) (string, error) {
		var out testenv.SyncBuffer // the engine of dags test logs from its goroutines
		root := NewRoot(&out, &out)
		root.SetArgs(append([]string{"--home", home, "--dags", dags, "--database-url", db}, args...))
		err := root.ExecuteContext(t.Context())
		return out.String(), err
	}
	if out, err := run("db", "migrate"); err != nil {
		t.Fatalf("db migrate: %v\n%s", err, out)
	}
	return run
}

var progress = regexp.MustCompile(`(?m)^\[(\d+)/(\d+)\] \w+: (.*)$`)

// TestDagsTestNamesMappedInstances: dags test's progress lines name each
// instance of a mapped task task[N], their denominator (tasks, not
// instances) stays the same while mapped tasks expand, and the summary
// lists each instance as task[N] with its own log.
func TestDagsTestNamesMappedInstances(t *testing.T) {
	run := mappedCLISite(t)
	out, err := run("dags", "test", "mapping")
	if err != nil {
		t.Fatalf("dags test mapping: %v\n%s", err, out)
	}
	lines := progress.FindAllStringSubmatch(out, -1)
	if len(lines) < 2 {
		t.Fatalf("no progress lines:\n%s", out)
	}
	for _, l := range lines {
		if l[2] != "6" { // list_files, count_rows, report, total, nothing_to_do, per_nothing
			t.Errorf("progress line %q counts %s tasks, want the DAG's 6 on every line", l[0], l[2])
		}
	}
	last := lines[len(lines)-1]
	if last[1] != "6" || !strings.Contains(last[3], "count_rows[0]=success count_rows[1]=success count_rows[2]=success") ||
		!strings.Contains(last[3], "report[1]=success") || strings.Contains(last[3], " count_rows=") {
		t.Errorf("last progress line %q: want 6 tasks done, each instance named task[N]", last[0])
	}
	for _, name := range []string{"count_rows[0]", "count_rows[1]", "count_rows[2]", "report[0]", "report[1]"} {
		re := regexp.MustCompile(`(?m)^  ` + regexp.QuoteMeta(name) + ` +success +log: .*map_index=` + name[len(name)-2:len(name)-1] + `/`)
		if !re.MatchString(out) {
			t.Errorf("the summary has no line for %s with its own log:\n%s", name, out)
		}
	}
	if regexp.MustCompile(`(?m)^  count_rows +`).MatchString(out) {
		t.Errorf("the summary names an instance of count_rows without its map index:\n%s", out)
	}
}

// TestDagsTestMappedUpstreamFailed: a task held back by a failed instance
// of a mapped task names that task in the summary, whichever instance
// failed.
func TestDagsTestMappedUpstreamFailed(t *testing.T) {
	run := mappedCLISite(t)
	out, err := run("dags", "test", "failmap")
	if err == nil {
		t.Fatalf("dags test failmap succeeded:\n%s", out)
	}
	if !regexp.MustCompile(`(?m)^  m\[1\] +failed +log: `).MatchString(out) ||
		!regexp.MustCompile(`(?m)^  m\[0\] +success +log: `).MatchString(out) {
		t.Errorf("the summary does not name m[0] success and m[1] failed:\n%s", out)
	}
	if !regexp.MustCompile(`(?m)^  after +upstream_failed +upstream failed: m$`).MatchString(out) {
		t.Errorf("after's summary line does not name m as the failed upstream:\n%s", out)
	}
}

// TestDagsTestSaysWhyAMappedTaskDidNotExpand: dags test's summary gives
// the note of a mapped task that ended without a try, as it has no log to
// point to.
func TestDagsTestSaysWhyAMappedTaskDidNotExpand(t *testing.T) {
	run := mappedCLISite(t)
	out, err := run("dags", "test", "nolist")
	if err == nil {
		t.Fatalf("dags test nolist succeeded:\n%s", out)
	}
	if !regexp.MustCompile(`(?m)^  m +failed +cannot expand: XCom "return_value" of task "up": it is a string, not a list$`).MatchString(out) {
		t.Errorf("the summary does not say why m failed:\n%s", out)
	}
}

// badMapYAML has two mapped tasks that cannot expand: m over "hello",
// m2 (all_done) over the XCom of a task that failed.
const badMapYAML = `dag_id: badmap
schedule: none
tasks:
  - {id: up, operator: bash, command: echo hello}
  - {id: m, operator: bash, expand: {command: {xcom: up}}}
  - {id: upfail, operator: bash, command: exit 1}
  - {id: m2, operator: bash, trigger_rule: all_done, expand: {command: {xcom: upfail}}}
`

// TestDagsTestSummaryNotes (trial11 #5): the summary line of a task that
// ended without a try gives its note, why, rather than a bare "failed"
// or the upstream task that failed.
func TestDagsTestSummaryNotes(t *testing.T) {
	run := mappedCLISite(t, map[string]string{"badmap.yaml": badMapYAML})
	out, err := run("dags", "test", "badmap")
	if err == nil {
		t.Fatalf("dags test badmap succeeded:\n%s", out)
	}
	for _, re := range []string{
		`(?m)^  m +failed +cannot expand: XCom "return_value" of task "up": it is a string, not a list$`,
		`(?m)^  m2 +upstream_failed +cannot expand: missing upstream values: task "upfail" ended failed`,
	} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("the summary has no line matching %s:\n%s", re, out)
		}
	}
	if n := len(regexp.MustCompile(`(?m)^  m +failed`).FindAllString(out, -1)); n != 1 {
		t.Errorf("m's line is printed %d times, want once (in the summary):\n%s", n, out)
	}
}

// TestWaitEndGivesNotes (trial11 #5): the end of `dags trigger --wait`
// lists the tasks that ended without a try with their note.
func TestWaitEndGivesNotes(t *testing.T) {
	st, _ := logsHome(t)
	why := `cannot expand: XCom "return_value" of task "up": "hi" is not a list`
	if ok, err := st.UpdateTask(t.Context(), store.TaskUpdate{Key: store.TaskKey{DagID: "d", RunID: "r", TaskID: "m"},
		To: store.StateFailed, Note: &why}); err != nil || !ok {
		t.Fatalf("fail m: %v, %v", ok, err)
	}
	if ok, err := st.UpdateRun(t.Context(), store.RunUpdate{DagID: "d", RunID: "r", To: store.RunFailed}); err != nil || !ok {
		t.Fatalf("fail r: %v, %v", ok, err)
	}
	var out bytes.Buffer
	a := &app{stdout: &out, stderr: &out}
	err := a.waitRun(t.Context(), st, &dag.DAG{ID: "d"}, "r", runWatch{poll: unwatchedPoll})
	if err == nil || !regexp.MustCompile(`(?m)^Run r failed\n  m +failed +`+regexp.QuoteMeta(why)+`$`).MatchString(out.String()) {
		t.Errorf("--wait's end: %v\n%s\nwant m's note after the run's state", err, out.String())
	}
}

// TestValidateLiteralMapTooLong (trial11 #8): a mapped task over lists
// written in the file that expand into more than max_map_length instances
// could never run: `dags validate` reports it (a cross product too), and
// leaves an XCom list, known only at run time, alone.
func TestValidateLiteralMapTooLong(t *testing.T) {
	long := `dag_id: longmap
schedule: none
tasks:
  - {id: up, operator: bash, command: "echo '[1, 2, 3, 4, 5, 6, 7]'"}
  - {id: lit, operator: bash, expand: {command: [a, b, c, d, e, f]}}
  - {id: cross, operator: bash, expand: {command: [a, b, c], cwd: [/x, /y]}}
  - {id: fits, operator: bash, expand: {command: [a, b, c, d, e]}}
  - {id: fromxcom, operator: bash, expand: {command: {xcom: up}}}
`
	run := mappedCLISite(t, map[string]string{"longmap.yaml": long})
	t.Setenv("SIROCCO_MAX_MAP_LENGTH", "5")
	out, err := run("dags", "validate")
	if err == nil {
		t.Errorf("dags validate accepted longmap:\n%s", out)
	}
	for _, want := range []string{
		"DAG longmap: task lit: expands into 6 instances, more than max_map_length (5): it would fail every run",
		"DAG longmap: task cross: expands into 6 instances",
		"3 DAG(s) valid, 1 file(s) with errors",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("dags validate: want %q in\n%s", want, out)
		}
	}
	for _, task := range []string{"fits", "fromxcom"} {
		if strings.Contains(out, "task "+task+":") {
			t.Errorf("dags validate reports %s:\n%s", task, out)
		}
	}
}

// TestTasksStateOfAMappedTask (trial11b #1): `tasks state DAG RUN TASK`
// of a mapped task named without --map-index does not print the first
// instance's state as the task's: it says how its instances stand and
// how to name one; --map-index N prints that instance's state; -o json
// lists every instance.
func TestTasksStateOfAMappedTask(t *testing.T) {
	run := mappedCLISite(t)
	out, err := run("dags", "test", "failmap")
	if err == nil {
		t.Fatalf("dags test failmap succeeded:\n%s", out)
	}
	m := regexp.MustCompile(`Testing failmap, run (\S+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no run id in:\n%s", out)
	}
	runID := m[1]
	out, err = run("tasks", "state", "failmap", runID, "m")
	if err == nil || !strings.Contains(err.Error(), "task m is mapped (2 instances: 1 success, 1 failed): name one with --map-index N") {
		t.Errorf("tasks state of mapped m: %q, %v; want the instances' states and how to name one", out, err)
	}
	for i, want := range []string{"success", "failed"} {
		out, err = run("tasks", "state", "failmap", runID, "m", "--map-index", fmt.Sprint(i))
		if err != nil || strings.TrimSpace(out) != want {
			t.Errorf("tasks state m --map-index %d: %q, %v; want %s", i, out, err, want)
		}
	}
	if _, err = run("tasks", "state", "failmap", runID, "m", "--map-index", "7"); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Errorf("tasks state m --map-index 7: %v; want not found", err)
	}
	out, err = run("tasks", "state", "failmap", runID, "after")
	if err != nil || strings.TrimSpace(out) != "upstream_failed" {
		t.Errorf("tasks state of the plain task after: %q, %v", out, err)
	}
	out, err = run("tasks", "state", "failmap", runID, "m", "-o", "json")
	if err != nil || strings.Count(out, `"task_id": "m"`) != 2 {
		t.Errorf("tasks state m -o json: %v; want both instances:\n%s", err, out)
	}
}

package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/sirocco-dev/sirocco/internal/testenv"
)

// groupsSite is a Sirocco home whose DAGs folder holds the shipped
// examples/dags/task_groups.yaml; run runs the CLI in this process.
func groupsSite(t *testing.T) func(args ...string) (string, error) {
	t.Helper()
	home := t.TempDir()
	dags := filepath.Join(home, "dags")
	if err := os.MkdirAll(dags, 0o755); err != nil {
		t.Fatal(err)
	}
	body, err := os.ReadFile(filepath.Join("..", "..", "examples", "dags", "task_groups.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dags, "task_groups.yaml"), body, 0o644); err != nil {
		t.Fatal(err)
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

// TestDagsShowGroups: dags show prints the example's task groups in each
// format: a tree of groups after the dependency tree, a Graphviz cluster
// per group, and a groups array in JSON.
func TestDagsShowGroups(t *testing.T) {
	run := groupsSite(t)

	tree, err := run("dags", "show", "task_groups")
	if err != nil {
		t.Fatalf("dags show: %v\n%s", err, tree)
	}
	wantTree := `task_groups (schedule: none)
└── start [bash]
    ├── extract.orders [bash]
    │   └── extract.clean.dedup [bash]
    │       └── extract.clean.check [bash]
    │           └── load [bash]
    │               └── report [bash]
    └── extract.customers [bash]
        └── extract.clean.dedup ↑

task groups:
├── extract [group] "Pull the sources, then clean them" (after start)
│   ├── extract.orders [bash]
│   ├── extract.customers [bash]
│   └── extract.clean [group] (after extract.orders, extract.customers)
│       ├── extract.clean.dedup [bash]
│       └── extract.clean.check [bash]
└── reporting [group] (after load)
    └── report [bash]
`
	if tree != wantTree {
		t.Errorf("tree:\n%s\nwant:\n%s", tree, wantTree)
	}

	dot, err := run("dags", "show", "task_groups", "--format", "dot")
	if err != nil {
		t.Fatalf("dags show --format dot: %v\n%s", err, dot)
	}
	wantDot := `digraph "task_groups" {
  rankdir=LR;
  "start" [label="start\n(bash)" shape=box];
  "load" [label="load\n(bash)" shape=box];
  subgraph "cluster_extract" {
    label="extract";
    style=rounded;
    tooltip="Pull the sources, then clean them";
    "extract.orders" [label="extract.orders\n(bash)" shape=box];
    "extract.customers" [label="extract.customers\n(bash)" shape=box];
    subgraph "cluster_extract.clean" {
      label="extract.clean";
      style=rounded;
      "extract.clean.dedup" [label="extract.clean.dedup\n(bash)" shape=box];
      "extract.clean.check" [label="extract.clean.check\n(bash)" shape=box];
    }
  }
  subgraph "cluster_reporting" {
    label="reporting";
    style=rounded;
    "report" [label="report\n(bash)" shape=box];
  }
  "extract.clean.check" -> "load";
  "start" -> "extract.orders";
  "start" -> "extract.customers";
  "extract.orders" -> "extract.clean.dedup";
  "extract.customers" -> "extract.clean.dedup";
  "extract.clean.dedup" -> "extract.clean.check";
  "load" -> "report";
}
`
	if dot != wantDot {
		t.Errorf("dot:\n%s\nwant:\n%s", dot, wantDot)
	}

	out, err := run("dags", "show", "task_groups", "--format", "json")
	if err != nil {
		t.Fatalf("dags show --format json: %v\n%s", err, out)
	}
	var g graphJSON
	if err := json.Unmarshal([]byte(out), &g); err != nil {
		t.Fatalf("json: %v\n%s", err, out)
	}
	if len(g.Tasks) != 7 || g.Tasks[0].GroupID != nil || *g.Tasks[2].GroupID != "extract" ||
		!reflect.DeepEqual(g.Tasks[1].Upstream, []string{"extract.clean.check"}) {
		t.Errorf("tasks: %+v", g.Tasks)
	}
	wantGroups := []groupNode{
		{GroupID: "extract", Label: "extract", Tooltip: "Pull the sources, then clean them", PrefixGroupID: true,
			DependsOn: []string{"start"}, TaskIDs: []string{"extract.orders", "extract.customers"},
			Groups: []groupNode{{GroupID: "extract.clean", Label: "clean", PrefixGroupID: true,
				DependsOn: []string{"extract.orders", "extract.customers"}, TaskIDs: []string{"extract.clean.dedup", "extract.clean.check"},
				Groups: []groupNode{}}}},
		{GroupID: "reporting", Label: "reporting", DependsOn: []string{"load"}, TaskIDs: []string{"report"}, Groups: []groupNode{}},
	}
	if !reflect.DeepEqual(g.Groups, wantGroups) {
		t.Errorf("groups:\n%+v\nwant\n%+v", g.Groups, wantGroups)
	}
	if !strings.Contains(out, `"group_id": null`) {
		t.Errorf("a top-level task's group_id is not null:\n%s", out)
	}

	if _, err := run("dags", "show", "task_groups", "--format", "svg"); err == nil || !strings.Contains(err.Error(), "tree, dot or json") {
		t.Errorf("unknown format: %v", err)
	}
}

// TestTaskGroupsExampleRuns runs the shipped example with `dags test`:
// every task, inside groups or not, succeeds, and load's xcom_pull of
// extract.orders by its full id renders that task's output.
func TestTaskGroupsExampleRuns(t *testing.T) {
	run := groupsSite(t)
	out, err := run("dags", "test", "task_groups", "2026-01-02")
	if err != nil {
		t.Fatalf("dags test: %v\n%s", err, out)
	}
	for _, id := range []string{"start", "extract.orders", "extract.customers", "extract.clean.dedup", "extract.clean.check", "load", "report"} {
		if !strings.Contains(out, "  "+id+" ") || !regexpSuccess(out, id) {
			t.Errorf("task %s did not succeed:\n%s", id, out)
		}
	}
	body, err := os.ReadFile(strings.TrimSpace(logPathIn(out, "load")))
	if err != nil {
		t.Fatalf("load's log: %v\n%s", err, out)
	}
	if !strings.Contains(string(body), "loading orders_20260102.csv") {
		t.Errorf("load's log lacks the pulled XCom:\n%s", body)
	}
}

// regexpSuccess reports whether the summary line of task id says success.
func regexpSuccess(out, id string) bool {
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == id {
			return f[1] == "success"
		}
	}
	return false
}

// logPathIn returns the log path the summary line of task id names.
func logPathIn(out, id string) string {
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == id {
			if _, path, ok := strings.Cut(line, "log: "); ok {
				return path
			}
		}
	}
	return ""
}

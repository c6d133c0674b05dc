package ui_test

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/store"
)

// taskGroupsYAML is the example DAG of task groups, as shipped.
func taskGroupsYAML(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "examples", "dags", "task_groups.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// groupGrid is /ui/api/grid's answer as far as groups go.
type groupGrid struct {
	Tasks []struct {
		ID    string `json:"id"`
		Group string `json:"group"`
	} `json:"tasks"`
	Groups []struct {
		ID, Label, Tooltip, Parent string
	} `json:"groups"`
	Rows []struct {
		Group *int `json:"group"`
		Task  *int `json:"task"`
		Depth int  `json:"depth"`
	} `json:"rows"`
	States     []string `json:"states"`
	GroupCells [][]int  `json:"group_cells"`
}

// TestGridGroups: the grid of a DAG with task groups lists the groups
// (nested ones naming their parent), its rows in display order (each
// group, then what is written in it one level deeper, in file order; a
// task only a run still has last, at the top level), and
// per run each group's most severe state over its tasks and nested
// groups' tasks, as Airflow's grid summarises a group.
func TestGridGroups(t *testing.T) {
	s := newSite(t, map[string]string{"task_groups.yaml": taskGroupsYAML(t)})
	day := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	all := []string{"start", "load", "extract.orders", "extract.customers", "extract.clean.dedup", "extract.clean.check", "report"}
	s.createRun("task_groups", "r1", day, map[string]store.TaskState{"start": store.StateSuccess, "extract.orders": store.StateSuccess,
		"extract.customers": store.StateSuccess, "extract.clean.dedup": store.StateSuccess, "extract.clean.check": store.StateFailed,
		"report": store.StateSkipped}, append(all, "old")...)
	s.createRun("task_groups", "r2", day.Add(time.Hour), map[string]store.TaskState{"extract.orders": store.StateSuccess,
		"extract.customers": store.StateRunning, "extract.clean.dedup": store.StateSuccess, "extract.clean.check": store.StateSuccess}, all...)
	status, body, _ := s.get("/ui/api/grid?dag_id=task_groups")
	if status != http.StatusOK {
		t.Fatalf("grid: %d %s", status, body)
	}
	var g groupGrid
	if err := json.Unmarshal([]byte(body), &g); err != nil {
		t.Fatal(err)
	}
	var groups []string
	for _, gr := range g.Groups {
		groups = append(groups, gr.ID+"<"+gr.Parent+">"+gr.Label)
	}
	if got := strings.Join(groups, " "); got != "extract<>extract extract.clean<extract>clean reporting<>reporting" {
		t.Errorf("groups = %s", got)
	}
	if g.Groups[0].Tooltip != "Pull the sources, then clean them" {
		t.Errorf("extract's tooltip = %q", g.Groups[0].Tooltip)
	}
	var rows []string
	for _, r := range g.Rows {
		name := ""
		if r.Group != nil {
			name = "[" + g.Groups[*r.Group].ID + "]"
		} else {
			name = g.Tasks[*r.Task].ID
		}
		rows = append(rows, strings.Repeat(" ", r.Depth)+name)
	}
	want := "start|load|[extract]| extract.orders| extract.customers| [extract.clean]|  extract.clean.dedup|  extract.clean.check|[reporting]| report|old"
	if got := strings.Join(rows, "|"); got != want {
		t.Errorf("rows =\n%s\nwant\n%s", got, want)
	}
	for _, task := range g.Tasks {
		if task.ID == "extract.clean.dedup" && task.Group != "extract.clean" || task.ID == "report" && task.Group != "reporting" {
			t.Errorf("task %s is in group %q", task.ID, task.Group)
		}
	}
	summary := func(run int) string {
		var out []string
		for gi, gr := range g.Groups {
			out = append(out, gr.ID+"="+g.States[g.GroupCells[run][gi]])
		}
		return strings.Join(out, " ")
	}
	// r1: one failed task fails clean and extract; skipped report.
	if got := summary(0); got != "extract=failed extract.clean=failed reporting=skipped" {
		t.Errorf("run r1's groups: %s", got)
	}
	// r2: extract runs (a running task over successes); reporting not started.
	if got := summary(1); got != "extract=running extract.clean=success reporting=" {
		t.Errorf("run r2's groups: %s", got)
	}
}

// TestGridWithoutGroups: a DAG without groups has no group and no rows
// (the page shows the tasks in their order), so the answer of a big DAG
// does not grow.
func TestGridWithoutGroups(t *testing.T) {
	s := newSite(t, map[string]string{"etl.yaml": etlYAML})
	s.createRun("etl", "r1", time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), nil, "extract", "transform", "load", "old")
	_, body, _ := s.get("/ui/api/grid?dag_id=etl")
	var g groupGrid
	if err := json.Unmarshal([]byte(body), &g); err != nil {
		t.Fatal(err)
	}
	if len(g.Groups) != 0 || strings.Contains(body, `"rows"`) || len(g.Tasks) != 4 || g.Tasks[3].ID != "old" || len(g.GroupCells) != 1 {
		t.Errorf("grid without groups: %s", body)
	}
}

// TestTaskPageGroups: a task page's breadcrumb names the task's groups,
// outermost first, each with its full id and tooltip in its title.
func TestTaskPageGroups(t *testing.T) {
	s := newSite(t, map[string]string{"task_groups.yaml": taskGroupsYAML(t)})
	s.createRun("task_groups", "r1", time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), nil, "extract.clean.dedup", "start")
	_, body, _ := s.get("/dags/task_groups/runs/r1/tasks/extract.clean.dedup")
	crumbs := regexp.MustCompile(`<li class="group-crumb" title="([^"]*)">([^<]*)</li>`).FindAllStringSubmatch(body, -1)
	if len(crumbs) != 2 || crumbs[0][2] != "extract" || crumbs[1][2] != "clean" ||
		crumbs[0][1] != "task group extract: Pull the sources, then clean them" || crumbs[1][1] != "task group extract.clean" {
		t.Errorf("breadcrumb groups = %q", crumbs)
	}
	if !regexp.MustCompile(`clean</li>\s*<li aria-current="page">extract.clean.dedup</li>`).MatchString(body) {
		t.Error("the task does not follow its groups in the breadcrumb")
	}
	if _, body, _ := s.get("/dags/task_groups/runs/r1/tasks/start"); strings.Contains(body, "group-crumb") {
		t.Error("a task outside any group shows a group in its breadcrumb")
	}
}

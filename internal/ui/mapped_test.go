package ui_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/store"
	"github.com/sirocco-dev/sirocco/internal/tasklog"
)

// mappedYAML is a DAG with a task mapped over a literal list of three.
const mappedYAML = `dag_id: mapped
schedule: none
tasks:
  - {id: start, operator: bash, command: echo start}
  - id: each
    operator: bash
    depends_on: [start]
    expand:
      command: ["echo zero", "echo one", "echo two"]
`

// mappedSite is a site with three runs of mapped: r1 has each expanded
// into three instances (success, failed, running), r2 has it not
// expanded yet (its placeholder), r3 mapped over an empty list (skipped).
func mappedSite(t *testing.T) *site {
	t.Helper()
	s := newSite(t, map[string]string{"mapped.yaml": mappedYAML})
	day := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i, run := range []string{"r1", "r2", "r3"} {
		s.createRun("mapped", run, day.Add(time.Duration(i)*time.Hour), map[string]store.TaskState{"start": store.StateSuccess}, "start", "each")
	}
	ctx := context.Background()
	for run, n := range map[string]int{"r1": 3, "r3": 0} {
		if ok, err := s.st.ExpandTask(ctx, store.TaskKey{DagID: "mapped", RunID: run, TaskID: "each"}, 0, n, time.Now()); err != nil || !ok {
			t.Fatalf("expand each of %s into %d: %v %v", run, n, ok, err)
		}
	}
	k := store.TaskKey{DagID: "mapped", RunID: "r1", TaskID: "each"}
	for i, st := range []store.TaskState{store.StateSuccess, store.StateFailed, store.StateRunning} {
		s.setState(k.WithMapIndex(i), st, nil)
	}
	return s
}

// TestGridMapped: a mapped task is one row of the grid whose cell in a
// run is the most severe state of its instances there, with their count
// (-1 where it has not expanded: its placeholder's state, skipped for an
// empty list); a task that is not mapped has no counts.
func TestGridMapped(t *testing.T) {
	s := mappedSite(t)
	status, body, _ := s.get("/ui/api/grid?dag_id=mapped")
	if status != http.StatusOK {
		t.Fatalf("grid: %d %s", status, body)
	}
	var g struct {
		Tasks []struct {
			ID     string `json:"id"`
			Counts []int  `json:"counts"`
		} `json:"tasks"`
		Runs []struct {
			RunID string `json:"run_id"`
		} `json:"runs"`
		States []string `json:"states"`
		Cells  [][]int  `json:"cells"`
	}
	if err := json.Unmarshal([]byte(body), &g); err != nil {
		t.Fatal(err)
	}
	if len(g.Tasks) != 2 || g.Tasks[0].ID != "start" || g.Tasks[1].ID != "each" || len(g.Runs) != 3 {
		t.Fatalf("tasks %+v runs %+v, want one row per task (start, each) and 3 runs", g.Tasks, g.Runs)
	}
	if g.Tasks[0].Counts != nil {
		t.Errorf("start has counts %v, want none (not mapped)", g.Tasks[0].Counts)
	}
	if len(g.Tasks[1].Counts) != len(g.Runs) {
		t.Fatalf("each has counts %v, want one per run (mapped)", g.Tasks[1].Counts)
	}
	want := map[string]struct {
		state string
		count int
	}{"r1": {"failed", 3}, "r2": {"", -1}, "r3": {"skipped", -1}}
	for i, run := range g.Runs {
		got := g.States[g.Cells[i][1]]
		if w := want[run.RunID]; got != w.state || g.Tasks[1].Counts[i] != w.count {
			t.Errorf("each in %s: %q with count %d, want %q with %d", run.RunID, got, g.Tasks[1].Counts[i], w.state, w.count)
		}
	}
}

// tiAnswer is /ui/api/ti's answer as far as mapping goes.
type tiAnswer struct {
	State     string `json:"state"`
	TryNumber int    `json:"try_number"`
	MapIndex  int    `json:"map_index"`
	Mapped    bool   `json:"mapped"`
	Instances []struct {
		MapIndex  int      `json:"map_index"`
		State     string   `json:"state"`
		TryNumber int      `json:"try_number"`
		Duration  *float64 `json:"duration"`
	} `json:"instances"`
	Tries []struct{ Try int } `json:"tries"`
}

// TestTaskInstanceMapped: the task page's data of a mapped task without
// ?map_index= lists its instances in map index order, its state their
// most severe; with it, that instance alone; before it expands, its
// placeholder marked mapped; an instance it does not have is 404.
func TestTaskInstanceMapped(t *testing.T) {
	s := mappedSite(t)
	get := func(path string, wantStatus int) tiAnswer {
		t.Helper()
		status, body, _ := s.get(path)
		if status != wantStatus {
			t.Fatalf("GET %s: %d %s, want %d", path, status, body, wantStatus)
		}
		var a tiAnswer
		if err := json.Unmarshal([]byte(body), &a); err != nil {
			t.Fatal(err)
		}
		return a
	}
	list := get("/ui/api/ti?dag_id=mapped&run_id=r1&task_id=each", http.StatusOK)
	if !list.Mapped || list.MapIndex != -1 || list.State != "failed" || len(list.Instances) != 3 {
		t.Fatalf("mapped task's list: %+v, want mapped, map index -1, failed, 3 instances", list)
	}
	for i, in := range list.Instances {
		want := []string{"success", "failed", "running"}[i]
		if in.MapIndex != i || in.State != want || in.TryNumber != 1 {
			t.Errorf("instance %d: %+v, want map index %d %s try 1", i, in, i, want)
		}
	}
	if list.Instances[0].Duration == nil || list.Instances[2].Duration != nil {
		t.Errorf("durations %v %v, want the finished instance's only", list.Instances[0].Duration, list.Instances[2].Duration)
	}
	one := get("/ui/api/ti?dag_id=mapped&run_id=r1&task_id=each&map_index=1", http.StatusOK)
	if !one.Mapped || one.MapIndex != 1 || one.State != "failed" || one.Instances != nil || len(one.Tries) != 1 {
		t.Errorf("instance 1: %+v, want mapped, map index 1, failed, its one try, no list", one)
	}
	placeholder := get("/ui/api/ti?dag_id=mapped&run_id=r2&task_id=each", http.StatusOK)
	if !placeholder.Mapped || placeholder.MapIndex != -1 || placeholder.State != "" || placeholder.Instances != nil {
		t.Errorf("placeholder: %+v, want mapped, map index -1, no state, no list", placeholder)
	}
	empty := get("/ui/api/ti?dag_id=mapped&run_id=r3&task_id=each", http.StatusOK)
	if !empty.Mapped || empty.State != "skipped" || empty.Instances != nil {
		t.Errorf("mapped over nothing: %+v, want mapped, skipped, no list", empty)
	}
	get("/ui/api/ti?dag_id=mapped&run_id=r1&task_id=each&map_index=3", http.StatusNotFound)
	get("/ui/api/ti?dag_id=mapped&run_id=r1&task_id=each&map_index=x", http.StatusBadRequest)
	get("/ui/api/ti?dag_id=mapped&run_id=r1&task_id=nope", http.StatusNotFound)
}

// TestLogTailMapped: ?map_index= tails that instance's own log (its
// map_index=N folder), not another instance's.
func TestLogTailMapped(t *testing.T) {
	s := mappedSite(t)
	for i, text := range []string{"log of zero\n", "log of one\n"} {
		path := tasklog.MapPath(s.cfg.LogsDir(), "mapped", "r1", "each", i, 1)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, _, reason := collect(t, s.stream("/ui/api/log?dag_id=mapped&run_id=r1&task_id=each&try=1&map_index=1"))
	if got != "log of one\n" || reason != "the try is over" {
		t.Errorf("instance 1's log: %q (end %q), want its own", got, reason)
	}
}

// TestGanttMapped: the Gantt has a row per instance of a mapped task, in
// map index order after the task before it, each with its map index.
func TestGanttMapped(t *testing.T) {
	s := mappedSite(t)
	status, body, _ := s.get("/ui/api/gantt?dag_id=mapped&run_id=r1")
	if status != http.StatusOK {
		t.Fatalf("gantt: %d %s", status, body)
	}
	var g struct {
		Tasks []struct {
			TaskID   string `json:"task_id"`
			MapIndex int    `json:"map_index"`
		} `json:"tasks"`
	}
	if err := json.Unmarshal([]byte(body), &g); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range g.Tasks {
		got = append(got, fmt.Sprintf("%s[%d]", r.TaskID, r.MapIndex))
	}
	if want := "start[-1] each[0] each[1] each[2]"; strings.Join(got, " ") != want {
		t.Errorf("gantt rows %q, want %q", strings.Join(got, " "), want)
	}
}

// TestGridMappedExpand: ?expand= gives a mapped task the state of each
// of its instances per run, by map index (none where it has not
// expanded); a task not named gets none.
func TestGridMappedExpand(t *testing.T) {
	s := mappedSite(t)
	var g struct {
		Tasks []struct {
			ID        string  `json:"id"`
			Instances [][]int `json:"instances"`
		} `json:"tasks"`
		States []string `json:"states"`
	}
	_, body, _ := s.get("/ui/api/grid?dag_id=mapped")
	if err := json.Unmarshal([]byte(body), &g); err != nil || g.Tasks[1].Instances != nil {
		t.Fatalf("without expand each has instances %v (%v), want none", g.Tasks[1].Instances, err)
	}
	status, body, _ := s.get("/ui/api/grid?dag_id=mapped&expand=each&expand=start")
	if err := json.Unmarshal([]byte(body), &g); status != http.StatusOK || err != nil {
		t.Fatalf("grid: %d %s (%v)", status, body, err)
	}
	if g.Tasks[0].Instances != nil || len(g.Tasks[1].Instances) != 3 {
		t.Fatalf("instances of start %v and each %v, want none and one list per run", g.Tasks[0].Instances, g.Tasks[1].Instances)
	}
	var got []string
	for _, i := range g.Tasks[1].Instances[0] { // r1, the oldest
		got = append(got, g.States[i])
	}
	if strings.Join(got, ",") != "success,failed,running" || len(g.Tasks[1].Instances[1]) != 0 || len(g.Tasks[1].Instances[2]) != 0 {
		t.Errorf("each's instances %v (r1: %q), want success, failed, running in r1 and none in r2, r3", g.Tasks[1].Instances, got)
	}
}

// TestGridMappedRemoved: a mapped task's count and summary state in the
// grid, and its state on its task page, leave out its removed instances
// (what a clear over a shorter list dropped; they count in no trigger
// rule), so `each [1]` shows the one live instance, success.
func TestGridMappedRemoved(t *testing.T) {
	s := newSite(t, map[string]string{"mapped.yaml": mappedYAML})
	s.createRun("mapped", "r1", time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), map[string]store.TaskState{"start": store.StateSuccess}, "start", "each")
	k := store.TaskKey{DagID: "mapped", RunID: "r1", TaskID: "each"}
	if ok, err := s.st.ExpandTask(context.Background(), k, 0, 3, time.Now()); err != nil || !ok {
		t.Fatalf("expand each: %v %v", ok, err)
	}
	for i, st := range []store.TaskState{store.StateSuccess, store.StateRemoved, store.StateRemoved} {
		s.setState(k.WithMapIndex(i), st, nil)
	}
	status, body, _ := s.get("/ui/api/grid?dag_id=mapped")
	if status != http.StatusOK {
		t.Fatalf("grid: %d %s", status, body)
	}
	var g struct {
		Tasks []struct {
			Counts []int `json:"counts"`
		} `json:"tasks"`
		States []string `json:"states"`
		Cells  [][]int  `json:"cells"`
	}
	if err := json.Unmarshal([]byte(body), &g); err != nil {
		t.Fatal(err)
	}
	if len(g.Tasks) != 2 || len(g.Tasks[1].Counts) != 1 || g.Tasks[1].Counts[0] != 1 || g.States[g.Cells[0][1]] != "success" {
		t.Errorf("each: counts %+v, state %q; want [1] and success (removed instances left out)", g.Tasks, g.States[g.Cells[0][1]])
	}
	status, body, _ = s.get("/ui/api/ti?dag_id=mapped&run_id=r1&task_id=each")
	var ti tiAnswer
	if status != http.StatusOK || json.Unmarshal([]byte(body), &ti) != nil {
		t.Fatalf("ti: %d %s", status, body)
	}
	if ti.State != "success" || len(ti.Instances) != 3 {
		t.Errorf("task page: state %q with %d instances; want success, all 3 listed", ti.State, len(ti.Instances))
	}
}

// TestMappedShrunkToEmpty (trial11 #2): a clear over a list that became
// empty skips the task through its placeholder again (the old instance 0,
// its tries kept for a list that grows back) and removes the others: the
// grid shows it skipped without a count, as a task mapped over an empty
// list from the start, and its page shows no try of its own (it has no
// log), not instance 0's tries as unknown ones.
func TestMappedShrunkToEmpty(t *testing.T) {
	s := newSite(t, map[string]string{"mapped.yaml": mappedYAML})
	ctx := t.Context()
	s.createRun("mapped", "r1", time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), map[string]store.TaskState{"start": store.StateSuccess}, "start", "each")
	k := store.TaskKey{DagID: "mapped", RunID: "r1", TaskID: "each"}
	if ok, err := s.st.ExpandTask(ctx, k, 0, 3, time.Now()); err != nil || !ok {
		t.Fatalf("expand each: %v %v", ok, err)
	}
	for i := range 3 {
		s.setState(k.WithMapIndex(i), store.StateSuccess, nil)
	}
	if _, err := s.st.ClearTasks(ctx, "mapped", "r1", map[string]int{"each": 0}, time.Now()); err != nil {
		t.Fatal(err)
	}
	ph, err := s.st.GetTaskInstance(ctx, k)
	if err != nil || ph.TryNumber != 1 {
		t.Fatalf("placeholder after the clear: %+v, %v; want instance 0 become it, with its try", ph, err)
	}
	if ok, err := s.st.ExpandTask(ctx, k, ph.Version, 0, time.Now()); err != nil || !ok {
		t.Fatalf("expand each over nothing: %v %v", ok, err)
	}
	status, body, _ := s.get("/ui/api/grid?dag_id=mapped")
	var g struct {
		Tasks []struct {
			ID     string `json:"id"`
			Counts []int  `json:"counts"`
		} `json:"tasks"`
		States []string `json:"states"`
		Cells  [][]int  `json:"cells"`
	}
	if status != http.StatusOK || json.Unmarshal([]byte(body), &g) != nil {
		t.Fatalf("grid: %d %s", status, body)
	}
	if g.Tasks[1].ID != "each" || g.Tasks[1].Counts[0] != -1 || g.States[g.Cells[0][1]] != "skipped" {
		t.Errorf("each's cell: count %v, state %q; want no count, skipped", g.Tasks[1].Counts, g.States[g.Cells[0][1]])
	}
	status, body, _ = s.get("/ui/api/ti?dag_id=mapped&run_id=r1&task_id=each")
	var ti tiAnswer
	if status != http.StatusOK || json.Unmarshal([]byte(body), &ti) != nil {
		t.Fatalf("ti: %d %s", status, body)
	}
	if ti.State != "skipped" || ti.TryNumber != 0 || len(ti.Tries) != 0 || !ti.Mapped || ti.Instances != nil {
		t.Errorf("each's page: %+v; want mapped, skipped, no try", ti)
	}
}

package engine

import (
	"context"
	"encoding/json"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/config"
	"github.com/sirocco-dev/sirocco/internal/store"
	"github.com/sirocco-dev/sirocco/internal/store/sqlstore"
	"github.com/sirocco-dev/sirocco/internal/tasklog"
	"github.com/sirocco-dev/sirocco/internal/testenv"
)

const mappingDAG = `
dag_id: mapping
tasks:
  - id: list
    operator: bash
    command: echo '["LOCKED echo a", "LOCKED echo b", "LOCKED echo c"]'
  - id: per_item
    operator: bash
    expand:
      command: {xcom: list}
    max_active_tis_per_dag: 1
    outlets: [file:///data/per_item]
    on_success_callback: {command: 'echo "done {{ ti.task_id }}" >> "$SIROCCO_HOME/notes"'}
  - id: collect
    operator: bash
    depends_on: [per_item]
    command: echo "{{ ti.xcom_pull(task_ids='per_item') }}"
  - id: literal
    operator: bash
    expand:
      command: ["echo p{{ map_index }}", "echo q{{ ti.map_index }}"]
      cwd: [/tmp]
  - id: flaky
    operator: bash
    retries: 1
    retry_delay: 0s
    expand:
      command: ["true", "test -f {{ run_id }}.flaky || { touch {{ run_id }}.flaky; exit 1; }"]
  - id: none
    operator: bash
    command: echo '[]'
  - id: over_nothing
    operator: bash
    expand:
      command: {xcom: none}
  - id: after_nothing
    operator: empty
    depends_on: [over_nothing]
  - id: too_many
    operator: bash
    expand:
      command: ["true", "true", "true", "true", "true"]
`

// instances returns a run's task instances by "task" or "task[i]".
func (h *harness) instances(dagID, runID string) map[string]store.TaskInstance {
	h.t.Helper()
	list, err := h.st.ListTaskInstances(context.Background(), dagID, runID)
	if err != nil {
		h.t.Fatal(err)
	}
	out := map[string]store.TaskInstance{}
	for _, ti := range list {
		name := ti.TaskID
		if ti.Mapped() {
			name += "[" + strconv.Itoa(ti.MapIndex()) + "]"
		}
		out[name] = ti
	}
	return out
}

// mapLog returns the log of one try of a mapped instance.
func (h *harness) mapLog(dagID, runID, taskID string, mapIndex, try int) string {
	h.t.Helper()
	data, err := os.ReadFile(tasklog.MapPath(h.cfg.LogsDir(), dagID, runID, taskID, mapIndex, try))
	if err != nil {
		h.t.Fatal(err)
	}
	return string(data)
}

// TestMappedTasksRunOnBothStores runs a DAG of mapped tasks end to end:
// an XCom list expands into one instance per element, each with its own
// value, log and XCom; a downstream xcom_pull gets the list in map index
// order; literal lists and map_index in templates; an instance retries on
// its own; an empty list skips the task and what follows it; a list over
// max_map_length fails the task; max_active_tis_per_dag 1 runs the
// instances one at a time.
func TestMappedTasksRunOnBothStores(t *testing.T) {
	databases(t, func(t *testing.T, dbURL func() string) {
		// Each per_item instance holds a lock folder while it runs: two at
		// once (max_active_tis_per_dag broken) fail the second.
		lock := t.TempDir() + "/lock"
		src := strings.ReplaceAll(mappingDAG, "LOCKED ", "mkdir "+lock+" && sleep 0.3 && rmdir "+lock+" && ")
		h := startOn(t, dbURL(), map[string]string{"mapping": src}, func(c *config.Config) { c.MaxMapLength = 4 })
		runID := h.trigger("mapping", nil)
		if run := h.waitRun("mapping", runID); run.State != store.RunFailed {
			t.Fatalf("run %s, want failed (too_many)", run.State)
		}
		got := h.instances("mapping", runID)
		const S, K, F = store.StateSuccess, store.StateSkipped, store.StateFailed
		for name, want := range map[string]store.TaskState{
			"list": S, "per_item[0]": S, "per_item[1]": S, "per_item[2]": S, "collect": S,
			"literal[0]": S, "literal[1]": S, "flaky[0]": S, "flaky[1]": S,
			"none": S, "over_nothing": K, "after_nothing": K, "too_many": F,
		} {
			if got[name].State != want {
				t.Errorf("%s is %q, want %q", name, got[name].State, want)
			}
		}
		if len(got) != 13 {
			t.Errorf("%d instances, want 13: %v", len(got), keys(got))
		}
		if got["flaky[1]"].TryNumber != 2 || got["flaky[0]"].TryNumber != 1 {
			t.Errorf("flaky tries = %d, %d; want 1, 2 (the failing instance retries alone)",
				got["flaky[0]"].TryNumber, got["flaky[1]"].TryNumber)
		}
		for i, want := range []string{`"a"`, `"b"`, `"c"`} {
			x, err := h.st.GetXCom(context.Background(), store.TaskKey{DagID: "mapping", RunID: runID, TaskID: "per_item", Map: i + 1}, "return_value")
			if err != nil || x.Value != want {
				t.Errorf("per_item[%d] return_value = %q, %v; want %s", i, x.Value, err, want)
			}
		}
		h.wantXCom("mapping", runID, "collect", `"['a', 'b', 'c']"`)
		evs := h.assetEvents("file:///data/per_item")
		seen := map[int]bool{}
		for _, e := range evs {
			seen[e.SourceMap-1] = true
		}
		if len(evs) != 3 || !seen[0] || !seen[1] || !seen[2] {
			t.Errorf("asset events of per_item: %+v; want one per instance", evs)
		}
		testenv.Eventually(t, "a success callback per instance", 20*time.Second, func() (bool, string) {
			b, _ := os.ReadFile(h.cfg.Home + "/notes")
			return strings.Count(string(b), "done per_item\n") == 3, string(b)
		})
		if log := h.mapLog("mapping", runID, "literal", 1, 1); !strings.Contains(log, "q1") {
			t.Errorf("literal[1]'s log lacks q1 (ti.map_index):\n%s", log)
		}
		if log := h.mapLog("mapping", runID, "literal", 0, 1); !strings.Contains(log, "p0") {
			t.Errorf("literal[0]'s log lacks p0 (map_index):\n%s", log)
		}
	})
}

func keys(m map[string]store.TaskInstance) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestMappedTaskSurvivesARestart: Sirocco stops while a mapped task is
// half done (some instances succeeded, some running, some waiting); the
// next start finishes it: every instance succeeds, none is lost, and
// none that had finished runs again.
func TestMappedTaskSurvivesARestart(t *testing.T) {
	databases(t, func(t *testing.T, dbURL func() string) {
		url, files := dbURL(), t.TempDir()
		marks := files + "/marks"
		var cmds []string
		for i := range 6 {
			n := strconv.Itoa(i)
			cmds = append(cmds, "echo start "+n+" >> "+marks+"; sleep 1; echo end "+n+" >> "+marks+"; echo "+n)
		}
		list, err := json.Marshal(cmds)
		if err != nil {
			t.Fatal(err)
		}
		dags := map[string]string{"restart": `
dag_id: restart
tasks:
  - id: first
    operator: bash
    command: |
      echo '` + string(list) + `'
  - id: each
    operator: bash
    max_active_tis_per_dag: 2
    expand:
      command: {xcom: first}
  - id: after
    operator: bash
    depends_on: [each]
    command: echo "{{ ti.xcom_pull(task_ids='each') | length }}"
`}
		h := startOn(t, url, dags)
		runID := h.trigger("restart", nil)
		testenv.Eventually(t, "two instances done and more running", 30*time.Second, func() (bool, string) {
			done, running := 0, 0
			for _, ti := range h.instances("restart", runID) {
				switch {
				case ti.TaskID == "each" && ti.State == store.StateSuccess:
					done++
				case ti.TaskID == "each" && ti.State == store.StateRunning:
					running++
				}
			}
			return done >= 2 && running >= 1, h.states("restart", runID)
		})
		h.stop()
		before := map[string]store.TaskInstance{}
		for k, v := range h.instances2(url, runID) {
			before[k] = v
		}
		second := startOn(t, url, dags)
		if run := second.waitRun("restart", runID); run.State != store.RunSuccess {
			t.Fatalf("run %s after the restart: %s", run.State, second.states("restart", runID))
		}
		got := second.instances("restart", runID)
		for i := range 6 {
			name := "each[" + strconv.Itoa(i) + "]"
			if got[name].State != store.StateSuccess {
				t.Errorf("%s is %q after the restart", name, got[name].State)
			}
			if b := before[name]; b.State == store.StateSuccess && got[name].TryNumber != b.TryNumber {
				t.Errorf("%s had succeeded at try %d before the restart and ran again (try %d)", name, b.TryNumber, got[name].TryNumber)
			}
		}
		if len(got) != 8 {
			t.Errorf("%d instances, want 8 (first, each[0..5], after)", len(got))
		}
		data, err := os.ReadFile(marks)
		if err != nil {
			t.Fatal(err)
		}
		for i := range 6 {
			if n := strings.Count(string(data), "end "+strconv.Itoa(i)+"\n"); n != 1 {
				t.Errorf("instance %d ended %d times, want once:\n%s", i, n, data)
			}
		}
		second.wantXCom("restart", runID, "after", `"6"`)
	})
}

// instances2 reads a run's instances with no engine running.
func (h *harness) instances2(url, runID string) map[string]store.TaskInstance {
	h.t.Helper()
	st, err := sqlstore.Open(context.Background(), url)
	if err != nil {
		h.t.Fatal(err)
	}
	defer st.Close()
	old := h.st
	h.st = st
	defer func() { h.st = old }()
	return h.instances("restart", runID)
}

// TestMappingExample runs the shipped examples/dags/mapping.yaml.
func TestMappingExample(t *testing.T) {
	body, err := os.ReadFile("../../examples/dags/mapping.yaml")
	if err != nil {
		t.Fatal(err)
	}
	h := start(t, map[string]string{"mapping": string(body)})
	runID := h.trigger("mapping", nil)
	if run := h.waitRun("mapping", runID); run.State != store.RunSuccess {
		t.Errorf("run %s (%s)", run.State, h.states("mapping", runID))
	}
	got := h.instances("mapping", runID)
	for name, want := range map[string]store.TaskState{
		"count_rows[0]": store.StateSuccess, "count_rows[1]": store.StateSuccess, "count_rows[2]": store.StateSuccess,
		"report[0]": store.StateSuccess, "report[1]": store.StateSuccess, "total": store.StateSuccess,
		"per_nothing": store.StateSkipped,
	} {
		if got[name].State != want {
			t.Errorf("%s is %q, want %q", name, got[name].State, want)
		}
	}
	h.wantXCom("mapping", runID, "total", `"172"`)
	if log := h.mapLog("mapping", runID, "report", 1, 1); !strings.Contains(log, "report 1 for us") {
		t.Errorf("report[1]'s log:\n%s", log)
	}
	// tasks render --map-index: an instance renders its own element.
	d := h.eng.Bag.DAGs()["mapping"]
	run, err := h.st.GetRun(context.Background(), "mapping", runID)
	if err != nil {
		t.Fatal(err)
	}
	k := store.TaskKey{DagID: "mapping", RunID: runID, TaskID: "report"}.WithMapIndex(0)
	js, err := h.eng.Runner.Render(context.Background(), d, d.Task("report"), run, k, 2)
	if err != nil || !strings.Contains(string(js), "report 0 for eu") {
		t.Errorf("Render of report[0] = %s, %v", js, err)
	}
}

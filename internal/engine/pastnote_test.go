package engine

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/actions"
	"github.com/sirocco-dev/sirocco/internal/scheduler"
	"github.com/sirocco-dev/sirocco/internal/store"
	"github.com/sirocco-dev/sirocco/internal/testenv"
)

// pastUpstreamDAG's gate fails once a flag file exists, so the test
// decides when a run's past-dependent task becomes upstream_failed.
const pastUpstreamDAG = `
dag_id: pastup
params: {flag: {type: string, default: ""}}
tasks:
  - {id: gate, operator: bash, command: 'until [ -e "{{ params.flag }}" ]; do sleep 0.05; done; exit 1'}
  - {id: work, operator: empty, depends_on: [gate], depends_on_past: true}
`

// waitNote waits until a task's note in the store is want.
func (h *harness) waitNote(dagID, runID, taskID, want string) {
	h.t.Helper()
	testenv.Eventually(h.t, taskID+"'s note to be "+want, 30*time.Second, func() (bool, string) {
		ti := h.tis(dagID, runID)[taskID]
		return ti.Note == want, "note " + ti.Note + "; " + h.states(dagID, runID)
	})
}

// mark marks a task as `tasks mark` does and wakes the scheduler.
func (h *harness) mark(dagID, runID, taskID string, to store.TaskState) {
	h.t.Helper()
	key := store.TaskKey{DagID: dagID, RunID: runID, TaskID: taskID}
	if _, err := actions.Mark(context.Background(), h.st, key, to, time.Now().UTC()); err != nil {
		h.t.Fatal(err)
	}
	h.eng.Loop.Kick()
}

// TestPastWaitIsTheTasksNote: a depends_on_past (wait_for_downstream)
// task whose previous instance (downstream task) failed says so in its
// note; once that one is marked success the task runs and its note is
// empty.
func TestPastWaitIsTheTasksNote(t *testing.T) {
	databases(t, func(t *testing.T, dbURL func() string) {
		h := startOn(t, dbURL(), map[string]string{"past": pastDAGs, "wfd": waitDownstreamDAG})
		conf := map[string]any{"flag": filepath.Join(h.dir, "never")}
		t1 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
		run1 := scheduler.RunID(store.RunManual, t1)
		run2 := map[string]string{}
		for _, dagID := range []string{"past", "wfd"} {
			if r := h.waitRun(dagID, h.triggerAt(dagID, conf, t1)); r.State != store.RunFailed {
				t.Fatalf("%s: run 1 %s, want failed", dagID, r.State)
			}
			run2[dagID] = h.triggerAt(dagID, map[string]any{"flag": "/"}, t1.Add(24*time.Hour)) // succeeds once it runs
		}
		h.waitNote("past", run2["past"], "work",
			"depends_on_past: work in the previous run "+run1+" is failed, not success or skipped")
		h.waitNote("wfd", run2["wfd"], "first",
			"wait_for_downstream: second in the previous run "+run1+" is failed, not success or skipped")
		h.wantStates("past", run2["past"], map[string]store.TaskState{"work": sN})
		h.wantStates("wfd", run2["wfd"], map[string]store.TaskState{"first": sN})

		h.mark("past", run1, "work", sS)
		h.mark("wfd", run1, "second", sS)
		for dagID, task := range map[string]string{"past": "work", "wfd": "first"} {
			if r := h.waitRun(dagID, run2[dagID]); r.State != store.RunSuccess {
				t.Fatalf("%s: run 2 %s, want success once run 1's task is marked success", dagID, r.State)
			}
			ti := h.tis(dagID, run2[dagID])[task]
			if ti.TryNumber != 1 || ti.Note != "" {
				t.Errorf("%s: %s ran %d tries with note %q, want one try and no note", dagID, task, ti.TryNumber, ti.Note)
			}
		}
	})
}

// TestPastNoteGoesWithUpstreamFailed: a task that waits for the previous
// run and then becomes upstream_failed does not keep the reason it waited.
func TestPastNoteGoesWithUpstreamFailed(t *testing.T) {
	databases(t, func(t *testing.T, dbURL func() string) {
		h := startOn(t, dbURL(), map[string]string{"pastup": pastUpstreamDAG})
		flag := filepath.Join(h.dir, "flag")
		t1 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
		run1 := h.triggerAt("pastup", map[string]any{"flag": "/"}, t1)
		if r := h.waitRun("pastup", run1); r.State != store.RunFailed {
			t.Fatalf("run 1 %s, want failed", r.State)
		}
		run2 := h.triggerAt("pastup", map[string]any{"flag": flag}, t1.Add(24*time.Hour))
		h.waitNote("pastup", run2, "work",
			"depends_on_past: work in the previous run "+run1+" is upstream_failed, not success or skipped")
		if err := os.WriteFile(flag, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		h.waitRun("pastup", run2)
		ti := h.tis("pastup", run2)["work"]
		if ti.State != store.StateUpstreamFailed || ti.Note != "" {
			t.Errorf("work %s with note %q, want upstream_failed and no note", ti.State, ti.Note)
		}
	})
}

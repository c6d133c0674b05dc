package engine

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/sirocco-dev/sirocco/internal/config"
	"github.com/sirocco-dev/sirocco/internal/store"
)

const mapFailDAG = `
dag_id: mapfail
tasks:
  - id: broken
    operator: bash
    command: exit 1
  - id: after_broken
    operator: bash
    trigger_rule: all_done
    depends_on: [broken]
    expand:
      command: {xcom: broken}
  - id: hello
    operator: bash
    command: echo hello
  - id: not_a_list
    operator: bash
    expand:
      command: {xcom: hello}
  - id: no_key
    operator: bash
    expand:
      command: {xcom: hello, key: nope}
  - id: too_many
    operator: bash
    expand:
      command: ["true", "true", "true", "true", "true"]
`

// TestMappedTaskThatCannotExpand: a mapped task whose list cannot be read
// ends without a try, and its note says why (no log does): failed for a
// list that is not one, a key its successful upstream did not push, or a
// list over max_map_length; upstream_failed, as Airflow's
// NotFullyPopulated, when its upstream failed without pushing the list
// and a trigger rule (all_done) let it through.
func TestMappedTaskThatCannotExpand(t *testing.T) {
	databases(t, func(t *testing.T, dbURL func() string) {
		h := startOn(t, dbURL(), map[string]string{"mapfail": mapFailDAG}, func(c *config.Config) { c.MaxMapLength = 4 })
		runID := h.trigger("mapfail", nil)
		if run := h.waitRun("mapfail", runID); run.State != store.RunFailed {
			t.Fatalf("run %s, want failed", run.State)
		}
		got := h.instances("mapfail", runID)
		for name, want := range map[string]struct {
			state store.TaskState
			note  string
		}{
			"after_broken": {store.StateUpstreamFailed, `task "broken" ended failed without pushing XCom "return_value"`},
			"not_a_list":   {store.StateFailed, `XCom "return_value" of task "hello": it is a string, not a list`},
			"no_key":       {store.StateFailed, `task "hello" pushed no XCom "nope" to expand over`},
			"too_many":     {store.StateFailed, `5 elements is more than max_map_length (4)`},
		} {
			ti := got[name]
			if ti.State != want.state || !strings.Contains(ti.Note, want.note) || ti.TryNumber != 0 {
				t.Errorf("%s: state %q, try %d, note %q; want %q, try 0, a note with %q", name, ti.State, ti.TryNumber, ti.Note, want.state, want.note)
			}
		}
		if n := got["hello"].Note; n != "" {
			t.Errorf("hello, which ran, has the note %q", n)
		}
	})
}

const mapFailCallbackDAG = `
dag_id: mapfailcb
tasks:
  - id: hello
    operator: bash
    command: echo hello
  - id: not_a_list
    operator: bash
    expand:
      command: {xcom: hello}
    on_failure_callback:
      command: echo "failure {{ ti.task_id }} {{ try_number }} {{ reason }}" >> "$SIROCCO_HOME/notes"
`

// TestMappedTaskThatCannotExpandCallsOnFailure: a mapped task that fails
// because it cannot expand calls its on_failure_callback once, with why
// in the reason (it had no try, so no try ended to call it before).
func TestMappedTaskThatCannotExpandCallsOnFailure(t *testing.T) {
	databases(t, func(t *testing.T, dbURL func() string) {
		home := t.TempDir()
		h := startNotify(t, dbURL(), home, map[string]string{"mapfailcb": mapFailCallbackDAG})
		runID := h.trigger("mapfailcb", nil)
		if run := h.waitRun("mapfailcb", runID); run.State != store.RunFailed {
			t.Fatalf("run %s, want failed", run.State)
		}
		h.waitNotes("mapfailcb", runID, 1)
		got := lines(t, filepath.Join(home, "notes"))
		if len(got) != 1 || !strings.HasPrefix(got[0], "failure not_a_list 0 task not_a_list failed without running a try: ") ||
			!strings.Contains(got[0], "not a list") {
			t.Errorf("notes: %q; want one failure of not_a_list saying why", got)
		}
	})
}

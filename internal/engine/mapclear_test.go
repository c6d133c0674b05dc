package engine

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/actions"
	"github.com/sirocco-dev/sirocco/internal/store"
)

// TestClearedMappedTaskFollowsItsNewList: the list a mapped task expanded
// over changes and the run is cleared from the task that makes it; the
// mapped task expands again over the new list, as Airflow revises map
// indexes: a shorter list leaves the extra instance removed (it failed
// with "the list changed" before), a longer one brings it back and adds
// one, and the downstream xcom_pull reads the new values.
func TestClearedMappedTaskFollowsItsNewList(t *testing.T) {
	databases(t, func(t *testing.T, dbURL func() string) {
		list := filepath.Join(t.TempDir(), "list.json")
		write := func(s string) {
			t.Helper()
			if err := os.WriteFile(list, []byte(s+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		write(`["echo a", "echo b", "echo c"]`)
		src := `
dag_id: remap
tasks:
  - {id: list, operator: bash, command: cat ` + list + `}
  - {id: m, operator: bash, expand: {command: {xcom: list}}}
  - id: total
    operator: bash
    depends_on: [m]
    command: echo "{{ ti.xcom_pull(task_ids='m') }}"
`
		h := startOn(t, dbURL(), map[string]string{"remap": src})
		runID := h.trigger("remap", nil)
		if run := h.waitRun("remap", runID); run.State != store.RunSuccess {
			t.Fatalf("run %s: %s", run.State, h.states("remap", runID))
		}
		h.wantXCom("remap", runID, "total", `"['a', 'b', 'c']"`)
		rerun := func(elements string, want map[string]store.TaskState, total string) {
			t.Helper()
			write(elements)
			d := h.eng.Bag.DAGs()["remap"]
			if _, err := actions.Clear(context.Background(), h.st, d, actions.ClearRequest{RunID: runID,
				TaskIDs: []string{"list"}, Downstream: true}, time.Now().UTC()); err != nil {
				t.Fatal(err)
			}
			h.eng.Loop.Kick()
			if run := h.waitRun("remap", runID); run.State != store.RunSuccess {
				t.Fatalf("run after the clear %s: %s", run.State, h.states("remap", runID))
			}
			got := h.instances("remap", runID)
			for name, st := range want {
				if got[name].State != st {
					t.Errorf("%s is %q, want %q", name, got[name].State, st)
				}
			}
			if len(got) != len(want) {
				t.Errorf("instances %s; want %d", strings.Join(keys(got), " "), len(want))
			}
			h.wantXCom("remap", runID, "total", total)
		}
		const S, X = store.StateSuccess, store.StateRemoved
		rerun(`["echo x", "echo y"]`, map[string]store.TaskState{"list": S, "m[0]": S, "m[1]": S, "m[2]": X, "total": S},
			`"['x', 'y']"`)
		rerun(`["echo p", "echo q", "echo r", "echo s"]`,
			map[string]store.TaskState{"list": S, "m[0]": S, "m[1]": S, "m[2]": S, "m[3]": S, "total": S},
			`"['p', 'q', 'r', 's']"`)
		if got := h.instances("remap", runID); got["m[2]"].TryNumber != 2 || got["m[3]"].TryNumber != 1 {
			t.Errorf("tries of m[2], m[3] = %d, %d; want 2 (back from removed), 1 (new)", got["m[2]"].TryNumber, got["m[3]"].TryNumber)
		}
	})
}

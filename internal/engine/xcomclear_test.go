package engine

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/actions"
	"github.com/sirocco-dev/sirocco/internal/store"
)

// TestHandMarkedBranchAfterAClearSkipsNothing: a branch chose path_a, was
// cleared with its downstream tasks, failed on its new try and was then
// marked success by hand. The clear removed the first try's result, so the
// hand-marked branch has none and skips nothing, as in Airflow: once the
// paths are cleared, both run.
func TestHandMarkedBranchAfterAClearSkipsNothing(t *testing.T) {
	databases(t, func(t *testing.T, dbURL func() string) {
		h := startOn(t, dbURL(), map[string]string{"marked": `
dag_id: marked
params: {choice: {type: string, default: ""}}
default_args: {retries: 0}
tasks:
  - {id: choose, operator: branch, command: 'cat "{{ params.choice }}"'}
  - {id: path_a, operator: bash, depends_on: [choose], command: echo a}
  - {id: path_b, operator: bash, depends_on: [choose], command: echo b}
  - {id: join, operator: empty, depends_on: [path_a, path_b], trigger_rule: none_failed_min_one_success}
`})
		ctx := context.Background()
		d := h.eng.Bag.DAGs()["marked"]
		const (
			S = store.StateSuccess
			K = store.StateSkipped
			F = store.StateFailed
		)
		choice := filepath.Join(h.dir, "choice")
		if err := os.WriteFile(choice, []byte("path_a\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		runID := h.trigger("marked", map[string]any{"choice": choice})
		if run := h.waitRun("marked", runID); run.State != store.RunSuccess {
			t.Fatalf("first run %s (%s)", run.State, h.states("marked", runID))
		}
		h.wantStates("marked", runID, map[string]store.TaskState{"choose": S, "path_a": S, "path_b": K, "join": S})
		h.wantXCom("marked", runID, "choose", `"path_a"`)

		// The choice file is gone: the branch's next try fails.
		if err := os.Remove(choice); err != nil {
			t.Fatal(err)
		}
		clear := func(ids []string, downstream bool, want int) {
			t.Helper()
			res, err := actions.Clear(ctx, h.st, d, actions.ClearRequest{RunID: runID, TaskIDs: ids, Downstream: downstream}, time.Now().UTC())
			if err != nil || res.Cleared != want {
				t.Fatalf("clear %v: %+v, %v; want %d cleared", ids, res, err, want)
			}
			h.eng.Loop.Kick()
		}
		clear([]string{"choose"}, true, 4)
		k := store.TaskKey{DagID: "marked", RunID: runID, TaskID: "choose"}
		if _, err := h.st.GetXCom(ctx, k, "return_value"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("after the clear, choose's return_value: %v; want none", err)
		}
		if run := h.waitRun("marked", runID); run.State != store.RunFailed {
			t.Fatalf("run %s after the clear, want failed (%s)", run.State, h.states("marked", runID))
		}
		h.wantStates("marked", runID, map[string]store.TaskState{"choose": F})

		if _, err := actions.Mark(ctx, h.st, k, S, time.Now().UTC()); err != nil {
			t.Fatal(err)
		}
		clear([]string{"path_a", "path_b", "join"}, false, 3)
		if run := h.waitRun("marked", runID); run.State != store.RunSuccess {
			t.Fatalf("run %s after the mark (%s)", run.State, h.states("marked", runID))
		}
		h.wantStates("marked", runID, map[string]store.TaskState{"choose": S, "path_a": S, "path_b": S, "join": S})
		if tis := h.tis("marked", runID); tis["choose"].TryNumber != 2 {
			t.Errorf("choose ran %d tries, want 2", tis["choose"].TryNumber)
		}
	})
}

package actions_test

import (
	"errors"
	"testing"

	"github.com/sirocco-dev/sirocco/internal/actions"
	"github.com/sirocco-dev/sirocco/internal/store"
)

// TestClearDeletesXComs: a clear deletes the XComs of what it puts back to
// none and of a running try it moves to restarting (which may have pushed
// just before), so no later xcom_pull or hand-marked branch reads them;
// a task it does not select keeps its XComs. Clearing a restarting task
// again leaves it restarting: its try is still being stopped.
func TestClearDeletesXComs(t *testing.T) {
	st, d := setup(t, chainYAML)
	ctx := t.Context()
	run, err := actions.CreateRun(ctx, st, d, actions.RunRequest{RunID: "r"}, now)
	if err != nil {
		t.Fatal(err)
	}
	setStates(t, st, d, run.RunID, map[string]store.TaskState{"a": store.StateSuccess, "b": store.StateSuccess,
		"c": store.StateFailed, "side": store.StateRunning})
	key := func(id string) store.TaskKey { return store.TaskKey{DagID: d.ID, RunID: run.RunID, TaskID: id} }
	for _, id := range []string{"a", "b", "c", "side"} {
		if err := st.SetXCom(ctx, store.XCom{TaskKey: key(id), Key: "return_value", Value: `"` + id + `"`}); err != nil {
			t.Fatal(err)
		}
	}
	res, err := actions.Clear(ctx, st, d, actions.ClearRequest{RunID: run.RunID, TaskIDs: []string{"b", "side"}, Downstream: true}, now)
	if err != nil || res.Cleared != 2 || res.Restarting != 1 {
		t.Fatalf("clear = %+v, %v; want b and c cleared, side restarting", res, err)
	}
	for id, kept := range map[string]bool{"a": true, "b": false, "c": false, "side": false} {
		_, err := st.GetXCom(ctx, key(id), "return_value")
		switch {
		case kept && err != nil:
			t.Errorf("%s was not cleared but lost its XCom: %v", id, err)
		case !kept && !errors.Is(err, store.ErrNotFound):
			t.Errorf("%s was cleared but its XCom is still there (%v)", id, err)
		}
	}

	res, err = actions.Clear(ctx, st, d, actions.ClearRequest{RunID: run.RunID, TaskIDs: []string{"side"}}, now)
	if err != nil || res.Cleared != 0 || res.Restarting != 0 {
		t.Fatalf("second clear of the restarting task = %+v, %v", res, err)
	}
	if got := states(t, st, d, run.RunID); got["side"] != store.StateRestarting {
		t.Errorf("a restarting task cleared again is %q; its executor hands it back once stopped", stateName(got["side"]))
	}
}

func stateName(s store.TaskState) string {
	if s == store.StateNone {
		return "none"
	}
	return string(s)
}

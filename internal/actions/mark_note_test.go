package actions_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/sirocco-dev/sirocco/internal/actions"
	"github.com/sirocco-dev/sirocco/internal/dag"
	"github.com/sirocco-dev/sirocco/internal/store"
)

// TestMarkDropsTheNote: a mapped task that failed without a try keeps
// why in its note; marked by hand, the note (the reason for the old state)
// goes.
func TestMarkDropsTheNote(t *testing.T) {
	st, d := setup(t, mappedYAML)
	ctx := t.Context()
	if _, err := actions.CreateRun(ctx, st, d, actions.RunRequest{RunID: "r"}, now); err != nil {
		t.Fatal(err)
	}
	key := store.TaskKey{DagID: d.ID, RunID: "r", TaskID: "m"}
	why := "cannot expand: 5 elements is more than max_map_length (4)"
	if ok, err := st.UpdateTask(ctx, store.TaskUpdate{Key: key, To: store.StateFailed, Note: &why}); err != nil || !ok {
		t.Fatalf("fail m: %v, %v", ok, err)
	}
	if _, err := actions.Mark(ctx, st, key, store.StateSuccess, now); err != nil {
		t.Fatal(err)
	}
	if ti, err := st.GetTaskInstance(ctx, key); err != nil || ti.State != store.StateSuccess || ti.Note != "" {
		t.Errorf("marked m = %q with note %q, %v; want success without a note", ti.State, ti.Note, err)
	}
}

// TestMarkRefusesRemoved: a removed instance of a mapped task (beyond its
// list after a clear over a shorter one) cannot be marked back to life;
// a clear never revives it either (trial11 #3).
func TestMarkRefusesRemoved(t *testing.T) {
	st, _ := expandedM(t, store.StateNone, store.StateRemoved)
	ctx := t.Context()
	one := store.TaskKey{DagID: "mapped", RunID: "r", TaskID: "m"}.WithMapIndex(1)
	_, err := actions.Mark(ctx, st, one, store.StateFailed, now)
	if !errors.Is(err, actions.ErrRefused) || !strings.Contains(err.Error(), "m [1] is removed") {
		t.Errorf("mark removed m[1]: %v; want it refused", err)
	}
	if ti, err := st.GetTaskInstance(ctx, one); err != nil || ti.State != store.StateRemoved {
		t.Errorf("m[1] after the refused mark = %q, %v; want removed", ti.State, err)
	}
}

// TestMarkNamesTheMissingInstance: marking an instance beyond a mapped
// task's list says which instance was not found (trial11b: it named the
// task only, as if the task were missing).
func TestMarkNamesTheMissingInstance(t *testing.T) {
	st, _ := expandedM(t, store.StateNone, store.StateNone)
	nine := store.TaskKey{DagID: "mapped", RunID: "r", TaskID: "m"}.WithMapIndex(9)
	_, err := actions.Mark(t.Context(), st, nine, store.StateSuccess, now)
	if !errors.Is(err, store.ErrNotFound) || !strings.Contains(err.Error(), "mapped/r/m [9]") {
		t.Errorf("mark m[9] of two instances: %v; want not found naming m [9]", err)
	}
}

// TestMarkARemovedPlainTask (rev11b): a task removed from its DAG since
// the run was created is removed at map index -1; unlike an instance
// beyond a mapped task's list, a clear revives it, and so may a mark.
// It was refused with a mapped instance's message ("total [-1] ... beyond
// its task's list").
func TestMarkARemovedPlainTask(t *testing.T) {
	st, d := setup(t, mappedYAML)
	ctx := t.Context()
	if _, err := actions.CreateRun(ctx, st, d, actions.RunRequest{RunID: "r"}, now); err != nil {
		t.Fatal(err)
	}
	key := store.TaskKey{DagID: d.ID, RunID: "r", TaskID: "total"}
	if ok, err := st.UpdateTask(ctx, store.TaskUpdate{Key: key, To: store.StateRemoved}); err != nil || !ok {
		t.Fatalf("remove total: %v, %v", ok, err)
	}
	if was, err := actions.Mark(ctx, st, key, store.StateSuccess, now); err != nil || was != store.StateRemoved {
		t.Fatalf("mark removed total: %v (was %q); want it marked", err, was)
	}
	if ti, err := st.GetTaskInstance(ctx, key); err != nil || ti.State != store.StateSuccess {
		t.Errorf("total after the mark = %q, %v; want success", ti.State, err)
	}
}

// TestClearRefusesARemovedInstance (trial11b #3): a clear that names the
// map index of a removed instance (beyond its task's list) is refused as
// its mark is, rather than answering "cleared 0" as if it had been
// cleared; its live neighbour still clears.
func TestClearRefusesARemovedInstance(t *testing.T) {
	st, d := expandedM(t, store.StateFailed, store.StateRemoved)
	ctx := t.Context()
	key := store.TaskKey{DagID: d.ID, RunID: "r", TaskID: "m"}
	one := 1
	for _, req := range []actions.ClearRequest{
		{RunID: "r", TaskIDs: []string{"m"}, MapIndex: &one},
		{RunID: "r", TaskIDs: []string{"m"}, MapIndexes: map[string][]int{"m": {0, 1}}},
	} {
		res, err := actions.Clear(ctx, st, d, req, now)
		if !errors.Is(err, actions.ErrRefused) || !strings.Contains(err.Error(), "m [1] is removed") {
			t.Errorf("clear %+v = %+v, %v; want it refused: m [1] is removed", req, res, err)
		}
	}
	if ti, err := st.GetTaskInstance(ctx, key.WithMapIndex(0)); err != nil || ti.State != store.StateFailed {
		t.Errorf("m[0] after the refused clears = %q, %v; want failed, untouched", ti.State, err)
	}
	zero := 0
	if res, err := actions.Clear(ctx, st, d, actions.ClearRequest{RunID: "r", TaskIDs: []string{"m"}, MapIndex: &zero}, now); err != nil || res.Cleared != 1 {
		t.Errorf("clear m[0] = %+v, %v; want 1 cleared", res, err)
	}
}

// expandedM is a run r of mappedYAML whose m is expanded into one
// instance per state, each then set to its state.
func expandedM(t *testing.T, states ...store.TaskState) (store.Store, *dag.DAG) {
	t.Helper()
	st, d := setup(t, mappedYAML)
	ctx := t.Context()
	if _, err := actions.CreateRun(ctx, st, d, actions.RunRequest{RunID: "r"}, now); err != nil {
		t.Fatal(err)
	}
	key := store.TaskKey{DagID: d.ID, RunID: "r", TaskID: "m"}
	ph, err := st.GetTaskInstance(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := st.ExpandTask(ctx, key, ph.Version, len(states), now); err != nil || !ok {
		t.Fatalf("expand m: %v, %v", ok, err)
	}
	for i, to := range states {
		if to == store.StateNone {
			continue
		}
		if ok, err := st.UpdateTask(ctx, store.TaskUpdate{Key: key.WithMapIndex(i), To: to}); err != nil || !ok {
			t.Fatalf("set m[%d] %s: %v, %v", i, to, ok, err)
		}
	}
	return st, d
}

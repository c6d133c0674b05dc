package actions_test

import (
	"testing"

	"github.com/sirocco-dev/sirocco/internal/actions"
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

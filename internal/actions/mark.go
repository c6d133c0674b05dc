package actions

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/sirocco-dev/sirocco/internal/store"
)

// CheckMarkState reports whether a task instance may be set to state by
// hand: only success, failed and skipped, as Airflow allows.
func CheckMarkState(state string) error {
	switch store.TaskState(state) {
	case store.StateSuccess, store.StateFailed, store.StateSkipped:
		return nil
	}
	return invalidf("new_state", "state must be success, failed or skipped, not %q", state)
}

// CheckMarkable refuses to mark a removed instance of a mapped task: it
// is beyond its task's list, so no run or trigger rule counts it, and a
// mark would bring back an instance that a clear never revives (clearing
// the upstream task over a longer list does). A task removed from its
// DAG (map index -1) is another case: a clear revives it, so may a mark.
func CheckMarkable(ti store.TaskInstance) error {
	if ti.State != store.StateRemoved || !ti.Mapped() {
		return nil
	}
	return kindf(ErrRefused, "task %s [%d] is removed: it is beyond its task's list; clear the upstream task "+
		"(with its downstream tasks) to expand over a longer list and bring it back", ti.TaskID, ti.MapIndex())
}

// Mark sets a task instance's state by hand (`tasks mark`, PATCH
// taskInstances) and returns its state before. Marking a running instance
// failed stops its try for good (the executor sees the state change). A
// finished run whose task changed goes back to running, so the scheduler
// looks at what follows the task.
func Mark(ctx context.Context, st store.Store, key store.TaskKey, to store.TaskState, now time.Time) (store.TaskState, error) {
	if err := CheckMarkState(string(to)); err != nil {
		return "", err
	}
	cur, err := st.GetTaskInstance(ctx, key)
	if errors.Is(err, store.ErrNotFound) {
		return "", fmt.Errorf("task instance %s: %w", instanceName(key), store.ErrNotFound) // the store's text names it again
	}
	if err != nil {
		return "", fmt.Errorf("task instance %s: %w", instanceName(key), err)
	}
	if err := CheckMarkable(cur); err != nil {
		return cur.State, err
	}
	// The task and its finished run (reopened to be judged again) change
	// together. A mark drops the note Sirocco wrote on the state it had.
	none := ""
	ok, err := st.MarkTask(ctx, store.TaskUpdate{Key: key, From: []store.TaskState{cur.State}, To: to, EndDate: &now, Note: &none})
	if err != nil {
		return cur.State, err
	}
	if !ok {
		return cur.State, kindf(ErrConflict, "task %s changed state while marking it; try again", key.TaskID)
	}
	return cur.State, nil
}

// instanceName names a task instance in errors: dag/run/task, with " [i]"
// after a mapped instance's task.
func instanceName(k store.TaskKey) string {
	name := k.DagID + "/" + k.RunID + "/" + k.TaskID
	if k.Mapped() {
		name += fmt.Sprintf(" [%d]", k.MapIndex())
	}
	return name
}

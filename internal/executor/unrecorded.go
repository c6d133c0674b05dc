package executor

import (
	"context"
	"errors"
	"fmt"

	"github.com/sirocco-dev/sirocco/internal/store"
)

// noteUnrecorded says in the service log why a try's outcome (to) was not
// written: its row was no longer this try running on this worker. A
// user's `tasks mark` (CLI or API) leaves the row at this try and worker
// in the state the user chose: that is what the user asked for, an INFO
// in plain words. Any other change (the row gone, another try, another
// worker, a state no user sets) is unexplained: a WARN.
func (r *Runner) noteUnrecorded(ctx context.Context, ti store.TaskInstance, to store.TaskState, runErr error) {
	attrs := []any{"dag_id", ti.DagID, "run_id", ti.RunID, "task_id", ti.TaskID, "try", ti.TryNumber}
	now, err := r.Store.GetTaskInstance(ctx, ti.TaskKey)
	if err == nil && markedByUser(ti, now, r.WorkerID) {
		r.Logger.Info(markedMessage(now.State, to, runErr), attrs...)
		return
	}
	if err == nil {
		attrs = append(attrs, "state", now.State, "state_try", now.TryNumber, "state_worker", now.WorkerID)
	}
	r.Logger.Warn("task state changed while it ran; outcome not recorded", append(attrs, "outcome", to)...)
}

// markedByUser reports whether now, the row of try ti after its outcome
// could not be written, is what a user's mark makes of it: the same try
// on the same worker in a state only a mark gives a running try (the
// scheduler kills a live worker's try rather than write over it).
func markedByUser(ti, now store.TaskInstance, worker string) bool {
	if now.TryNumber != ti.TryNumber || now.WorkerID != worker {
		return false
	}
	switch now.State {
	case store.StateSuccess, store.StateFailed, store.StateSkipped:
		return true
	}
	return false
}

// markedMessage is the INFO line of a try marked while it ran: its
// process was stopped (the heartbeat saw the mark), or it had ended on its
// own first and its outcome gave way to the mark.
func markedMessage(state, outcome store.TaskState, runErr error) string {
	if errors.Is(runErr, ErrKilled) {
		return fmt.Sprintf("task was marked %s while it ran; its process was stopped", state)
	}
	return fmt.Sprintf("task was marked %s while it ran; the mark stands, its own outcome (%s) was not recorded", state, outcome)
}

package executor

import (
	"context"
	"errors"
	"fmt"

	"github.com/sirocco-dev/sirocco/internal/dag"
	"github.com/sirocco-dev/sirocco/internal/operator"
	"github.com/sirocco-dev/sirocco/internal/scheduler"
	"github.com/sirocco-dev/sirocco/internal/store"
	"github.com/sirocco-dev/sirocco/internal/tasklog"
)

// errShutdown is the cancel cause of the tries running when Sirocco shuts
// down. It is an ErrDetach: work that outlives us (a cluster driver) is
// left running for the next start to adopt; a local try is killed, and is
// not the task's failure (stoppedByShutdown).
var errShutdown = fmt.Errorf("%w: Sirocco is shutting down", operator.ErrDetach)

// stoppedByShutdown reports whether a try ended with runErr because Sirocco
// is shutting down (ctx is the executor's): the try was killed, or could
// not be prepared, for that reason alone, not killed on purpose as well.
func stoppedByShutdown(ctx context.Context, runErr error) bool {
	return runErr != nil && ctx.Err() != nil && !errors.Is(runErr, ErrKilled) &&
		(errors.Is(runErr, errShutdown) || errors.Is(runErr, context.Canceled))
}

// noteShutdown says, in the try's log and the service log, that the try was
// stopped by shutdown and what happens next: it runs again without
// spending a retry, or, past scheduler.MaxInfraReruns, counts as failed.
func (r *Runner) noteShutdown(task *dag.Task, ti store.TaskInstance, lw *tasklog.Writer) {
	_, rerun := scheduler.ShutdownUpdate(task, ti, r.Clock.Now())
	attrs := []any{"dag_id", ti.DagID, "run_id", ti.RunID, "task_id", ti.TaskID, "try", ti.TryNumber}
	if rerun {
		msg := fmt.Sprintf("try %d of %s stopped by shutdown; it runs again at the next start without spending a retry",
			ti.TryNumber, ti.TaskID)
		lw.Printf("sirocco: %s", msg)
		r.Logger.Info(msg, attrs...)
		return
	}
	msg := fmt.Sprintf("try %d of %s stopped by shutdown; %d of its tries were already run again for that reason, "+
		"the most Sirocco allows, so this one counts as failed", ti.TryNumber, ti.TaskID, ti.InfraReruns)
	lw.Printf("sirocco: %s", msg)
	r.Logger.Warn(msg, attrs...)
}

package operator

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/sirocco-dev/sirocco/internal/store"
)

// Reschedule is what a sensor in reschedule mode returns from a poke that
// found its condition unmet: the try gives its slot back and the task
// waits, up_for_reschedule, until At, without spending a try (Airflow's
// AirflowRescheduleException). FirstPoke and Pokes are the progress the
// next poke reads back (Task.FirstPokeAt, Task.Pokes).
type Reschedule struct {
	At        time.Time
	FirstPoke time.Time
	Pokes     int
}

// Error says when the sensor pokes again.
func (r *Reschedule) Error() string {
	return fmt.Sprintf("not yet: rescheduled to %s (poke %d)", r.At.UTC().Format("2006-01-02T15:04:05.000Z07:00"), r.Pokes)
}

// ErrNoRetry marks a failure no retry can mend: the try fails for good
// whatever retries are left (a sensor's timeout, as Airflow's
// AirflowSensorTimeout fails without a retry).
var ErrNoRetry = errors.New("fails without a retry")

// RunReader is the read-only view of the store an operator may have
// (external_task_sensor reads another DAG's runs); operators never write
// the store.
type RunReader interface {
	ListRuns(ctx context.Context, f store.RunFilter) ([]store.DagRun, error)
	ListTaskInstances(ctx context.Context, dagID, runID string) ([]store.TaskInstance, error)
}

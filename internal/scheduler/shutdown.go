package scheduler

import (
	"time"

	"github.com/sirocco-dev/sirocco/internal/dag"
	"github.com/sirocco-dev/sirocco/internal/store"
)

// MaxInfraReruns is how many tries of a task instance Sirocco's own
// shutdown may stop and give back without spending a retry (DESIGN.md:
// infrastructure failures are not task failures). Past it, a stopped try
// counts as a failure, so a task that stops Sirocco cannot run forever.
const MaxInfraReruns = 3

// ShutdownUpdate is the transition for a try that Sirocco stopped because
// it was shutting down: back to none, with max_tries raised so the next
// try spends no retry (Airflow resets such orphans to none; its restarting
// tries are always eligible for retry). Once MaxInfraReruns tries were
// given back it is FailureUpdate, and rerun is false.
func ShutdownUpdate(t *dag.Task, ti store.TaskInstance, now time.Time) (u store.TaskUpdate, rerun bool) {
	if ti.InfraReruns >= MaxInfraReruns {
		return FailureUpdate(t, ti, now), false
	}
	end := now
	u = store.TaskUpdate{
		Key: ti.TaskKey, From: []store.TaskState{store.StateRunning}, To: store.StateNone, EndDate: &end, InfraRerun: true,
	}
	EndPokes(&u, ti) // the next try is counted: a sensor's poke cut short starts a new try
	return u, true
}

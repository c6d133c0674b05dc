package executor

import (
	"errors"
	"time"

	"github.com/sirocco-dev/sirocco/internal/operator"
	"github.com/sirocco-dev/sirocco/internal/store"
)

// isReschedule reports whether a try ended as a sensor's "not yet, come
// back later" (reschedule mode).
func isReschedule(err error) bool {
	var re *operator.Reschedule
	return errors.As(err, &re)
}

// rescheduleUpdate is the write ending a reschedule-mode poke: the task
// goes up_for_reschedule until the sensor's wake time (next_retry_at,
// which the scheduler waits for as for a retry) with its progress, which
// the next poke reads and whose claim keeps the try (store.TaskUpdate.IncTry).
func rescheduleUpdate(ti store.TaskInstance, err error, now time.Time) store.TaskUpdate {
	var re *operator.Reschedule
	errors.As(err, &re)
	at, first, pokes := re.At, re.FirstPoke, re.Pokes
	if at.Before(now) {
		at = now
	}
	return store.TaskUpdate{Key: ti.TaskKey, From: []store.TaskState{store.StateRunning}, To: store.StateUpForReschedule,
		EndDate: &now, NextRetryAt: &at, FirstPokeAt: &first, Pokes: &pokes}
}

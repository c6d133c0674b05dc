package scheduler

import (
	"time"

	"github.com/sirocco-dev/sirocco/internal/store"
)

// Metrics is told what the loop measures (internal/metrics implements it
// for /metrics). Its methods run on the loop's goroutine, on the hand-off
// path: they must be cheap and must not block.
type Metrics interface {
	// ObserveTick is the duration of one tick: snapshot, decision, writes.
	ObserveTick(d time.Duration)
	// ObserveTryEnd is a try that left the queued or running state, as the
	// loop's copy of the row first shows it (its state, start and end).
	ObserveTryEnd(ti store.TaskInstance)
}

// tryEnded reports whether a row going from old to new is the end of a
// try: it was queued or running and is no longer, in the same try.
func tryEnded(old, new store.TaskInstance) bool {
	inFlight := func(s store.TaskState) bool { return s == store.StateQueued || s == store.StateRunning }
	return inFlight(old.State) && !inFlight(new.State) && new.State != store.StateNone && old.TryNumber == new.TryNumber
}

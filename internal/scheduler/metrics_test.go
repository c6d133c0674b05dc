package scheduler

import (
	"testing"

	"github.com/sirocco-dev/sirocco/internal/store"
)

// TestActiveSetTellsTryEnds: the set tells each try's end once, when the
// row it holds leaves queued or running, whatever copy brings it (the
// loop's own write, a report); an older copy or a start tells nothing.
func TestActiveSetTellsTryEnds(t *testing.T) {
	k := store.TaskKey{DagID: "d", RunID: "r", TaskID: "t"}
	row := func(state store.TaskState, try int, version int64) store.TaskInstance {
		return store.TaskInstance{TaskKey: k, State: state, TryNumber: try, Version: version}
	}
	var ended []store.TaskInstance
	a := activeSet{tis: []store.TaskInstance{row(store.StateNone, 0, 1)}, index: map[store.TaskKey]int{k: 0},
		ended: func(ti store.TaskInstance) { ended = append(ended, ti) }}

	a.set(row(store.StateRunning, 1, 2))    // a start
	a.set(row(store.StateUpForRetry, 1, 3)) // the first try's end
	a.set(row(store.StateRunning, 1, 2))    // a late copy of the start: ignored
	a.applyReported([]store.TaskInstance{row(store.StateUpForRetry, 1, 3)})
	a.set(row(store.StateQueued, 2, 4))
	a.set(row(store.StateSuccess, 2, 5)) // the second try's end, never seen running

	if len(ended) != 2 || ended[0].State != store.StateUpForRetry || ended[1].State != store.StateSuccess || ended[1].TryNumber != 2 {
		t.Fatalf("ends told = %+v, want up_for_retry of try 1 then success of try 2", ended)
	}
}

func TestTryEnded(t *testing.T) {
	for _, c := range []struct {
		from, to store.TaskState
		tryFrom  int
		tryTo    int
		want     bool
	}{
		{store.StateRunning, store.StateSuccess, 1, 1, true},
		{store.StateRunning, store.StateFailed, 1, 1, true},
		{store.StateQueued, store.StateFailed, 1, 1, true},
		{store.StateRunning, store.StateRestarting, 1, 1, true},
		{store.StateNone, store.StateRunning, 0, 1, false},
		{store.StateQueued, store.StateRunning, 1, 1, false},
		{store.StateRunning, store.StateRunning, 1, 2, false},
		{store.StateRunning, store.StateNone, 1, 1, false},
		{store.StateSuccess, store.StateFailed, 1, 1, false},
	} {
		got := tryEnded(store.TaskInstance{State: c.from, TryNumber: c.tryFrom}, store.TaskInstance{State: c.to, TryNumber: c.tryTo})
		if got != c.want {
			t.Errorf("%s(%d) -> %s(%d) = %v, want %v", c.from, c.tryFrom, c.to, c.tryTo, got, c.want)
		}
	}
}

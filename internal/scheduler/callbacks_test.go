package scheduler

import (
	"slices"
	"testing"

	"github.com/sirocco-dev/sirocco/internal/dag"
	"github.com/sirocco-dev/sirocco/internal/store"
)

// TestTaskNotesFollowTheTries: each try's start and end call their
// event's notifiers once; a try seen only ended still counts as started;
// a user's later mark of an ended try (failed to success) calls nothing,
// as Airflow calls callbacks only for what a worker did; a row in none
// or with no try calls nothing.
func TestTaskNotesFollowTheTries(t *testing.T) {
	d := testDAG(t, "cb", "none", "a")
	cmd := []dag.Notifier{{Command: "true"}}
	d.Task("a").Callbacks = dag.Callbacks{OnSuccess: cmd, OnFailure: cmd, OnRetry: cmd, OnExecute: cmd}
	l := NewLoop(Options{DAGs: fixedDAGs{"cb": d}})
	key := store.TaskKey{DagID: "cb", RunID: "r", TaskID: "a"}
	step := func(state store.TaskState, try int, want ...string) {
		t.Helper()
		l.active.tis = []store.TaskInstance{{TaskKey: key, State: state, TryNumber: try, StartDate: t0}}
		l.active.runs = map[runKey]bool{{"cb", "r"}: true}
		ns, keys := l.taskNotes(fixedDAGs{"cb": d}.DAGs(), t0)
		var got []string
		for _, n := range ns {
			got = append(got, n.Event+"/"+string(rune('0'+n.Try)))
		}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("%s try %d: %v, want %v", state, try, got, want)
		}
		l.remember(keys)
	}
	step(store.StateNone, 0)
	step(store.StateRunning, 1, "execute/1")
	step(store.StateRunning, 1)
	step(store.StateUpForRetry, 1, "retry/1")
	step(store.StateSuccess, 2, "execute/2", "success/2") // try 2 was shorter than a tick
	step(store.StateFailed, 2)                            // marked failed by a user
	step(store.StateSuccess, 2)
	step(store.StateFailed, 3, "execute/3", "failure/3") // cleared and run again
}

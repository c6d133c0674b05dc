package scheduler

import (
	"slices"
	"strings"
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

// TestTaskNotesOfAFailedExpansion: a mapped task that fails without a try
// because it cannot expand (its note says why) calls on_failure_callback
// once, with the reason; one marked failed by hand before it ran (no
// note) calls nothing.
func TestTaskNotesOfAFailedExpansion(t *testing.T) {
	d := testDAG(t, "cb", "none", "m")
	d.Task("m").Callbacks = dag.Callbacks{OnFailure: []dag.Notifier{{Command: "true"}}}
	l := NewLoop(Options{DAGs: fixedDAGs{"cb": d}})
	key := store.TaskKey{DagID: "cb", RunID: "r", TaskID: "m"}
	why := "cannot expand: the XCom return_value of up is a string, not a list"
	notes := func(ti store.TaskInstance) []store.Notification {
		l.active.tis = []store.TaskInstance{ti}
		l.active.runs = map[runKey]bool{{"cb", "r"}: true}
		ns, keys := l.taskNotes(fixedDAGs{"cb": d}.DAGs(), t0)
		l.remember(keys)
		return ns
	}
	if ns := notes(store.TaskInstance{TaskKey: key, State: store.StateFailed}); len(ns) != 0 {
		t.Errorf("marked failed before any try: %d notifications, want none", len(ns))
	}
	ns := notes(store.TaskInstance{TaskKey: key, State: store.StateFailed, Note: why})
	if len(ns) != 1 || ns[0].Event != string(dag.EventFailure) || ns[0].Try != 0 || !strings.Contains(ns[0].Reason, why) {
		t.Fatalf("failed expansion: %+v, want one failure notification saying why", ns)
	}
	if ns := notes(store.TaskInstance{TaskKey: key, State: store.StateFailed, Note: why}); len(ns) != 0 {
		t.Errorf("the same failure seen again: %d notifications, want none", len(ns))
	}
}

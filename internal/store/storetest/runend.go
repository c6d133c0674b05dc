package storetest

import (
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/store"
)

func init() {
	register("RunEndRequiresTheTasksSeen", testRunEndRequiresTheTasksSeen)
}

// testRunEndRequiresTheTasksSeen: a run's end decided from its task rows
// as read applies only while they are still those rows. A clear (or any
// write) between the read and the end makes it lose, so a stale decision
// never ends a run whose tasks were just cleared (the engine's
// TestHandMarkedBranchAfterAClearSkipsNothing lost that race).
func testRunEndRequiresTheTasksSeen(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustCreate(t, s, newRun("d", "r", t0, store.RunRunning), "a", "b")
	for _, id := range []string{"a", "b"} {
		mustUpdateTask(t, s, store.TaskUpdate{Key: store.TaskKey{DagID: "d", RunID: "r", TaskID: id},
			From: []store.TaskState{store.StateNone}, To: store.StateFailed, EndDate: ptr(at(time.Minute))}, true)
	}
	read := func() []*store.TaskInstance {
		list, err := s.ListTaskInstances(ctx, "d", "r")
		if err != nil {
			t.Fatal(err)
		}
		out := make([]*store.TaskInstance, len(list))
		for i := range list {
			out[i] = &list[i]
		}
		return out
	}
	seen := store.SeeTasks(read())
	if _, err := s.ClearTasks(ctx, "d", "r", map[string]int{"a": 0}, at(time.Hour)); err != nil {
		t.Fatal(err)
	}
	end := at(2 * time.Hour)
	u := store.RunUpdate{DagID: "d", RunID: "r", From: []store.RunState{store.RunRunning, store.RunQueued},
		To: store.RunFailed, EndDate: &end, Tasks: seen}
	if ok, err := s.UpdateRun(ctx, u); ok || err != nil {
		t.Fatalf("end decided before a clear: applied %v (err %v), want refused", ok, err)
	}
	if r := mustGetRun(t, s, "d", "r"); r.State.Finished() {
		t.Fatalf("run %s after a refused end", r.State)
	}
	u.Tasks = store.SeeTasks(read())
	if ok, err := s.UpdateRun(ctx, u); !ok || err != nil {
		t.Fatalf("end decided from the rows as they are: applied %v (err %v), want applied", ok, err)
	}
	// A row added since the read (an expansion) changes the count.
	mustCreate(t, s, newRun("d", "r2", at(time.Hour), store.RunRunning), "a")
	seen = store.SeeTasks(nil)
	u = store.RunUpdate{DagID: "d", RunID: "r2", From: []store.RunState{store.RunRunning}, To: store.RunSuccess, EndDate: &end, Tasks: seen}
	if ok, err := s.UpdateRun(ctx, u); ok || err != nil {
		t.Fatalf("end decided from fewer rows than the run has: applied %v (err %v), want refused", ok, err)
	}
}

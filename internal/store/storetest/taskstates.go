package storetest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/store"
)

func init() {
	register("TaskStates", testTaskStates)
}

// testTaskStates: the states of every task instance of the runs named, and
// of no other run or DAG.
func testTaskStates(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustCreate(t, s, newRun("d", "r1", t0, store.RunRunning), "a", "b")
	mustCreate(t, s, newRun("d", "r2", at(time.Hour), store.RunRunning), "a")
	mustCreate(t, s, newRun("d", "r3", at(2*time.Hour), store.RunRunning), "a")
	mustCreate(t, s, newRun("other", "r1", t0, store.RunRunning), "a")
	mustUpdateTask(t, s, store.TaskUpdate{Key: store.TaskKey{DagID: "d", RunID: "r1", TaskID: "b"}, To: store.StateFailed}, true)
	rows, err := s.TaskStates(ctx, "d", []string{"r1", "r2", "missing"})
	if err != nil {
		t.Fatal(err)
	}
	got := make([]string, len(rows))
	for i, r := range rows {
		got[i] = fmt.Sprintf("%s/%s=%s", r.RunID, r.TaskID, r.State)
	}
	slices.Sort(got)
	if want := []string{"r1/a=", "r1/b=failed", "r2/a="}; !slices.Equal(got, want) {
		t.Errorf("TaskStates = %v, want %v", got, want)
	}
	if rows, err := s.TaskStates(ctx, "d", nil); err != nil || len(rows) != 0 {
		t.Errorf("TaskStates of no run = %v, %v", rows, err)
	}
}

package storetest

import (
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/store"
)

func init() {
	register("DeleteRun", testDeleteRun)
	register("DeleteRunKeepsChangeFeed", testDeleteRunKeepsChangeFeed)
}

// testDeleteRun: a run goes with its task instances and XComs, other runs
// stay; a run with a running task is refused (ErrConflict) and kept; a
// missing run is ErrNotFound.
func testDeleteRun(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustCreate(t, s, newRun("d", "keep", t0, store.RunSuccess), "a")
	mustCreate(t, s, newRun("d", "gone", at(time.Hour), store.RunFailed), "a", "b")
	mustCreate(t, s, newRun("d", "busy", at(2*time.Hour), store.RunRunning), "a")
	gone := store.TaskKey{DagID: "d", RunID: "gone", TaskID: "a"}
	if err := s.SetXCom(ctx, store.XCom{TaskKey: gone, Key: "k", Value: "1"}); err != nil {
		t.Fatal(err)
	}
	mustUpdateTask(t, s, store.TaskUpdate{Key: store.TaskKey{DagID: "d", RunID: "busy", TaskID: "a"}, To: store.StateRunning}, true)

	if err := s.DeleteRun(ctx, "d", "gone"); err != nil {
		t.Fatalf("DeleteRun: %v", err)
	}
	_, err := s.GetRun(ctx, "d", "gone")
	wantErr(t, "the deleted run", err, store.ErrNotFound)
	_, err = s.GetTaskInstance(ctx, gone)
	wantErr(t, "a deleted task instance", err, store.ErrNotFound)
	if xs, err := s.ListXComs(ctx, gone); err != nil || len(xs) != 0 {
		t.Errorf("XComs of the deleted run: %v, %v; want none", xs, err)
	}
	mustGetRun(t, s, "d", "keep")
	mustGetTI(t, s, store.TaskKey{DagID: "d", RunID: "keep", TaskID: "a"})

	wantErr(t, "deleting a run with a running task", s.DeleteRun(ctx, "d", "busy"), store.ErrConflict)
	mustGetTI(t, s, store.TaskKey{DagID: "d", RunID: "busy", TaskID: "a"})
	wantErr(t, "deleting a missing run", s.DeleteRun(ctx, "d", "gone"), store.ErrNotFound)
	wantErr(t, "deleting a run of a missing DAG", s.DeleteRun(ctx, "nope", "x"), store.ErrNotFound)
}

// testDeleteRunKeepsChangeFeed: deleting the run written last does not make
// the change feed lose the next write: a cursor taken before the delete
// still returns a task instance written after it.
func testDeleteRunKeepsChangeFeed(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustCreate(t, s, newRun("d", "old", t0, store.RunSuccess), "a")
	mustCreate(t, s, newRun("d", "new", at(time.Hour), store.RunSuccess), "a", "b", "c")
	for _, id := range []string{"a", "b", "c"} {
		mustUpdateTask(t, s, store.TaskUpdate{Key: store.TaskKey{DagID: "d", RunID: "new", TaskID: id}, To: store.StateSuccess}, true)
	}
	cursor, err := s.TaskChangeCursor(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteRun(ctx, "d", "new"); err != nil {
		t.Fatalf("DeleteRun: %v", err)
	}
	key := store.TaskKey{DagID: "d", RunID: "old", TaskID: "a"}
	mustUpdateTask(t, s, store.TaskUpdate{Key: key, To: store.StateFailed}, true)
	rows, _, err := s.TaskInstancesChangedSince(ctx, cursor)
	if err != nil {
		t.Fatal(err)
	}
	for _, ti := range rows {
		if ti.TaskKey == key && ti.State == store.StateFailed {
			return
		}
	}
	t.Errorf("a write after deleting the newest run is missing from the change feed: got %+v", rows)
}

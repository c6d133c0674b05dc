package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/store"
)

func init() {
	register("ClearTasksDeletesXComs", testClearTasksDeletesXComs)
	register("ClearTasksDeletesXComsOfManyTasks", testClearTasksDeletesXComsOfManyTasks)
	register("PushXCom", testPushXCom)
}

// pushAll stores an XCom under each key for each task instance.
func pushAll(t *testing.T, s store.Store, keys []string, tks ...store.TaskKey) {
	t.Helper()
	for _, k := range tks {
		for _, key := range keys {
			if err := s.SetXCom(t.Context(), store.XCom{TaskKey: k, Key: key, Value: `"` + k.TaskID + `"`}); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// xcomCount is how many XComs a task instance holds.
func xcomCount(t *testing.T, s store.Store, k store.TaskKey) int {
	t.Helper()
	xs, err := s.ListXComs(t.Context(), k)
	if err != nil {
		t.Fatal(err)
	}
	return len(xs)
}

// allStates lists every task instance state.
var allStates = []store.TaskState{store.StateNone, store.StateScheduled, store.StateQueued, store.StateRunning,
	store.StateSuccess, store.StateFailed, store.StateUpForRetry, store.StateUpstreamFailed, store.StateSkipped,
	store.StateUpForReschedule, store.StateRestarting, store.StateRemoved}

// testClearTasksDeletesXComs: a clear deletes every XCom of the task
// instances it puts back to none, and of the named ones that are
// restarting (whose state it leaves to their executor), in the same
// transaction; a named task left alone (queued, running) and every task
// not named, in this run or another, keeps its XComs. One named and one
// unnamed task in each state.
func testClearTasksDeletesXComs(t *testing.T, s store.Store) {
	ctx := t.Context()
	var ids []string
	retries := map[string]int{}
	for _, st := range allStates {
		named, other := "named_"+string(st), "other_"+string(st)
		ids = append(ids, named, other)
		retries[named] = 0
	}
	mustCreate(t, s, newRun("d", "r", t0, store.RunFailed), ids...)
	mustCreate(t, s, newRun("d", "r2", at(time.Hour), store.RunSuccess), "named_success")
	mustCreate(t, s, newRun("e", "r", t0, store.RunSuccess), "named_success")
	key := func(id string) store.TaskKey { return store.TaskKey{DagID: "d", RunID: "r", TaskID: id} }
	keys := []string{"return_value", "extra"}
	for _, st := range allStates {
		for _, id := range []string{"named_" + string(st), "other_" + string(st)} {
			mustUpdateTask(t, s, store.TaskUpdate{Key: key(id), To: st, IncTry: true}, true)
			pushAll(t, s, keys, key(id))
		}
	}
	others := []store.TaskKey{{DagID: "d", RunID: "r2", TaskID: "named_success"}, {DagID: "e", RunID: "r", TaskID: "named_success"}}
	pushAll(t, s, keys, others...)

	n, err := s.ClearTasks(ctx, "d", "r", retries, at(time.Hour))
	if want := len(allStates) - 3; err != nil || n != want {
		t.Fatalf("ClearTasks = %d, %v; want %d (all but queued, running and restarting)", n, err, want)
	}
	for _, st := range allStates {
		want := map[store.TaskState]int{store.StateQueued: 2, store.StateRunning: 2}[st]
		if got := xcomCount(t, s, key("named_"+string(st))); got != want {
			t.Errorf("a named task in state %q holds %d XComs after the clear, want %d", st, got, want)
		}
		if got := xcomCount(t, s, key("other_"+string(st))); got != 2 {
			t.Errorf("a task not named, in state %q, holds %d XComs after the clear, want 2", st, got)
		}
	}
	for _, k := range others {
		if got := xcomCount(t, s, k); got != 2 {
			t.Errorf("%s/%s/%s, not cleared, holds %d XComs, want 2", k.DagID, k.RunID, k.TaskID, got)
		}
	}
	if st := mustGetTI(t, s, key("named_restarting")).State; st != store.StateRestarting {
		t.Errorf("a cleared restarting task became %q; its executor hands it back once its try stopped", st)
	}

	// Pushed after the clear (by the new try): kept until the next clear.
	pushAll(t, s, keys[:1], key("named_success"))
	if got := xcomCount(t, s, key("named_success")); got != 1 {
		t.Errorf("a cleared task holds %d XComs after a push following the clear, want 1", got)
	}
}

// testClearTasksDeletesXComsOfManyTasks: a clear of more tasks than one
// statement names deletes the XComs of all of them.
func testClearTasksDeletesXComsOfManyTasks(t *testing.T, s store.Store) {
	const n = 1203
	ids := make([]string, n)
	retries := make(map[string]int, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("t%04d", i)
		retries[ids[i]] = 0
	}
	mustCreate(t, s, newRun("d", "r", t0, store.RunSuccess), ids...)
	for _, id := range ids {
		pushAll(t, s, []string{"return_value"}, store.TaskKey{DagID: "d", RunID: "r", TaskID: id})
	}
	if got, err := s.ClearTasks(t.Context(), "d", "r", retries, at(time.Hour)); err != nil || got != n {
		t.Fatalf("ClearTasks = %d, %v; want %d", got, err, n)
	}
	for _, id := range ids {
		if got := xcomCount(t, s, store.TaskKey{DagID: "d", RunID: "r", TaskID: id}); got != 0 {
			t.Fatalf("%s holds %d XComs after the clear, want 0", id, got)
		}
	}
}

// testPushXCom: a try's push is stored only while its task instance is
// running at that try under that worker; a stale try (a zombie's, after
// its retry started) or a finished, cleared or restarting one pushes
// nothing and overwrites nothing.
func testPushXCom(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustCreate(t, s, newRun("d", "r", t0, store.RunRunning), "t", "done")
	k := store.TaskKey{DagID: "d", RunID: "r", TaskID: "t"}
	push := func(what string, value string, try int, worker string, want bool) {
		t.Helper()
		ok, err := s.PushXCom(ctx, store.XCom{TaskKey: k, Key: "return_value", Value: value, Timestamp: at(time.Duration(try) * time.Minute)}, try, worker)
		if err != nil || ok != want {
			t.Errorf("%s: PushXCom = %v, %v; want %v", what, ok, err, want)
		}
	}
	wantValue := func(what, value string, try int) {
		t.Helper()
		x, err := s.GetXCom(ctx, k, "return_value")
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		same(t, what, x, store.XCom{TaskKey: k, Key: "return_value", Value: value, Timestamp: stored(at(time.Duration(try) * time.Minute))})
	}
	running := []store.TaskState{store.StateRunning}

	push("before any try", `"none"`, 0, "", false)
	mustUpdateTask(t, s, store.TaskUpdate{Key: k, To: store.StateRunning, IncTry: true, WorkerID: ptr("w1")}, true)
	push("try 1 on w1", `"first"`, 1, "w1", true)
	wantValue("try 1's push", `"first"`, 1)
	push("try 1 again (an upsert)", `"first again"`, 1, "w1", true)
	wantValue("try 1's second push", `"first again"`, 1)
	push("another worker", `"w2"`, 1, "w2", false)
	push("another try", `"two"`, 2, "w1", false)
	wantValue("after refused pushes", `"first again"`, 1)

	// w1 is taken for a zombie; try 2 runs on w2 and pushes; w1's try
	// finishes late and must not overwrite it.
	mustUpdateTask(t, s, store.TaskUpdate{Key: k, From: running, To: store.StateUpForRetry}, true)
	push("try 1 while up_for_retry", `"late"`, 1, "w1", false)
	mustUpdateTask(t, s, store.TaskUpdate{Key: k, To: store.StateRunning, IncTry: true, WorkerID: ptr("w2")}, true)
	push("try 2 on w2", `"second"`, 2, "w2", true)
	push("the zombie try 1 on w1", `"zombie"`, 1, "w1", false)
	wantValue("after the zombie's push", `"second"`, 2)

	// Moved to restarting by a clear, then cleared: no push of that try
	// comes back after the clear deleted the XComs.
	mustUpdateTask(t, s, store.TaskUpdate{Key: k, From: running, To: store.StateRestarting}, true)
	push("a restarting try", `"restarting"`, 2, "w2", false)
	mustUpdateTask(t, s, store.TaskUpdate{Key: k, To: store.StateSuccess}, true)
	push("a finished try", `"finished"`, 2, "w2", false)
	if _, err := s.ClearTasks(ctx, "d", "r", map[string]int{"t": 0}, at(time.Hour)); err != nil {
		t.Fatal(err)
	}
	push("a cleared try", `"cleared"`, 2, "w2", false)
	_, err := s.GetXCom(ctx, k, "return_value")
	wantErr(t, "XCom after the clear and the refused pushes", err, store.ErrNotFound)

	if ok, err := s.PushXCom(ctx, store.XCom{TaskKey: store.TaskKey{DagID: "d", RunID: "r", TaskID: "ghost"}, Key: "k", Value: "1"}, 1, "w1"); ok || err != nil {
		t.Errorf("PushXCom for a missing task instance = %v, %v; want false, nil", ok, err)
	}
}

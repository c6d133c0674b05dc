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

// testClearTasksDeletesXComs: a clear deletes every XCom of the task
// instances it puts back to none, and of the named ones that are
// restarting (whose state it leaves to their executor), in the same
// transaction; a named task left alone (queued, running) and every task
// not named, in this run or another, keeps its XComs.
func testClearTasksDeletesXComs(t *testing.T, s store.Store) {
	ctx := t.Context()
	ids := []string{"ok", "bad", "live", "waiting", "stopping", "untouched"}
	mustCreate(t, s, newRun("d", "r", t0, store.RunFailed), ids...)
	mustCreate(t, s, newRun("d", "r2", at(time.Hour), store.RunSuccess), "ok")
	mustCreate(t, s, newRun("e", "r", t0, store.RunSuccess), "ok")
	key := func(id string) store.TaskKey { return store.TaskKey{DagID: "d", RunID: "r", TaskID: id} }
	for id, st := range map[string]store.TaskState{"ok": store.StateSuccess, "bad": store.StateFailed, "live": store.StateRunning,
		"waiting": store.StateQueued, "stopping": store.StateRestarting, "untouched": store.StateSuccess} {
		mustUpdateTask(t, s, store.TaskUpdate{Key: key(id), To: st, IncTry: true}, true)
	}
	keys := []string{"return_value", "extra"}
	others := []store.TaskKey{{DagID: "d", RunID: "r2", TaskID: "ok"}, {DagID: "e", RunID: "r", TaskID: "ok"}}
	for _, id := range ids {
		pushAll(t, s, keys, key(id))
	}
	pushAll(t, s, keys, others...)

	n, err := s.ClearTasks(ctx, "d", "r", map[string]int{"ok": 0, "bad": 0, "live": 0, "waiting": 0, "stopping": 0}, at(time.Hour))
	if err != nil || n != 2 {
		t.Fatalf("ClearTasks = %d, %v; want 2 (ok, bad)", n, err)
	}
	for id, want := range map[string]int{"ok": 0, "bad": 0, "stopping": 0, "live": 2, "waiting": 2, "untouched": 2} {
		if got := xcomCount(t, s, key(id)); got != want {
			t.Errorf("%s (%s) holds %d XComs after the clear, want %d", id, mustGetTI(t, s, key(id)).State, got, want)
		}
	}
	for _, k := range others {
		if got := xcomCount(t, s, k); got != 2 {
			t.Errorf("%s/%s/%s, not cleared, holds %d XComs, want 2", k.DagID, k.RunID, k.TaskID, got)
		}
	}
	if st := mustGetTI(t, s, key("stopping")).State; st != store.StateRestarting {
		t.Errorf("a cleared restarting task became %q; its executor hands it back once its try stopped", st)
	}

	// Pushed after the clear (by the new try): kept until the next clear.
	pushAll(t, s, keys[:1], key("ok"))
	if got := xcomCount(t, s, key("ok")); got != 1 {
		t.Errorf("ok holds %d XComs after a push following the clear, want 1", got)
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

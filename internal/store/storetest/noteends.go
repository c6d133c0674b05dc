package storetest

import (
	"sync"
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/store"
)

func init() {
	register("NotificationsOneEndPerTry", testNotificationsOneEndPerTry)
	register("ClearNumber", testClearNumber)
	register("PruneNotifications", testPruneNotifications)
}

// testPruneNotifications: delivered notifications created before the
// limit go; newer ones and undelivered ones stay.
func testPruneNotifications(t *testing.T, s store.Store) {
	ctx := t.Context()
	if err := s.CreateRun(ctx, newRun("d", "r1", at(0), store.RunRunning), newTIs("a", "b", "c")); err != nil {
		t.Fatal(err)
	}
	old, recent, pending := note("r1", "a", 1, "failure"), note("r1", "b", 1, "failure"), note("r1", "c", 1, "failure")
	recent.CreatedAt = at(2 * time.Hour)
	if _, err := s.EnqueueNotifications(ctx, []store.Notification{old, recent}); err != nil {
		t.Fatal(err)
	}
	claimed, err := s.ClaimNotifications(ctx, "w", at(3*time.Hour), time.Minute, 10)
	if err != nil || len(claimed) != 2 {
		t.Fatalf("claim = %d, %v", len(claimed), err)
	}
	for _, n := range claimed {
		if ok, err := s.FinishNotification(ctx, n, store.NoteSent, time.Time{}, "", at(3*time.Hour)); !ok || err != nil {
			t.Fatalf("finish = %v, %v", ok, err)
		}
	}
	if _, err := s.EnqueueNotifications(ctx, []store.Notification{pending}); err != nil {
		t.Fatal(err)
	}
	if n, err := s.PruneNotifications(ctx, at(time.Hour)); err != nil || n != 1 {
		t.Fatalf("prune = %d, %v; want 1", n, err)
	}
	list, err := s.ListNotifications(ctx, "d", "r1")
	if err != nil || len(list) != 2 || list[0].TaskID != "b" || list[1].TaskID != "c" {
		t.Errorf("left = %+v, %v", list, err)
	}
}

// notes returns the notifications of n notifiers of one event.
func notes(runID, taskID string, try int, event string, n int) []store.Notification {
	out := make([]store.Notification, n)
	for i := range out {
		out[i] = note(runID, taskID, try, event)
		out[i].Index = i
	}
	return out
}

// testNotificationsOneEndPerTry: once a try has an end event (success,
// failure or retry), another end of that try adds nothing, on any
// notifier index, and of two writers at once only one end gets in; its
// execute event and the next try are not affected.
func testNotificationsOneEndPerTry(t *testing.T, s store.Store) {
	ctx := t.Context()
	if err := s.CreateRun(ctx, newRun("d", "r1", at(0), store.RunRunning), newTIs("a", "b")); err != nil {
		t.Fatal(err)
	}
	if n, err := s.EnqueueNotifications(ctx, notes("r1", "a", 1, "failure", 1)); err != nil || n != 1 {
		t.Fatalf("failure = %d, %v", n, err)
	}
	for _, ev := range []string{"success", "retry"} {
		if n, err := s.EnqueueNotifications(ctx, notes("r1", "a", 1, ev, 2)); err != nil || n != 0 {
			t.Errorf("%s of an ended try = %d, %v; want 0", ev, n, err)
		}
	}
	if n, err := s.EnqueueNotifications(ctx, append(notes("r1", "a", 1, "execute", 1), notes("r1", "a", 2, "success", 1)...)); err != nil || n != 2 {
		t.Errorf("execute and next try = %d, %v; want 2", n, err)
	}
	var wg sync.WaitGroup
	for _, ev := range []string{"success", "failure", "retry"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := s.EnqueueNotifications(ctx, notes("r1", "b", 1, ev, 2)); err != nil {
				t.Errorf("%s: %v", ev, err)
			}
		}()
	}
	wg.Wait()
	list, err := s.ListNotifications(ctx, "d", "r1")
	if err != nil {
		t.Fatal(err)
	}
	events := map[string]int{}
	for _, n := range list {
		if n.TaskID == "b" {
			events[n.Event]++
		}
	}
	if len(events) != 1 {
		t.Errorf("ends of b's try 1 = %v, want one event", events)
	}
}

// testClearNumber: a clear that puts a finished run back to queued counts
// in its ClearNumber; a clear of a running run does not.
func testClearNumber(t *testing.T, s store.Store) {
	ctx := t.Context()
	if err := s.CreateRun(ctx, newRun("d", "r1", at(0), store.RunFailed), newTIs("a")); err != nil {
		t.Fatal(err)
	}
	number := func() int {
		r, err := s.GetRun(ctx, "d", "r1")
		if err != nil {
			t.Fatal(err)
		}
		return r.ClearNumber
	}
	if n := number(); n != 0 {
		t.Fatalf("new run: clear number %d", n)
	}
	if _, err := s.ClearTasks(ctx, "d", "r1", map[string]int{"a": 0}, at(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if n := number(); n != 1 {
		t.Errorf("after a clear of the failed run: %d, want 1", n)
	}
	if _, err := s.ClearTasks(ctx, "d", "r1", map[string]int{"a": 0}, at(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if n := number(); n != 1 {
		t.Errorf("after a clear of the queued run: %d, want 1", n)
	}
	runs, err := s.ListRuns(ctx, store.RunFilter{DagID: "d"})
	if err != nil || len(runs) != 1 || runs[0].ClearNumber != 1 {
		t.Errorf("listed: %+v, %v", runs, err)
	}
}

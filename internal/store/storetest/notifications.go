package storetest

import (
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/store"
)

func init() {
	register("NotificationsEnqueueOnce", testNotificationsEnqueueOnce)
	register("NotificationsClaimAndFinish", testNotificationsClaimAndFinish)
	register("NotificationsDeadlineCondition", testNotificationsDeadlineCondition)
	register("NotificationsWithRunUpdate", testNotificationsWithRunUpdate)
}

func note(runID, taskID string, try int, event string) store.Notification {
	return store.Notification{NotificationKey: store.NotificationKey{DagID: "d", RunID: runID, TaskID: taskID, Try: try, Event: event},
		NextAt: at(0), CreatedAt: at(0), Reason: "because"}
}

// testNotificationsEnqueueOnce: the same key enqueued again (a restart
// seeing the same state change) adds nothing, whatever the row's state;
// a notification of a missing run is skipped.
func testNotificationsEnqueueOnce(t *testing.T, s store.Store) {
	ctx := t.Context()
	if err := s.CreateRun(ctx, newRun("d", "r1", at(0), store.RunRunning), nil); err != nil {
		t.Fatal(err)
	}
	ns := []store.Notification{note("r1", "a", 1, "failure"), note("r1", "", 0, "failure"), note("missing", "a", 1, "failure")}
	n, err := s.EnqueueNotifications(ctx, ns)
	if err != nil || n != 2 {
		t.Fatalf("enqueue = %d, %v; want 2", n, err)
	}
	got, err := s.ClaimNotifications(ctx, "w", at(time.Second), time.Minute, 10)
	if err != nil || len(got) != 2 {
		t.Fatalf("claim = %d, %v", len(got), err)
	}
	if ok, err := s.FinishNotification(ctx, got[0], store.NoteSent, time.Time{}, "", at(time.Second)); !ok || err != nil {
		t.Fatalf("finish = %v, %v", ok, err)
	}
	if n, err := s.EnqueueNotifications(ctx, ns); err != nil || n != 0 {
		t.Fatalf("enqueue again = %d, %v; want 0", n, err)
	}
	list, err := s.ListNotifications(ctx, "d", "r1")
	if err != nil || len(list) != 2 {
		t.Fatalf("list = %+v, %v", list, err)
	}
	if list[0].TaskID != "" || list[1].TaskID != "a" || list[1].Reason != "because" || !list[1].CreatedAt.Equal(stored(at(0))) {
		t.Errorf("list = %+v", list)
	}
}

// testNotificationsClaimAndFinish: a due row is claimed by one worker
// only; a retry waits for its next time; a dead worker's row is taken over
// when its lease ends, and the dead worker's late answer is refused.
func testNotificationsClaimAndFinish(t *testing.T, s store.Store) {
	ctx := t.Context()
	if err := s.CreateRun(ctx, newRun("d", "r1", at(0), store.RunRunning), nil); err != nil {
		t.Fatal(err)
	}
	n1 := note("r1", "a", 1, "success")
	n1.NextAt = at(10 * time.Second)
	if _, err := s.EnqueueNotifications(ctx, []store.Notification{n1}); err != nil {
		t.Fatal(err)
	}
	if next, ok, err := s.NextNotificationAt(ctx); err != nil || !ok || !next.Equal(stored(at(10*time.Second))) {
		t.Fatalf("next = %v %v %v", next, ok, err)
	}
	if got, _ := s.ClaimNotifications(ctx, "w1", at(5*time.Second), time.Minute, 10); len(got) != 0 {
		t.Fatalf("claimed a row not due: %+v", got)
	}
	got, err := s.ClaimNotifications(ctx, "w1", at(10*time.Second), time.Minute, 10)
	if err != nil || len(got) != 1 || got[0].Attempts != 1 || got[0].State != store.NoteSending {
		t.Fatalf("claim = %+v, %v", got, err)
	}
	if other, _ := s.ClaimNotifications(ctx, "w2", at(11*time.Second), time.Minute, 10); len(other) != 0 {
		t.Fatalf("a second worker claimed a leased row: %+v", other)
	}
	// Attempt 1 failed: pending again in 20s.
	if ok, err := s.FinishNotification(ctx, got[0], store.NotePending, at(30*time.Second), "boom", at(10*time.Second)); !ok || err != nil {
		t.Fatalf("finish = %v %v", ok, err)
	}
	if next, _, _ := s.NextNotificationAt(ctx); !next.Equal(stored(at(30 * time.Second))) {
		t.Errorf("next after a retry = %v", next)
	}
	got, _ = s.ClaimNotifications(ctx, "w1", at(30*time.Second), time.Minute, 10)
	if len(got) != 1 || got[0].Attempts != 2 {
		t.Fatalf("second claim = %+v", got)
	}
	// w1 dies; after its lease w2 takes the row over and w1's answer is refused.
	taken, _ := s.ClaimNotifications(ctx, "w2", at(91*time.Second), time.Minute, 10)
	if len(taken) != 1 || taken[0].ClaimedBy != "w2" || taken[0].Attempts != 3 {
		t.Fatalf("take over = %+v", taken)
	}
	if ok, _ := s.FinishNotification(ctx, got[0], store.NoteSent, time.Time{}, "", at(92*time.Second)); ok {
		t.Error("a stale attempt finished the row")
	}
	if ok, _ := s.FinishNotification(ctx, taken[0], store.NoteSent, time.Time{}, "", at(92*time.Second)); !ok {
		t.Error("the current attempt could not finish the row")
	}
	list, _ := s.ListNotifications(ctx, "d", "r1")
	if len(list) != 1 || list[0].State != store.NoteSent || !list[0].SentAt.Equal(stored(at(92*time.Second))) || list[0].LastError != "" {
		t.Errorf("row = %+v", list)
	}
	if _, ok, _ := s.NextNotificationAt(ctx); ok {
		t.Error("a sent row is still waiting")
	}
	// Deleting the run deletes its notifications.
	if err := s.DeleteRun(ctx, "d", "r1"); err != nil {
		t.Fatal(err)
	}
	if list, _ := s.ListNotifications(ctx, "d", "r1"); len(list) != 0 {
		t.Errorf("the deleted run's notifications remain: %+v", list)
	}
}

// testNotificationsDeadlineCondition: a deadline alert is written for a
// run unfinished, or finished after the deadline, never for one finished
// in time.
func testNotificationsDeadlineCondition(t *testing.T, s store.Store) {
	ctx := t.Context()
	deadline := at(time.Hour)
	runs := []struct {
		id    string
		state store.RunState
		end   time.Time
		want  bool
	}{
		{"running", store.RunRunning, time.Time{}, true},
		{"late", store.RunSuccess, at(2 * time.Hour), true},
		{"punctual", store.RunSuccess, at(30 * time.Minute), false},
		{"failed_early", store.RunFailed, at(time.Minute), false},
	}
	for i, r := range runs {
		run := newRun("d", r.id, at(time.Duration(i)*time.Second), store.RunRunning)
		if err := s.CreateRun(ctx, run, nil); err != nil {
			t.Fatal(err)
		}
		if r.state.Finished() {
			if ok, err := s.UpdateRun(ctx, store.RunUpdate{DagID: "d", RunID: r.id, To: r.state, EndDate: &r.end}); !ok || err != nil {
				t.Fatal(ok, err)
			}
		}
		n := note(r.id, "", 0, "deadline")
		n.UnlessEndedBy = deadline
		got, err := s.EnqueueNotifications(ctx, []store.Notification{n})
		if err != nil || (got == 1) != r.want {
			t.Errorf("%s: enqueued %d, %v; want %v", r.id, got, err, r.want)
		}
	}
	// A try's deadline: its own end, and only for that try.
	if err := s.CreateRun(ctx, newRun("d", "tasks", at(time.Hour), store.RunRunning), newTIs("slow", "quick", "next")); err != nil {
		t.Fatal(err)
	}
	end := func(task string, try int, endAt time.Time) {
		k := store.TaskKey{DagID: "d", RunID: "tasks", TaskID: task}
		for i := 0; i < try; i++ {
			ok, err := s.UpdateTask(ctx, store.TaskUpdate{Key: k, To: store.StateRunning, IncTry: true, StartDate: ptr(at(0))})
			if !ok || err != nil {
				t.Fatal(ok, err)
			}
		}
		if !endAt.IsZero() {
			if ok, err := s.UpdateTask(ctx, store.TaskUpdate{Key: k, To: store.StateSuccess, EndDate: &endAt}); !ok || err != nil {
				t.Fatal(ok, err)
			}
		}
	}
	end("slow", 1, time.Time{})
	end("quick", 1, at(time.Minute))
	end("next", 2, time.Time{})
	tries := []struct {
		task string
		try  int
		want bool
	}{{"slow", 1, true}, {"quick", 1, false}, {"next", 1, false}, {"next", 2, true}}
	for _, c := range tries {
		n := note("tasks", c.task, c.try, "deadline")
		n.UnlessEndedBy = deadline
		got, err := s.EnqueueNotifications(ctx, []store.Notification{n})
		if err != nil || (got == 1) != c.want {
			t.Errorf("%s try %d: enqueued %d, %v; want %v", c.task, c.try, got, err, c.want)
		}
	}
}

// testNotificationsWithRunUpdate: a run update's notifications are
// written with it, only if it applied.
func testNotificationsWithRunUpdate(t *testing.T, s store.Store) {
	ctx := t.Context()
	if err := s.CreateRun(ctx, newRun("d", "r1", at(0), store.RunRunning), nil); err != nil {
		t.Fatal(err)
	}
	u := store.RunUpdate{DagID: "d", RunID: "r1", From: []store.RunState{store.RunQueued}, To: store.RunFailed,
		Notify: []store.Notification{note("r1", "", 0, "failure")}}
	if ok, err := s.UpdateRun(ctx, u); ok || err != nil {
		t.Fatalf("update from queued = %v, %v; want refused", ok, err)
	}
	if list, _ := s.ListNotifications(ctx, "d", "r1"); len(list) != 0 {
		t.Fatalf("a refused update enqueued %+v", list)
	}
	u.From = []store.RunState{store.RunRunning}
	if ok, err := s.UpdateRun(ctx, u); !ok || err != nil {
		t.Fatalf("update from running = %v, %v", ok, err)
	}
	if list, _ := s.ListNotifications(ctx, "d", "r1"); len(list) != 1 || list[0].Event != "failure" || list[0].State != store.NotePending {
		t.Fatalf("notifications = %+v", list)
	}
}

package scheduler

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/dag"
	"github.com/sirocco-dev/sirocco/internal/store"
	"github.com/sirocco-dev/sirocco/internal/testenv"
)

// TestDeadlinePassedInTheEndingTick: the clock passes the run's and the
// try's deadline, and the tick that first sees it is the one that writes
// the try's success and so ends the run: both alerts are still enqueued
// (the run ended, and the try ended, after their deadlines).
func TestDeadlinePassedInTheEndingTick(t *testing.T) {
	d := testDAG(t, "dl", "none", "a")
	cmd := []dag.Notifier{{Command: "true"}}
	d.Deadline = &dag.Deadline{Reference: "queued_at", Interval: 30 * time.Second, Callback: cmd}
	d.Task("a").Deadline = &dag.Deadline{Reference: "task_start", Interval: 30 * time.Second, Callback: cmd}
	st := openTestStore(t)
	run, tis := NewRunRecords(d, store.RunManual, dag.Interval{Start: t0, End: t0}, nil, t0)
	run.State = store.RunRunning
	if err := st.CreateRun(t.Context(), run, tis); err != nil {
		t.Fatal(err)
	}
	clock := &manualClock{now: t0}
	e := newHandOffExecutor()
	// The poll interval is an hour and the deadlines 30s (real time) away
	// when a is handed over: only the outcome makes the loop look again.
	l := NewLoop(Options{Store: st, DAGs: fixedDAGs{d.ID: d}, Executor: e, PollInterval: time.Hour,
		ResyncEvery: time.Hour, Clock: clock})
	f := &handOffFixture{t: t, st: st, exec: e, loop: l, d: d}
	f.run()
	a := f.next()
	clock.add(time.Minute)
	if w, err := l.Record(t.Context(), success(a.TaskKey, a.TryNumber)); err != nil || !w.OK {
		t.Fatalf("record: %+v %v", w, err)
	}
	testenv.Eventually(t, "the run to end", 10*time.Second, func() (bool, string) {
		r, err := st.GetRun(context.Background(), d.ID, run.RunID)
		return err == nil && r.State == store.RunSuccess, string(r.State)
	})
	list, err := st.ListNotifications(t.Context(), d.ID, run.RunID)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, n := range list {
		got = append(got, n.TaskID+"/"+n.Event)
	}
	slices.Sort(got)
	if want := []string{"/deadline", "a/deadline"}; !slices.Equal(got, want) {
		t.Errorf("notifications = %v, want %v", got, want)
	}
}

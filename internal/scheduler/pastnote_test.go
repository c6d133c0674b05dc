package scheduler

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/dag"
	"github.com/sirocco-dev/sirocco/internal/store"
	"github.com/sirocco-dev/sirocco/internal/store/sqlstore"
	"github.com/sirocco-dev/sirocco/internal/testenv"
)

// TestPastNoteUpdate: every reason CheckPastDep gives for a wait is a
// past note, the expansion's are not; a note is written once per reason,
// cleared once met, and another kind of note is left alone.
func TestPastNoteUpdate(t *testing.T) {
	d := testDAG(t, "d", "none", "a", "b:a")
	d.Task("a").WaitForDownstream = true
	waits := []PastDep{
		CheckPastDep(d, d.Task("a"), true, "r1", prevStates(map[string]store.TaskState{})),
		CheckPastDep(d, d.Task("a"), true, "r1", prevStates(map[string]store.TaskState{"a": store.StateFailed})),
		CheckPastDep(d, d.Task("a"), true, "r1", prevStates(map[string]store.TaskState{"a": store.StateSuccess, "b": store.StateNone})),
	}
	for _, dep := range waits {
		if dep.Met || !IsPastNote(dep.Reason) {
			t.Errorf("%+v: want a wait whose reason is a past note", dep)
		}
	}
	if IsPastNote(errNoUpstreamList.Error()) {
		t.Errorf("the expansion's note %q is taken for a past note", errNoUpstreamList)
	}
	wait, met := waits[1], PastDep{Met: true}
	for _, c := range []struct {
		note  string
		dep   PastDep
		state store.TaskState
		want  *string
	}{
		{"", wait, store.StateNone, &wait.Reason},
		{waits[0].Reason, wait, store.StateNone, &wait.Reason},
		{wait.Reason, wait, store.StateNone, nil},
		{wait.Reason, met, store.StateNone, new(string)},
		{"", met, store.StateNone, nil},
		{errNoUpstreamList.Error(), wait, store.StateNone, nil},
		{errNoUpstreamList.Error(), met, store.StateNone, nil},
		{"", wait, store.StateQueued, nil},
	} {
		ti := store.TaskInstance{TaskKey: store.TaskKey{DagID: "d", TaskID: "a"}, State: c.state, Note: c.note, Version: 3}
		u, ok := pastNoteUpdate(ti, c.dep)
		if ok != (c.want != nil) || ok && (*u.Note != *c.want || *u.FromVersion != 3 || u.To != store.StateNone) {
			t.Errorf("note %q, %+v, %s: update %v %+v, want note %v", c.note, c.dep, c.state, ok, u, c.want)
		}
	}
}

// TestPastNoteRaceOfTwoSchedulers: two schedulers look at the same
// waiting task; the one whose copy of the row is older than the other's
// note loses its conditional write, reads the row again and writes
// nothing more: one write per reason, on SQLite and PostgreSQL.
func TestPastNoteRaceOfTwoSchedulers(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		st, err := sqlstore.OpenSQLite(filepath.Join(t.TempDir(), "sirocco.db"))
		testPastNoteRace(t, st, err)
	})
	t.Run("postgres", func(t *testing.T) {
		st, err := sqlstore.Open(t.Context(), testenv.Postgres(t))
		testPastNoteRace(t, st, err)
	})
}

func testPastNoteRace(t *testing.T, st *sqlstore.Store, err error) {
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	d := testDAG(t, "d", "none", "work")
	d.Task("work").DependsOnPast = true
	run1, tis1 := NewRunRecords(d, store.RunManual, dag.Interval{Start: t0, End: t0}, nil, t0)
	run1.State, tis1[0].State = store.RunFailed, store.StateFailed
	t1 := t0.Add(time.Hour)
	run2, tis2 := NewRunRecords(d, store.RunManual, dag.Interval{Start: t1, End: t1}, nil, t0)
	run2.State = store.RunRunning
	for _, r := range []struct {
		run store.DagRun
		tis []store.TaskInstance
	}{{run1, tis1}, {run2, tis2}} {
		if err := st.CreateRun(t.Context(), r.run, r.tis); err != nil {
			t.Fatal(err)
		}
	}
	loop := func() *Loop {
		return NewLoop(Options{Store: st, DAGs: fixedDAGs{d.ID: d}, Executor: newHandOffExecutor(),
			PollInterval: time.Hour, ResyncEvery: time.Hour, Clock: &manualClock{now: t0}})
	}
	a, b := loop(), loop()
	tick := func(l *Loop) {
		t.Helper()
		if _, err := l.Tick(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	work := store.TaskKey{DagID: d.ID, RunID: run2.RunID, TaskID: "work"}
	want := func(note string, version int64) {
		t.Helper()
		ti, err := st.GetTaskInstance(context.Background(), work)
		if err != nil || ti.State != store.StateNone || ti.Note != note || ti.Version != version {
			t.Fatalf("work: %q, note %q, version %d, %v; want none, note %q, version %d",
				ti.State, ti.Note, ti.Version, err, note, version)
		}
	}
	tick(a)
	failed := "depends_on_past: work in the previous run " + run1.RunID + " is failed, not success or skipped"
	want(failed, 1)
	tick(b) // reads the row with a's note: nothing to write
	want(failed, 1)
	// Run 1's task changes behind both schedulers' backs (run 1 is not
	// active: both read it from the store). a writes the new reason; b's
	// copy of the row is the older one, its write is refused.
	if ok, err := st.UpdateTask(t.Context(), store.TaskUpdate{Key: store.TaskKey{DagID: d.ID, RunID: run1.RunID, TaskID: "work"},
		From: []store.TaskState{store.StateFailed}, To: store.StateUpstreamFailed}); err != nil || !ok {
		t.Fatalf("update run 1's task: %v %v", ok, err)
	}
	tick(a)
	upFailed := "depends_on_past: work in the previous run " + run1.RunID + " is upstream_failed, not success or skipped"
	want(upFailed, 2)
	tick(b)
	tick(b)
	want(upFailed, 2)
	tick(a)
	want(upFailed, 2)
}

// TestDropPastNote: a write that moves a task out of none empties its
// past-dependency note, also one a past-dependent task's row may have got
// since it was read; another note, and other tasks' rows, are left alone.
func TestDropPastNote(t *testing.T) {
	d := testDAG(t, "d", "none", "past", "plain")
	d.Task("past").DependsOnPast = true
	l := NewLoop(Options{Store: openTestStore(t), DAGs: fixedDAGs{d.ID: d}, Executor: newHandOffExecutor()})
	snap := Snapshot{DAGs: map[string]*dag.DAG{d.ID: d}}
	why := "depends_on_past: past in the previous run r1 is failed, not success or skipped"
	expand := errNoUpstreamList.Error()
	for _, c := range []struct {
		task, note string
		state, to  store.TaskState
		empties    bool
	}{
		{"past", why, store.StateNone, store.StateQueued, true},
		{"past", why, store.StateNone, store.StateUpstreamFailed, true},
		{"past", "", store.StateNone, store.StateScheduled, true},
		{"past", "", store.StateScheduled, store.StateQueued, false},
		{"past", expand, store.StateNone, store.StateFailed, false},
		{"plain", "", store.StateNone, store.StateQueued, false},
		{"plain", why, store.StateNone, store.StateSkipped, true},
		{"past", why, store.StateRestarting, store.StateNone, false},
	} {
		before := store.TaskInstance{TaskKey: store.TaskKey{DagID: "d", RunID: "r", TaskID: c.task}, State: c.state, Note: c.note}
		u := l.dropPastNote(snap, store.TaskUpdate{Key: before.TaskKey, From: []store.TaskState{c.state}, To: c.to}, &before)
		if (u.Note != nil) != c.empties || u.Note != nil && *u.Note != "" {
			t.Errorf("%s %s note %q to %s: note %v, want emptied %v", c.task, c.state, c.note, c.to, u.Note, c.empties)
		}
	}
}

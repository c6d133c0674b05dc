package scheduler

import (
	"strings"
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/store"
)

// TestCheckPastDep is Airflow's PrevDagrunDep as a table: the previous
// run's state of the task (and, with wait_for_downstream, of its direct
// downstream tasks) → met or the reason it waits.
func TestCheckPastDep(t *testing.T) {
	t.Parallel()
	d := testDAG(t, "d", "@daily", "a", "b:a", "c:b")
	const (
		S = store.StateSuccess
		K = store.StateSkipped
		F = store.StateFailed
		R = store.StateRunning
	)
	tests := []struct {
		name        string
		hasPrev     bool
		prev        map[string]store.TaskState
		wait, first bool
		met         bool
		reason      string
	}{
		{name: "first run", met: true},
		{name: "previous success", hasPrev: true, prev: map[string]store.TaskState{"b": S}, met: true},
		{name: "previous skipped", hasPrev: true, prev: map[string]store.TaskState{"b": K}, met: true},
		{name: "previous failed", hasPrev: true, prev: map[string]store.TaskState{"b": F}, reason: "b in the previous run p is failed"},
		{name: "previous running", hasPrev: true, prev: map[string]store.TaskState{"b": R}, reason: "is running"},
		{name: "previous not started", hasPrev: true, prev: map[string]store.TaskState{"b": store.StateNone}, reason: "not started"},
		{name: "no instance", hasPrev: true, prev: map[string]store.TaskState{"a": S}, reason: "has no instance of b"},
		{name: "no instance, ignore first", hasPrev: true, prev: map[string]store.TaskState{"a": S}, first: true, met: true},
		{name: "downstream running", hasPrev: true, prev: map[string]store.TaskState{"b": S, "c": R}, wait: true,
			reason: "wait_for_downstream: c in the previous run p is running"},
		{name: "downstream skipped", hasPrev: true, prev: map[string]store.TaskState{"b": S, "c": K}, wait: true, met: true},
		{name: "downstream missing", hasPrev: true, prev: map[string]store.TaskState{"b": S}, wait: true, reason: "wait_for_downstream: c"},
		{name: "downstream not waited for", hasPrev: true, prev: map[string]store.TaskState{"b": S, "c": F}, met: true},
	}
	for _, tt := range tests {
		task := *d.Task("b")
		task.DependsOnPast, task.WaitForDownstream, task.IgnoreFirstDependsOnPast = true, tt.wait, tt.first
		got := CheckPastDep(d, &task, tt.hasPrev, "p", prevStates(tt.prev))
		if got.Met != tt.met || !strings.Contains(got.Reason, tt.reason) {
			t.Errorf("%s: %+v, want met %v reason ~%q", tt.name, got, tt.met, tt.reason)
		}
	}
}

// prevStates makes a previous run's task states, one instance per task.
func prevStates(m map[string]store.TaskState) map[string]PrevState {
	out := map[string]PrevState{}
	for id, st := range m {
		out[id] = PrevState{State: st, Inst: store.TaskKey{TaskID: id}}
	}
	return out
}

// TestDecideHoldsPastDependentTasks: a depends_on_past task whose trigger
// rule is met waits until PastDeps says the previous run allows it; its
// upstream failing still makes it upstream_failed (the trigger rule
// decides first, as Airflow's TriggerRuleDep flags it).
func TestDecideHoldsPastDependentTasks(t *testing.T) {
	t.Parallel()
	d := testDAG(t, "d", "@daily", "a", "b:a")
	d.Task("b").DependsOnPast = true
	w := newWorld(d)
	w.addRun(d, "r2", store.RunRunning, map[string]store.TaskState{"a": store.StateSuccess})
	w.addRun(d, "r3", store.RunRunning, map[string]store.TaskState{"a": store.StateFailed})
	w.snap.Runs[0].RunType, w.snap.Runs[1].RunType = store.RunScheduled, store.RunScheduled
	p := Decide(w.snap)
	for _, u := range p.TaskUpdates {
		if u.Key.RunID == "r2" && u.Key.TaskID == "b" {
			t.Fatalf("b queued without its past dependency: %+v", u)
		}
	}
	if w.apply(p); w.ti("r3", "b").State != store.StateUpstreamFailed {
		t.Errorf("r3's b = %s, want upstream_failed", w.ti("r3", "b").State)
	}
	w.snap.PastDeps = map[store.TaskKey]PastDep{w.ti("r2", "b").TaskKey: {Met: true}}
	if q := w.apply(Decide(w.snap)); len(q) != 1 || q[0].TaskID != "b" {
		t.Errorf("queued %v, want r2's b once the previous run allows it", q)
	}
}

// TestDecideLatestOnlyFlag: a latest_only task is skipped in a scheduled
// run that is not the latest and runs in the latest and in manual runs.
func TestDecideLatestOnlyFlag(t *testing.T) {
	t.Parallel()
	d := testDAG(t, "d", "@daily", "a", "b:a")
	d.Task("b").LatestOnly = true
	w := newWorld(d)
	day := func(n int) time.Time { return time.Date(2026, 1, n, 0, 0, 0, 0, time.UTC) }
	w.snap.Now = day(5).Add(time.Hour)
	for _, r := range []struct {
		id     string
		typ    store.RunType
		start  time.Time
		wantB  store.TaskState
		reason string
	}{
		{"old", store.RunScheduled, day(1), store.StateSkipped, "catchup run"},
		{"latest", store.RunScheduled, day(4), store.StateQueued, "latest run"},
		{"manual", store.RunManual, day(1), store.StateQueued, "manual run"},
		{"backfill", store.RunBackfill, day(2), store.StateSkipped, "backfill run"},
	} {
		w.addRun(d, r.id, store.RunRunning, map[string]store.TaskState{"a": store.StateSuccess})
		run := &w.snap.Runs[len(w.snap.Runs)-1]
		run.RunType, run.DataIntervalStart, run.DataIntervalEnd, run.LogicalDate = r.typ, r.start, r.start.AddDate(0, 0, 1), r.start
		defer func() {
			if got := w.ti(r.id, "b").State; got != r.wantB {
				t.Errorf("%s: b = %s, want %s", r.reason, got, r.wantB)
			}
		}()
	}
	w.apply(Decide(w.snap))
}

// TestDecideStartsAPastBlockerBeyondMaxActiveRuns: a queued run named in
// PastBlockers starts though max_active_runs is reached; another queued
// run still waits for a slot.
func TestDecideStartsAPastBlockerBeyondMaxActiveRuns(t *testing.T) {
	t.Parallel()
	d := testDAG(t, "d", "@daily", "a", "b:a")
	d.Task("b").DependsOnPast = true
	d.MaxActiveRuns = 1
	w := newWorld(d)
	w.addRun(d, "r1", store.RunQueued, map[string]store.TaskState{})
	w.addRun(d, "r2", store.RunRunning, map[string]store.TaskState{"a": store.StateSuccess})
	w.addRun(d, "r3", store.RunQueued, map[string]store.TaskState{})
	w.snap.PastBlockers = map[runKey]bool{{"d", "r1"}: true}
	started := map[string]bool{}
	for _, u := range Decide(w.snap).RunUpdates {
		if u.To == store.RunRunning {
			started[u.RunID] = true
		}
	}
	if !started["r1"] || started["r3"] {
		t.Errorf("started %v, want r1 (a past blocker) only", started)
	}
}

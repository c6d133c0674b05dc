package scheduler

import (
	"strings"
	"testing"

	"github.com/sirocco-dev/sirocco/internal/dag"
	"github.com/sirocco-dev/sirocco/internal/store"
)

// mappedWorld is a running run of up -> m (mapped) -> down, with m
// expanded into the given instance states (none: not expanded yet).
func mappedWorld(t *testing.T, up store.TaskState, inst ...store.TaskState) (*world, *dag.DAG) {
	d := testDAG(t, "d", "none", "up", "m:up", "down:m")
	d.Task("m").Expand = &dag.Expand{Fields: []dag.ExpandField{{Name: "x", MapSource: dag.MapSource{XComTask: "up", XComKey: "return_value"}}}}
	w := newWorld(d)
	run, tis := NewRunRecords(d, store.RunManual, dag.Interval{Start: t0, End: t0}, nil, t0)
	run.State, run.StartDate = store.RunRunning, t0
	tis[0].State = up
	rows := []store.TaskInstance{tis[0]}
	if len(inst) == 0 {
		rows = append(rows, tis[1])
	}
	for i, st := range inst {
		ti := tis[1]
		ti.TaskKey = ti.TaskKey.WithMapIndex(i)
		ti.State = st
		rows = append(rows, ti)
	}
	rows = append(rows, tis[2])
	w.snap.Runs = append(w.snap.Runs, run)
	w.snap.TIs = append(w.snap.TIs, rows...)
	return w, d
}

func TestDecideExpandsAPlaceholderOnceItsUpstreamIsDone(t *testing.T) {
	w, _ := mappedWorld(t, store.StateRunning)
	if p := Decide(w.snap); len(p.Expand) != 0 {
		t.Fatalf("expand while up runs: %v", p.Expand)
	}
	w, _ = mappedWorld(t, store.StateSuccess)
	w.snap.TIs[1].Version = 7 // the expansion is written over this row only
	p := Decide(w.snap)
	if len(p.Expand) != 1 || p.Expand[0].TaskID != "m" || p.Expand[0].Mapped() || p.Expand[0].Version != 7 {
		t.Fatalf("Expand = %v; want m's placeholder at version 7", p.Expand)
	}
	for _, u := range p.TaskUpdates {
		if u.Key.TaskID == "m" {
			t.Errorf("the placeholder was also %s", u.To)
		}
	}
	w, _ = mappedWorld(t, store.StateFailed)
	p = Decide(w.snap)
	if len(p.Expand) != 0 || !hasUpdate(p, "m", store.StateUpstreamFailed) {
		t.Fatalf("an upstream failure: Expand %v, updates %v; want m upstream_failed", p.Expand, p.TaskUpdates)
	}
}

func TestDecideTriggerRulesCountEveryInstance(t *testing.T) {
	const S, F, R = store.StateSuccess, store.StateFailed, store.StateRunning
	w, _ := mappedWorld(t, S, S, R, S)
	if p := Decide(w.snap); hasUpdate(p, "down", store.StateQueued) || hasUpdate(p, "down", store.StateUpstreamFailed) {
		t.Fatalf("down decided while an instance runs: %v", p.TaskUpdates)
	}
	w, _ = mappedWorld(t, S, S, F, S)
	if p := Decide(w.snap); !hasUpdate(p, "down", store.StateUpstreamFailed) {
		t.Fatalf("one failed instance: %v; want down upstream_failed", p.TaskUpdates)
	}
	w, _ = mappedWorld(t, S, S, S, S)
	if p := Decide(w.snap); !hasUpdate(p, "down", store.StateQueued) {
		t.Fatalf("every instance succeeded: %v; want down queued", p.TaskUpdates)
	}
}

// TestDecideRemovedInstancesDoNotCount: instances a re-expansion removed
// (the list shrank after a clear) are not upstream of anything, as in
// Airflow: the downstream task runs once the others succeeded.
func TestDecideRemovedInstancesDoNotCount(t *testing.T) {
	const S, X = store.StateSuccess, store.StateRemoved
	w, _ := mappedWorld(t, S, S, S, X)
	if p := Decide(w.snap); !hasUpdate(p, "down", store.StateQueued) {
		t.Fatalf("two instances succeeded, one removed: %v; want down queued", p.TaskUpdates)
	}
}

func TestDecideMaxActiveTIsPerDAG(t *testing.T) {
	w, d := mappedWorld(t, store.StateSuccess, store.StateRunning, store.StateNone, store.StateNone, store.StateScheduled)
	d.Task("m").MaxActiveTIsPerDAG = 2
	p := Decide(w.snap)
	queued := 0
	for _, u := range p.TaskUpdates {
		if u.Key.TaskID == "m" && u.To == store.StateQueued {
			queued++
		}
	}
	if queued != 1 {
		t.Fatalf("%d instances queued beside a running one with max_active_tis_per_dag 2; want 1: %v", queued, p.TaskUpdates)
	}
}

func TestPastStateCountsEveryInstance(t *testing.T) {
	states := map[string]PrevState{}
	for i, st := range []store.TaskState{store.StateSuccess, store.StateFailed, store.StateSuccess} {
		addPastState(states, &store.TaskInstance{TaskKey: store.TaskKey{TaskID: "m"}.WithMapIndex(i), State: st})
	}
	if states["m"].State != store.StateFailed {
		t.Fatalf("the previous run's mapped task is %q; want failed (one instance failed)", states["m"].State)
	}
	// The reason names the instance that failed, not the whole task
	// (trial12 T3): its other instances succeeded.
	d := testDAG(t, "d", "@daily", "m")
	task := *d.Task("m")
	task.DependsOnPast = true
	got := CheckPastDep(d, &task, true, "p1", states)
	want := "depends_on_past: m [1] in the previous run p1 is failed, not success or skipped"
	if got.Met || got.Reason != want || !IsPastNote(got.Reason) {
		t.Fatalf("reason %+v; want %q", got, want)
	}
}

// TestPastStateLeavesRemovedInstancesOut: an instance removed when the
// task expanded again over a shorter list does not hold depends_on_past.
func TestPastStateLeavesRemovedInstancesOut(t *testing.T) {
	states := map[string]PrevState{}
	for i, st := range []store.TaskState{store.StateSuccess, store.StateRemoved} {
		k := store.TaskKey{TaskID: "m"}.WithMapIndex(i)
		addPastState(states, &store.TaskInstance{TaskKey: k, State: st})
	}
	if states["m"].State != store.StateSuccess {
		t.Fatalf("the previous run's mapped task is %q; want success", states["m"].State)
	}
}

func TestXComList(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{`[1, "a"]`, "2"}, {`"[1, 2, 3]"`, "3"}, {`{"b": 1, "a": 2}`, "2"}, {`[]`, "0"},
		{`"abc"`, "error"}, {`3`, "error"},
	} {
		l, err := XComList(tt.in)
		got := "error"
		if err == nil {
			got = string(rune('0' + len(l)))
		}
		if got != tt.want {
			t.Errorf("XComList(%s) = %v, %v; want %s", tt.in, l, err, tt.want)
		}
	}
}

// TestXComListErrorHidesTheValue: the error of an XCom that is not a list
// names its JSON type, not its value: it becomes the task's note, which
// the API, the UI and the CLI show unmasked, and a task may return a
// secret (the API masks XCom values for that reason).
func TestXComListErrorHidesTheValue(t *testing.T) {
	for in, kind := range map[string]string{`"s3cr3t-token"`: "a string", `{"s3cr3t-token": 1}`: "", `31415926`: "a number", `"[s3cr3t-token"`: "a string"} {
		_, err := XComList(in)
		if kind == "" {
			continue // an object expands over its items
		}
		if err == nil || strings.Contains(err.Error(), "s3cr3t") || strings.Contains(err.Error(), "31415926") || !strings.Contains(err.Error(), kind) {
			t.Errorf("XComList(%s) = %v; want an error naming %s without the value", in, err, kind)
		}
	}
}

func hasUpdate(p Plan, taskID string, to store.TaskState) bool {
	for _, u := range p.TaskUpdates {
		if u.Key.TaskID == taskID && u.To == to {
			return true
		}
	}
	return false
}

// TestGroupAndIndexSplitRows: rows of a run (or of a task) that are not
// next to each other are all found.
func TestGroupAndIndexSplitRows(t *testing.T) {
	k := func(run, task string, m int) store.TaskInstance {
		return store.TaskInstance{TaskKey: store.TaskKey{DagID: "d", RunID: run, TaskID: task, Map: m}}
	}
	tis := []store.TaskInstance{k("r1", "a", 0), k("r1", "m", 1), k("r2", "a", 0), k("r1", "m", 2), k("r1", "b", 0), k("r1", "m", 3)}
	byRun := groupByRun(tis, 2)
	if len(byRun[runKey{"d", "r1"}]) != 5 || len(byRun[runKey{"d", "r2"}]) != 1 {
		t.Fatalf("groups: r1 %d rows, r2 %d; want 5 and 1", len(byRun[runKey{"d", "r1"}]), len(byRun[runKey{"d", "r2"}]))
	}
	if byRun[runKey{"d", "r2"}][0].RunID != "r2" {
		t.Fatal("r2's group was overwritten by r1's split rows")
	}
	x := indexByTask(byRun[runKey{"d", "r1"}])
	var got []int
	x.each("m", func(j int) { got = append(got, j) })
	if len(got) != 3 || got[0] != 1 || got[1] != 2 || got[2] != 4 || len(x.list("m")) != 3 || len(x.list("a")) != 1 || x.list("zz") != nil {
		t.Fatalf("positions of m: %v (list %v)", got, x.list("m"))
	}
}

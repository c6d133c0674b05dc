package actions_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/sirocco-dev/sirocco/internal/actions"
	"github.com/sirocco-dev/sirocco/internal/store"
)

// TestClearDeletesXComs: a clear deletes the XComs of what it puts back to
// none and of a running try it moves to restarting (which may have pushed
// just before), so no later xcom_pull or hand-marked branch reads them;
// a task it does not select keeps its XComs. Clearing a restarting task
// again leaves it restarting: its try is still being stopped.
func TestClearDeletesXComs(t *testing.T) {
	st, d := setup(t, chainYAML)
	ctx := t.Context()
	run, err := actions.CreateRun(ctx, st, d, actions.RunRequest{RunID: "r"}, now)
	if err != nil {
		t.Fatal(err)
	}
	setStates(t, st, d, run.RunID, map[string]store.TaskState{"a": store.StateSuccess, "b": store.StateSuccess,
		"c": store.StateFailed, "side": store.StateRunning})
	key := func(id string) store.TaskKey { return store.TaskKey{DagID: d.ID, RunID: run.RunID, TaskID: id} }
	for _, id := range []string{"a", "b", "c", "side"} {
		if err := st.SetXCom(ctx, store.XCom{TaskKey: key(id), Key: "return_value", Value: `"` + id + `"`}); err != nil {
			t.Fatal(err)
		}
	}
	res, err := actions.Clear(ctx, st, d, actions.ClearRequest{RunID: run.RunID, TaskIDs: []string{"b", "side"}, Downstream: true}, now)
	if err != nil || res.Cleared != 2 || res.Restarting != 1 {
		t.Fatalf("clear = %+v, %v; want b and c cleared, side restarting", res, err)
	}
	for id, kept := range map[string]bool{"a": true, "b": false, "c": false, "side": false} {
		_, err := st.GetXCom(ctx, key(id), "return_value")
		switch {
		case kept && err != nil:
			t.Errorf("%s was not cleared but lost its XCom: %v", id, err)
		case !kept && !errors.Is(err, store.ErrNotFound):
			t.Errorf("%s was cleared but its XCom is still there (%v)", id, err)
		}
	}

	res, err = actions.Clear(ctx, st, d, actions.ClearRequest{RunID: run.RunID, TaskIDs: []string{"side"}}, now)
	if err != nil || res.Cleared != 0 || res.Restarting != 0 {
		t.Fatalf("second clear of the restarting task = %+v, %v", res, err)
	}
	if got := states(t, st, d, run.RunID); got["side"] != store.StateRestarting {
		t.Errorf("a restarting task cleared again is %q; its executor hands it back once stopped", stateName(got["side"]))
	}
}

func stateName(s store.TaskState) string {
	if s == store.StateNone {
		return "none"
	}
	return string(s)
}

const mappedYAML = `dag_id: mapped
schedule: none
tasks:
  - {id: m, operator: bash, expand: {command: [echo 0, echo 1, echo 2]}}
  - {id: n, operator: bash, depends_on: [m], expand: {command: [echo 0, echo 1]}}
  - {id: total, operator: empty, depends_on: [n]}
`

// TestClearMapIndexDownstream: clearing instance 1 of a mapped task with
// downstream clears that instance alone and, as Airflow does, every
// instance of the tasks downstream of it (mapped or not); without
// downstream they keep their state.
func TestClearMapIndexDownstream(t *testing.T) {
	st, d := setup(t, mappedYAML)
	ctx := t.Context()
	run, err := actions.CreateRun(ctx, st, d, actions.RunRequest{RunID: "r"}, now)
	if err != nil {
		t.Fatal(err)
	}
	key := func(id string) store.TaskKey { return store.TaskKey{DagID: d.ID, RunID: run.RunID, TaskID: id} }
	for id, n := range map[string]int{"m": 3, "n": 2} {
		if ok, err := st.ExpandTask(ctx, key(id), 0, n, now); err != nil || !ok {
			t.Fatalf("expand %s: %v, %v", id, ok, err)
		}
	}
	all := map[string][]int{"m": {0, 1, 2}, "n": {0, 1}, "total": {-1}}
	for id, idx := range all {
		for _, i := range idx {
			ok, err := st.UpdateTask(ctx, store.TaskUpdate{Key: key(id).WithMapIndex(i), From: []store.TaskState{store.StateNone},
				To: store.StateSuccess, IncTry: true})
			if err != nil || !ok {
				t.Fatalf("set %s[%d]: %v, %v", id, i, ok, err)
			}
		}
	}
	one := 1
	res, err := actions.Clear(ctx, st, d, actions.ClearRequest{RunID: run.RunID, TaskIDs: []string{"m"}, MapIndex: &one}, now)
	if err != nil || res.Cleared != 1 {
		t.Fatalf("clear m[1] = %+v, %v; want 1 cleared", res, err)
	}
	res, err = actions.Clear(ctx, st, d, actions.ClearRequest{RunID: run.RunID, TaskIDs: []string{"m"}, MapIndex: &one,
		Downstream: true, DryRun: true}, now)
	if err != nil || len(res.TaskInstances) != 4 {
		t.Fatalf("dry run of m[1] with downstream = %+v, %v; want m[1], n[0], n[1], total", res, err)
	}
	res, err = actions.Clear(ctx, st, d, actions.ClearRequest{RunID: run.RunID, TaskIDs: []string{"m"}, MapIndex: &one, Downstream: true}, now)
	if err != nil || res.Cleared != 4 {
		t.Fatalf("clear m[1] with downstream = %+v, %v; want 4 cleared", res, err)
	}
	tis, err := st.ListTaskInstances(ctx, d.ID, run.RunID)
	if err != nil {
		t.Fatal(err)
	}
	// n, cleared in full, is its placeholder again, to expand anew over
	// its list (its map index 1 removed until then).
	var got []string
	for _, ti := range tis {
		got = append(got, fmt.Sprintf("%s[%d]:%s", ti.TaskID, ti.MapIndex(), stateName(ti.State)))
	}
	want := "m[0]:success m[1]:none m[2]:success n[-1]:none n[1]:removed total[-1]:none"
	if strings.Join(got, " ") != want {
		t.Errorf("instances after the clear:\n%s\nwant\n%s", strings.Join(got, " "), want)
	}
	// A map index no named task has (out of range, or a task that is not
	// mapped) is a not-found error, not "cleared 0" that hides a typo.
	for _, c := range []struct {
		task string
		idx  int
	}{{"m", 9}, {"total", 0}} {
		res, err = actions.Clear(ctx, st, d, actions.ClearRequest{RunID: run.RunID, TaskIDs: []string{c.task}, MapIndex: &c.idx}, now)
		if !errors.Is(err, store.ErrNotFound) || !strings.Contains(fmt.Sprint(err), "map_index") {
			t.Errorf("clear %s[%d] = %+v, %v; want a not-found error naming map_index", c.task, c.idx, res, err)
		}
	}
}

// TestClearOnlyFailedInstances: --only-failed on a mapped task clears its
// failed instances alone, as Airflow does; the ones that succeeded keep
// their state and do not run again.
func TestClearOnlyFailedInstances(t *testing.T) {
	st, d := setup(t, mappedYAML)
	ctx := t.Context()
	run, err := actions.CreateRun(ctx, st, d, actions.RunRequest{RunID: "r"}, now)
	if err != nil {
		t.Fatal(err)
	}
	k := store.TaskKey{DagID: d.ID, RunID: run.RunID, TaskID: "m"}
	if ok, err := st.ExpandTask(ctx, k, 0, 3, now); err != nil || !ok {
		t.Fatalf("expand: %v, %v", ok, err)
	}
	for i, to := range []store.TaskState{store.StateSuccess, store.StateFailed, store.StateSuccess} {
		ok, err := st.UpdateTask(ctx, store.TaskUpdate{Key: k.WithMapIndex(i), From: []store.TaskState{store.StateNone},
			To: to, IncTry: true})
		if err != nil || !ok {
			t.Fatalf("set m[%d]: %v, %v", i, ok, err)
		}
	}
	res, err := actions.Clear(ctx, st, d, actions.ClearRequest{RunID: run.RunID, TaskIDs: []string{"m"}, OnlyFailed: true}, now)
	if err != nil || res.Cleared != 1 {
		t.Fatalf("clear only failed = %+v, %v; want m[1] cleared", res, err)
	}
	for i, want := range []store.TaskState{store.StateSuccess, store.StateNone, store.StateSuccess} {
		ti, err := st.GetTaskInstance(ctx, k.WithMapIndex(i))
		if err != nil || ti.State != want {
			t.Errorf("m[%d] = %s, %v; want %s", i, stateName(ti.State), err, stateName(want))
		}
	}
}

// TestClearMapIndexPairs: Airflow's [task_id, map_index] pairs clear only
// the instances they name, while a task named plainly beside them is
// cleared whole; a pair out of range is a not-found error.
func TestClearMapIndexPairs(t *testing.T) {
	st, d := setup(t, mappedYAML)
	ctx := t.Context()
	run, err := actions.CreateRun(ctx, st, d, actions.RunRequest{RunID: "r"}, now)
	if err != nil {
		t.Fatal(err)
	}
	key := func(id string) store.TaskKey { return store.TaskKey{DagID: d.ID, RunID: run.RunID, TaskID: id} }
	for id, n := range map[string]int{"m": 3, "n": 2} {
		if ok, err := st.ExpandTask(ctx, key(id), 0, n, now); err != nil || !ok {
			t.Fatalf("expand %s: %v, %v", id, ok, err)
		}
	}
	for id, idx := range map[string][]int{"m": {0, 1, 2}, "n": {0, 1}, "total": {-1}} {
		for _, i := range idx {
			ok, err := st.UpdateTask(ctx, store.TaskUpdate{Key: key(id).WithMapIndex(i), From: []store.TaskState{store.StateNone},
				To: store.StateSuccess, IncTry: true})
			if err != nil || !ok {
				t.Fatalf("set %s[%d]: %v, %v", id, i, ok, err)
			}
		}
	}
	req := actions.ClearRequest{RunID: run.RunID, TaskIDs: []string{"m", "total"}, MapIndexes: map[string][]int{"m": {0, 2}}}
	res, err := actions.Clear(ctx, st, d, req, now)
	if err != nil || res.Cleared != 3 {
		t.Fatalf("clear m[0], m[2], total = %+v, %v; want 3 cleared", res, err)
	}
	tis, err := st.ListTaskInstances(ctx, d.ID, run.RunID)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, ti := range tis {
		got = append(got, fmt.Sprintf("%s[%d]:%s", ti.TaskID, ti.MapIndex(), stateName(ti.State)))
	}
	want := "m[0]:none m[1]:success m[2]:none n[0]:success n[1]:success total[-1]:none"
	if strings.Join(got, " ") != want {
		t.Errorf("instances after the clear:\n%s\nwant\n%s", strings.Join(got, " "), want)
	}
	req = actions.ClearRequest{RunID: run.RunID, TaskIDs: []string{"m"}, MapIndexes: map[string][]int{"m": {1, 7}}, DryRun: true}
	if res, err = actions.Clear(ctx, st, d, req, now); !errors.Is(err, store.ErrNotFound) || !strings.Contains(fmt.Sprint(err), "map_index 7 of m") {
		t.Errorf("clear m[7] = %+v, %v; want a not-found error naming m's map_index 7", res, err)
	}
}

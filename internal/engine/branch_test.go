package engine

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/actions"
	"github.com/sirocco-dev/sirocco/internal/dag"
	"github.com/sirocco-dev/sirocco/internal/operator/all"
	"github.com/sirocco-dev/sirocco/internal/scheduler"
	"github.com/sirocco-dev/sirocco/internal/store"
	"github.com/sirocco-dev/sirocco/internal/store/sqlstore"
	"github.com/sirocco-dev/sirocco/internal/testenv"
)

// databases runs a test on a fresh SQLite file and on PostgreSQL (which
// must be there under CI=true).
func databases(t *testing.T, test func(t *testing.T, dbURL func() string)) {
	t.Run("sqlite", func(t *testing.T) {
		dir := t.TempDir()
		test(t, func() string { return "sqlite://" + filepath.Join(dir, "sirocco.db") })
	})
	t.Run("postgres", func(t *testing.T) {
		url := testenv.Postgres(t)
		test(t, func() string { return url })
	})
}

const branchingDAG = `
dag_id: branching
tasks:
  - {id: choose, operator: branch, command: 'echo looking; echo path_a'}
  - {id: path_a, operator: bash, depends_on: [choose], command: echo a}
  - {id: path_b, operator: bash, depends_on: [choose], command: echo b}
  - {id: after_b, operator: bash, depends_on: [path_b], command: echo never}
  - {id: join_any, operator: empty, depends_on: [path_a, path_b], trigger_rule: none_failed_min_one_success}
  - {id: join_all, operator: empty, depends_on: [path_a, path_b]}
  - {id: cleanup, operator: empty, depends_on: [path_a, path_b], trigger_rule: all_done}
  - {id: choose_two, operator: branch, command: "echo '[\"x\", \"y\"]'"}
  - {id: x, operator: empty, depends_on: [choose_two]}
  - {id: y, operator: empty, depends_on: [choose_two]}
  - {id: z, operator: empty, depends_on: [choose_two]}
  - {id: choose_none, operator: branch, command: echo null}
  - {id: nothing, operator: empty, depends_on: [choose_none]}
`

const shortCircuitDAG = `
dag_id: short
tasks:
  # false, ignore_downstream_trigger_rules left at true: everything below
  # is skipped, all_done or not.
  - {id: stop_all, operator: short_circuit, command: echo false}
  - {id: s1, operator: bash, depends_on: [stop_all], command: echo never}
  - {id: s1_done, operator: bash, depends_on: [s1], trigger_rule: all_done, command: echo never}
  # False (Python's print), ignore_downstream_trigger_rules false: only the
  # direct downstream task is skipped; all_done below it runs.
  - id: stop_next
    operator: short_circuit
    command: echo False
    ignore_downstream_trigger_rules: false
  - {id: s2, operator: bash, depends_on: [stop_next], command: echo never}
  - {id: s2_done, operator: bash, depends_on: [s2], trigger_rule: all_done, command: echo ran}
  - {id: s2_all, operator: bash, depends_on: [s2], command: echo never}
  # A truthy JSON value: nothing is skipped.
  - {id: go_on, operator: short_circuit, command: "echo '{\"rows\": 3}'"}
  - {id: s3, operator: bash, depends_on: [go_on], command: echo ran}
`

const badBranchDAG = `
dag_id: bad_branch
tasks:
  - {id: choose, operator: branch, command: echo nope}
  - {id: q, operator: empty, depends_on: [choose]}
  - {id: r, operator: empty, depends_on: [choose]}
`

// triggerAt is trigger for another logical date, so that one DAG can have
// several runs.
func (h *harness) triggerAt(dagID string, conf map[string]any, at time.Time) string {
	h.t.Helper()
	d := h.eng.Bag.DAGs()[dagID]
	run, tis := scheduler.NewRunRecords(d, store.RunManual, dag.Interval{Start: at, End: at}, conf, time.Now().UTC())
	if err := h.st.CreateRun(context.Background(), run, tis); err != nil {
		h.t.Fatal(err)
	}
	h.eng.Loop.Kick()
	return run.RunID
}

// wantStates checks the states of a run's task instances.
func (h *harness) wantStates(dagID, runID string, want map[string]store.TaskState) {
	h.t.Helper()
	got := h.tis(dagID, runID)
	for id, w := range want {
		if got[id].State != w {
			h.t.Errorf("%s is %s, want %s (%s)", id, stateName(got[id].State), w, h.states(dagID, runID))
		}
	}
}

// wantXCom checks a task's stored return_value.
func (h *harness) wantXCom(dagID, runID, taskID, want string) {
	h.t.Helper()
	x, err := h.st.GetXCom(context.Background(), store.TaskKey{DagID: dagID, RunID: runID, TaskID: taskID}, "return_value")
	if err != nil || x.Value != want {
		h.t.Errorf("%s's return_value = %q, %v; want %q", taskID, x.Value, err, want)
	}
}

// TestBranchingRunsOnBothStores runs branch and short_circuit DAGs end to
// end: the path not chosen is skipped and the skip propagates by trigger
// rule; a list follows several tasks; short_circuit skips everything below
// it, or only the next task; an id that is not downstream fails the try.
func TestBranchingRunsOnBothStores(t *testing.T) {
	databases(t, func(t *testing.T, dbURL func() string) {
		h := startOn(t, dbURL(), map[string]string{"branching": branchingDAG, "short": shortCircuitDAG, "bad": badBranchDAG})
		const (
			S  = store.StateSuccess
			K  = store.StateSkipped
			F  = store.StateFailed
			UF = store.StateUpstreamFailed
		)
		runID := h.trigger("branching", nil)
		if run := h.waitRun("branching", runID); run.State != store.RunSuccess {
			t.Fatalf("branching: run %s (%s)", run.State, h.states("branching", runID))
		}
		h.wantStates("branching", runID, map[string]store.TaskState{
			"choose": S, "path_a": S, "path_b": K, "after_b": K, "join_any": S, "join_all": K, "cleanup": S,
			"choose_two": S, "x": S, "y": S, "z": K, "choose_none": S, "nothing": K,
		})
		h.wantXCom("branching", runID, "choose", `"path_a"`)
		h.wantXCom("branching", runID, "choose_two", `["x","y"]`)
		h.wantXCom("branching", runID, "choose_none", `[]`)
		if log := h.log("branching", runID, "choose", 1); !strings.Contains(log, "sirocco: branch follows path_a") {
			t.Errorf("choose's log does not say what it follows:\n%s", log)
		}

		runID = h.trigger("short", nil)
		if run := h.waitRun("short", runID); run.State != store.RunSuccess {
			t.Fatalf("short: run %s (%s)", run.State, h.states("short", runID))
		}
		h.wantStates("short", runID, map[string]store.TaskState{
			"stop_all": S, "s1": K, "s1_done": K,
			"stop_next": S, "s2": K, "s2_done": S, "s2_all": K,
			"go_on": S, "s3": S,
		})
		h.wantXCom("short", runID, "stop_next", `false`)

		runID = h.trigger("bad_branch", nil)
		if run := h.waitRun("bad_branch", runID); run.State != store.RunFailed {
			t.Fatalf("bad_branch: run %s, want failed", run.State)
		}
		h.wantStates("bad_branch", runID, map[string]store.TaskState{"choose": F, "q": UF, "r": UF})
		want := `branch chose "nope", which is not a direct downstream task of choose (valid: q, r)`
		if log := h.log("bad_branch", runID, "choose", 1); !strings.Contains(log, want) {
			t.Errorf("the failed try's log lacks %q:\n%s", want, log)
		}
	})
}

// TestBranchSkipsAfterARestart: Sirocco was killed (kill -9) right after a
// branch's success was written, before anything after it was decided. The
// next start reads the branch's stored result and skips the path it did
// not choose: nothing of the decision lived only in the dead process.
func TestBranchSkipsAfterARestart(t *testing.T) {
	databases(t, func(t *testing.T, dbURL func() string) {
		url := dbURL()
		ctx := context.Background()
		// What the killed process left: the run running, the branch's try
		// succeeded after pushing its result, its worker gone.
		st, err := sqlstore.Open(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		if err := st.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		d, err := dag.Parse("branching.yaml", []byte(branchingDAG), dag.LoadOptions{Operators: all.Registry().Specs()})
		if err != nil {
			t.Fatal(err)
		}
		at := time.Date(2026, 2, 3, 4, 5, 6, 0, time.UTC)
		now := time.Now().UTC()
		run, tis := scheduler.NewRunRecords(d, store.RunManual, dag.Interval{Start: at, End: at}, nil, now)
		run.State, run.StartDate = store.RunRunning, now
		if err := st.CreateRun(ctx, run, tis); err != nil {
			t.Fatal(err)
		}
		dead := "dead-worker"
		for _, id := range []string{"choose", "choose_two", "choose_none"} {
			k := store.TaskKey{DagID: "branching", RunID: run.RunID, TaskID: id}
			if w, err := st.UpdateTaskRow(ctx, store.TaskUpdate{Key: k, From: []store.TaskState{store.StateNone},
				To: store.StateRunning, IncTry: true, WorkerID: &dead, StartDate: &now}); err != nil || !w.OK {
				t.Fatalf("claim %s: %v %v", id, w.OK, err)
			}
			value := map[string]string{"choose": `"path_b"`, "choose_two": `["z"]`, "choose_none": `[]`}[id]
			if err := st.SetXCom(ctx, store.XCom{TaskKey: k, Key: "return_value", Value: value, Timestamp: now}); err != nil {
				t.Fatal(err)
			}
			if w, err := st.UpdateTaskRow(ctx, store.TaskUpdate{Key: k, From: []store.TaskState{store.StateRunning},
				To: store.StateSuccess, EndDate: &now}); err != nil || !w.OK {
				t.Fatalf("success of %s: %v %v", id, w.OK, err)
			}
		}
		st.Close()

		h := startOn(t, url, map[string]string{"branching": branchingDAG})
		h.eng.Loop.Kick()
		if got := h.waitRun("branching", run.RunID); got.State != store.RunSuccess {
			t.Fatalf("run %s after the restart", got.State)
		}
		const (
			S = store.StateSuccess
			K = store.StateSkipped
		)
		h.wantStates("branching", run.RunID, map[string]store.TaskState{
			"choose": S, "path_a": K, "path_b": S, "after_b": S, "join_any": S, "join_all": K, "cleanup": S,
			"x": K, "y": K, "z": S, "nothing": K,
		})
		if tis := h.tis("branching", run.RunID); tis["choose"].TryNumber != 1 {
			t.Errorf("the branch ran again (try %d): its stored success should stand", tis["choose"].TryNumber)
		}
	})
}

// TestBranchClearAndChooseAgain: the branch is cleared with its downstream
// tasks and chooses the other path this time; the skips follow the new
// choice, not the old one.
func TestBranchClearAndChooseAgain(t *testing.T) {
	databases(t, func(t *testing.T, dbURL func() string) {
		h := startOn(t, dbURL(), map[string]string{"again": `
dag_id: again
params: {choice: {type: string, default: ""}}
tasks:
  - {id: choose, operator: branch, command: 'cat "{{ params.choice }}"'}
  - {id: path_a, operator: bash, depends_on: [choose], command: echo a}
  - {id: path_b, operator: bash, depends_on: [choose], command: echo b}
  - {id: join, operator: empty, depends_on: [path_a, path_b], trigger_rule: none_failed_min_one_success}
`})
		choice := filepath.Join(h.dir, "choice")
		if err := os.WriteFile(choice, []byte("path_a\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		runID := h.trigger("again", map[string]any{"choice": choice})
		if run := h.waitRun("again", runID); run.State != store.RunSuccess {
			t.Fatalf("first run %s", run.State)
		}
		const (
			S = store.StateSuccess
			K = store.StateSkipped
		)
		h.wantStates("again", runID, map[string]store.TaskState{"choose": S, "path_a": S, "path_b": K, "join": S})

		if err := os.WriteFile(choice, []byte("path_b\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		res, err := actions.Clear(context.Background(), h.st, h.eng.Bag.DAGs()["again"],
			actions.ClearRequest{RunID: runID, TaskIDs: []string{"choose"}, Downstream: true}, time.Now().UTC())
		if err != nil || res.Cleared != 4 {
			t.Fatalf("clear: %+v, %v", res, err)
		}
		h.eng.Loop.Kick()
		if run := h.waitRun("again", runID); run.State != store.RunSuccess {
			t.Fatalf("run %s after the clear", run.State)
		}
		h.wantStates("again", runID, map[string]store.TaskState{"choose": S, "path_a": K, "path_b": S, "join": S})
		h.wantXCom("again", runID, "choose", `"path_b"`)
		if tis := h.tis("again", runID); tis["choose"].TryNumber != 2 || tis["path_b"].TryNumber != 1 {
			t.Errorf("tries: choose %d, path_b %d; want 2 and 1", tis["choose"].TryNumber, tis["path_b"].TryNumber)
		}
	})
}

// TestBranchingExample runs the shipped examples/dags/branching.yaml as it
// is, with its defaults and with the other path and a notification.
func TestBranchingExample(t *testing.T) {
	body, err := os.ReadFile(filepath.Join("..", "..", "examples", "dags", "branching.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	h := start(t, map[string]string{"branching": string(body)})
	const (
		S = store.StateSuccess
		K = store.StateSkipped
	)
	runID := h.trigger("branching", nil)
	if run := h.waitRun("branching", runID); run.State != store.RunSuccess {
		t.Fatalf("run %s (%s)", run.State, h.states("branching", runID))
	}
	h.wantStates("branching", runID, map[string]store.TaskState{
		"choose_load": S, "full_load": K, "incremental_load": S, "publish": S, "should_notify": S, "notify": K,
	})
	runID = h.triggerAt("branching", map[string]any{"mode": "full", "notify": true}, time.Date(2026, 2, 4, 0, 0, 0, 0, time.UTC))
	if run := h.waitRun("branching", runID); run.State != store.RunSuccess {
		t.Fatalf("run %s (%s)", run.State, h.states("branching", runID))
	}
	h.wantStates("branching", runID, map[string]store.TaskState{
		"choose_load": S, "full_load": S, "incremental_load": K, "publish": S, "should_notify": S, "notify": S,
	})
}

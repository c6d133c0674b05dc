package engine

import (
	"context"
	"encoding/json"
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

const (
	sS = store.StateSuccess
	sK = store.StateSkipped
	sF = store.StateFailed
	sN = store.StateNone
)

// pastDAGs are a depends_on_past task and a wait_for_downstream one whose
// downstream task fails until a flag file exists; other runs beside them
// and tells the test the scheduler has looked at the run.
const pastDAGs = `
dag_id: past
params: {flag: {type: string, default: ""}}
tasks:
  - {id: other, operator: empty}
  - {id: work, operator: bash, depends_on_past: true, command: 'test -e "{{ params.flag }}"'}
`

const waitDownstreamDAG = `
dag_id: wfd
params: {flag: {type: string, default: ""}}
tasks:
  - {id: other, operator: empty}
  - {id: first, operator: bash, wait_for_downstream: true, command: echo first}
  - {id: second, operator: bash, depends_on: [first], command: 'test -e "{{ params.flag }}"'}
`

// pastRunningDAG's work runs until a flag file exists, so that run 2's
// waits on a previous run that is still active.
const pastRunningDAG = `
dag_id: pastrun
params: {flag: {type: string, default: ""}}
tasks:
  - {id: other, operator: empty}
  - {id: work, operator: bash, depends_on_past: true, command: 'until [ -e "{{ params.flag }}" ]; do sleep 0.05; done'}
`

// waitTask waits until a task of a run is in state want.
func (h *harness) waitTask(dagID, runID, taskID string, want store.TaskState) {
	h.t.Helper()
	testenv.Eventually(h.t, taskID+" to be "+string(want), 30*time.Second, func() (bool, string) {
		return h.tis(dagID, runID)[taskID].State == want, h.states(dagID, runID)
	})
}

// clearTask clears one task of a run, as `tasks clear` does, and wakes the
// scheduler as the API does.
func (h *harness) clearTask(dagID, runID, taskID string) {
	h.t.Helper()
	d := h.eng.Bag.DAGs()[dagID]
	if _, err := actions.Clear(context.Background(), h.st, d, actions.ClearRequest{RunID: runID, TaskIDs: []string{taskID}}, time.Now().UTC()); err != nil {
		h.t.Fatal(err)
	}
	h.eng.Loop.Kick()
}

// TestDependsOnPastWaitsForThePreviousRun: run 2's depends_on_past task
// does not start while run 1's failed; once run 1's is cleared and
// succeeds, run 2's runs. wait_for_downstream likewise waits for the
// previous run's downstream task.
func TestDependsOnPastWaitsForThePreviousRun(t *testing.T) {
	databases(t, func(t *testing.T, dbURL func() string) {
		h := startOn(t, dbURL(), map[string]string{"past": pastDAGs, "wfd": waitDownstreamDAG, "pastrun": pastRunningDAG})
		flag := filepath.Join(h.dir, "flag")
		conf := map[string]any{"flag": flag}
		t1 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
		// The previous run still running: its work is running, run 2's
		// waits (run 2 is the newer one whatever order they start in).
		running1 := h.triggerAt("pastrun", conf, t1)
		h.waitTask("pastrun", running1, "work", store.StateRunning)
		running2 := h.triggerAt("pastrun", conf, t1.Add(24*time.Hour))
		h.waitTask("pastrun", running2, "other", sS)
		h.wantStates("pastrun", running2, map[string]store.TaskState{"work": sN})
		for _, dagID := range []string{"past", "wfd"} {
			run1 := h.triggerAt(dagID, conf, t1)
			if r := h.waitRun(dagID, run1); r.State != store.RunFailed {
				t.Fatalf("%s: run 1 %s, want failed", dagID, r.State)
			}
		}
		// Run 2: other runs (the scheduler has looked at the run), the
		// past-dependent task waits.
		run2 := map[string]string{}
		for _, dagID := range []string{"past", "wfd"} {
			run2[dagID] = h.triggerAt(dagID, conf, t1.Add(24*time.Hour))
			h.waitTask(dagID, run2[dagID], "other", sS)
		}
		h.wantStates("past", run2["past"], map[string]store.TaskState{"work": sN})
		h.wantStates("wfd", run2["wfd"], map[string]store.TaskState{"first": sN, "second": sN})

		if err := os.WriteFile(flag, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		run1 := scheduler.RunID(store.RunManual, t1)
		h.clearTask("past", run1, "work")
		h.clearTask("wfd", run1, "second")
		run2["pastrun"] = running2
		for _, dagID := range []string{"past", "wfd", "pastrun"} {
			if r := h.waitRun(dagID, run1); r.State != store.RunSuccess {
				t.Fatalf("%s: run 1 after the clear: %s", dagID, r.State)
			}
			if r := h.waitRun(dagID, run2[dagID]); r.State != store.RunSuccess {
				t.Fatalf("%s: run 2 %s, want success once run 1 succeeded", dagID, r.State)
			}
		}
	})
}

// TestLatestOnlySkipsCatchupRuns: of three catchup runs only the newest
// runs what follows latest_only (the operator and the flag); a manual run
// runs everything.
func TestLatestOnlySkipsCatchupRuns(t *testing.T) {
	databases(t, func(t *testing.T, dbURL func() string) {
		start3 := time.Now().UTC().Add(-72 * time.Hour).Format("2006-01-02")
		h := startOn(t, dbURL(), map[string]string{"latest": `
dag_id: latest
schedule: "@daily"
start_date: ` + start3 + `
catchup: true
tasks:
  - {id: latest_only, operator: latest_only}
  - {id: report, operator: empty, depends_on: [latest_only]}
  - {id: after_report, operator: empty, depends_on: [report]}
  - {id: flagged, operator: empty, latest_only: true}
  - {id: always, operator: empty}
`})
		var runs []store.DagRun
		testenv.Eventually(t, "3 finished scheduled runs", time.Minute, func() (bool, string) {
			var err error
			runs, err = h.st.ListRuns(context.Background(), store.RunFilter{DagID: "latest", States: []store.RunState{store.RunSuccess}})
			if err != nil {
				t.Fatal(err)
			}
			return len(runs) >= 3, "runs so far: " + runIDs(runs)
		})
		for i, r := range runs { // newest first
			want := map[string]store.TaskState{"latest_only": sS, "report": sK, "after_report": sK, "flagged": sK, "always": sS}
			if i == 0 {
				want = map[string]store.TaskState{"latest_only": sS, "report": sS, "after_report": sS, "flagged": sS, "always": sS}
			}
			h.wantStates("latest", r.RunID, want)
		}
		manual := h.trigger("latest", nil)
		if r := h.waitRun("latest", manual); r.State != store.RunSuccess {
			t.Fatalf("manual run %s", r.State)
		}
		h.wantStates("latest", manual, map[string]store.TaskState{"report": sS, "after_report": sS, "flagged": sS})
	})
}

func runIDs(runs []store.DagRun) string {
	ids := make([]string, len(runs))
	for i, r := range runs {
		ids[i] = r.RunID + " " + string(r.State)
	}
	return strings.Join(ids, ", ")
}

const targetDAG = `
dag_id: target
schedule: none
params: {who: {type: string, default: nobody}}
tasks:
  - {id: hello, operator: bash, command: 'echo "hello {{ params.who }} on {{ ds }}"'}
`

const parentDAG = `
dag_id: parent
schedule: none
tasks:
  - id: fire
    operator: trigger_dag
    trigger_dag_id: target
    trigger_run_id: "fired_{{ ds_nodash }}"
    logical_date: "2026-04-05"
    conf: {who: "parent of {{ ds }}"}
  - id: fire_and_wait
    operator: trigger_dag
    trigger_dag_id: target
    trigger_run_id: "waited_{{ ds_nodash }}"
    logical_date: "2026-04-06T07:08:09Z"
    wait_for_completion: true
    poke_interval: 100ms
  - id: after
    operator: empty
    depends_on: [fire_and_wait]
`

const resetDAG = `
dag_id: resetter
schedule: none
tasks:
  - id: rerun
    operator: trigger_dag
    trigger_dag_id: target
    trigger_run_id: fixed
    logical_date: "2026-05-01"
    reset_dag_run: true
    wait_for_completion: true
    poke_interval: 100ms
  - id: again_skipped
    operator: trigger_dag
    depends_on: [rerun]
    trigger_dag_id: target
    trigger_run_id: fixed
    skip_when_already_exists: true
  - id: again_fails
    operator: trigger_dag
    depends_on: [rerun]
    trigger_dag_id: target
    logical_date: "2026-05-01"
  - id: unknown
    operator: trigger_dag
    trigger_dag_id: no_such_dag
`

// TestTriggerDag: trigger_dag creates the target's run with its conf and
// logical date, waits for it when asked, clears and reruns an existing run
// with reset_dag_run, skips or fails on an existing one, and fails on an
// unknown DAG.
func TestTriggerDag(t *testing.T) {
	databases(t, func(t *testing.T, dbURL func() string) {
		h := startOn(t, dbURL(), map[string]string{"target": targetDAG, "parent": parentDAG, "resetter": resetDAG})
		ctx := context.Background()
		runID := h.trigger("parent", nil)
		if r := h.waitRun("parent", runID); r.State != store.RunSuccess {
			t.Fatalf("parent run %s (%s)", r.State, h.states("parent", runID))
		}
		fired, err := h.st.GetRun(ctx, "target", "fired_20260203")
		if err != nil {
			t.Fatal(err)
		}
		if fired.Conf["who"] != "parent of 2026-02-03" || !fired.LogicalDate.Equal(time.Date(2026, 4, 5, 0, 0, 0, 0, time.UTC)) ||
			fired.RunType != store.RunManual {
			t.Errorf("triggered run: conf %v, logical date %s, type %s", fired.Conf, fired.LogicalDate, fired.RunType)
		}
		if r := h.waitRun("target", "fired_20260203"); r.State != store.RunSuccess {
			t.Errorf("fired run %s", r.State)
		}
		waited, err := h.st.GetRun(ctx, "target", "waited_20260203")
		if err != nil || waited.State != store.RunSuccess || !waited.LogicalDate.Equal(time.Date(2026, 4, 6, 7, 8, 9, 0, time.UTC)) {
			t.Errorf("waited run: %+v, %v; want success at 2026-04-06T07:08:09Z before fire_and_wait succeeded", waited, err)
		}
		x, err := h.st.GetXCom(ctx, store.TaskKey{DagID: "parent", RunID: runID, TaskID: "fire"}, "trigger_run_id")
		if err != nil || x.Value != `"fired_20260203"` {
			t.Errorf("trigger_run_id XCom = %q, %v", x.Value, err)
		}

		// Twice: the second run of resetter clears target's run "fixed"
		// and waits for it again.
		for i, at := range []time.Time{time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 6, 2, 0, 0, 0, 0, time.UTC)} {
			rid := h.triggerAt("resetter", nil, at)
			if r := h.waitRun("resetter", rid); r.State != store.RunFailed {
				t.Fatalf("resetter run %d: %s, want failed (again_fails, unknown)", i, r.State)
			}
			h.wantStates("resetter", rid, map[string]store.TaskState{"rerun": sS, "again_skipped": sK, "again_fails": sF, "unknown": sF})
			if hello := h.tis("target", "fixed")["hello"]; hello.State != sS || hello.TryNumber != i+1 {
				t.Errorf("after resetter run %d: target's hello is %s at try %d, want success at try %d", i, hello.State, hello.TryNumber, i+1)
			}
			if log := h.log("resetter", rid, "again_fails", 1); !strings.Contains(log, "already exists") {
				t.Errorf("again_fails' log does not say the run exists:\n%s", log)
			}
			if log := h.log("resetter", rid, "unknown", 1); !strings.Contains(log, `DAG "no_such_dag" is not loaded`) {
				t.Errorf("unknown's log does not name the DAG:\n%s", log)
			}
		}
		if log := h.log("resetter", scheduler.RunID(store.RunManual, time.Date(2026, 6, 2, 0, 0, 0, 0, time.UTC)), "rerun", 1); !strings.Contains(log, "reset_dag_run") {
			t.Errorf("the second rerun does not say it cleared the run:\n%s", log)
		}
	})
}

// TestTriggerDagResumesAfterARestart: Sirocco died while a trigger_dag try
// waited on its run (the handle saved, the run created), and in another
// case after saving the handle but before creating the run. The next start
// adopts each try, which creates the missing run once and waits on the
// run its handle names: target has exactly one run per try, and the
// tries are not run again.
func TestTriggerDagResumesAfterARestart(t *testing.T) {
	databases(t, func(t *testing.T, dbURL func() string) {
		url := dbURL()
		ctx := context.Background()
		st, err := sqlstore.Open(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		if err := st.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		opts := dag.LoadOptions{Operators: all.Registry().Specs()}
		parent, err := dag.Parse("parent.yaml", []byte(parentDAG), opts)
		if err != nil {
			t.Fatal(err)
		}
		target, err := dag.Parse("target.yaml", []byte(targetDAG), opts)
		if err != nil {
			t.Fatal(err)
		}
		now := time.Now().UTC()
		at := time.Date(2026, 2, 3, 4, 5, 6, 0, time.UTC)
		run, tis := scheduler.NewRunRecords(parent, store.RunManual, dag.Interval{Start: at, End: at}, nil, now)
		run.State, run.StartDate = store.RunRunning, now
		if err := st.CreateRun(ctx, run, tis); err != nil {
			t.Fatal(err)
		}
		// fire_and_wait had triggered "waited_x" and was waiting on it;
		// fire had saved its handle for "fired_x" but not created it.
		if _, err := actions.CreateRun(ctx, st, target, actions.RunRequest{RunID: "waited_x", LogicalDate: "2026-04-06"}, now); err != nil {
			t.Fatal(err)
		}
		dead := "dead-worker"
		handles := map[string]map[string]any{
			"fire_and_wait": {"kind": "trigger_dag", "version": 1, "dag_id": "target", "run_id": "waited_x",
				"logical_date": "2026-04-06T00:00:00Z", "triggered": true, "wait_for_completion": true,
				"poke_interval": "100ms", "allowed_states": []string{"success"}, "failed_states": []string{"failed"}},
			"fire": {"kind": "trigger_dag", "version": 1, "dag_id": "target", "run_id": "fired_x",
				"logical_date": "2026-04-05T00:00:00Z", "conf": map[string]any{"who": "resumed"}},
		}
		for id, hv := range handles {
			b, _ := json.Marshal(hv)
			k := store.TaskKey{DagID: "parent", RunID: run.RunID, TaskID: id}
			if w, err := st.UpdateTaskRow(ctx, store.TaskUpdate{Key: k, From: []store.TaskState{store.StateNone},
				To: store.StateRunning, IncTry: true, WorkerID: &dead, StartDate: &now, Handle: &b}); err != nil || !w.OK {
				t.Fatalf("claim %s: %v %v", id, w.OK, err)
			}
		}
		st.Close()

		h := startOn(t, url, map[string]string{"parent": parentDAG, "target": targetDAG})
		h.eng.Loop.Kick()
		if got := h.waitRun("parent", run.RunID); got.State != store.RunSuccess {
			t.Fatalf("parent run %s after the restart (%s)", got.State, h.states("parent", run.RunID))
		}
		runs, err := h.st.ListRuns(ctx, store.RunFilter{DagID: "target"})
		if err != nil {
			t.Fatal(err)
		}
		if len(runs) != 2 {
			t.Errorf("target has runs %s; want exactly fired_x and waited_x", runIDs(runs))
		}
		if r := h.waitRun("target", "waited_x"); r.State != store.RunSuccess {
			t.Errorf("waited_x %s", r.State)
		}
		if r, err := h.st.GetRun(ctx, "target", "fired_x"); err != nil || r.Conf["who"] != "resumed" {
			t.Errorf("fired_x: %+v, %v; want the handle's conf", r, err)
		}
		for id := range handles {
			if ti := h.tis("parent", run.RunID)[id]; ti.TryNumber != 1 || ti.State != sS {
				t.Errorf("%s: %s at try %d, want success at try 1 (resumed, not run again)", id, ti.State, ti.TryNumber)
			}
		}
	})
}

// TestCrossRunExample runs the shipped examples/dags/cross_run.yaml and
// cross_run_target.yaml as they are: the scheduled (latest) run reports and
// hands over to the target with its conf and logical date; a backfilled
// older run skips the report and the dashboard.
func TestCrossRunExample(t *testing.T) {
	dags := map[string]string{}
	for _, name := range []string{"cross_run", "cross_run_target"} {
		body, err := os.ReadFile(filepath.Join("..", "..", "examples", "dags", name+".yaml"))
		if err != nil {
			t.Fatal(err)
		}
		dags[name] = string(body)
	}
	h := start(t, dags)
	ctx := context.Background()
	var runs []store.DagRun
	testenv.Eventually(t, "the scheduled run to finish", time.Minute, func() (bool, string) {
		var err error
		runs, err = h.st.ListRuns(ctx, store.RunFilter{DagID: "cross_run"})
		if err != nil {
			t.Fatal(err)
		}
		return len(runs) == 1 && runs[0].State.Finished(), runIDs(runs)
	})
	latest := runs[0]
	if latest.State != store.RunSuccess || latest.RunType != store.RunScheduled {
		t.Fatalf("scheduled run %s %s (%s)", latest.RunType, latest.State, h.states("cross_run", latest.RunID))
	}
	h.wantStates("cross_run", latest.RunID, map[string]store.TaskState{
		"load": sS, "check": sS, "only_latest": sS, "report": sS, "refresh_dashboard": sS, "hand_over": sS})
	ds := latest.LogicalDate.Format("2006-01-02")
	target, err := h.st.GetRun(ctx, "cross_run_target", "from_cross_run__"+latest.LogicalDate.Format("20060102"))
	if err != nil {
		t.Fatal(err)
	}
	if target.State != store.RunSuccess || target.Conf["day"] != ds || target.Conf["source"] != latest.RunID ||
		target.LogicalDate.Format("2006-01-02") != ds {
		t.Errorf("target run: %s, conf %v, logical date %s; want success, day %s", target.State, target.Conf, target.LogicalDate, ds)
	}

	d := h.eng.Bag.DAGs()["cross_run"]
	old := latest.LogicalDate.AddDate(0, 0, -3)
	back, err := actions.Backfill(ctx, h.st, d, old, old, nil, time.Now().UTC())
	if err != nil || len(back) != 1 {
		t.Fatalf("backfill: %v %v", back, err)
	}
	h.eng.Loop.Kick()
	if r := h.waitRun("cross_run", back[0].RunID); r.State != store.RunSuccess {
		t.Fatalf("backfill run %s (%s)", r.State, h.states("cross_run", back[0].RunID))
	}
	h.wantStates("cross_run", back[0].RunID, map[string]store.TaskState{
		"load": sS, "only_latest": sS, "report": sK, "refresh_dashboard": sK, "hand_over": sS})
}

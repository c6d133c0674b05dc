package engine

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/store"
	"github.com/sirocco-dev/sirocco/internal/testenv"
)

const (
	slowTargetDAG = `
dag_id: slow_target
schedule: none
tasks: [{id: s, operator: bash, command: 'sleep 2'}]
`
	fragileDAG = `
dag_id: fragile
schedule: none
tasks: [{id: s, operator: bash, command: 'sleep 30'}]
`
	waiterDAG = `
dag_id: waiter
schedule: none
tasks:
  - {id: go, operator: trigger_dag, trigger_dag_id: slow_target, trigger_run_id: "w_{{ ds_nodash }}",
     wait_for_completion: true, poke_interval: 100ms}
  - {id: fragile, operator: trigger_dag, trigger_dag_id: fragile, trigger_run_id: "f_{{ ds_nodash }}",
     wait_for_completion: true, poke_interval: 100ms}
`
)

// TestTriggerDagPushesBeforeWaiting: trigger_run_id is readable while the
// try still waits (Airflow pushes it once the run is triggered); a wait on
// a run whose DAG stops loading ends in a clear failure instead of
// waiting forever.
func TestTriggerDagPushesBeforeWaiting(t *testing.T) {
	databases(t, func(t *testing.T, dbURL func() string) {
		h := startOn(t, dbURL(), map[string]string{"slow_target": slowTargetDAG, "fragile": fragileDAG, "waiter": waiterDAG})
		ctx := context.Background()
		runID := h.trigger("waiter", nil)
		goKey := store.TaskKey{DagID: "waiter", RunID: runID, TaskID: "go"}
		testenv.Eventually(t, "trigger_run_id while go waits", 20*time.Second, func() (bool, string) {
			ti, err := h.st.GetTaskInstance(ctx, goKey)
			if err != nil || ti.State != store.StateRunning {
				return false, "go is " + string(ti.State)
			}
			x, err := h.st.GetXCom(ctx, goKey, "trigger_run_id")
			return err == nil && x.Value == `"w_20260203"`, "no XCom yet"
		})
		testenv.Eventually(t, "fragile's run to start", 20*time.Second, func() (bool, string) {
			r, err := h.st.GetRun(ctx, "fragile", "f_20260203")
			return err == nil && r.State == store.RunRunning, "not running"
		})
		if err := os.WriteFile(filepath.Join(h.cfg.DagsFolder, "fragile.yaml"), []byte("dag_id: fragile\ntasks: [oops\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := h.eng.Bag.Reload(); err != nil {
			t.Fatal(err)
		}
		if _, ok := h.eng.Bag.DAGs()["fragile"]; ok {
			t.Fatal("the broken fragile DAG is still loaded")
		}
		testenv.Eventually(t, "the wait on fragile to fail", 20*time.Second, func() (bool, string) {
			ti, err := h.st.GetTaskInstance(ctx, store.TaskKey{DagID: "waiter", RunID: runID, TaskID: "fragile"})
			return err == nil && ti.State == store.StateFailed, string(ti.State)
		})
		if log := h.log("waiter", runID, "fragile", 1); !strings.Contains(log, "will not run") || !strings.Contains(log, "not loaded") {
			t.Errorf("fragile's log does not say why:\n%s", log)
		}
		if ti := h.tis("waiter", runID)["go"]; ti.State != store.StateSuccess && ti.State != store.StateRunning {
			t.Errorf("go is %s", ti.State)
		}
	})
}

const (
	failingTargetDAG = `
dag_id: failing_target
schedule: none
tasks: [{id: s, operator: bash, command: 'exit 1'}]
`
	retryingDAG = `
dag_id: retrying
schedule: none
tasks:
  - {id: go, operator: trigger_dag, trigger_dag_id: failing_target, wait_for_completion: true,
     poke_interval: 100ms, retries: 1, retry_delay: 0s}
`
)

// TestTriggerDagRetryAfterAFailedRun: the triggered run fails, so does
// the try waiting on it; the retry triggers a new run of the target (as
// Airflow's retry does) rather than waiting on the failed one, which could
// only fail it again. Both runs fail, and so does the task.
func TestTriggerDagRetryAfterAFailedRun(t *testing.T) {
	databases(t, func(t *testing.T, dbURL func() string) {
		h := startOn(t, dbURL(), map[string]string{"failing_target": failingTargetDAG, "retrying": retryingDAG})
		runID := h.trigger("retrying", nil)
		if r := h.waitRun("retrying", runID); r.State != store.RunFailed {
			t.Fatalf("retrying: %s (%s)", r.State, h.states("retrying", runID))
		}
		if ti := h.tis("retrying", runID)["go"]; ti.TryNumber != 2 {
			t.Errorf("go ended at try %d, want 2", ti.TryNumber)
		}
		runs, err := h.st.ListRuns(context.Background(), store.RunFilter{DagID: "failing_target"})
		if err != nil || len(runs) != 2 {
			t.Fatalf("failing_target has %d runs (%v), want 2: %s", len(runs), err, describeRuns(runs))
		}
		if log := h.log("retrying", runID, "go", 2); !strings.Contains(log, "ended failed: try 2 triggers a new run") {
			t.Errorf("try 2's log:\n%s", log)
		}
	})
}

const retryingFixedDAG = `
dag_id: retrying_fixed
schedule: none
tasks:
  - {id: go, operator: trigger_dag, trigger_dag_id: failing_target, trigger_run_id: fixed,
     skip_when_already_exists: true, wait_for_completion: true, poke_interval: 100ms, retries: 1, retry_delay: 0s}
`

// TestTriggerDagRetryCannotReplaceAFixedRun: with a fixed trigger_run_id a
// retry cannot trigger a new run after the failed one: it fails on that
// run again, and skip_when_already_exists (for a run that is not the
// task's own) does not turn the failure into a skip.
func TestTriggerDagRetryCannotReplaceAFixedRun(t *testing.T) {
	databases(t, func(t *testing.T, dbURL func() string) {
		h := startOn(t, dbURL(), map[string]string{"failing_target": failingTargetDAG, "retrying_fixed": retryingFixedDAG})
		runID := h.trigger("retrying_fixed", nil)
		if r := h.waitRun("retrying_fixed", runID); r.State != store.RunFailed {
			t.Fatalf("retrying_fixed: %s (%s)", r.State, h.states("retrying_fixed", runID))
		}
		if ti := h.tis("retrying_fixed", runID)["go"]; ti.TryNumber != 2 || ti.State != store.StateFailed {
			t.Errorf("go ended %s at try %d, want failed at try 2", ti.State, ti.TryNumber)
		}
		if log := h.log("retrying_fixed", runID, "go", 2); !strings.Contains(log, "ended failed (failed_states") {
			t.Errorf("try 2's log:\n%s", log)
		}
	})
}

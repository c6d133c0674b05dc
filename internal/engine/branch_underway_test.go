package engine

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/store"
	"github.com/sirocco-dev/sirocco/internal/testenv"
)

// underwayDAG: busy and retrying also hang from start (one_success), so
// they are under way, busy running and retrying waiting an hour for its
// retry, when choose, held by a file, follows only other.
const underwayDAG = `
dag_id: underway
params: {dir: {type: string, default: ""}}
tasks:
  - {id: start, operator: bash, command: echo go}
  - {id: choose, operator: branch, command: 'while [ ! -f "{{ params.dir }}/go" ]; do sleep 0.05; done; echo other'}
  - {id: other, operator: empty, depends_on: [choose]}
  - id: busy
    operator: bash
    depends_on: [start, choose]
    trigger_rule: one_success
    command: 'sleep 60 & echo $! > "{{ params.dir }}/pid"; wait; echo never'
  - id: retrying
    operator: bash
    depends_on: [start, choose]
    trigger_rule: one_success
    retries: 3
    retry_delay: 1h
    command: exit 1
`

// TestBranchSkipsTasksUnderWay: as Airflow's SkipMixin, a branch's skip
// reaches the tasks it did not follow that are already running (their
// try is stopped by the worker's heartbeat) or up_for_retry, not only
// those that have not started.
func TestBranchSkipsTasksUnderWay(t *testing.T) {
	databases(t, func(t *testing.T, dbURL func() string) {
		h := startOn(t, dbURL(), map[string]string{"underway": underwayDAG})
		runID := h.trigger("underway", map[string]any{"dir": h.dir})
		var pid int
		testenv.Eventually(t, "busy running and retrying up_for_retry", time.Minute, func() (bool, string) {
			tis := h.tis("underway", runID)
			data, err := os.ReadFile(filepath.Join(h.dir, "pid"))
			if err == nil {
				pid, err = strconv.Atoi(strings.TrimSpace(string(data)))
			}
			return err == nil && tis["busy"].State == store.StateRunning && tis["retrying"].State == store.StateUpForRetry,
				fmt.Sprintf("%v; %s", err, h.states("underway", runID))
		})
		if err := os.WriteFile(filepath.Join(h.dir, "go"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if run := h.waitRun("underway", runID); run.State != store.RunSuccess {
			t.Fatalf("run %s (%s)", run.State, h.states("underway", runID))
		}
		const (
			S = store.StateSuccess
			K = store.StateSkipped
		)
		h.wantStates("underway", runID, map[string]store.TaskState{"start": S, "choose": S, "other": S, "busy": K, "retrying": K})
		testenv.EventuallyDead(t, pid, 30*time.Second) // busy's try was stopped
		if log := h.log("underway", runID, "busy", 1); strings.Contains(log, "never") {
			t.Errorf("busy ran to its end:\n%s", log)
		}
		if got := h.tis("underway", runID)["retrying"].TryNumber; got != 1 {
			t.Errorf("retrying ran %d tries, want 1", got)
		}
	})
}

package engine

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/scheduler"
	"github.com/sirocco-dev/sirocco/internal/store"
)

// pastOneDAG is pastDAGs with one active run at a time.
const pastOneDAG = `
dag_id: pastone
max_active_runs: 1
params: {flag: {type: string, default: ""}}
tasks:
  - {id: other, operator: empty}
  - {id: work, operator: bash, depends_on_past: true, command: 'test -e "{{ params.flag }}"'}
`

// TestClearedPreviousRunStartsBeyondMaxActiveRuns: with max_active_runs
// 1, run 2 holds the slot while its depends_on_past task waits on run 1's
// failed one; clearing run 1's task requeues run 1, which must start
// anyway (else neither run ever ends) and release run 2.
func TestClearedPreviousRunStartsBeyondMaxActiveRuns(t *testing.T) {
	databases(t, func(t *testing.T, dbURL func() string) {
		h := startOn(t, dbURL(), map[string]string{"pastone": pastOneDAG})
		flag := filepath.Join(h.dir, "flag")
		conf := map[string]any{"flag": flag}
		t1 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
		run1 := h.triggerAt("pastone", conf, t1)
		if r := h.waitRun("pastone", run1); r.State != store.RunFailed {
			t.Fatalf("run 1 %s, want failed", r.State)
		}
		run2 := h.triggerAt("pastone", conf, t1.Add(24*time.Hour))
		h.waitTask("pastone", run2, "other", sS)
		h.wantStates("pastone", run2, map[string]store.TaskState{"work": sN})
		if err := os.WriteFile(flag, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		h.clearTask("pastone", scheduler.RunID(store.RunManual, t1), "work")
		for _, id := range []string{run1, run2} {
			if r := h.waitRun("pastone", id); r.State != store.RunSuccess {
				t.Fatalf("run %s after the clear: %s", id, r.State)
			}
		}
	})
}

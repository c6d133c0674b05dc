package engine

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/store"
	"github.com/sirocco-dev/sirocco/internal/testenv"
)

const slowDAG = `
dag_id: slow
tasks:
  - {id: wait, operator: bash, command: 'sleep 2; echo done'}
`

// TestSecondEngineLeavesTheFirstsTries: two engines in one process share
// its pid and host; the second one's start-up recovery must not take the
// first one's worker for a gone process's and kill its running try.
func TestSecondEngineLeavesTheFirstsTries(t *testing.T) {
	databases(t, func(t *testing.T, dbURL func() string) {
		url := dbURL()
		a := startOn(t, url, map[string]string{"slow": slowDAG})
		runID := a.trigger("slow", nil)
		a.waitTask("slow", runID, "wait", store.StateRunning)
		b := startOn(t, url, map[string]string{"slow": slowDAG})
		testenv.Eventually(t, "the second engine's worker to register", 30*time.Second, func() (bool, string) {
			ws, err := b.st.ListWorkers(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range ws {
				if w.ID == b.eng.Executor.ID() && !w.HeartbeatAt.IsZero() {
					return true, ""
				}
			}
			return false, "not registered"
		})
		run := a.waitRun("slow", runID)
		ti := a.tis("slow", runID)["wait"]
		if run.State != store.RunSuccess || ti.TryNumber != 1 {
			t.Fatalf("run %s, try %d; want success at try 1\n%s", run.State, ti.TryNumber, a.log("slow", runID, "wait", 1))
		}
		if log := a.log("slow", runID, "wait", 1); strings.Contains(log, "killed") || !strings.Contains(log, "done") {
			t.Errorf("the first engine's try was disturbed:\n%s", log)
		}
	})
}

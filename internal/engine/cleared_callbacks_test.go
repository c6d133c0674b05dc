package engine

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/actions"
	"github.com/sirocco-dev/sirocco/internal/store"
)

// TestClearedRunNotifiesEachEnd: a run that failed late (its deadline
// alert and its DAG's on_failure_callback sent), then cleared and failed
// again, is alerted and notified again, once per end: the run's own
// notifications are keyed by its clear number.
func TestClearedRunNotifiesEachEnd(t *testing.T) {
	databases(t, func(t *testing.T, dbURL func() string) {
		home := t.TempDir()
		const src = `
dag_id: again
on_failure_callback: {command: 'echo "dag failure {{ run_id }}" >> "$SIROCCO_HOME/notes"'}
deadline:
  reference: queued_at
  interval: 1s
  callback: {command: 'echo "late {{ run_id }}" >> "$SIROCCO_HOME/notes"'}
tasks:
  - {id: a, operator: bash, command: 'sleep 2; exit 1'}
`
		h := startNotify(t, dbURL(), home, map[string]string{"again": src})
		runID := h.trigger("again", nil)
		if run := h.waitRun("again", runID); run.State != store.RunFailed {
			t.Fatalf("run %s", run.State)
		}
		h.waitNotes("again", runID, 2)
		d := h.eng.Bag.DAGs()["again"]
		if _, err := actions.Clear(context.Background(), h.st, d, actions.ClearRequest{RunID: runID, TaskIDs: []string{"a"}}, time.Now().UTC()); err != nil {
			t.Fatal(err)
		}
		h.eng.Loop.Kick()
		if run := h.waitRun("again", runID); run.State != store.RunFailed || run.ClearNumber != 1 {
			t.Fatalf("run %s, clear number %d", run.State, run.ClearNumber)
		}
		notes := h.waitNotes("again", runID, 4)
		for _, n := range notes {
			if n.State != store.NoteSent {
				t.Errorf("%s#%d try %d: %s", n.Event, n.Index, n.Try, n.State)
			}
		}
		want := []string{"dag failure " + runID, "dag failure " + runID, "late " + runID, "late " + runID}
		if got := lines(t, filepath.Join(home, "notes")); !slices.Equal(got, want) {
			t.Errorf("notes:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	})
}

package scheduler

import (
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/sirocco-dev/sirocco/internal/dag"
	"github.com/sirocco-dev/sirocco/internal/store"
	"github.com/sirocco-dev/sirocco/internal/store/sqlstore"
)

// TestExpansionWaitsForAnUpstreamThatRunsAgain: an expansion decided while
// the upstream was done, whose list is read after a clear of the upstream
// alone (include_downstream off: the placeholder is not written, so its
// version still holds) finds no list and an upstream that is not finished.
// The mapped task is not failed: it waits, and the next tick decides on
// the upstream's new try.
func TestExpansionWaitsForAnUpstreamThatRunsAgain(t *testing.T) {
	st, err := sqlstore.OpenSQLite(filepath.Join(t.TempDir(), "sirocco.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	d := testDAG(t, "d", "none", "up", "m:up")
	d.Task("m").Expand = &dag.Expand{Fields: []dag.ExpandField{{Name: "x", MapSource: dag.MapSource{XComTask: "up", XComKey: "return_value"}}}}
	run, tis := NewRunRecords(d, store.RunManual, dag.Interval{Start: t0, End: t0}, nil, t0)
	run.State = store.RunRunning
	if err := st.CreateRun(t.Context(), run, tis); err != nil {
		t.Fatal(err)
	}
	m := store.TaskKey{DagID: "d", RunID: run.RunID, TaskID: "m"}
	ph, err := st.GetTaskInstance(t.Context(), m)
	if err != nil {
		t.Fatal(err)
	}
	// up is back to none (a clear of up alone), its XCom gone; m's
	// placeholder is as Decide read it.
	l := NewLoop(Options{Store: st, DAGs: fixedDAGs{d.ID: d}, Executor: newHandOffExecutor(), Logger: slog.New(slog.DiscardHandler)})
	errs := l.expand(t.Context(), Snapshot{Now: t0, DAGs: map[string]*dag.DAG{d.ID: d}}, []Expansion{{m, ph.Version}})
	for _, err := range errs {
		if err != nil {
			t.Errorf("expand: %v", err)
		}
	}
	got, err := st.GetTaskInstance(t.Context(), m)
	if err != nil || got.State != store.StateNone || got.Note != "" {
		t.Fatalf("m after an expansion that found its upstream running again: %q, note %q, %v; want none, waiting", got.State, got.Note, err)
	}
}

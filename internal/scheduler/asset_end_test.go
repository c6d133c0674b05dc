package scheduler

import (
	"context"
	"database/sql"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/dag"
	"github.com/sirocco-dev/sirocco/internal/store"
	"github.com/sirocco-dev/sirocco/internal/store/sqlstore"
	"github.com/sirocco-dev/sirocco/internal/testenv"
)

// TestRunWaitsForItsAssetEvents: the tick that writes a producer's
// success fails to write its asset event (the database refuses it): the
// run does not end in that tick, so its event is written by a later one
// instead of being lost with the run leaving the loop's sight.
func TestRunWaitsForItsAssetEvents(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sirocco.db")
	st, err := sqlstore.OpenSQLite(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	raw, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(5000)") // waits for the loop's writes instead of SQLITE_BUSY
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	if _, err := raw.Exec(`CREATE TRIGGER refuse_events BEFORE INSERT ON asset_events
		BEGIN SELECT RAISE(ABORT, 'asset events refused by the test'); END`); err != nil {
		t.Fatal(err)
	}
	d := testDAG(t, "prod", "none", "a")
	d.Task("a").Outlets = []dag.Asset{{URI: "s3://b/x"}}
	run, tis := NewRunRecords(d, store.RunManual, dag.Interval{Start: t0, End: t0}, nil, t0)
	run.State = store.RunRunning
	if err := st.CreateRun(t.Context(), run, tis); err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	e := newHandOffExecutor()
	l := NewLoop(Options{Store: st, DAGs: fixedDAGs{d.ID: d}, Executor: e, PollInterval: time.Hour,
		ResyncEvery: time.Hour, Logger: slog.New(slog.NewTextHandler(logs, nil))})
	f := &handOffFixture{t: t, st: st, exec: e, loop: l, d: d}
	f.run()
	a := f.next()
	if w, err := l.Record(t.Context(), success(a.TaskKey, a.TryNumber)); err != nil || !w.OK {
		t.Fatalf("record: %+v %v", w, err)
	}
	testenv.Eventually(t, "the event's write to fail", 10*time.Second, func() (bool, string) {
		return strings.Contains(logs.String(), "asset events refused"), logs.String()
	})
	if r, err := st.GetRun(t.Context(), d.ID, run.RunID); err != nil || r.State != store.RunRunning {
		t.Fatalf("run %s (%v) after the failed write, want running", r.State, err)
	}
	if _, err := raw.Exec(`DROP TRIGGER refuse_events`); err != nil {
		t.Fatal(err)
	}
	l.Wake()
	testenv.Eventually(t, "the run to end with its event", 10*time.Second, func() (bool, string) {
		r, err := st.GetRun(context.Background(), d.ID, run.RunID)
		evs, _ := st.ListAssetEvents(context.Background(), store.AssetEventFilter{URI: "s3://b/x"})
		return err == nil && r.State == store.RunSuccess && len(evs) == 1, string(r.State)
	})
}

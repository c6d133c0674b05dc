package scheduler

import (
	"context"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/dag"
	"github.com/sirocco-dev/sirocco/internal/store"
	"github.com/sirocco-dev/sirocco/internal/store/sqlstore"
)

// readCounter counts the loop's reads of the active runs, which a tick
// makes after a wake-up from another process.
type readCounter struct {
	store.Store
	reads atomic.Int64
	first chan struct{} // closed once the first read has returned
}

func (c *readCounter) ListRuns(ctx context.Context, f store.RunFilter) ([]store.DagRun, error) {
	runs, err := c.Store.ListRuns(ctx, f)
	if c.reads.Add(1) == 1 {
		close(c.first)
	}
	return runs, err
}

// TestLoopWakesOnlyForOtherHandles: with an hour's poll interval, a run
// created through another handle on the database (another process) is
// handed over at once; the loop's own writes (the run's start and end)
// notify too, but never wake the loop itself.
func TestLoopWakesOnlyForOtherHandles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sirocco.db")
	open := func() store.Store {
		st, err := sqlstore.OpenSQLite(path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	}
	st := open()
	if err := st.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	other := open()
	d := testDAG(t, "wake", "none", "a")
	counter := &readCounter{Store: st, first: make(chan struct{})}
	e := newHandOffExecutor()
	f := &handOffFixture{t: t, st: st, exec: e, d: d, loop: NewLoop(Options{Store: counter, DAGs: fixedDAGs{d.ID: d},
		Executor: e, PollInterval: time.Hour, ResyncEvery: time.Hour})}
	f.run()
	<-counter.first // the loop has read the runs once, and will wait for an hour

	run, tis := NewRunRecords(d, store.RunManual, dag.Interval{Start: t0, End: t0}, nil, t0)
	if err := other.CreateRun(t.Context(), run, tis); err != nil {
		t.Fatal(err)
	}
	a := f.next()
	if _, err := f.loop.Record(t.Context(), success(a.TaskKey, 1)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	for {
		r, err := other.GetRun(ctx, d.ID, run.RunID)
		if err != nil {
			t.Fatal(err)
		}
		if r.State == store.RunSuccess {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("run still %s", r.State)
		case <-time.After(5 * time.Millisecond):
		}
	}
	reads := counter.reads.Load()
	time.Sleep(300 * time.Millisecond) // a loop woken by its own writes would read again
	if n := counter.reads.Load() - reads; n != 0 {
		t.Errorf("the loop read the runs %d more times after it finished the run itself", n)
	}
}

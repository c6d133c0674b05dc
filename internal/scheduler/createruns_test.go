package scheduler

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/store"
)

// idleExecutor accepts nothing, so the loop under test only creates runs.
type idleExecutor struct{}

func (idleExecutor) ID() string                                             { return "me" }
func (idleExecutor) FreeSlots() int                                         { return 0 }
func (idleExecutor) Claim(u store.TaskUpdate, _ time.Time) store.TaskUpdate { return u }
func (idleExecutor) SubmitTask(store.TaskInstance, store.DagRun)            {}
func (idleExecutor) Kill(store.TaskKey)                                     {}
func (idleExecutor) Resume(store.TaskKey)                                   {}
func (idleExecutor) Holds(store.TaskKey) bool                               { return false }

type fixedClock time.Time

func (c fixedClock) Now() time.Time { return time.Time(c) }

// failOnceStore is the real store, except that one CreateRun fails.
type failOnceStore struct {
	store.Store
	mu     sync.Mutex
	failAt int // the failAt-th CreateRun fails (1-based); 0 never
	calls  int
}

func (s *failOnceStore) CreateRun(ctx context.Context, r store.DagRun, tis []store.TaskInstance) error {
	s.mu.Lock()
	s.calls++
	fail := s.calls == s.failAt
	s.mu.Unlock()
	if fail {
		return errors.New("disk full")
	}
	return s.Store.CreateRun(ctx, r, tis)
}

// syncBuffer is a log destination the test reads after the loop wrote it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) lines(msg string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.Count(b.buf.String(), "msg=\""+msg+"\"")
}

// TestLoopCreatesABacklogInPages: 40 one-second intervals behind and no
// max_active_runs to stop them: each tick creates the next page, in order,
// with one log line per page, and a write that fails skips nothing.
func TestLoopCreatesABacklogInPages(t *testing.T) {
	const backlog = 40
	d := testDAG(t, "fast", "every 1s", "a")
	d.Catchup, d.MaxActiveRuns, d.StartDate = true, 1<<20, t0.Add(-backlog*time.Second)
	st := &failOnceStore{Store: openTestStore(t), failAt: MaxRunsPerTick + 5}
	logs := &syncBuffer{}
	loop := NewLoop(Options{Store: st, DAGs: fixedDAGs{"fast": d}, Executor: idleExecutor{}, Clock: fixedClock(t0),
		Logger: slog.New(slog.NewTextHandler(logs, nil)), PollInterval: time.Hour})
	// The pages: a full one, one cut short by the failed write, then the
	// rest, which starts with the run that failed.
	wantTotals := []int{MaxRunsPerTick, MaxRunsPerTick + 4, MaxRunsPerTick + 4 + MaxRunsPerTick, backlog, backlog}
	for tick, want := range wantTotals {
		_, err := loop.Tick(t.Context())
		if tick == 1 && err == nil {
			t.Errorf("tick %d: the failed create was not reported", tick)
		}
		if tick != 1 && err != nil {
			t.Fatalf("tick %d: %v", tick, err)
		}
		if got := len(scheduledRuns(t, st)); got != want {
			t.Fatalf("after tick %d: %d runs, want %d", tick, got, want)
		}
	}
	runs := scheduledRuns(t, st)
	for i, r := range runs {
		if want := d.StartDate.Add(time.Duration(i) * time.Second); !r.LogicalDate.Equal(want) {
			t.Fatalf("run %d is for %v, want %v: every interval once, in order", i, r.LogicalDate, want)
		}
	}
	if n := logs.lines("created runs"); n != 4 {
		t.Errorf("%d \"created runs\" log lines for 4 pages:\n%s", n, logs.buf.String())
	}
	if n := logs.lines("created run"); n != 0 {
		t.Errorf("%d log lines for single runs, want one line per page", n)
	}
}

// scheduledRuns lists the runs in the store, oldest logical date first.
func scheduledRuns(t *testing.T, st store.Store) []store.DagRun {
	t.Helper()
	runs, err := st.ListRuns(t.Context(), store.RunFilter{DagID: "fast"})
	if err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(runs, func(a, b store.DagRun) int { return a.LogicalDate.Compare(b.LogicalDate) })
	return runs
}

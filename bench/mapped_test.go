package bench

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/config"
	"github.com/sirocco-dev/sirocco/internal/store"
)

// mappedDAG is one `empty` task mapped over n elements (expand_kwargs of
// empty mappings: the operator has no field), with max_active_tasks 32 as
// the other scale benchmarks.
func mappedDAG(id string, n int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "dag_id: %s\nschedule: none\nmax_active_tasks: 32\ntasks:\n  - {id: start, operator: empty}\n", id)
	fmt.Fprintf(&b, "  - id: each\n    operator: empty\n    depends_on: [start]\n    expand_kwargs: [%s]\n",
		strings.TrimSuffix(strings.Repeat("{}, ", n), ", "))
	return b.String()
}

// expandTimer wraps the store to time Store.ExpandTask.
type expandTimer struct {
	*watchStore
	mu   sync.Mutex
	took time.Duration
}

func (e *expandTimer) ExpandTask(ctx context.Context, k store.TaskKey, version int64, n int, now time.Time) (bool, error) {
	start := time.Now()
	ok, err := e.watchStore.ExpandTask(ctx, k, version, n, now)
	e.mu.Lock()
	e.took += time.Since(start)
	e.mu.Unlock()
	return ok, err
}

// BenchmarkMapped10000 measures a mapped task of 10,000 instances:
// expand-ms, the one transaction that turns its placeholder into 10,000
// rows, and as benchScale the scheduler overhead and CPU per instance
// (cpu-ms/task, this process's CPU from trigger to the run's success).
func BenchmarkMapped10000(b *testing.B) {
	const n = 10_000
	backends(b, func(b *testing.B, dsn string) {
		var timer *expandTimer
		r := startEngineWith(b, dsn, map[string]string{"mapped10k": mappedDAG("mapped10k", n)},
			func(c *config.Config) { c.MaxMapLength = n },
			func(w *watchStore) store.Store { timer = &expandTimer{watchStore: w}; return timer })
		var walls []time.Duration
		var cpu, pgCPU time.Duration
		var snap, loopW opStats
		for b.Loop() {
			b.StopTimer()
			timer.mu.Lock()
			timer.took = 0
			timer.mu.Unlock()
			r.st.reset()
			cpu0 := processCPU(b)
			pg0, pgOK := postgresCPU(dsn)
			b.StartTimer()
			runID, wall := r.run("mapped10k", 10*time.Minute)
			walls = append(walls, wall)
			cpu = processCPU(b) - cpu0
			if pg1, ok := postgresCPU(dsn); ok && pgOK {
				pgCPU = pg1 - pg0
			}
			snap, loopW, _ = r.st.stats()
			if got := len(r.taskInstances("mapped10k", runID)); got != 2 {
				b.Fatalf("%d task ids, want start and each", got)
			}
		}
		wall := percentile(walls, 50)
		b.ReportMetric(ms(wall)/float64(n), "ms/task")
		b.ReportMetric(float64(n)/wall.Seconds(), "tasks/s")
		b.ReportMetric(ms(cpu)/float64(n), "cpu-ms/task")
		if pgCPU > 0 {
			b.ReportMetric(ms(pgCPU)/float64(n), "pg-cpu-ms/task")
		}
		last := walls[len(walls)-1]
		b.ReportMetric(100*float64(snap.total)/float64(last), "loop-snapshot-%")
		b.ReportMetric(100*float64(loopW.total)/float64(last), "loop-writes-%")
		b.ReportMetric(float64(loopW.n)/float64(n), "loop-writes/task")
		timer.mu.Lock()
		b.ReportMetric(ms(timer.took), "expand-ms")
		timer.mu.Unlock()
	})
}

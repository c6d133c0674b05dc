package sqlstore_test

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/store"
	"github.com/sirocco-dev/sirocco/internal/store/sqlstore"
	"github.com/sirocco-dev/sirocco/internal/testenv"
)

// benchStores runs fn against a migrated store of each dialect.
func benchStores(b *testing.B, fn func(b *testing.B, s *sqlstore.Store)) {
	b.Run("sqlite", func(b *testing.B) {
		s, err := sqlstore.OpenSQLite(filepath.Join(b.TempDir(), "bench.db"))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { s.Close() })
		if err := s.Migrate(b.Context()); err != nil {
			b.Fatal(err)
		}
		fn(b, s)
	})
	b.Run("postgres", func(b *testing.B) {
		s := openPostgres(b, testenv.Postgres(b))
		if err := s.Migrate(b.Context()); err != nil {
			b.Fatal(err)
		}
		fn(b, s)
	})
}

// createBenchRun creates run runID of dag "bench" with n task instances.
func createBenchRun(b *testing.B, s *sqlstore.Store, runID string, logical time.Time, state store.RunState, n int) {
	b.Helper()
	tis := make([]store.TaskInstance, n)
	for i := range tis {
		tis[i] = store.TaskInstance{TaskKey: store.TaskKey{TaskID: fmt.Sprintf("task_%04d", i)},
			Pool: "default_pool", PoolSlots: 1, PriorityWeight: 1, Queue: "default"}
	}
	run := store.DagRun{DagID: "bench", RunID: runID, RunType: store.RunScheduled, State: state,
		LogicalDate: logical, QueuedAt: logical}
	if err := s.CreateRun(b.Context(), run, tis); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkUpdateTask measures one conditional transition, the write every
// task does several times per try.
func BenchmarkUpdateTask(b *testing.B) {
	benchStores(b, func(b *testing.B, s *sqlstore.Store) {
		createBenchRun(b, s, "r", time.Now(), store.RunRunning, 1000)
		ctx := b.Context()
		now := time.Now()
		states := [2]store.TaskState{store.StateQueued, store.StateRunning}
		i := 0
		for b.Loop() {
			k := store.TaskKey{DagID: "bench", RunID: "r", TaskID: fmt.Sprintf("task_%04d", i%1000)}
			from, to := states[(i/1000)%2], states[(i/1000+1)%2]
			if i < 1000 {
				from = store.StateNone
			}
			ok, err := s.UpdateTask(ctx, store.TaskUpdate{Key: k, From: []store.TaskState{from}, To: to, HeartbeatAt: &now})
			if err != nil || !ok {
				b.Fatalf("update %d: %v %v", i, ok, err)
			}
			i++
		}
	})
}

// BenchmarkActiveTaskInstances measures the scheduler's snapshot of one
// running run of 1,000 task instances, next to 4 finished runs of 1,000
// that the query must skip.
func BenchmarkActiveTaskInstances(b *testing.B) {
	benchStores(b, func(b *testing.B, s *sqlstore.Store) {
		base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
		for d := range 4 {
			createBenchRun(b, s, fmt.Sprintf("done_%d", d), base.AddDate(0, 0, d), store.RunSuccess, 1000)
		}
		createBenchRun(b, s, "active", base.AddDate(0, 0, 10), store.RunRunning, 1000)
		ctx := b.Context()
		b.ReportAllocs()
		for b.Loop() {
			tis, err := s.ActiveTaskInstances(ctx)
			if err != nil || len(tis) != 1000 {
				b.Fatalf("%d task instances, %v", len(tis), err)
			}
		}
	})
}

// BenchmarkCreateRun measures inserting a run of 1,000 task instances.
func BenchmarkCreateRun(b *testing.B) {
	benchStores(b, func(b *testing.B, s *sqlstore.Store) {
		base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
		i := 0
		for b.Loop() {
			createBenchRun(b, s, fmt.Sprintf("r%d", i), base.Add(time.Duration(i)*time.Hour), store.RunQueued, 1000)
			i++
		}
	})
}

// BenchmarkHandOffBatch measures the write of a chain's hand-off: a try's
// outcome and the next task's claim, which requires it, in one batch.
func BenchmarkHandOffBatch(b *testing.B) {
	benchStores(b, func(b *testing.B, s *sqlstore.Store) {
		const n = 10000
		createBenchRun(b, s, "r", time.Now(), store.RunRunning, n)
		ctx := b.Context()
		now := time.Now()
		k := func(i int) store.TaskKey {
			return store.TaskKey{DagID: "bench", RunID: "r", TaskID: fmt.Sprintf("task_%04d", i)}
		}
		claim := func(i int) store.TaskUpdate {
			return store.TaskUpdate{Key: k(i), From: []store.TaskState{store.StateNone}, To: store.StateRunning, IncTry: true,
				StartDate: &now, WorkerID: ptr("w1"), HeartbeatAt: &now}
		}
		if ok, err := s.UpdateTask(ctx, claim(0)); err != nil || !ok {
			b.Fatalf("first claim: %v %v", ok, err)
		}
		i := 0
		for b.Loop() {
			if i+1 >= n {
				b.Fatal("benchmark ran out of tasks")
			}
			next := claim(i + 1)
			next.Requires = []store.TaskCondition{{Key: k(i), State: store.StateSuccess, Try: 1}}
			ws, err := s.UpdateTasks(ctx, []store.TaskUpdate{
				{Key: k(i), From: []store.TaskState{store.StateRunning}, FromWorker: ptr("w1"), FromTry: ptr(1),
					To: store.StateSuccess, EndDate: &now},
				next,
			})
			if err != nil || !ws[0].OK || !ws[1].OK {
				b.Fatalf("hand-off %d: %+v %v", i, ws, err)
			}
			i++
		}
	})
}

package storetest

import (
	"sync"
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/store"
)

func init() {
	register("PruneWorkers", testPruneWorkers)
	register("Migrate", testMigrate)
	register("DAGs", testDAGs)
	register("ImportErrors", testImportErrors)
	register("Pools", testPools)
	register("Variables", testVariables)
	register("XCom", testXCom)
	register("Workers", testWorkers)
}

// testMigrate: migrating again, and from several goroutines at once, is a
// no-op that leaves the seeded default pool alone.
func testMigrate(t *testing.T, s store.Store) {
	ctx := t.Context()
	if s.Dialect() == "" {
		t.Error("Dialect() is empty")
	}
	if err := s.SetPool(ctx, store.Pool{Name: "default_pool", Slots: 7}); err != nil {
		t.Fatal(err)
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("second Migrate: %v", err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Go(func() { errs <- s.Migrate(ctx) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("concurrent Migrate: %v", err)
		}
	}
	pools, err := s.ListPools(ctx)
	if err != nil {
		t.Fatal(err)
	}
	same(t, "pools after re-migration", pools, []store.Pool{{Name: "default_pool", Slots: 7}})
}

// testDAGs: upserts refresh the bookkeeping but never the user's pause flag;
// new DAGs take the caller's flag (Sirocco's default: not paused).
func testDAGs(t *testing.T, s store.Store) {
	ctx := t.Context()
	_, err := s.GetDAG(ctx, "nope")
	wantErr(t, "GetDAG missing", err, store.ErrNotFound)
	wantErr(t, "SetPaused missing", s.SetPaused(ctx, "nope", true), store.ErrNotFound)

	for _, d := range []store.DAGRecord{
		{DagID: "b", Paused: true, FileLoc: "/dags/b.yaml", LastParsed: t0},
		{DagID: "a", FileLoc: "/dags/a.yaml", LastParsed: t0},
	} {
		if err := s.UpsertDAG(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.GetDAG(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	same(t, "new DAG", got, store.DAGRecord{DagID: "a", FileLoc: "/dags/a.yaml", LastParsed: stored(t0)})

	if err := s.SetPaused(ctx, "a", true); err != nil {
		t.Fatal(err)
	}
	if err := s.UpsertDAG(ctx, store.DAGRecord{DagID: "a", FileLoc: "/dags/a2.yaml", LastParsed: at(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	if err := s.UpsertDAG(ctx, store.DAGRecord{DagID: "b", FileLoc: "/dags/b.yaml"}); err != nil {
		t.Fatal(err)
	}
	list, err := s.ListDAGs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	same(t, "DAGs after re-parse", list, []store.DAGRecord{
		{DagID: "a", Paused: true, FileLoc: "/dags/a2.yaml", LastParsed: stored(at(time.Minute))},
		{DagID: "b", Paused: true, FileLoc: "/dags/b.yaml"},
	})

	if err := s.SetPaused(ctx, "a", false); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.GetDAG(ctx, "a"); got.Paused {
		t.Error("SetPaused(false) left the DAG paused")
	}
}

// testImportErrors: each Replace swaps the whole set.
func testImportErrors(t *testing.T, s store.Store) {
	ctx := t.Context()
	if err := s.ReplaceImportErrors(ctx, []store.ImportError{
		{FileLoc: "/dags/z.yaml", Message: "bad z", Timestamp: t0},
		{FileLoc: "/dags/m.yaml", Message: "bad m\nline 2", Timestamp: at(time.Second)},
	}); err != nil {
		t.Fatal(err)
	}
	got, err := s.ListImportErrors(ctx)
	if err != nil {
		t.Fatal(err)
	}
	same(t, "import errors", got, []store.ImportError{
		{FileLoc: "/dags/m.yaml", Message: "bad m\nline 2", Timestamp: stored(at(time.Second))},
		{FileLoc: "/dags/z.yaml", Message: "bad z", Timestamp: stored(t0)},
	})

	if err := s.ReplaceImportErrors(ctx, []store.ImportError{{FileLoc: "/dags/q.yaml", Message: "bad q"}}); err != nil {
		t.Fatal(err)
	}
	got, err = s.ListImportErrors(ctx)
	if err != nil {
		t.Fatal(err)
	}
	same(t, "replaced import errors", got, []store.ImportError{{FileLoc: "/dags/q.yaml", Message: "bad q"}})

	if err := s.ReplaceImportErrors(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if got, _ = s.ListImportErrors(ctx); len(got) != 0 {
		t.Errorf("import errors after Replace(nil) = %+v, want none", got)
	}
}

// testPools: default_pool is seeded with 128 slots; SetPool upserts.
func testPools(t *testing.T, s store.Store) {
	ctx := t.Context()
	got, err := s.ListPools(ctx)
	if err != nil {
		t.Fatal(err)
	}
	same(t, "seeded pools", got, []store.Pool{{Name: "default_pool", Slots: 128, Description: "Default pool"}})

	for _, p := range []store.Pool{
		{Name: "gpu", Slots: 2, Description: "GPUs"},
		{Name: "api", Slots: 5},
		{Name: "default_pool", Slots: 16, Description: "smaller"},
		{Name: "gpu", Slots: 4, Description: "more GPUs"},
	} {
		if err := s.SetPool(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	got, err = s.ListPools(ctx)
	if err != nil {
		t.Fatal(err)
	}
	same(t, "pools", got, []store.Pool{
		{Name: "api", Slots: 5},
		{Name: "default_pool", Slots: 16, Description: "smaller"},
		{Name: "gpu", Slots: 4, Description: "more GPUs"},
	})
}

// testVariables: set/overwrite, get, list sorted, delete; missing ones are
// ErrNotFound.
func testVariables(t *testing.T, s store.Store) {
	ctx := t.Context()
	_, err := s.GetVariable(ctx, "nope")
	wantErr(t, "GetVariable missing", err, store.ErrNotFound)
	wantErr(t, "DeleteVariable missing", s.DeleteVariable(ctx, "nope"), store.ErrNotFound)

	for _, v := range []store.Variable{
		{Key: "region", Value: "eu-west-1"},
		{Key: "bucket", Value: "raw", Description: "landing zone"},
		{Key: "region", Value: `{"json": "ok", "quote": "'"}`, Description: "moved"},
	} {
		if err := s.SetVariable(ctx, v); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.GetVariable(ctx, "region")
	if err != nil {
		t.Fatal(err)
	}
	same(t, "overwritten variable", got, store.Variable{Key: "region", Value: `{"json": "ok", "quote": "'"}`, Description: "moved"})

	list, err := s.ListVariables(ctx)
	if err != nil {
		t.Fatal(err)
	}
	same(t, "variables", list, []store.Variable{
		{Key: "bucket", Value: "raw", Description: "landing zone"},
		{Key: "region", Value: `{"json": "ok", "quote": "'"}`, Description: "moved"},
	})

	if err := s.DeleteVariable(ctx, "bucket"); err != nil {
		t.Fatal(err)
	}
	_, err = s.GetVariable(ctx, "bucket")
	wantErr(t, "GetVariable deleted", err, store.ErrNotFound)
	if list, _ := s.ListVariables(ctx); len(list) != 1 {
		t.Errorf("variables after delete = %+v, want only region", list)
	}
}

// testXCom: SetXCom upserts per (task instance, key) and keeps the JSON
// text as given; it needs the task instance to exist.
func testXCom(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustCreate(t, s, newRun("d", "r", t0, store.RunRunning), "push", "other")
	k := store.TaskKey{DagID: "d", RunID: "r", TaskID: "push"}

	_, err := s.GetXCom(ctx, k, "return_value")
	wantErr(t, "GetXCom missing", err, store.ErrNotFound)
	err = s.SetXCom(ctx, store.XCom{TaskKey: store.TaskKey{DagID: "d", RunID: "r", TaskID: "ghost"}, Key: "k", Value: "1"})
	wantErr(t, "SetXCom for a missing task instance", err, store.ErrNotFound)

	for _, x := range []store.XCom{
		{TaskKey: k, Key: "return_value", Value: `{"rows": 1}`},
		{TaskKey: k, Key: "extra", Value: `[1, 2]`},
		{TaskKey: store.TaskKey{DagID: "d", RunID: "r", TaskID: "other"}, Key: "return_value", Value: `"other"`},
		{TaskKey: k, Key: "return_value", Value: `{"rows":  2, "a": "é"}`},
	} {
		if err := s.SetXCom(ctx, x); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.GetXCom(ctx, k, "return_value")
	if err != nil {
		t.Fatal(err)
	}
	same(t, "overwritten xcom", got, store.XCom{TaskKey: k, Key: "return_value", Value: `{"rows":  2, "a": "é"}`})
	got, err = s.GetXCom(ctx, k, "extra")
	if err != nil {
		t.Fatal(err)
	}
	same(t, "second key", got, store.XCom{TaskKey: k, Key: "extra", Value: `[1, 2]`})
}

// testWorkers: RegisterWorker upserts; ListWorkers sorts by id.
func testWorkers(t *testing.T, s store.Store) {
	ctx := t.Context()
	for _, w := range []store.Worker{
		{ID: "w2", Kind: "worker", Hostname: "h2", PID: 22, StartedAt: t0, HeartbeatAt: t0},
		{ID: "w1", Kind: "standalone", Hostname: "h1", PID: 11, StartedAt: t0},
		{ID: "w2", Kind: "worker", Hostname: "h2b", PID: 23, StartedAt: at(time.Hour), HeartbeatAt: at(time.Hour)},
	} {
		if err := s.RegisterWorker(ctx, w); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.ListWorkers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	same(t, "workers", got, []store.Worker{
		{ID: "w1", Kind: "standalone", Hostname: "h1", PID: 11, StartedAt: stored(t0)},
		{ID: "w2", Kind: "worker", Hostname: "h2b", PID: 23, StartedAt: stored(at(time.Hour)), HeartbeatAt: stored(at(time.Hour))},
	})
}

// testPruneWorkers: only workers silent since the cutoff (or marked dead)
// that own no queued, running or restarting try are deleted.
func testPruneWorkers(t *testing.T, s store.Store) {
	ctx := t.Context()
	for _, w := range []store.Worker{
		{ID: "old-idle", HeartbeatAt: at(time.Hour)},
		{ID: "dead-idle"}, // marked dead: no heartbeat
		{ID: "old-busy", HeartbeatAt: at(time.Hour)},
		{ID: "old-finished", HeartbeatAt: at(time.Hour)},
		{ID: "fresh", HeartbeatAt: at(3 * time.Hour)},
	} {
		w.Kind, w.StartedAt = "local", at(0)
		if err := s.RegisterWorker(ctx, w); err != nil {
			t.Fatal(err)
		}
	}
	mustCreate(t, s, newRun("d", "r", t0, store.RunRunning), "a", "b")
	mustUpdateTask(t, s, store.TaskUpdate{Key: store.TaskKey{DagID: "d", RunID: "r", TaskID: "a"},
		To: store.StateRunning, WorkerID: ptr("old-busy")}, true)
	mustUpdateTask(t, s, store.TaskUpdate{Key: store.TaskKey{DagID: "d", RunID: "r", TaskID: "b"},
		To: store.StateSuccess, WorkerID: ptr("old-finished")}, true)
	n, err := s.PruneWorkers(ctx, at(2*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	ws, err := s.ListWorkers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var left []string
	for _, w := range ws {
		left = append(left, w.ID)
	}
	same(t, "workers left", left, []string{"fresh", "old-busy"})
	same(t, "pruned", n, 3)
}

package sqlstore_test

import (
	"testing"

	"github.com/sirocco-dev/sirocco/internal/store"
	"github.com/sirocco-dev/sirocco/internal/store/sqlstore"
	"github.com/sirocco-dev/sirocco/internal/store/storetest"
	"github.com/sirocco-dev/sirocco/internal/testenv"
)

// openPostgres opens a store on dsn and closes it when t ends.
func openPostgres(t testing.TB, dsn string) *sqlstore.Store {
	t.Helper()
	s, err := sqlstore.Open(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return s
}

func TestPostgresConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s := openPostgres(t, testenv.Postgres(t))
		if s.Dialect() != sqlstore.DialectPostgres {
			t.Fatalf("Dialect() = %q", s.Dialect())
		}
		return s
	})
}

// TestPostgresNotify: two handles (two pools, as two processes) on one
// database.
func TestPostgresNotify(t *testing.T) {
	storetest.RunNotify(t, func(t *testing.T) (store.Store, store.Store) {
		dsn := testenv.Postgres(t)
		return openPostgres(t, dsn), openPostgres(t, dsn)
	})
}

// TestPostgresTwoProcessesMigrate: two stores (two pools, as two processes)
// migrating one database at once serialise on the advisory lock.
func TestPostgresTwoProcessesMigrate(t *testing.T) {
	dsn := testenv.Postgres(t)
	testConcurrentMigrate(t, func(t *testing.T) *sqlstore.Store {
		s, err := sqlstore.OpenPostgres(dsn)
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

// TestPostgresPipelineIsAllOrNothing: the pipelined batch is one
// transaction, so an update PostgreSQL rejects (text that is not UTF-8)
// leaves the others in the batch unwritten, while the same valid update
// written on its own still works.
func TestPostgresPipelineIsAllOrNothing(t *testing.T) {
	s := openPostgres(t, testenv.Postgres(t))
	ctx := t.Context()
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	run := store.DagRun{DagID: "d", RunID: "r", RunType: store.RunManual, State: store.RunRunning}
	if err := s.CreateRun(ctx, run, []store.TaskInstance{{TaskKey: store.TaskKey{TaskID: "a"}}, {TaskKey: store.TaskKey{TaskID: "b"}}}); err != nil {
		t.Fatal(err)
	}
	a := store.TaskKey{DagID: "d", RunID: "r", TaskID: "a"}
	b := store.TaskKey{DagID: "d", RunID: "r", TaskID: "b"}
	good := store.TaskUpdate{Key: a, From: []store.TaskState{store.StateNone}, To: store.StateQueued}
	bad := store.TaskUpdate{Key: b, To: store.TaskState("\xff")}
	if _, err := s.UpdateTasks(ctx, []store.TaskUpdate{good, bad}); err == nil {
		t.Fatal("a batch with an update PostgreSQL rejects reported no error")
	}
	if ti, err := s.GetTaskInstance(ctx, a); err != nil || ti.State != store.StateNone {
		t.Fatalf("after the failed batch a is %q (%v), want none: the batch must be all or nothing", ti.State, err)
	}
	if ok, err := s.UpdateTask(ctx, good); !ok || err != nil {
		t.Fatalf("the valid update alone: %v, %v", ok, err)
	}
}

func TestPostgresCheckSchema(t *testing.T) {
	checkSchemaBeforeAndAfterMigrate(t, openPostgres(t, testenv.Postgres(t)))
}

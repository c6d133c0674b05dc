package sqlstore_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/store"
	"github.com/sirocco-dev/sirocco/internal/store/sqlstore"
	"github.com/sirocco-dev/sirocco/internal/store/storetest"
)

// openSQLite opens a store on a new database file in t's temp dir.
func openSQLite(t testing.TB) *sqlstore.Store {
	t.Helper()
	return openSQLiteAt(t, filepath.Join(t.TempDir(), "sirocco.db"))
}

// openSQLiteAt opens a store on the database file at path and closes it
// when t ends.
func openSQLiteAt(t testing.TB, path string) *sqlstore.Store {
	t.Helper()
	s, err := sqlstore.OpenSQLite(path)
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

func TestSQLiteConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return openSQLite(t) })
}

func TestSQLiteMemoryConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := sqlstore.OpenSQLite(":memory:")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}

// TestOpenURL: every accepted spelling of a SQLite location opens the same
// kind of store, and a file written through one is read through another.
func TestOpenURL(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	abs := filepath.Join(dir, "a.db")
	t.Chdir(dir)
	for _, url := range []string{"sqlite://" + abs, abs, "sqlite://rel.db", "rel.db"} {
		s, err := sqlstore.Open(ctx, url)
		if err != nil {
			t.Fatalf("Open(%q): %v", url, err)
		}
		if s.Dialect() != sqlstore.DialectSQLite {
			t.Errorf("Open(%q).Dialect() = %q", url, s.Dialect())
		}
		if err := s.Migrate(ctx); err != nil {
			t.Fatalf("Migrate %q: %v", url, err)
		}
		if err := s.SetVariable(ctx, store.Variable{Key: url, Value: "v"}); err != nil {
			t.Fatal(err)
		}
		s.Close()
	}
	for path, want := range map[string]int{abs: 2, filepath.Join(dir, "rel.db"): 2} {
		s, err := sqlstore.OpenSQLite(path)
		if err != nil {
			t.Fatal(err)
		}
		vars, err := s.ListVariables(ctx)
		s.Close()
		if err != nil || len(vars) != want {
			t.Errorf("%s holds %v (%v), want %d variables", path, vars, err, want)
		}
	}
	for _, bad := range []string{"mysql://x/y", "", "sqlite://x.db?mode=ro"} {
		if s, err := sqlstore.Open(ctx, bad); err == nil {
			s.Close()
			t.Errorf("Open(%q) succeeded, want an error", bad)
		}
	}
}

// TestSQLiteTwoProcessesMigrate: two stores on one file (as two processes
// would be) migrate concurrently without error and apply the schema once.
func TestSQLiteTwoProcessesMigrate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "shared.db")
	testConcurrentMigrate(t, func(t *testing.T) *sqlstore.Store {
		s, err := sqlstore.OpenSQLite(path)
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

// TestSQLiteTwoProcessesWrite: writers in two stores sharing a file wait
// for each other (busy_timeout, IMMEDIATE transactions) instead of failing
// with SQLITE_BUSY, and every transition is won exactly once.
func TestSQLiteTwoProcessesWrite(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "shared.db")
	var stores [2]*sqlstore.Store
	for i := range stores {
		s, err := sqlstore.OpenSQLite(path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		if err := s.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		stores[i] = s
	}
	const tasks = 50
	ids := make([]string, tasks)
	tis := make([]store.TaskInstance, tasks)
	for i := range ids {
		ids[i] = "t" + string(rune('A'+i/26)) + string(rune('a'+i%26))
		tis[i].TaskID = ids[i]
	}
	if err := stores[0].CreateRun(ctx, store.DagRun{DagID: "d", RunID: "r", RunType: store.RunManual, State: store.RunRunning}, tis); err != nil {
		t.Fatal(err)
	}
	var wins [2]int
	var wg sync.WaitGroup
	for i, s := range stores {
		wg.Go(func() {
			for _, id := range ids {
				ok, err := s.UpdateTask(ctx, store.TaskUpdate{Key: store.TaskKey{DagID: "d", RunID: "r", TaskID: id},
					From: []store.TaskState{store.StateNone}, To: store.StateQueued, QueuedAt: ptr(time.Now())})
				if err != nil {
					t.Errorf("store %d: %v", i, err)
					return
				}
				if ok {
					wins[i]++
				}
				if _, err := s.ClearTasks(ctx, "d", "r", map[string]int{"nope": 1}, time.Now()); err != nil {
					t.Errorf("store %d: clear: %v", i, err)
					return
				}
			}
		})
	}
	wg.Wait()
	if wins[0]+wins[1] != tasks {
		t.Errorf("transitions won: %d + %d, want %d in total", wins[0], wins[1], tasks)
	}
}

// testConcurrentMigrate opens two stores on one database and migrates both
// at once, repeatedly; both must succeed and agree on the schema.
func testConcurrentMigrate(t *testing.T, open func(t *testing.T) *sqlstore.Store) {
	ctx := t.Context()
	a, b := open(t), open(t)
	t.Cleanup(func() { a.Close(); b.Close() })
	var wg sync.WaitGroup
	errs := make(chan error, 6)
	for range 3 {
		wg.Go(func() { errs <- a.Migrate(ctx) })
		wg.Go(func() { errs <- b.Migrate(ctx) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("concurrent Migrate: %v", err)
		}
	}
	pools, err := b.ListPools(ctx)
	if err != nil || len(pools) != 1 || pools[0].Slots != 128 {
		t.Errorf("pools after concurrent migration: %+v, %v", pools, err)
	}
}

// TestSQLiteClosed: a closed store reports errors instead of hanging.
func TestSQLiteClosed(t *testing.T) {
	s, err := sqlstore.OpenSQLite(filepath.Join(t.TempDir(), "x.db"))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ListPools(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ListPools(context.Background()); err == nil {
		t.Error("ListPools on a closed store succeeded")
	}
	if _, err := s.GetRun(context.Background(), "d", "r"); err == nil || errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetRun on a closed store: %v, want a non-NotFound error", err)
	}
}

func ptr[T any](v T) *T { return &v }

// checkSchemaBeforeAndAfterMigrate: a fresh database is reported behind
// (and stays so: checking writes nothing), a migrated one is not.
func checkSchemaBeforeAndAfterMigrate(t *testing.T, s *sqlstore.Store) {
	t.Helper()
	ctx := t.Context()
	for range 2 {
		var behind *sqlstore.SchemaBehindError
		if err := s.CheckSchema(ctx); !errors.As(err, &behind) || behind.Current != 0 || behind.Latest == 0 {
			t.Fatalf("CheckSchema on a fresh database = %v, want a SchemaBehindError from version 0", err)
		}
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.CheckSchema(ctx); err != nil {
		t.Fatalf("CheckSchema after Migrate: %v", err)
	}
}

func TestSQLiteCheckSchema(t *testing.T) {
	s, err := sqlstore.OpenSQLite(filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	checkSchemaBeforeAndAfterMigrate(t, s)
}

// TestSQLiteNotify: two handles on one file, as the CLI and a running
// standalone hold it.
func TestSQLiteNotify(t *testing.T) {
	storetest.RunNotify(t, func(t *testing.T) (store.Store, store.Store) {
		path := filepath.Join(t.TempDir(), "sirocco.db")
		return openSQLiteAt(t, path), openSQLiteAt(t, path)
	})
}

// TestSQLiteMemoryCannotBeWatched: nothing else can write a private
// in-memory database, so Watch says there is nothing to wait for.
func TestSQLiteMemoryCannotBeWatched(t *testing.T) {
	s, err := sqlstore.OpenSQLite(":memory:")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if ch, err := s.Watch(t.Context()); ch != nil || err != nil {
		t.Fatalf("Watch on :memory: = %v, %v; want nil, nil", ch, err)
	}
	if err := s.Notify(t.Context()); err != nil {
		t.Fatalf("Notify on :memory:: %v", err)
	}
}

// TestSQLiteNotifySurvivesARemovedFolder: notifications go through files
// in <database>-wake; when it is removed (a clean-up of the home), a
// notifier makes its file again, and the watcher, told that its folder is
// gone once no file is open in it, wakes and watches the new one.
func TestSQLiteNotifySurvivesARemovedFolder(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sirocco.db")
	a, b := openSQLiteAt(t, path), openSQLiteAt(t, path)
	ctx := t.Context()
	ch, err := a.Watch(ctx)
	if err != nil || ch == nil {
		t.Fatalf("Watch: %v, %v", ch, err)
	}
	notify := func(what string) {
		t.Helper()
		if err := b.Notify(ctx); err != nil {
			t.Fatal(err)
		}
		select {
		case <-ch:
		case <-time.After(10 * time.Second):
			t.Fatalf("no notification after %s", what)
		}
	}
	notify("the first Notify")
	if err := os.RemoveAll(path + "-wake"); err != nil {
		t.Fatal(err)
	}
	notify("the first Notify after the folder was removed")
	notify("the next Notify")
}

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

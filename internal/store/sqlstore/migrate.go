package sqlstore

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"
)

//go:embed migrations
var migrationFS embed.FS

// migrationLockKey is the pg_advisory_xact_lock key that serialises
// migrations across processes ("sirocco" in ASCII).
const migrationLockKey int64 = 0x736972_6f63636f

// schemaMigrationsDDL creates the bookkeeping table. It is not a numbered
// migration because Migrate needs it to know which numbered ones ran.
var schemaMigrationsDDL = map[string]string{
	DialectSQLite: `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER NOT NULL PRIMARY KEY,
		applied_at INTEGER NOT NULL
	) STRICT`,
	DialectPostgres: `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    integer     NOT NULL PRIMARY KEY,
		applied_at timestamptz NOT NULL
	)`,
}

// migration is one numbered schema change.
type migration struct {
	version int
	name    string
	sql     string
}

// migrations returns the dialect's migrations sorted by version. File names
// are NNNN_description.sql; a gap or a duplicate number is an error, so a
// bad file is caught by the first test rather than in production.
func migrations(dialect string) ([]migration, error) {
	dir := path.Join("migrations", dialect)
	entries, err := fs.ReadDir(migrationFS, dir)
	if err != nil {
		return nil, fmt.Errorf("read migrations %s: %w", dir, err)
	}
	var ms []migration
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".sql") {
			continue
		}
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("migration %s/%s: name must be NNNN_description.sql", dir, e.Name())
		}
		body, err := fs.ReadFile(migrationFS, path.Join(dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("read migration %s: %w", e.Name(), err)
		}
		ms = append(ms, migration{version: v, name: e.Name(), sql: string(body)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	for i, m := range ms {
		if m.version != i+1 {
			return nil, fmt.Errorf("migrations %s: expected version %d, found %s", dir, i+1, m.name)
		}
	}
	return ms, nil
}

// Migrate brings the schema up to date. Each pending migration runs in its
// own transaction together with its schema_migrations row, after taking a
// lock that serialises concurrent migrators (an advisory lock on
// PostgreSQL, the IMMEDIATE write lock on SQLite); it re-checks the version
// under the lock, so calling Migrate from several processes at once, or
// again on an up-to-date database, is harmless. A database migrated by a
// newer binary is refused rather than used with a schema this one does not
// know.
func (s *Store) Migrate(ctx context.Context) error {
	ms, err := migrations(s.dialect)
	if err != nil {
		return err
	}
	return s.migrateTo(ctx, ms)
}

// migrateTo applies the migrations ms not applied yet; tests pass a prefix
// of them to build a database of an older version.
func (s *Store) migrateTo(ctx context.Context, ms []migration) error {
	all, err := migrations(s.dialect)
	if err != nil {
		return err
	}
	err = s.tx(ctx, func(tx *sql.Tx) error {
		if err := s.lockMigrations(ctx, tx); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, schemaMigrationsDDL[s.dialect])
		return err
	})
	if err != nil {
		return fmt.Errorf("migrate: create schema_migrations: %w", err)
	}

	var current int
	if err := s.queryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&current); err != nil {
		return fmt.Errorf("migrate: read schema version: %w", err)
	}
	if current > len(all) {
		return fmt.Errorf("migrate: database schema version %d is newer than this binary supports (%d)", current, len(all))
	}
	for _, m := range ms[min(current, len(ms)):] {
		if err := s.tx(ctx, func(tx *sql.Tx) error { return s.apply(ctx, tx, m) }); err != nil {
			return fmt.Errorf("migrate %s %s: %w", s.dialect, m.name, err)
		}
	}
	return nil
}

// apply runs m inside tx unless another migrator got there first.
func (s *Store) apply(ctx context.Context, tx *sql.Tx, m migration) error {
	if err := s.lockMigrations(ctx, tx); err != nil {
		return err
	}
	var n int
	err := tx.QueryRowContext(ctx, s.q(`SELECT COUNT(*) FROM schema_migrations WHERE version = ?`), m.version).Scan(&n)
	if err != nil {
		return fmt.Errorf("check version: %w", err)
	}
	if n > 0 {
		return nil
	}
	if _, err := tx.ExecContext(ctx, m.sql); err != nil {
		return err
	}
	_, err = s.txExec(ctx, tx, `INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`,
		m.version, s.tv(time.Now()))
	if err != nil {
		return fmt.Errorf("record version: %w", err)
	}
	return nil
}

// lockMigrations serialises migrators for the rest of tx. SQLite needs no
// statement: the transaction began IMMEDIATE and holds the write lock.
func (s *Store) lockMigrations(ctx context.Context, tx *sql.Tx) error {
	if !s.pg {
		return nil
	}
	if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, migrationLockKey); err != nil {
		return fmt.Errorf("lock: %w", err)
	}
	return nil
}

// SchemaBehindError says the database needs `sirocco db migrate` before this
// binary can use it. Only db migrate and the long-running services
// (standalone, scheduler) migrate; a read-only command never changes the
// schema under a running scheduler of another version.
type SchemaBehindError struct {
	Current, Latest int
}

func (e *SchemaBehindError) Error() string {
	if e.Current == 0 {
		return "the database has no Sirocco schema yet: run `sirocco db migrate` " +
			"(standalone and scheduler also do it when they start)"
	}
	return fmt.Sprintf("the database schema is at version %d and this binary needs %d: run `sirocco db migrate`",
		e.Current, e.Latest)
}

// CheckSchema fails with a *SchemaBehindError when migrations are pending,
// and like Migrate when the database is newer than this binary. It writes
// nothing.
func (s *Store) CheckSchema(ctx context.Context) error {
	ms, err := migrations(s.dialect)
	if err != nil {
		return err
	}
	exists := `SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'`
	if s.pg {
		exists = `SELECT COUNT(*) FROM pg_catalog.pg_tables WHERE tablename = 'schema_migrations' AND schemaname = current_schema()`
	}
	var n, current int
	if err := s.queryRow(ctx, exists).Scan(&n); err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	if n > 0 {
		if err := s.queryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&current); err != nil {
			return fmt.Errorf("read schema version: %w", err)
		}
	}
	switch {
	case current > len(ms):
		return fmt.Errorf("database schema version %d is newer than this binary supports (%d)", current, len(ms))
	case current < len(ms):
		return &SchemaBehindError{Current: current, Latest: len(ms)}
	}
	return nil
}

package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/sirocco-dev/sirocco/internal/store"
)

// Dialect names, as returned by Store.Dialect.
const (
	DialectSQLite   = "sqlite"
	DialectPostgres = "postgres"
)

// sqliteParams are the per-connection settings of the writer pool: WAL so
// readers never block the writer, a 5s busy wait for other processes,
// NORMAL sync (durable at checkpoints, safe with WAL), no checkpoint in a
// commit (checkpoint.go runs them), foreign keys, and IMMEDIATE
// transactions so a write transaction takes the lock up front.
const sqliteParams = "_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)" +
	"&_pragma=synchronous(NORMAL)&_pragma=wal_autocheckpoint(0)&_pragma=foreign_keys(1)&_txlock=immediate"

// sqliteReadParams are the settings of the read-only pool.
const sqliteReadParams = "_pragma=busy_timeout(5000)&_pragma=foreign_keys(1)&_pragma=query_only(1)"

// Store is the database/sql implementation of store.Store. It is safe for
// concurrent use; Close releases its connections.
type Store struct {
	db      *sql.DB // writes; on SQLite a single connection
	rdb     *sql.DB // reads; on PostgreSQL (and :memory:) the same as db
	dialect string
	pg      bool

	rebound    sync.Map // query with ? -> query with $n (PostgreSQL only)
	stmts      stmtCache
	comb       combiner     // group commit of task updates
	raw        rawStmts     // SQLite: the write connection's driver statements (rawwrite.go)
	lastActive atomic.Int64 // size of the last ActiveTaskInstances result

	dsn  string    // PostgreSQL: for the LISTEN connection of Watch
	wake wakeState // Notify and Watch (wake.go)

	// SQLite file: the background checkpoints (checkpoint.go).
	ckpt     *checkpointer
	ckptOnce sync.Once
}

var _ store.Store = (*Store)(nil)

// Open opens the store that url names: postgres:// or postgresql:// for
// PostgreSQL; sqlite:///abs/path.db, sqlite://relative.db or a plain file
// path for SQLite. It does not migrate: call Migrate before first use.
func Open(ctx context.Context, url string) (*Store, error) {
	switch {
	case strings.HasPrefix(url, "postgres://"), strings.HasPrefix(url, "postgresql://"):
		return openPostgres(ctx, url)
	case strings.HasPrefix(url, "sqlite://"):
		return openSQLite(ctx, strings.TrimPrefix(url, "sqlite://"))
	case strings.Contains(url, "://"):
		return nil, fmt.Errorf("open store: unsupported database url scheme in %q", url)
	default:
		return openSQLite(ctx, url)
	}
}

// SQLiteFile returns the file of a SQLite database URL (as Open reads it),
// and false for PostgreSQL and for ":memory:", which have none.
func SQLiteFile(url string) (string, bool) {
	switch {
	case strings.HasPrefix(url, "postgres://"), strings.HasPrefix(url, "postgresql://"):
		return "", false
	case strings.HasPrefix(url, "sqlite://"):
		url = strings.TrimPrefix(url, "sqlite://")
	case strings.Contains(url, "://"):
		return "", false
	}
	return url, url != "" && url != ":memory:"
}

// OpenSQLite opens (creating if needed) the SQLite database file at path;
// ":memory:" gives a private in-memory database on one connection, handy in
// tests of other packages.
func OpenSQLite(path string) (*Store, error) {
	return openSQLite(context.Background(), path)
}

// OpenPostgres opens a PostgreSQL database through pgx; dsn is a URL or a
// key=value connection string as libpq accepts.
func OpenPostgres(dsn string) (*Store, error) {
	return openPostgres(context.Background(), dsn)
}

func openSQLite(ctx context.Context, path string) (*Store, error) {
	if path == "" {
		return nil, errors.New("open sqlite: empty path")
	}
	if strings.Contains(path, "?") {
		return nil, fmt.Errorf("open sqlite %s: path may not contain '?'", path)
	}
	s := &Store{dialect: DialectSQLite}
	s.stmts.enabled = true // modernc re-parses unprepared SQL on every call
	if path == ":memory:" {
		// Every connection to :memory: is a different database: keep one.
		db, err := sql.Open("sqlite", path+"?_pragma=foreign_keys(1)&_txlock=immediate")
		if err != nil {
			return nil, fmt.Errorf("open sqlite %s: %w", path, err)
		}
		db.SetMaxOpenConns(1)
		db.SetMaxIdleConns(1)
		db.SetConnMaxLifetime(0)
		db.SetConnMaxIdleTime(0)
		s.db, s.rdb = db, db
		s.initWake("")
		return s.ping(ctx, path)
	}

	db, err := sql.Open("sqlite", path+"?"+sqliteParams)
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	s.db = db
	// The writer creates the file and switches it to WAL before any reader
	// opens it.
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}

	rdb, err := sql.Open("sqlite", path+"?"+sqliteReadParams)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open sqlite %s for reading: %w", path, err)
	}
	readers := max(4, runtime.GOMAXPROCS(0))
	rdb.SetMaxOpenConns(readers)
	rdb.SetMaxIdleConns(readers)
	rdb.SetConnMaxIdleTime(5 * time.Minute)
	s.rdb = rdb
	s.initWake(wakeDir(path))
	st, err := s.ping(ctx, path)
	if err == nil {
		s.startCheckpoints()
	}
	return st, err
}

func openPostgres(ctx context.Context, dsn string) (*Store, error) {
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	db.SetMaxOpenConns(20)
	db.SetMaxIdleConns(20) // as many as open: a closed connection loses its prepared statements
	db.SetConnMaxIdleTime(5 * time.Minute)
	s := &Store{db: db, rdb: db, dialect: DialectPostgres, pg: true, dsn: dsn}
	s.initWake("")
	return s.ping(ctx, dsn)
}

// ping checks the connection and closes the store if it fails, so the
// constructors return either a usable store or nothing.
func (s *Store) ping(ctx context.Context, what string) (*Store, error) {
	if err := s.rdb.PingContext(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("open %s %s: %w", s.dialect, redact(what), err)
	}
	return s, nil
}

// passwordKV matches the password of a key=value connection string.
var passwordKV = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`password=('[^']*'|[^\s&]+)`) })

// redact hides the password of a connection URL or key=value string before
// it reaches an error message.
func redact(dsn string) string {
	dsn = passwordKV().ReplaceAllString(dsn, "password=xxxxx")
	at := strings.LastIndexByte(dsn, '@')
	scheme := strings.Index(dsn, "://")
	if at < 0 || scheme < 0 || at < scheme {
		return dsn
	}
	if user, _, ok := strings.Cut(dsn[scheme+3:at], ":"); ok {
		return dsn[:scheme+3] + user + ":xxxxx" + dsn[at:]
	}
	return dsn
}

// Close releases every connection; the store is unusable afterwards.
func (s *Store) Close() error {
	s.stopCheckpoints()
	s.wake.close()
	err := errors.Join(s.closeRaw(), s.stmts.close())
	if s.rdb != nil && s.rdb != s.db {
		err = errors.Join(err, s.rdb.Close())
	}
	if s.db != nil {
		err = errors.Join(err, s.db.Close())
	}
	return err
}

// Dialect names the backend: "sqlite" or "postgres".
func (s *Store) Dialect() string { return s.dialect }

// q returns query with its ? placeholders in the dialect's syntax.
func (s *Store) q(query string) string {
	if !s.pg {
		return query
	}
	if v, ok := s.rebound.Load(query); ok {
		return v.(string)
	}
	r := rebind(query)
	s.rebound.Store(query, r)
	return r
}

// rebind turns ? placeholders outside quoted text into $1..$n.
func rebind(query string) string {
	var b strings.Builder
	b.Grow(len(query) + 16)
	n := 0
	var quote byte
	for i := 0; i < len(query); i++ {
		c := query[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		case c == '?':
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// scanner is what *sql.Row and *sql.Rows have in common.
type scanner interface{ Scan(dest ...any) error }

// exec runs a write statement outside a transaction.
func (s *Store) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	defer s.wrote()
	if st := s.stmts.get(ctx, s.db, s.q(query)); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return s.db.ExecContext(ctx, s.q(query), args...)
}

// writeRow runs a write statement that returns one row (UPDATE …
// RETURNING) outside a transaction.
func (s *Store) writeRow(ctx context.Context, query string, args ...any) *sql.Row {
	defer s.wrote()
	if st := s.stmts.get(ctx, s.db, s.q(query)); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return s.db.QueryRowContext(ctx, s.q(query), args...)
}

// query runs a read on the read pool.
func (s *Store) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if st := s.stmts.get(ctx, s.rdb, s.q(query)); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return s.rdb.QueryContext(ctx, s.q(query), args...)
}

// queryRow runs a single-row read on the read pool.
func (s *Store) queryRow(ctx context.Context, query string, args ...any) *sql.Row {
	if st := s.stmts.get(ctx, s.rdb, s.q(query)); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return s.rdb.QueryRowContext(ctx, s.q(query), args...)
}

// tx runs fn in a write transaction, committing if it returns nil. Inside
// fn use only the *sql.Tx: on SQLite the writer pool has one connection,
// which the transaction holds.
func (s *Store) tx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := fn(tx); err != nil {
		return errors.Join(err, ignoreDone(tx.Rollback()))
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	s.wrote()
	return nil
}

func ignoreDone(err error) error {
	if errors.Is(err, sql.ErrTxDone) {
		return nil
	}
	return err
}

// txExec runs a rebound statement inside tx.
func (s *Store) txExec(ctx context.Context, tx *sql.Tx, query string, args ...any) (sql.Result, error) {
	return tx.ExecContext(ctx, s.q(query), args...)
}

// placeholders returns "?, ?, ..." for n values.
func placeholders(n int) string {
	if n <= 0 {
		return ""
	}
	return strings.Repeat("?, ", n-1) + "?"
}

// affected reports whether a write changed at least one row.
func affected(res sql.Result) (bool, error) {
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("rows affected: %w", err)
	}
	return n > 0, nil
}

// isUniqueViolation reports whether err is a unique or primary key
// violation on either backend.
func isUniqueViolation(err error) bool {
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE ||
			se.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505"
}

// isForeignKeyViolation reports whether err is a foreign key violation.
func isForeignKeyViolation(err error) bool {
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code() == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY
	}
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23503"
}

// notFound maps sql.ErrNoRows to store.ErrNotFound so callers can use
// errors.Is without knowing about database/sql.
func notFound(err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return store.ErrNotFound
	}
	return err
}

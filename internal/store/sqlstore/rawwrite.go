package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/sirocco-dev/sirocco/internal/store"
)

// SQLite's task transitions (a try's outcome, the claim it allows, the
// executor's own writes) are the hand-off's critical path: the next task's
// process starts only once they are committed. They go to the driver's
// connection directly, under database/sql's Conn.Raw, instead of through
// database/sql's statements and transactions:
//
//   - BEGIN IMMEDIATE, COMMIT and ROLLBACK are statements prepared once,
//     like the updates; the driver's own transactions parse the two
//     statements afresh each time.
//   - No context reaches the driver: it starts a goroutine and installs a
//     progress handler per statement to watch a cancellable context, and
//     database/sql one more per transaction, which is half a dozen
//     goroutines per hand-off. The context is checked before the write;
//     once the write has started, busy_timeout bounds its only wait (a lock
//     held by another process), and a conditional UPDATE of one row by its
//     key does not run long.
//   - A row comes back as driver values, read into the task instance
//     without database/sql's reflection.
//
// In the hand-off that cut the transaction's time in the standalone by
// a fifth to a third (see docs/benchmarks.md, "Per-task hand-off cost").
// PostgreSQL keeps its pipelines (pipeline.go).

// rawStmts are the driver statements prepared on SQLite's write
// connection. They are used only inside Conn.Raw of that connection, which
// database/sql gives to one caller at a time.
type rawStmts struct {
	conn                    any // the driver connection they belong to
	begin, commit, rollback driver.Stmt
	updates                 map[string]driver.Stmt
}

// rawConn is what the SQLite driver's connection offers.
type rawConn = driver.ConnPrepareContext

// rawUpdates applies the task updates on SQLite's write connection and
// writes each one's answer to ws: in one transaction when inTx, otherwise
// (a single update) in SQLite's autocommit. On error nothing was written.
func (s *Store) rawUpdates(ctx context.Context, us []store.TaskUpdate, ws []store.Written, inTx bool) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("write task updates: %w", err)
	}
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("write task updates: connection: %w", err)
	}
	defer conn.Close()
	err = conn.Raw(func(dc any) error {
		c, ok := dc.(rawConn)
		if !ok {
			return fmt.Errorf("unexpected SQLite driver connection %T", dc)
		}
		return s.raw.on(c).apply(c, s, us, ws, inTx)
	})
	s.wrote()
	return err
}

// on returns the statements of connection c, forgetting those of a
// connection database/sql has since replaced (it closed that one).
func (r *rawStmts) on(c rawConn) *rawStmts {
	if r.conn != c {
		*r = rawStmts{conn: c, updates: map[string]driver.Stmt{}}
	}
	return r
}

// apply runs the updates, in a transaction when inTx.
func (r *rawStmts) apply(c rawConn, s *Store, us []store.TaskUpdate, ws []store.Written, inTx bool) (err error) {
	if inTx {
		if err := r.run(c, &r.begin, "BEGIN IMMEDIATE"); err != nil {
			return fmt.Errorf("begin: %w", err)
		}
		defer func() {
			if err == nil {
				return
			}
			if rerr := r.run(c, &r.rollback, "ROLLBACK"); rerr != nil {
				// The connection's state is unknown: database/sql closes it
				// for ErrBadConn, and the next write opens another.
				r.close()
				err = errors.Join(err, fmt.Errorf("rollback: %w", rerr), driver.ErrBadConn)
			}
		}()
	}
	for i, u := range us {
		query, args := s.taskUpdateSQL(u)
		if ws[i], err = r.writeRow(c, query, args); err != nil {
			k := u.Key
			return fmt.Errorf("update task %s/%s/%s to %q: %w", k.DagID, k.RunID, k.TaskID, u.To, err)
		}
	}
	if inTx {
		if err := r.run(c, &r.commit, "COMMIT"); err != nil {
			return fmt.Errorf("commit: %w", err)
		}
	}
	return nil
}

// run executes one of the transaction statements, preparing it into *st
// the first time.
func (r *rawStmts) run(c rawConn, st *driver.Stmt, query string) error {
	if *st == nil {
		prepared, err := c.PrepareContext(context.Background(), query)
		if err != nil {
			return err
		}
		*st = prepared
	}
	ex, ok := (*st).(driver.StmtExecContext)
	if !ok {
		return fmt.Errorf("unexpected SQLite driver statement %T", *st)
	}
	_, err := ex.ExecContext(context.Background(), nil)
	return err
}

// writeRow runs an UPDATE … RETURNING of one row; no row means its
// condition did not hold, which is no error.
func (r *rawStmts) writeRow(c rawConn, query string, args []any) (store.Written, error) {
	st, cached, err := r.update(c, query)
	if err != nil {
		return store.Written{}, err
	}
	if !cached {
		defer st.Close()
	}
	q, ok := st.(driver.StmtQueryContext)
	if !ok {
		return store.Written{}, fmt.Errorf("unexpected SQLite driver statement %T", st)
	}
	named := make([]driver.NamedValue, len(args))
	for i, a := range args {
		v, err := rawValue(a)
		if err != nil {
			return store.Written{}, fmt.Errorf("argument %d: %w", i+1, err)
		}
		named[i] = driver.NamedValue{Ordinal: i + 1, Value: v}
	}
	rows, err := q.QueryContext(context.Background(), named)
	if err != nil {
		return store.Written{}, err
	}
	var w store.Written
	dest := make([]driver.Value, len(rows.Columns()))
	switch err = rows.Next(dest); {
	case errors.Is(err, io.EOF):
		err = nil
	case err == nil:
		if err = scanTI(rawRow(dest), &w.Row); err == nil {
			w.OK = true
		}
	}
	if cerr := rows.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return store.Written{}, err
	}
	return w, nil
}

// update returns the prepared statement of an update, preparing it the
// first time, and whether it is kept. The store builds a few dozen
// distinct updates; past maxCachedStmts a new one is prepared for each use
// and the caller closes it.
func (r *rawStmts) update(c rawConn, query string) (driver.Stmt, bool, error) {
	if st, ok := r.updates[query]; ok {
		return st, true, nil
	}
	st, err := c.PrepareContext(context.Background(), query)
	if err != nil {
		return nil, false, err
	}
	if len(r.updates) >= maxCachedStmts {
		return st, false, nil
	}
	r.updates[query] = st
	return st, true, nil
}

// close closes every statement; the next use prepares them again.
func (r *rawStmts) close() error {
	var err error
	for _, st := range []driver.Stmt{r.begin, r.commit, r.rollback} {
		if st != nil {
			err = errors.Join(err, st.Close())
		}
	}
	for _, st := range r.updates {
		err = errors.Join(err, st.Close())
	}
	*r = rawStmts{}
	return err
}

// closeRaw closes the statements held on the write connection, before
// the connection itself closes.
func (s *Store) closeRaw() error {
	if s.pg || s.db == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return nil // closed already, or never opened: nothing was prepared on it
	}
	defer conn.Close()
	return conn.Raw(func(dc any) error {
		if dc != s.raw.conn {
			return nil
		}
		return s.raw.close()
	})
}

// rawValue turns an argument of taskUpdateSQL into a value the driver
// binds: strings, int64, blobs and NULL as they are, other integers as
// int64.
func rawValue(a any) (driver.Value, error) {
	switch v := a.(type) {
	case nil, string, int64, []byte:
		return v, nil
	case int:
		return int64(v), nil
	default:
		return driver.DefaultParameterConverter.ConvertValue(v)
	}
}

// rawRow reads one row of driver values as database/sql's Scan would, for
// the destinations scanTI uses.
type rawRow []driver.Value

// Scan implements scanner.
func (r rawRow) Scan(dest ...any) error {
	if len(dest) != len(r) {
		return fmt.Errorf("scan: %d columns into %d destinations", len(r), len(dest))
	}
	for i, d := range dest {
		if err := assignRaw(d, r[i]); err != nil {
			return fmt.Errorf("scan column %d: %w", i, err)
		}
	}
	return nil
}

// assignRaw stores a driver value (string, int64, []byte or nil, what
// SQLite's STRICT tables hold) into a destination of scanTI.
func assignRaw(dest any, v driver.Value) error {
	switch d := dest.(type) {
	case sql.Scanner:
		return d.Scan(v)
	case *string:
		s, ok := v.(string)
		if !ok {
			return fmt.Errorf("want text, got %T", v)
		}
		*d = s
	case *int:
		n, ok := v.(int64)
		if !ok {
			return fmt.Errorf("want an integer, got %T", v)
		}
		*d = int(n)
	case *int64:
		n, ok := v.(int64)
		if !ok {
			return fmt.Errorf("want an integer, got %T", v)
		}
		*d = n
	case *[]byte:
		switch b := v.(type) {
		case nil:
			*d = nil
		case []byte:
			*d = b // the driver's own copy
		default:
			return fmt.Errorf("want a blob, got %T", v)
		}
	default:
		return fmt.Errorf("unsupported destination %T", dest)
	}
	return nil
}

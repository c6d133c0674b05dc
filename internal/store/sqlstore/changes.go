package sqlstore

import (
	"context"
	"fmt"
	"strconv"

	"github.com/sirocco-dev/sirocco/internal/store"
)

// Every write of a task instance stamps its change_seq column (migration
// 0003), so a reader can ask for the rows written since it last looked.
//
// SQLite serialises writers and each write stamps the table's maximum plus
// one, so commit order is sequence order: a cursor is simply the largest
// stamp committed when it was taken.
//
// PostgreSQL stamps the writing transaction's id. Ids are handed out at the
// start of a transaction but commit in any order, so a cursor is the oldest
// transaction still in progress when it was taken (pg_snapshot_xmin), minus
// one: every row not yet visible then was written by that transaction or a
// newer one, and the next read asks for exactly those.

// changeSeqSet is the SET clause that stamps a written row.
func (s *Store) changeSeqSet() string {
	if s.pg {
		return `change_seq = pg_current_xact_id()`
	}
	return `change_seq = (SELECT COALESCE(MAX(change_seq), 0) + 1 FROM task_instances)`
}

// TaskChangeCursor marks the present in the history of task instance
// writes: TaskInstancesChangedSince(cursor) returns every row written after
// this call.
func (s *Store) TaskChangeCursor(ctx context.Context) (store.ChangeCursor, error) {
	var c int64
	var err error
	if s.pg {
		var xmin string
		err = s.queryRow(ctx, `SELECT pg_snapshot_xmin(pg_current_snapshot())::text`).Scan(&xmin)
		if err == nil {
			c, err = strconv.ParseInt(xmin, 10, 64)
			c-- // rows of the oldest running transaction are still to come
		}
	} else {
		err = s.queryRow(ctx, `SELECT COALESCE(MAX(change_seq), 0) FROM task_instances`).Scan(&c)
	}
	if err != nil {
		return 0, fmt.Errorf("task change cursor: %w", err)
	}
	return store.ChangeCursor(c), nil
}

// changedQuery selects the rows stamped after a cursor through the index
// on change_seq, so its cost follows the rows returned, together with what
// the next cursor is made of: on SQLite each row's stamp (the largest one
// returned is the next cursor, as commits are in stamp order), on
// PostgreSQL the statement's own snapshot xmin. It has no ORDER BY:
// ordering by run would make SQLite walk the whole table in key order.
const (
	changedQuerySQLite = `SELECT ` + tiCols + `, ti.change_seq FROM task_instances ti WHERE ti.change_seq > ?`
	changedQueryPG     = `SELECT ` + tiCols + `, pg_snapshot_xmin(pg_current_snapshot())::text
		FROM task_instances ti WHERE ti.change_seq > (?::text)::xid8`
)

// TaskInstancesChangedSince returns every task instance written after the
// cursor c was taken, in any run and in no particular order, and the cursor
// for the next call. It is one statement: the scheduler calls it on every
// hand-off.
func (s *Store) TaskInstancesChangedSince(ctx context.Context, c store.ChangeCursor) ([]store.TaskInstance, store.ChangeCursor, error) {
	query, arg := changedQuerySQLite, any(int64(c))
	if s.pg {
		query, arg = changedQueryPG, strconv.FormatInt(int64(c), 10)
	}
	rows, err := s.query(ctx, query, arg)
	if err != nil {
		return nil, c, fmt.Errorf("task instances changed since %d: %w", c, err)
	}
	next := int64(c)
	var mark string // PostgreSQL's xmin as text
	tis, err := collect(rows, "task instances changed", func(sc scanner, ti *store.TaskInstance) error {
		if s.pg {
			return scanTI(withExtra{sc, &mark}, ti)
		}
		var seq int64
		err := scanTI(withExtra{sc, &seq}, ti)
		next = max(next, seq)
		return err
	})
	if err != nil {
		return nil, c, err
	}
	if mark != "" {
		xmin, err := strconv.ParseInt(mark, 10, 64)
		if err != nil {
			return nil, c, fmt.Errorf("task instances changed: snapshot xmin %q: %w", mark, err)
		}
		// The oldest transaction running at the read may still commit rows.
		next = max(next, xmin-1)
	}
	return tis, store.ChangeCursor(next), nil
}

// withExtra scans one more column after the ones its caller asks for.
type withExtra struct {
	sc    scanner
	extra any
}

func (w withExtra) Scan(dest ...any) error { return w.sc.Scan(append(dest, w.extra)...) }

package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/sirocco-dev/sirocco/internal/store"
)

// updateTasksTx applies updates in one transaction and returns each one's
// answer with the row it wrote. On PostgreSQL the statements are pipelined: sent
// together and answered together, in one round trip instead of one each,
// and run as one implicit transaction (a single Sync), so a failure leaves
// nothing half-written. SQLite runs in this process and needs no pipeline.
func (s *Store) updateTasksTx(ctx context.Context, us []store.TaskUpdate) ([]store.Written, error) {
	// Rows are locked in key order, so two batches touching the same rows
	// never deadlock on PostgreSQL; updates that require others come after
	// all of those (a hand-off after the outcome it depends on), and two
	// updates of one row keep their order.
	order := make([]int, len(us))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		if ra, rb := len(us[a].Requires) > 0, len(us[b].Requires) > 0; ra != rb {
			if ra {
				return 1
			}
			return -1
		}
		return compareKeys(us[a].Key, us[b].Key)
	})
	sorted := make([]store.TaskUpdate, len(us))
	for i, j := range order {
		sorted[i] = us[j]
	}
	wsSorted, err := s.updateSorted(ctx, sorted)
	ws := make([]store.Written, len(us))
	for i, j := range order {
		ws[j] = wsSorted[i]
	}
	return ws, err
}

func compareKeys(a, b store.TaskKey) int {
	if c := strings.Compare(a.DagID, b.DagID); c != 0 {
		return c
	}
	if c := strings.Compare(a.RunID, b.RunID); c != 0 {
		return c
	}
	return strings.Compare(a.TaskID, b.TaskID)
}

// updateSorted is updateTasksTx on updates already in key order.
func (s *Store) updateSorted(ctx context.Context, us []store.TaskUpdate) ([]store.Written, error) {
	ws := make([]store.Written, len(us))
	if s.pg {
		return ws, s.pipelineUpdates(ctx, us, ws)
	}
	err := s.rawUpdates(ctx, us, ws, true)
	if err != nil {
		clear(ws)
	}
	return ws, err
}

// pipelineUpdates sends every update through one pgx batch on a pooled
// connection.
func (s *Store) pipelineUpdates(ctx context.Context, us []store.TaskUpdate, ws []store.Written) error {
	b := &pgx.Batch{}
	for _, u := range us {
		query, args := s.taskUpdateSQL(u)
		b.Queue(s.q(query), args...)
	}
	err := s.sendBatch(ctx, b, func(br pgx.BatchResults) error {
		for i, u := range us {
			w, err := scanWritten(br.QueryRow())
			if err != nil {
				k := u.Key
				return fmt.Errorf("update task %s/%s/%s to %q: %w", k.DagID, k.RunID, k.TaskID, u.To, err)
			}
			ws[i] = w
		}
		return nil
	})
	if err != nil {
		clear(ws) // the implicit transaction rolled back: nothing was written
	}
	return err
}

// sendBatch sends b as one pipeline (one round trip, one implicit
// transaction) on a pooled connection, and lets read take the results.
func (s *Store) sendBatch(ctx context.Context, b *pgx.Batch, read func(pgx.BatchResults) error) error {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("connection: %w", err)
	}
	defer conn.Close()
	return conn.Raw(func(driverConn any) error {
		dc, ok := driverConn.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("unexpected PostgreSQL driver connection %T", driverConn)
		}
		br := dc.Conn().SendBatch(ctx, b)
		return errors.Join(read(br), br.Close())
	})
}

// stmt is one statement of a batch.
type stmt struct {
	query string
	args  []any
}

// execBatch runs statements in one transaction: pipelined on PostgreSQL
// (one round trip, one implicit transaction), with prepared statements from
// the cache on SQLite.
func (s *Store) execBatch(ctx context.Context, stmts []stmt) error {
	if s.pg {
		b := &pgx.Batch{}
		for _, st := range stmts {
			b.Queue(s.q(st.query), st.args...)
		}
		return s.sendBatch(ctx, b, func(br pgx.BatchResults) error {
			for range stmts {
				if _, err := br.Exec(); err != nil {
					return err
				}
			}
			return nil
		})
	}
	prepared := make([]*sql.Stmt, len(stmts))
	for i, st := range stmts {
		prepared[i] = s.stmts.get(ctx, s.db, s.q(st.query)) // before the transaction holds the connection
	}
	return s.tx(ctx, func(tx *sql.Tx) error {
		for i, st := range stmts {
			var err error
			if prepared[i] != nil {
				_, err = tx.StmtContext(ctx, prepared[i]).ExecContext(ctx, st.args...)
			} else {
				_, err = tx.ExecContext(ctx, s.q(st.query), st.args...)
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
}

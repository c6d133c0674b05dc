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

// updateTasksTx applies updates in one transaction and reports which
// changed their row. On PostgreSQL the statements are pipelined: sent
// together and answered together, in one round trip instead of one each,
// and run as one implicit transaction (a single Sync), so a failure leaves
// nothing half-written. SQLite runs in this process and needs no pipeline.
func (s *Store) updateTasksTx(ctx context.Context, us []store.TaskUpdate) ([]bool, error) {
	// Rows are locked in key order, so two batches touching the same rows
	// never deadlock on PostgreSQL.
	order := make([]int, len(us))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return compareKeys(us[a].Key, us[b].Key) })
	sorted := make([]store.TaskUpdate, len(us))
	for i, j := range order {
		sorted[i] = us[j]
	}
	wonSorted, err := s.updateSorted(ctx, sorted)
	won := make([]bool, len(us))
	for i, j := range order {
		won[j] = wonSorted[i]
	}
	return won, err
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
func (s *Store) updateSorted(ctx context.Context, us []store.TaskUpdate) ([]bool, error) {
	won := make([]bool, len(us))
	if s.pg {
		return won, s.pipelineUpdates(ctx, us, won)
	}
	err := s.tx(ctx, func(tx *sql.Tx) error {
		for i, u := range us {
			query, args := s.taskUpdateSQL(u)
			res, err := s.txExec(ctx, tx, query, args...)
			if err == nil {
				won[i], err = affected(res)
			}
			if err != nil {
				k := u.Key
				return fmt.Errorf("update task %s/%s/%s to %q: %w", k.DagID, k.RunID, k.TaskID, u.To, err)
			}
		}
		return nil
	})
	return won, err
}

// pipelineUpdates sends every update through one pgx batch on a pooled
// connection.
func (s *Store) pipelineUpdates(ctx context.Context, us []store.TaskUpdate, won []bool) error {
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
		b := &pgx.Batch{}
		for _, u := range us {
			query, args := s.taskUpdateSQL(u)
			b.Queue(s.q(query), args...)
		}
		br := dc.Conn().SendBatch(ctx, b)
		var errs []error
		for i, u := range us {
			tag, err := br.Exec()
			if err != nil {
				k := u.Key
				errs = append(errs, fmt.Errorf("update task %s/%s/%s to %q: %w", k.DagID, k.RunID, k.TaskID, u.To, err))
				break
			}
			won[i] = tag.RowsAffected() > 0
		}
		errs = append(errs, br.Close())
		if err := errors.Join(errs...); err != nil {
			clear(won)
			return err
		}
		return nil
	})
}

package sqlstore

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/sirocco-dev/sirocco/internal/store"
)

// DeleteRun removes a run; its task instances and their XComs go with it
// (ON DELETE CASCADE). On SQLite a change stamp is the table's maximum plus
// one, so deleting the rows that hold the maximum would hand out stamps a
// reader's cursor has already passed: the newest remaining row is stamped
// with the old maximum in the same transaction (a reader merely sees it
// again), and the last run holding task instances is refused.
func (s *Store) DeleteRun(ctx context.Context, dagID, runID string) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var active int
		err := tx.QueryRowContext(ctx, s.q(`SELECT COUNT(*) FROM task_instances
			WHERE dag_id = ? AND run_id = ? AND state IN ('queued', 'running', 'restarting')`), dagID, runID).Scan(&active)
		if err != nil {
			return err
		}
		if active > 0 {
			return fmt.Errorf("%w: %d of its tasks are queued or running; mark them failed (or wait) first", store.ErrConflict, active)
		}
		var top int64
		if !s.pg {
			if top, err = s.keepStampFloor(ctx, tx, dagID, runID); err != nil {
				return err
			}
		}
		res, err := s.txExec(ctx, tx, `DELETE FROM dag_runs WHERE dag_id = ? AND run_id = ?`, dagID, runID)
		if err != nil {
			return err
		}
		if ok, err := affected(res); err != nil {
			return err
		} else if !ok {
			return store.ErrNotFound
		}
		if !s.pg {
			_, err = s.txExec(ctx, tx, `UPDATE task_instances SET change_seq = ?
				WHERE rowid = (SELECT rowid FROM task_instances ORDER BY change_seq DESC LIMIT 1) AND change_seq < ?`, top, top)
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("delete run %s/%s: %w", dagID, runID, err)
	}
	return nil
}

// keepStampFloor returns the largest change stamp, and refuses the delete
// when no task instance of another run would remain to keep it.
func (s *Store) keepStampFloor(ctx context.Context, tx *sql.Tx, dagID, runID string) (int64, error) {
	var top sql.NullInt64
	var others int
	err := tx.QueryRowContext(ctx, `SELECT (SELECT MAX(change_seq) FROM task_instances),
		(SELECT COUNT(*) FROM (SELECT 1 FROM task_instances WHERE dag_id <> ? OR run_id <> ? LIMIT 1))`, dagID, runID).Scan(&top, &others)
	if err != nil {
		return 0, err
	}
	if top.Valid && others == 0 {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM dag_runs WHERE dag_id = ? AND run_id = ?`, dagID, runID).Scan(&n); err != nil {
			return 0, err
		}
		if n == 0 {
			return 0, store.ErrNotFound
		}
		return 0, fmt.Errorf("%w: it holds the only task instances in the database, whose change stamps the scheduler follows; "+
			"delete it once another run exists", store.ErrConflict)
	}
	return top.Int64, nil
}

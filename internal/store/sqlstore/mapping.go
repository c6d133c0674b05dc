package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/sirocco-dev/sirocco/internal/store"
)

// ExpandTask turns the placeholder of a mapped task into n instances in
// one transaction: the placeholder row (map_index -1, state none or
// scheduled) becomes map index 0 and rows 1..n-1 are copied from it; with
// n = 0 the placeholder is skipped instead, as Airflow skips a task mapped
// over nothing. The first statement is conditional on the placeholder, so
// of several schedulers expanding the same task exactly one sees true.
func (s *Store) ExpandTask(ctx context.Context, k store.TaskKey, n int, now time.Time) (bool, error) {
	if n < 0 {
		return false, fmt.Errorf("expand %s/%s/%s: negative length %d", k.DagID, k.RunID, k.TaskID, n)
	}
	var ok bool
	err := s.tx(ctx, func(tx *sql.Tx) error {
		set := `map_index = 0`
		args := []any{}
		if n == 0 {
			set = `state = 'skipped', start_date = ?, end_date = ?`
			args = append(args, s.tv(now), s.tv(now))
		}
		args = append(args, k.DagID, k.RunID, k.TaskID)
		res, err := s.txExec(ctx, tx, `UPDATE task_instances SET `+set+`, row_version = row_version + 1, `+s.changeSeqSet()+`
			WHERE dag_id = ? AND run_id = ? AND task_id = ? AND map_index = -1 AND state IN ('', 'scheduled')`, args...)
		if err != nil {
			return fmt.Errorf("placeholder: %w", err)
		}
		if ok, err = affected(res); err != nil || !ok || n <= 1 {
			return err
		}
		return s.copyMapped(ctx, tx, k, n)
	})
	if err != nil {
		return false, fmt.Errorf("expand %s/%s/%s into %d: %w", k.DagID, k.RunID, k.TaskID, n, err)
	}
	if ok && s.pg && n >= analyzeAfter {
		// As after CreateRun of a big run: without statistics PostgreSQL
		// may find an instance through the (dag, run, seq, map_index)
		// index, scanning every instance of the task for each write.
		// Best effort: a failure only costs speed.
		_, _ = s.exec(ctx, `ANALYZE task_instances`)
	}
	if ok {
		s.notified(ctx)
	}
	return ok, nil
}

// copyMapped inserts map indexes 1..n-1 of a task as copies of its map
// index 0, in state none, in one statement.
func (s *Store) copyMapped(ctx context.Context, tx *sql.Tx, k store.TaskKey, n int) error {
	seq := `, (SELECT COALESCE(MAX(change_seq), 0) + 1 FROM task_instances)`
	cols := `, change_seq`
	if s.pg {
		seq, cols = "", ""
	}
	_, err := s.txExec(ctx, tx, `WITH RECURSIVE idx(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM idx WHERE i < ?)
		INSERT INTO task_instances (dag_id, run_id, task_id, map_index, seq, state, try_number, max_tries,
			pool, pool_slots, priority_weight, queue`+cols+`)
		SELECT ti.dag_id, ti.run_id, ti.task_id, idx.i, ti.seq, '', 0, ti.max_tries,
			ti.pool, ti.pool_slots, ti.priority_weight, ti.queue`+seq+`
		FROM task_instances ti, idx
		WHERE ti.dag_id = ? AND ti.run_id = ? AND ti.task_id = ? AND ti.map_index = 0`,
		n-1, k.DagID, k.RunID, k.TaskID)
	if err != nil {
		return fmt.Errorf("copy instances: %w", err)
	}
	return nil
}

// MappedXComs returns the value each instance of a mapped task pushed
// under key, in map index order; instances that pushed none are absent.
func (s *Store) MappedXComs(ctx context.Context, k store.TaskKey, key string) ([]store.XCom, error) {
	rows, err := s.query(ctx, `SELECT `+xcomCols+` FROM xcoms
		WHERE dag_id = ? AND run_id = ? AND task_id = ? AND map_index >= 0 AND key = ? ORDER BY map_index`,
		k.DagID, k.RunID, k.TaskID, key)
	if err != nil {
		return nil, fmt.Errorf("mapped xcoms of %s/%s/%s: %w", k.DagID, k.RunID, k.TaskID, err)
	}
	return collect(rows, "mapped xcoms of "+k.DagID+"/"+k.RunID+"/"+k.TaskID, scanXCom)
}

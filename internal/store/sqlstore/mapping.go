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
// scheduled, at row version) becomes map index 0 and rows 1..n-1 are
// copied from it; with n = 0 the placeholder is skipped instead, as
// Airflow skips a task mapped over nothing. The first statement is
// conditional on the placeholder and its version, so of several
// schedulers expanding the same task exactly one sees true, and none
// expands over a list read before a clear wrote the placeholder.
func (s *Store) ExpandTask(ctx context.Context, k store.TaskKey, version int64, n int, now time.Time) (bool, error) {
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
		args = append(args, k.DagID, k.RunID, k.TaskID, version)
		res, err := s.txExec(ctx, tx, `UPDATE task_instances SET `+set+`, row_version = row_version + 1, `+s.changeSeqSet()+`
			WHERE dag_id = ? AND run_id = ? AND task_id = ? AND map_index = -1 AND state IN ('', 'scheduled')
				AND row_version = ?`, args...)
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

// copyMapped gives a task map indexes 1..n-1 in state none: the rows
// removed by a clear that collapsed it (collapseMapped) come back with
// their tries, as Airflow's revision of map indexes keeps them, and the
// missing ones are inserted as copies of map index 0, in one statement.
func (s *Store) copyMapped(ctx context.Context, tx *sql.Tx, k store.TaskKey, n int) error {
	_, err := s.txExec(ctx, tx, `UPDATE task_instances SET state = '', end_date = NULL, row_version = row_version + 1, `+s.changeSeqSet()+`
		WHERE dag_id = ? AND run_id = ? AND task_id = ? AND map_index BETWEEN 1 AND ? AND state = 'removed'`,
		k.DagID, k.RunID, k.TaskID, n-1)
	if err != nil {
		return fmt.Errorf("revive removed instances: %w", err)
	}
	seq := `, (SELECT COALESCE(MAX(change_seq), 0) + 1 FROM task_instances)`
	cols := `, change_seq`
	if s.pg {
		seq, cols = "", ""
	}
	_, err = s.txExec(ctx, tx, `WITH RECURSIVE idx(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM idx WHERE i < ?)
		INSERT INTO task_instances (dag_id, run_id, task_id, map_index, seq, state, try_number, max_tries,
			pool, pool_slots, priority_weight, queue`+cols+`)
		SELECT ti.dag_id, ti.run_id, ti.task_id, idx.i, ti.seq, '', 0, ti.max_tries,
			ti.pool, ti.pool_slots, ti.priority_weight, ti.queue`+seq+`
		FROM task_instances ti, idx
		WHERE ti.dag_id = ? AND ti.run_id = ? AND ti.task_id = ? AND ti.map_index = 0
			AND NOT EXISTS (SELECT 1 FROM task_instances e WHERE e.dag_id = ti.dag_id AND e.run_id = ti.run_id
				AND e.task_id = ti.task_id AND e.map_index = idx.i)`,
		n-1, k.DagID, k.RunID, k.TaskID)
	if err != nil {
		return fmt.Errorf("copy instances: %w", err)
	}
	return nil
}

// collapseCleared calls collapseMapped for the expanded mapped tasks
// among those a clear named (one query finds them: a clear of a run of
// plain tasks costs nothing more).
func (s *Store) collapseCleared(ctx context.Context, tx *sql.Tx, dagID, runID string, named map[string]int, now time.Time) error {
	rows, err := tx.QueryContext(ctx, s.q(`SELECT DISTINCT task_id FROM task_instances
		WHERE dag_id = ? AND run_id = ? AND map_index >= 0 ORDER BY task_id`), dagID, runID)
	if err != nil {
		return fmt.Errorf("mapped tasks: %w", err)
	}
	var mapped []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return fmt.Errorf("mapped tasks: %w", err)
		}
		if _, ok := named[id]; ok {
			mapped = append(mapped, id)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("mapped tasks: %w", err)
	}
	for _, id := range mapped {
		if err := s.collapseMapped(ctx, tx, dagID, runID, id, now); err != nil {
			return err
		}
	}
	return nil
}

// collapseMapped turns the instances of mapped task id, within a clear's
// tx, back into its placeholder when the clear put every one of them back
// to none: map index 0 becomes map index -1 and the others are removed.
// The scheduler then expands it again over its list as it is now, so a
// list that shrank removes the extra instances and one that grew adds
// new ones (Airflow's _revise_map_indexes_if_mapped). A task with an
// instance left as it was (queued, running, restarting) stays expanded.
func (s *Store) collapseMapped(ctx context.Context, tx *sql.Tx, dagID, runID, id string, now time.Time) error {
	const allNone = ` AND NOT EXISTS (SELECT 1 FROM task_instances o WHERE o.dag_id = ? AND o.run_id = ? AND o.task_id = ?
		AND o.state NOT IN ('', 'removed'))`
	_, err := s.txExec(ctx, tx, `UPDATE task_instances SET state = 'removed', end_date = ?, row_version = row_version + 1, `+s.changeSeqSet()+`
		WHERE dag_id = ? AND run_id = ? AND task_id = ? AND map_index >= 1 AND state = ''`+allNone,
		s.tv(now), dagID, runID, id, dagID, runID, id)
	if err != nil {
		return fmt.Errorf("remove instances of %s: %w", id, err)
	}
	_, err = s.txExec(ctx, tx, `UPDATE task_instances SET map_index = -1, row_version = row_version + 1, `+s.changeSeqSet()+`
		WHERE dag_id = ? AND run_id = ? AND task_id = ? AND map_index = 0 AND state = ''`+allNone,
		dagID, runID, id, dagID, runID, id)
	if err != nil {
		return fmt.Errorf("placeholder of %s: %w", id, err)
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

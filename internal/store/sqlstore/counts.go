package sqlstore

import (
	"context"
	"fmt"

	"github.com/sirocco-dev/sirocco/internal/store"
)

// CountStates counts runs and task instances by state (each an index-only
// scan of the state index) and the queued and running tries by pool and
// queue. The three reads are not one snapshot: a scrape may see a task
// finished and its run still running, which metrics tolerate.
func (s *Store) CountStates(ctx context.Context) (store.StateCounts, error) {
	out := store.StateCounts{Runs: map[store.RunState]int{}, Tasks: map[store.TaskState]int{}}
	if err := s.countBy(ctx, `SELECT state, COUNT(*) FROM dag_runs GROUP BY state`, func(state string, n int) {
		out.Runs[store.RunState(state)] = n
	}); err != nil {
		return out, fmt.Errorf("count runs: %w", err)
	}
	if err := s.countBy(ctx, `SELECT state, COUNT(*) FROM task_instances GROUP BY state`, func(state string, n int) {
		out.Tasks[store.TaskState(state)] += n
	}); err != nil {
		return out, fmt.Errorf("count task instances: %w", err)
	}
	rows, err := s.query(ctx, `SELECT pool, queue,
		SUM(CASE WHEN state = 'queued' THEN 1 ELSE 0 END),
		SUM(CASE WHEN state = 'running' THEN 1 ELSE 0 END),
		SUM(CASE WHEN state = 'queued' THEN pool_slots ELSE 0 END),
		SUM(CASE WHEN state = 'running' THEN pool_slots ELSE 0 END)
		FROM task_instances WHERE state IN ('queued', 'running')
		GROUP BY pool, queue ORDER BY pool, queue`)
	if err != nil {
		return out, fmt.Errorf("count slots: %w", err)
	}
	out.Slots, err = collect(rows, "count slots", func(sc scanner, c *store.SlotCount) error {
		return sc.Scan(&c.Pool, &c.Queue, &c.Queued, &c.Running, &c.QueuedSlots, &c.RunSlots)
	})
	return out, err
}

// countBy runs a two-column (text, count) query and hands each row to add.
func (s *Store) countBy(ctx context.Context, query string, add func(string, int)) error {
	rows, err := s.query(ctx, query)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var key string
		var n int
		if err := rows.Scan(&key, &n); err != nil {
			return err
		}
		add(key, n)
	}
	return rows.Err()
}

package sqlstore

import (
	"context"
	"fmt"

	"github.com/sirocco-dev/sirocco/internal/store"
)

// TaskStates reads three columns of the runs' task instances, one run at a
// time through the primary key (dag_id, run_id, task_id): SQLite plans
// "run_id IN (...)" as a scan several times slower.
func (s *Store) TaskStates(ctx context.Context, dagID string, runIDs []string) ([]store.TaskStateRow, error) {
	var out []store.TaskStateRow
	for _, runID := range runIDs {
		var err error
		if out, err = s.appendTaskStates(ctx, out, dagID, runID); err != nil {
			return nil, fmt.Errorf("task states of %s/%s: %w", dagID, runID, err)
		}
	}
	return out, nil
}

func (s *Store) appendTaskStates(ctx context.Context, out []store.TaskStateRow, dagID, runID string) ([]store.TaskStateRow, error) {
	rows, err := s.query(ctx, `SELECT task_id, map_index, state FROM task_instances WHERE dag_id = ? AND run_id = ?`, dagID, runID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		r := store.TaskStateRow{RunID: runID}
		if err := rows.Scan(&r.TaskID, mapCol{&r.Map}, (*string)(&r.State)); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

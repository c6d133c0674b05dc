package sqlstore

import (
	"context"
	"fmt"

	"github.com/sirocco-dev/sirocco/internal/store"
)

// RecentRuns returns the latest perDAG runs of every DAG (in ListRuns'
// order) and the latest scheduled run of every DAG, in two statements that
// number each DAG's runs with a window function (SQLite 3.25 and every
// supported PostgreSQL have them).
func (s *Store) RecentRuns(ctx context.Context, perDAG int) (map[string][]store.DagRun, map[string]store.DagRun, error) {
	recent := map[string][]store.DagRun{}
	if perDAG > 0 {
		runs, err := s.numberedRuns(ctx, `ORDER BY logical_date DESC NULLS LAST, queued_at DESC NULLS LAST, run_id DESC`, ``, perDAG)
		if err != nil {
			return nil, nil, fmt.Errorf("recent runs: %w", err)
		}
		for _, r := range runs {
			recent[r.DagID] = append(recent[r.DagID], r)
		}
	}
	runs, err := s.numberedRuns(ctx, `ORDER BY logical_date DESC`,
		`WHERE run_type = '`+string(store.RunScheduled)+`' AND logical_date IS NOT NULL`, 1)
	if err != nil {
		return nil, nil, fmt.Errorf("last scheduled runs: %w", err)
	}
	last := make(map[string]store.DagRun, len(runs))
	for _, r := range runs {
		last[r.DagID] = r
	}
	return recent, last, nil
}

// numberedRuns returns the first n runs of each DAG among those where
// selects, in the order order sets, DAG by DAG.
func (s *Store) numberedRuns(ctx context.Context, order, where string, n int) ([]store.DagRun, error) {
	rows, err := s.query(ctx, `SELECT `+runCols+` FROM (
		SELECT `+runCols+`, ROW_NUMBER() OVER (PARTITION BY dag_id `+order+`) AS rn FROM dag_runs `+where+`
	) numbered WHERE rn <= ? ORDER BY dag_id, rn`, n)
	if err != nil {
		return nil, err
	}
	return collect(rows, "numbered runs", scanRun)
}

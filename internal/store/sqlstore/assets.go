package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/sirocco-dev/sirocco/internal/store"
)

const assetEventCols = `e.id, e.uri, e.extra, e.source_dag_id, e.source_run_id, e.source_task_id, e.source_map_index, e.source_try, e.timestamp`

func scanAssetEvent(sc scanner, e *store.AssetEvent) error {
	var extra string
	err := sc.Scan(&e.ID, &e.URI, &extra, &e.SourceDagID, &e.SourceRunID, &e.SourceTaskID, mapCol{&e.SourceMap}, &e.SourceTry, tc(&e.Timestamp))
	if err != nil {
		return err
	}
	return decodeExtra(extra, &e.Extra)
}

func decodeExtra(s string, dst *map[string]any) error {
	*dst = nil
	if s == "" || s == "{}" {
		return nil
	}
	if err := json.Unmarshal([]byte(s), dst); err != nil {
		return fmt.Errorf("decode asset event extra: %w", err)
	}
	return nil
}

// RecordAssetEvents records each event and queues it for its consumers
// that are not paused, in one transaction. A task's event is inserted only while its task
// instance is in success at SourceTry, and the partial unique index on
// (source task instance, try, URI) turns a second recording into nothing.
func (s *Store) RecordAssetEvents(ctx context.Context, evs []store.AssetEvent, consumers map[string][]string) ([]store.AssetEvent, error) {
	var out []store.AssetEvent
	err := s.tx(ctx, func(tx *sql.Tx) error {
		out = out[:0]
		for _, e := range evs {
			rec, ok, err := s.recordAssetEvent(ctx, tx, e)
			if err != nil {
				return fmt.Errorf("event of %s: %w", e.URI, err)
			}
			if !ok {
				continue
			}
			out = append(out, rec)
			for _, dagID := range consumers[e.URI] {
				// A paused consumer is not queued (Airflow 3's
				// register_asset_change): unpaused, it does not run for
				// what it missed.
				_, err := s.txExec(ctx, tx, `INSERT INTO asset_dag_run_queue (target_dag_id, event_id, uri, created_at)
					SELECT ?, ?, ?, ? WHERE NOT EXISTS (SELECT 1 FROM dags WHERE dag_id = ? AND is_paused = ?)
					ON CONFLICT DO NOTHING`, dagID, rec.ID, rec.URI, s.tv(rec.Timestamp), dagID, true)
				if err != nil {
					return fmt.Errorf("queue event of %s for %s: %w", e.URI, dagID, err)
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("record %d asset events: %w", len(evs), err)
	}
	if len(out) > 0 {
		s.notified(ctx)
	}
	return out, nil
}

// recordAssetEvent inserts one event within tx; ok is false when its
// task instance is not in success at its try or the event exists.
func (s *Store) recordAssetEvent(ctx context.Context, tx *sql.Tx, e store.AssetEvent) (store.AssetEvent, bool, error) {
	extra := "{}"
	if len(e.Extra) > 0 {
		b, err := json.Marshal(e.Extra)
		if err != nil {
			return e, false, fmt.Errorf("encode extra: %w", err)
		}
		extra = string(b)
	}
	if _, err := s.txExec(ctx, tx, `INSERT INTO assets (uri, created_at) VALUES (?, ?) ON CONFLICT DO NOTHING`,
		e.URI, s.tv(e.Timestamp)); err != nil {
		return e, false, fmt.Errorf("asset: %w", err)
	}
	e.Timestamp = e.Timestamp.UTC().Truncate(time.Microsecond)
	if e.SourceTaskID != "" {
		ok, err := s.succeededAt(ctx, tx, e)
		if err != nil || !ok {
			return e, false, err
		}
	}
	err := tx.QueryRowContext(ctx, s.q(`INSERT INTO asset_events
		(uri, extra, source_dag_id, source_run_id, source_task_id, source_map_index, source_try, timestamp)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING id`),
		e.URI, extra, e.SourceDagID, e.SourceRunID, e.SourceTaskID, e.SourceMap-1, e.SourceTry, s.tv(e.Timestamp)).Scan(&e.ID)
	if errors.Is(err, sql.ErrNoRows) {
		return e, false, nil
	}
	if err != nil {
		return e, false, err
	}
	return e, true, nil
}

// succeededAt reports whether e's task instance is in success at e's try,
// locking the row on PostgreSQL so that no clear slips in before the
// event is written (SQLite's write transaction holds the database).
func (s *Store) succeededAt(ctx context.Context, tx *sql.Tx, e store.AssetEvent) (bool, error) {
	q := `SELECT 1 FROM task_instances WHERE dag_id = ? AND run_id = ? AND task_id = ? AND map_index = ? AND state = 'success' AND try_number = ?`
	if s.pg {
		q += ` FOR SHARE`
	}
	var one int
	err := tx.QueryRowContext(ctx, s.q(q), e.SourceDagID, e.SourceRunID, e.SourceTaskID, e.SourceMap-1, e.SourceTry).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

// ListAssets returns every asset with an event, sorted by URI.
func (s *Store) ListAssets(ctx context.Context) ([]store.Asset, error) {
	rows, err := s.query(ctx, `SELECT a.uri, a.created_at, MAX(e.timestamp), COUNT(e.id)
		FROM assets a LEFT JOIN asset_events e ON e.uri = a.uri
		GROUP BY a.uri, a.created_at ORDER BY a.uri`)
	if err != nil {
		return nil, fmt.Errorf("list assets: %w", err)
	}
	return collect(rows, "list assets", func(sc scanner, a *store.Asset) error {
		return sc.Scan(&a.URI, tc(&a.CreatedAt), tc(&a.LastEventAt), &a.Events)
	})
}

// ListAssetEvents returns the events f selects, newest first.
func (s *Store) ListAssetEvents(ctx context.Context, f store.AssetEventFilter) ([]store.AssetEvent, error) {
	q := `SELECT ` + assetEventCols + ` FROM asset_events e`
	var args []any
	if f.URI != "" {
		q += ` WHERE e.uri = ?`
		args = append(args, f.URI)
	}
	q += ` ORDER BY e.id DESC`
	if f.Limit > 0 {
		q += ` LIMIT ?`
		args = append(args, f.Limit)
	}
	rows, err := s.query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list asset events: %w", err)
	}
	return collect(rows, "list asset events", scanAssetEvent)
}

// AssetQueue returns every queued event, by DAG and event id.
func (s *Store) AssetQueue(ctx context.Context) ([]store.QueuedAssetEvent, error) {
	rows, err := s.query(ctx, `SELECT target_dag_id, event_id, uri, created_at FROM asset_dag_run_queue
		ORDER BY target_dag_id, event_id`)
	if err != nil {
		return nil, fmt.Errorf("asset queue: %w", err)
	}
	return collect(rows, "asset queue", func(sc scanner, q *store.QueuedAssetEvent) error {
		return sc.Scan(&q.DagID, &q.EventID, &q.URI, tc(&q.QueuedAt))
	})
}

// CreateAssetRun deletes the queued events, inserts the run, its task
// instances and its links to the events, in one transaction. The DELETE
// must remove every event: of two schedulers consuming the same rows, the
// second waits for the first's commit and then finds fewer, and rolls
// back.
func (s *Store) CreateAssetRun(ctx context.Context, run store.DagRun, tis []store.TaskInstance, eventIDs []int64) error {
	conf, err := encodeConf(run.Conf)
	if err != nil {
		return fmt.Errorf("create asset run %s/%s: %w", run.DagID, run.RunID, err)
	}
	ids := slices.Clone(eventIDs)
	slices.Sort(ids)
	ids = slices.Compact(ids)
	err = s.tx(ctx, func(tx *sql.Tx) error {
		if err := s.consumeQueue(ctx, tx, run.DagID, ids); err != nil {
			return err
		}
		stmts := []stmt{{`INSERT INTO dag_runs (` + runInsertCols + `) VALUES (` + placeholders(11) + `)`, []any{
			run.DagID, run.RunID, string(run.RunType), string(run.State),
			s.tv(run.LogicalDate), s.tv(run.DataIntervalStart), s.tv(run.DataIntervalEnd),
			conf, s.tv(run.QueuedAt), s.tv(run.StartDate), s.tv(run.EndDate)}}}
		stmts = append(stmts, s.insertTIs(run, tis)...)
		for _, id := range ids {
			stmts = append(stmts, stmt{`INSERT INTO dag_run_asset_events (dag_id, run_id, event_id) VALUES (?, ?, ?)`,
				[]any{run.DagID, run.RunID, id}})
		}
		for _, st := range stmts {
			if _, err := s.txExec(ctx, tx, st.query, st.args...); err != nil {
				if isUniqueViolation(err) {
					return fmt.Errorf("%w: %w", store.ErrExists, err)
				}
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("create asset run %s/%s: %w", run.DagID, run.RunID, err)
	}
	s.notified(ctx)
	return nil
}

// consumeQueue deletes the queued events ids of dagID within tx, or fails
// with ErrConflict unless every one of them was still queued.
func (s *Store) consumeQueue(ctx context.Context, tx *sql.Tx, dagID string, ids []int64) error {
	var n int64
	for chunk := range slices.Chunk(ids, xcomDeleteChunk) {
		args := make([]any, 0, len(chunk)+1)
		args = append(args, dagID)
		for _, id := range chunk {
			args = append(args, id)
		}
		res, err := s.txExec(ctx, tx, `DELETE FROM asset_dag_run_queue WHERE target_dag_id = ? AND event_id IN (`+
			placeholders(len(chunk))+`)`, args...)
		if err != nil {
			return fmt.Errorf("consume queued asset events: %w", err)
		}
		c, err := res.RowsAffected()
		if err != nil {
			return fmt.Errorf("consume queued asset events: %w", err)
		}
		n += c
	}
	if n != int64(len(ids)) {
		return fmt.Errorf("%w: %d of the %d queued asset events were consumed already", store.ErrConflict, int64(len(ids))-n, len(ids))
	}
	return nil
}

// RunAssetEvents returns the events that triggered a run, oldest first.
func (s *Store) RunAssetEvents(ctx context.Context, dagID, runID string) ([]store.AssetEvent, error) {
	rows, err := s.query(ctx, `SELECT `+assetEventCols+` FROM dag_run_asset_events l
		JOIN asset_events e ON e.id = l.event_id
		WHERE l.dag_id = ? AND l.run_id = ? ORDER BY e.id`, dagID, runID)
	if err != nil {
		return nil, fmt.Errorf("asset events of run %s/%s: %w", dagID, runID, err)
	}
	return collect(rows, fmt.Sprintf("asset events of run %s/%s", dagID, runID), scanAssetEvent)
}

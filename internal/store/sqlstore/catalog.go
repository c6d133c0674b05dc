package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/sirocco-dev/sirocco/internal/store"
)

// This file holds the small tables: DAG bookkeeping, import errors, pools,
// variables, workers and XComs.

// UpsertDAG records a parsed DAG. A new row takes d.Paused (the caller's
// creation default; Sirocco does not pause new DAGs); an existing row keeps
// its pause flag, which belongs to the user, and takes the rest.
func (s *Store) UpsertDAG(ctx context.Context, d store.DAGRecord) error {
	_, err := s.exec(ctx, `INSERT INTO dags (dag_id, is_paused, fileloc, last_parsed) VALUES (?, ?, ?, ?)
		ON CONFLICT (dag_id) DO UPDATE SET fileloc = excluded.fileloc, last_parsed = excluded.last_parsed`,
		d.DagID, d.Paused, d.FileLoc, s.tv(d.LastParsed))
	if err != nil {
		return fmt.Errorf("upsert dag %s: %w", d.DagID, err)
	}
	return nil
}

const dagCols = `dag_id, is_paused, fileloc, last_parsed`

func scanDAG(sc scanner, d *store.DAGRecord) error {
	return sc.Scan(&d.DagID, &d.Paused, &d.FileLoc, tc(&d.LastParsed))
}

// GetDAG returns the DAG's record or an error wrapping store.ErrNotFound.
func (s *Store) GetDAG(ctx context.Context, dagID string) (store.DAGRecord, error) {
	var d store.DAGRecord
	err := scanDAG(s.queryRow(ctx, `SELECT `+dagCols+` FROM dags WHERE dag_id = ?`, dagID), &d)
	if err != nil {
		return store.DAGRecord{}, fmt.Errorf("get dag %s: %w", dagID, notFound(err))
	}
	return d, nil
}

// ListDAGs returns every recorded DAG sorted by id.
func (s *Store) ListDAGs(ctx context.Context) ([]store.DAGRecord, error) {
	rows, err := s.query(ctx, `SELECT `+dagCols+` FROM dags ORDER BY dag_id`)
	if err != nil {
		return nil, fmt.Errorf("list dags: %w", err)
	}
	return collect(rows, "list dags", scanDAG)
}

// SetPaused pauses or unpauses a DAG; a DAG never recorded gives
// store.ErrNotFound.
func (s *Store) SetPaused(ctx context.Context, dagID string, paused bool) error {
	res, err := s.exec(ctx, `UPDATE dags SET is_paused = ? WHERE dag_id = ?`, paused, dagID)
	if err != nil {
		return fmt.Errorf("set paused %s: %w", dagID, err)
	}
	if ok, err := affected(res); err != nil || !ok {
		return fmt.Errorf("set paused %s: %w", dagID, orNotFound(err))
	}
	s.notified(ctx)
	return nil
}

// orNotFound returns err, or store.ErrNotFound when a write that had to hit
// a row hit none.
func orNotFound(err error) error {
	if err != nil {
		return err
	}
	return store.ErrNotFound
}

// ReplaceImportErrors swaps the whole set of import errors in one
// transaction: each parse of the DAG folder reports the complete set.
func (s *Store) ReplaceImportErrors(ctx context.Context, errs []store.ImportError) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM import_errors`); err != nil {
			return err
		}
		for _, e := range errs {
			_, err := s.txExec(ctx, tx, `INSERT INTO import_errors (fileloc, message, created_at) VALUES (?, ?, ?)`,
				e.FileLoc, e.Message, s.tv(e.Timestamp))
			if err != nil {
				return fmt.Errorf("insert %s: %w", e.FileLoc, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("replace import errors: %w", err)
	}
	return nil
}

// ListImportErrors returns the import errors sorted by file.
func (s *Store) ListImportErrors(ctx context.Context) ([]store.ImportError, error) {
	rows, err := s.query(ctx, `SELECT fileloc, message, created_at FROM import_errors ORDER BY fileloc, id`)
	if err != nil {
		return nil, fmt.Errorf("list import errors: %w", err)
	}
	return collect(rows, "list import errors", func(sc scanner, e *store.ImportError) error {
		return sc.Scan(&e.FileLoc, &e.Message, tc(&e.Timestamp))
	})
}

// RegisterWorker records a worker, or refreshes it when the id is known
// (a restarted process reusing its id).
func (s *Store) RegisterWorker(ctx context.Context, w store.Worker) error {
	_, err := s.exec(ctx, `INSERT INTO workers (id, kind, hostname, pid, started_at, heartbeat_at)
		VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, hostname = excluded.hostname,
			pid = excluded.pid, started_at = excluded.started_at, heartbeat_at = excluded.heartbeat_at`,
		w.ID, w.Kind, w.Hostname, w.PID, s.tv(w.StartedAt), s.tv(w.HeartbeatAt))
	if err != nil {
		return fmt.Errorf("register worker %s: %w", w.ID, err)
	}
	return nil
}

// ListWorkers returns every registered worker sorted by id.
func (s *Store) ListWorkers(ctx context.Context) ([]store.Worker, error) {
	rows, err := s.query(ctx, `SELECT id, kind, hostname, pid, started_at, heartbeat_at FROM workers ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("list workers: %w", err)
	}
	return collect(rows, "list workers", func(sc scanner, w *store.Worker) error {
		return sc.Scan(&w.ID, &w.Kind, &w.Hostname, &w.PID, tc(&w.StartedAt), tc(&w.HeartbeatAt))
	})
}

// PruneWorkers deletes the workers whose last heartbeat is older than
// before (or that were marked dead) and that own no queued, running or
// restarting try, and returns how many it deleted.
func (s *Store) PruneWorkers(ctx context.Context, before time.Time) (int, error) {
	res, err := s.exec(ctx, `DELETE FROM workers
		WHERE (heartbeat_at IS NULL OR heartbeat_at < ?)
		AND id NOT IN (SELECT worker_id FROM task_instances WHERE state IN ('queued', 'running', 'restarting'))`,
		s.tv(before))
	if err != nil {
		return 0, fmt.Errorf("prune workers: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("prune workers: %w", err)
	}
	return int(n), nil
}

// SetPool creates or resizes a pool.
func (s *Store) SetPool(ctx context.Context, p store.Pool) error {
	_, err := s.exec(ctx, `INSERT INTO pools (name, slots, description) VALUES (?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET slots = excluded.slots, description = excluded.description`,
		p.Name, p.Slots, p.Description)
	if err != nil {
		return fmt.Errorf("set pool %s: %w", p.Name, err)
	}
	s.notified(ctx)
	return nil
}

// ListPools returns every pool sorted by name, default_pool included.
func (s *Store) ListPools(ctx context.Context) ([]store.Pool, error) {
	rows, err := s.query(ctx, `SELECT name, slots, description FROM pools ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("list pools: %w", err)
	}
	return collect(rows, "list pools", func(sc scanner, p *store.Pool) error {
		return sc.Scan(&p.Name, &p.Slots, &p.Description)
	})
}

// CreatePool inserts a pool; an existing name gives store.ErrExists.
func (s *Store) CreatePool(ctx context.Context, p store.Pool) error {
	_, err := s.exec(ctx, `INSERT INTO pools (name, slots, description) VALUES (?, ?, ?)`, p.Name, p.Slots, p.Description)
	if isUniqueViolation(err) {
		err = store.ErrExists
	}
	if err != nil {
		return fmt.Errorf("create pool %s: %w", p.Name, err)
	}
	return nil
}

// UpdatePool sets slots and description of an existing pool; a missing one
// gives store.ErrNotFound.
func (s *Store) UpdatePool(ctx context.Context, p store.Pool) error {
	res, err := s.exec(ctx, `UPDATE pools SET slots = ?, description = ? WHERE name = ?`, p.Slots, p.Description, p.Name)
	if err != nil {
		return fmt.Errorf("update pool %s: %w", p.Name, err)
	}
	if ok, err := affected(res); err != nil || !ok {
		return fmt.Errorf("update pool %s: %w", p.Name, orNotFound(err))
	}
	return nil
}

// DeletePool removes a pool; a missing one gives store.ErrNotFound. Tasks
// that name it wait as for any missing pool.
func (s *Store) DeletePool(ctx context.Context, name string) error {
	res, err := s.exec(ctx, `DELETE FROM pools WHERE name = ?`, name)
	if err != nil {
		return fmt.Errorf("delete pool %s: %w", name, err)
	}
	if ok, err := affected(res); err != nil || !ok {
		return fmt.Errorf("delete pool %s: %w", name, orNotFound(err))
	}
	return nil
}

// SetXCom stores (or replaces) the value a task pushed under key, with
// the time it was pushed. The task instance must exist: otherwise the
// error wraps store.ErrNotFound.
func (s *Store) SetXCom(ctx context.Context, x store.XCom) error {
	_, err := s.exec(ctx, `INSERT INTO xcoms (`+xcomCols+`) VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (dag_id, run_id, task_id, map_index, key) DO UPDATE SET value = excluded.value, pushed_at = excluded.pushed_at`,
		x.DagID, x.RunID, x.TaskID, x.MapIndex(), x.Key, x.Value, s.tv(x.Timestamp))
	if isForeignKeyViolation(err) {
		err = fmt.Errorf("task instance: %w", store.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("set xcom %s/%s/%s %s: %w", x.DagID, x.RunID, x.TaskID, x.Key, err)
	}
	return nil
}

// PushXCom stores x only while its task instance is running at try under
// workerID, in one statement. On PostgreSQL the task instance's row is
// locked FOR SHARE while the XCom is written, so a concurrent transition
// (a clear's move to restarting, a mark) either waits for the push or
// refuses it; SQLite has one writer at a time.
func (s *Store) PushXCom(ctx context.Context, x store.XCom, try int, workerID string) (bool, error) {
	pushedAt, lock := "?", ""
	if s.pg {
		pushedAt, lock = "CAST(? AS timestamptz)", " FOR SHARE"
	}
	res, err := s.exec(ctx, `INSERT INTO xcoms (`+xcomCols+`) SELECT ?, ?, ?, ?, ?, ?, `+pushedAt+`
		WHERE EXISTS (SELECT 1 FROM task_instances WHERE dag_id = ? AND run_id = ? AND task_id = ? AND map_index = ?
			AND state = 'running' AND try_number = ? AND worker_id = ?`+lock+`)
		ON CONFLICT (dag_id, run_id, task_id, map_index, key) DO UPDATE SET value = excluded.value, pushed_at = excluded.pushed_at`,
		x.DagID, x.RunID, x.TaskID, x.MapIndex(), x.Key, x.Value, s.tv(x.Timestamp),
		x.DagID, x.RunID, x.TaskID, x.MapIndex(), try, workerID)
	if err != nil {
		return false, fmt.Errorf("push xcom %s/%s/%s %s of try %d: %w", x.DagID, x.RunID, x.TaskID, x.Key, try, err)
	}
	ok, err := affected(res)
	if err != nil {
		return false, fmt.Errorf("push xcom %s/%s/%s %s of try %d: %w", x.DagID, x.RunID, x.TaskID, x.Key, try, err)
	}
	return ok, nil
}

const xcomCols = `dag_id, run_id, task_id, map_index, key, value, pushed_at`

func scanXCom(sc scanner, x *store.XCom) error {
	return sc.Scan(&x.DagID, &x.RunID, &x.TaskID, mapCol{&x.Map}, &x.Key, &x.Value, tc(&x.Timestamp))
}

// GetXCom returns the value a task pushed under key, or an error wrapping
// store.ErrNotFound.
func (s *Store) GetXCom(ctx context.Context, k store.TaskKey, key string) (store.XCom, error) {
	var x store.XCom
	err := scanXCom(s.queryRow(ctx, `SELECT `+xcomCols+` FROM xcoms WHERE dag_id = ? AND run_id = ? AND task_id = ? AND map_index = ? AND key = ?`,
		k.DagID, k.RunID, k.TaskID, k.MapIndex(), key), &x)
	if err != nil {
		return store.XCom{}, fmt.Errorf("get xcom %s/%s/%s %s: %w", k.DagID, k.RunID, k.TaskID, key, notFound(err))
	}
	return x, nil
}

// ListXComs returns the XComs a task instance pushed, sorted by key.
func (s *Store) ListXComs(ctx context.Context, k store.TaskKey) ([]store.XCom, error) {
	rows, err := s.query(ctx, `SELECT `+xcomCols+` FROM xcoms WHERE dag_id = ? AND run_id = ? AND task_id = ? AND map_index = ? ORDER BY key`,
		k.DagID, k.RunID, k.TaskID, k.MapIndex())
	if err != nil {
		return nil, fmt.Errorf("list xcoms of %s/%s/%s: %w", k.DagID, k.RunID, k.TaskID, err)
	}
	return collect(rows, "list xcoms of "+k.DagID+"/"+k.RunID+"/"+k.TaskID, scanXCom)
}

// collect scans every row with scan and closes rows. Rows are scanned in
// place into the result, so a row costs no copy and no extra allocation.
func collect[T any](rows *sql.Rows, what string, scan func(scanner, *T) error) ([]T, error) {
	return collectN(rows, what, 0, scan)
}

// collectN is collect with a capacity hint for the result.
func collectN[T any](rows *sql.Rows, what string, hint int, scan func(scanner, *T) error) ([]T, error) {
	defer rows.Close()
	out := make([]T, 0, hint)
	var zero T
	for rows.Next() {
		out = append(out, zero)
		if err := scan(rows, &out[len(out)-1]); err != nil {
			return nil, fmt.Errorf("%s: scan: %w", what, err)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return out, nil
}

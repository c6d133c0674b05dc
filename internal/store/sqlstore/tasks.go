package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sirocco-dev/sirocco/internal/store"
)

// activeQuery is the scheduler's snapshot: one join, served by the
// dag_runs state index and the (dag_id, run_id, seq) unique index.
const activeQuery = `SELECT ` + tiCols + `
	FROM dag_runs r JOIN task_instances ti ON ti.dag_id = r.dag_id AND ti.run_id = r.run_id
	WHERE r.state IN ('queued', 'running')
	ORDER BY ti.dag_id, ti.run_id, ti.seq, ti.map_index`

// ActiveTaskInstances returns the task instances of every queued or running
// run in one query, ordered by dag, run and then the order in which the
// tasks were given to CreateRun.
func (s *Store) ActiveTaskInstances(ctx context.Context) ([]store.TaskInstance, error) {
	rows, err := s.query(ctx, activeQuery)
	if err != nil {
		return nil, fmt.Errorf("active task instances: %w", err)
	}
	// The snapshot changes little between scheduler loops: size the result
	// like the previous one to avoid regrowing it.
	tis, err := collectN(rows, "active task instances", int(s.lastActive.Load())+16, scanTI)
	if err == nil {
		s.lastActive.Store(int64(len(tis)))
	}
	return tis, err
}

// ListTaskInstances returns the task instances of one run in creation
// order; an unknown run gives an empty list.
func (s *Store) ListTaskInstances(ctx context.Context, dagID, runID string) ([]store.TaskInstance, error) {
	rows, err := s.query(ctx, `SELECT `+tiCols+` FROM task_instances ti
		WHERE ti.dag_id = ? AND ti.run_id = ? ORDER BY ti.seq, ti.map_index`, dagID, runID)
	if err != nil {
		return nil, fmt.Errorf("list task instances %s/%s: %w", dagID, runID, err)
	}
	return collect(rows, fmt.Sprintf("list task instances %s/%s", dagID, runID), scanTI)
}

// GetTaskInstance returns one task instance or an error wrapping
// store.ErrNotFound.
func (s *Store) GetTaskInstance(ctx context.Context, k store.TaskKey) (store.TaskInstance, error) {
	var ti store.TaskInstance
	err := scanTI(s.queryRow(ctx, `SELECT `+tiCols+` FROM task_instances ti
		WHERE ti.dag_id = ? AND ti.run_id = ? AND ti.task_id = ? AND ti.map_index = ?`, k.DagID, k.RunID, k.TaskID, k.MapIndex()), &ti)
	if err != nil {
		return store.TaskInstance{}, fmt.Errorf("get task instance %s/%s/%s: %w", k.DagID, k.RunID, k.TaskID, notFound(err))
	}
	return ti, nil
}

// UpdateTask applies u in one conditional UPDATE: the task instance moves
// to u.To, with the non-nil fields set (a pointer to the zero time clears a
// date) and try_number incremented if u.IncTry, only if its state is in
// u.From, or in any state when From is empty. It reports whether the row
// changed; a missing row or a lost race is (false, nil), so of several
// callers racing one transition exactly one sees true.
func (s *Store) UpdateTask(ctx context.Context, u store.TaskUpdate) (bool, error) {
	w, err := s.UpdateTaskRow(ctx, u)
	return w.OK, err
}

// UpdateTaskRow is UpdateTask that also returns the row as written.
func (s *Store) UpdateTaskRow(ctx context.Context, u store.TaskUpdate) (store.Written, error) {
	w, err := s.updateTaskCombined(ctx, u)
	if err == nil {
		s.notifiedTryEnds(ctx, w)
	}
	return w, err
}

// updateTaskDirect is UpdateTaskRow as one statement of its own.
func (s *Store) updateTaskDirect(ctx context.Context, u store.TaskUpdate) (store.Written, error) {
	if !s.pg {
		ws := make([]store.Written, 1)
		err := s.rawUpdates(ctx, []store.TaskUpdate{u}, ws, false)
		return ws[0], err
	}
	query, args := s.taskUpdateSQL(u)
	w, err := scanWritten(s.writeRow(ctx, query, args...))
	if err != nil {
		k := u.Key
		return w, fmt.Errorf("update task %s/%s/%s to %q: %w", k.DagID, k.RunID, k.TaskID, u.To, err)
	}
	return w, nil
}

// scanWritten reads the row an UPDATE … RETURNING gave back; no row means
// the condition did not hold (a lost race), which is no error.
func scanWritten(row scanner) (store.Written, error) {
	var w store.Written
	err := scanTI(row, &w.Row)
	switch {
	case err == nil:
		w.OK = true
		return w, nil
	case errors.Is(err, sql.ErrNoRows), errors.Is(err, pgx.ErrNoRows):
		return store.Written{}, nil
	default:
		return store.Written{}, err
	}
}

// UpdateTasks applies each update as UpdateTask does, all in one
// transaction, and returns each one's answer with the row it wrote. One
// commit for a tick's worth of transitions costs far less than one per
// task.
func (s *Store) UpdateTasks(ctx context.Context, us []store.TaskUpdate) ([]store.Written, error) {
	if len(us) == 0 {
		return []store.Written{}, nil
	}
	ws, err := s.updateTasksTx(ctx, us)
	if err != nil {
		return ws, fmt.Errorf("update %d tasks: %w", len(us), err)
	}
	s.notifiedTryEnds(ctx, ws...)
	return ws, nil
}

// tiReturning is tiCols without the table alias, for RETURNING.
var tiReturning = strings.ReplaceAll(tiCols, "ti.", "")

// taskUpdateSQL builds the conditional UPDATE … RETURNING of u: the task instance moves
// to u.To, with the non-nil fields set (a pointer to the zero time clears a
// date) and try_number incremented if u.IncTry, only if its state is in
// u.From (any state when From is empty), its owner is u.FromWorker and its
// try u.FromTry and its row version u.FromVersion when those are set,
// its next_retry_at unset or at most
// u.DueBy when that is set, and every task instance of u.Requires
// is in its state and try.
func (s *Store) taskUpdateSQL(u store.TaskUpdate) (string, []any) {
	var b strings.Builder
	args := make([]any, 0, 16)
	b.WriteString(`UPDATE task_instances SET state = ?, row_version = row_version + 1, ` + s.changeSeqSet())
	args = append(args, string(u.To))
	if u.IncTry {
		// A sensor's next poke (pokes > 0) goes on with its try.
		b.WriteString(`, try_number = CASE WHEN pokes > 0 THEN try_number ELSE try_number + 1 END`)
		if u.EndDate == nil {
			b.WriteString(`, end_date = NULL`) // a new try has not ended
		}
	}
	if u.InfraRerun {
		b.WriteString(`, max_tries = max_tries + 1, infra_reruns = infra_reruns + 1`)
	}
	set := func(col string, v any) {
		b.WriteString(", ")
		b.WriteString(col)
		b.WriteString(" = ?")
		args = append(args, v)
	}
	if u.QueuedAt != nil {
		set("queued_at", s.tp(u.QueuedAt))
	}
	if u.StartDate != nil {
		set("start_date", s.tp(u.StartDate))
	}
	if u.EndDate != nil {
		set("end_date", s.tp(u.EndDate))
	}
	if u.NextRetryAt != nil {
		set("next_retry_at", s.tp(u.NextRetryAt))
	}
	if u.Hostname != nil {
		set("hostname", *u.Hostname)
	}
	if u.WorkerID != nil {
		set("worker_id", *u.WorkerID)
	}
	if u.HeartbeatAt != nil {
		set("heartbeat_at", s.tp(u.HeartbeatAt))
	}
	if u.Handle != nil {
		set("handle", blob(*u.Handle))
	}
	if u.Rendered != nil {
		set("rendered", blob(*u.Rendered))
	}
	if u.FirstPokeAt != nil {
		set("first_poke_at", s.tp(u.FirstPokeAt))
	}
	if u.Pokes != nil {
		set("pokes", *u.Pokes)
	}
	if u.Note != nil {
		set("note", *u.Note)
	}
	b.WriteString(` WHERE dag_id = ? AND run_id = ? AND task_id = ? AND map_index = ?`)
	args = append(args, u.Key.DagID, u.Key.RunID, u.Key.TaskID, u.Key.MapIndex())
	if len(u.From) > 0 {
		in, inArgs := stateList(u.From, !s.pg)
		b.WriteString(` AND state IN (` + in + `)`)
		args = append(args, inArgs...)
	}
	if u.FromWorker != nil {
		b.WriteString(` AND worker_id = ?`)
		args = append(args, *u.FromWorker)
	}
	if u.FromTry != nil {
		b.WriteString(` AND try_number = ?`)
		args = append(args, *u.FromTry)
	}
	if u.FromVersion != nil {
		b.WriteString(` AND row_version = ?`)
		args = append(args, *u.FromVersion)
	}
	if u.DueBy != nil {
		b.WriteString(` AND (next_retry_at IS NULL OR next_retry_at <= ?)`)
		args = append(args, s.tp(u.DueBy))
	}
	for _, c := range u.Requires {
		in, inArgs := stateList([]store.TaskState{c.State}, !s.pg)
		b.WriteString(` AND EXISTS (SELECT 1 FROM task_instances req
			WHERE req.dag_id = ? AND req.run_id = ? AND req.task_id = ? AND req.map_index = ? AND req.try_number = ? AND req.state IN (` + in + `))`)
		args = append(args, c.Key.DagID, c.Key.RunID, c.Key.TaskID, c.Key.MapIndex(), c.Try)
		args = append(args, inArgs...)
	}
	b.WriteString(` RETURNING ` + tiReturning)
	return b.String(), args
}

// MarkTask applies u and reopens its finished run, in one transaction.
func (s *Store) MarkTask(ctx context.Context, u store.TaskUpdate) (bool, error) {
	var ok bool
	err := s.tx(ctx, func(tx *sql.Tx) error {
		query, args := s.taskUpdateSQL(u)
		w, err := scanWritten(tx.QueryRowContext(ctx, s.q(query), args...))
		if err != nil || !w.OK {
			return err
		}
		ok = true
		_, err = s.txExec(ctx, tx, `UPDATE dag_runs SET state = ? WHERE dag_id = ? AND run_id = ? AND state IN (?, ?)`,
			string(store.RunRunning), u.Key.DagID, u.Key.RunID, string(store.RunSuccess), string(store.RunFailed))
		return err
	})
	if err != nil {
		k := u.Key
		return false, fmt.Errorf("mark task %s/%s/%s %s: %w", k.DagID, k.RunID, k.TaskID, u.To, err)
	}
	if ok {
		s.notified(ctx)
	}
	return ok, nil
}

// ClearTasks puts the tasks named in retries back to none unless they are
// queued, running or restarting (a live try is not pulled from under its
// worker; a restarting one goes back to none once its executor stopped
// it, and loses its XComs here) or removed instances of a mapped task
// (beyond its list): each gets max_tries = try_number + its retries,
// infra_reruns = 0, loses end_date and next_retry_at, and loses its XComs,
// so neither a downstream xcom_pull nor a branch marked success by hand
// reads a previous try's result. A mapped task all of whose instances are
// then none becomes its placeholder again, to be expanded anew over its
// list as it is then (collapseMapped). If any task changed and the run is
// finished, the run goes back to queued (queued_at = now, start and end
// dates cleared, clear_number + 1) so the scheduler starts it again. All
// of it is one transaction; it returns how many tasks changed, and an
// error wrapping store.ErrNotFound when the run does not exist.
func (s *Store) ClearTasks(ctx context.Context, dagID, runID string, retries map[string]int, now time.Time) (int, error) {
	return s.clearTasks(ctx, dagID, runID, retries, -1, now)
}

// ClearMapIndex is ClearTasks of one instance of a mapped task: k names
// it (k.Map > 0); the task's other instances are left as they are.
func (s *Store) ClearMapIndex(ctx context.Context, k store.TaskKey, retries int, now time.Time) (int, error) {
	if !k.Mapped() {
		return 0, fmt.Errorf("clear %s/%s/%s: no map index", k.DagID, k.RunID, k.TaskID)
	}
	return s.clearTasks(ctx, k.DagID, k.RunID, map[string]int{k.TaskID: retries}, k.MapIndex(), now)
}

// clearTasks is ClearTasks of every instance of the named tasks when
// mapIndex is -1, else of that map index only.
func (s *Store) clearTasks(ctx context.Context, dagID, runID string, retries map[string]int, mapIndex int, now time.Time) (int, error) {
	// A fixed order makes concurrent clears lock rows in the same order.
	ids := make([]string, 0, len(retries))
	for id := range retries {
		ids = append(ids, id)
	}
	slices.Sort(ids)

	var cleared int
	err := s.tx(ctx, func(tx *sql.Tx) error {
		cleared = 0
		for _, id := range ids {
			res, err := s.txExec(ctx, tx, `UPDATE task_instances
				SET state = '', row_version = row_version + 1, `+s.changeSeqSet()+`, max_tries = try_number + ?, infra_reruns = 0, end_date = NULL, next_retry_at = NULL, handle = NULL, first_poke_at = NULL, pokes = 0, note = ''
				WHERE dag_id = ? AND run_id = ? AND task_id = ? AND (? < 0 OR map_index = ?) AND state NOT IN ('queued', 'running', 'restarting')
					AND NOT (state = 'removed' AND map_index >= 0)`,
				retries[id], dagID, runID, id, mapIndex, mapIndex)
			if err != nil {
				return fmt.Errorf("task %s: %w", id, err)
			}
			n, err := res.RowsAffected() // every instance of a mapped task
			if err != nil {
				return err
			}
			cleared += int(n)
		}
		if err := s.deleteClearedXComs(ctx, tx, dagID, runID, ids, mapIndex); err != nil {
			return err
		}
		if mapIndex < 0 && cleared > 0 {
			if err := s.collapseCleared(ctx, tx, dagID, runID, retries, now); err != nil {
				return err
			}
		}
		if cleared == 0 {
			var n int
			err := tx.QueryRowContext(ctx, s.q(`SELECT COUNT(*) FROM dag_runs WHERE dag_id = ? AND run_id = ?`),
				dagID, runID).Scan(&n)
			if err == nil && n == 0 {
				err = store.ErrNotFound
			}
			return err
		}
		_, err := s.txExec(ctx, tx, `UPDATE dag_runs
			SET state = ?, queued_at = ?, start_date = NULL, end_date = NULL, clear_number = clear_number + 1
			WHERE dag_id = ? AND run_id = ? AND state IN (?, ?)`,
			string(store.RunQueued), s.tv(now), dagID, runID, string(store.RunSuccess), string(store.RunFailed))
		if err != nil {
			return fmt.Errorf("requeue run: %w", err)
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("clear tasks of %s/%s: %w", dagID, runID, err)
	}
	// Even with nothing cleared: a running task set to restarting just
	// before (actions.Clear) is the scheduler's to stop.
	s.notified(ctx)
	return cleared, nil
}

// xcomDeleteChunk bounds the task ids of one DELETE, far below either
// dialect's limit on bound parameters.
const xcomDeleteChunk = 500

// deleteClearedXComs removes, within a clear's tx, the XComs of the named
// task instances that the clear put back to none or that are restarting
// (a running try the clear is stopping); a queued or running one, which
// the clear left alone, keeps them.
func (s *Store) deleteClearedXComs(ctx context.Context, tx *sql.Tx, dagID, runID string, taskIDs []string, mapIndex int) error {
	for chunk := range slices.Chunk(taskIDs, xcomDeleteChunk) {
		args := make([]any, 0, len(chunk)+4)
		args = append(args, dagID, runID, mapIndex, mapIndex)
		for _, id := range chunk {
			args = append(args, id)
		}
		_, err := s.txExec(ctx, tx, `DELETE FROM xcoms WHERE dag_id = ? AND run_id = ? AND (? < 0 OR map_index = ?) AND task_id IN (`+placeholders(len(chunk))+`)
			AND EXISTS (SELECT 1 FROM task_instances ti WHERE ti.dag_id = xcoms.dag_id AND ti.run_id = xcoms.run_id
				AND ti.task_id = xcoms.task_id AND ti.map_index = xcoms.map_index AND ti.state IN ('', 'restarting'))`, args...)
		if err != nil {
			return fmt.Errorf("delete xcoms: %w", err)
		}
	}
	return nil
}

// Heartbeat marks every running try owned by workerID, and the worker's own
// row, as alive at now, in one transaction. Tries the worker does not own,
// or that are no longer running, are left alone.
func (s *Store) Heartbeat(ctx context.Context, workerID string, now time.Time) error {
	t := s.tv(now)
	err := s.tx(ctx, func(tx *sql.Tx) error {
		_, err := s.txExec(ctx, tx, `UPDATE task_instances SET heartbeat_at = ?, row_version = row_version + 1, `+s.changeSeqSet()+` WHERE worker_id = ? AND state = 'running'`,
			t, workerID)
		if err != nil {
			return fmt.Errorf("task instances: %w", err)
		}
		if _, err := s.txExec(ctx, tx, `UPDATE workers SET heartbeat_at = ? WHERE id = ?`, t, workerID); err != nil {
			return fmt.Errorf("worker: %w", err)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("heartbeat %s: %w", workerID, err)
	}
	return nil
}

// stateList writes task states for an IN (…) list: on SQLite (literal)
// as SQL string literals when they are all the store's own (lower-case
// letters and underscores), else as bound parameters with their
// arguments. SQLite's planner compares a bound state with the WHERE
// clause of the partial index task_instances_running_worker, and a
// statement so compared is prepared again every time that parameter is
// bound: a fifth of the hand-off's CPU went into parsing the same UPDATE
// again. PostgreSQL keeps the parameters: with a literal 'running' its
// planner may read the running rows of a worker through that partial
// index instead of the row by its key (UpdateTask 15 % slower). A state
// from outside (any text) keeps the parameter, which is always safe.
func stateList(states []store.TaskState, literal bool) (string, []any) {
	if literal && !slices.ContainsFunc(states, func(st store.TaskState) bool { return !plainState(string(st)) }) {
		var b strings.Builder
		for i, st := range states {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString("'" + string(st) + "'")
		}
		return b.String(), nil
	}
	args := make([]any, len(states))
	for i, st := range states {
		args[i] = string(st)
	}
	return placeholders(len(states)), args
}

// plainState reports whether s is written with lower-case letters and
// underscores only, as every state of the store is.
func plainState(s string) bool {
	for _, r := range s {
		if (r < 'a' || r > 'z') && r != '_' {
			return false
		}
	}
	return true
}

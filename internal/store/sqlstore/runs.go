package sqlstore

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/sirocco-dev/sirocco/internal/store"
)

// runInsertCols are the columns a new run is written with; runCols, in
// scanRun's order, those it is read with.
const (
	runInsertCols = `dag_id, run_id, run_type, state, logical_date, data_interval_start, data_interval_end,
	conf, queued_at, start_date, end_date`
	runCols = runInsertCols + `, clear_number`
)

func scanRun(sc scanner, r *store.DagRun) error {
	var conf []byte
	err := sc.Scan(&r.DagID, &r.RunID, (*string)(&r.RunType), (*string)(&r.State),
		tc(&r.LogicalDate), tc(&r.DataIntervalStart), tc(&r.DataIntervalEnd),
		&conf, tc(&r.QueuedAt), tc(&r.StartDate), tc(&r.EndDate), &r.ClearNumber)
	if err != nil {
		return err
	}
	r.Conf, err = decodeConf(conf)
	return err
}

// tiCols are the task instance columns in scanTI's order, qualified by ti.
const tiCols = `ti.dag_id, ti.run_id, ti.task_id, ti.map_index, ti.state, ti.try_number, ti.max_tries,
	ti.pool, ti.pool_slots, ti.priority_weight, ti.queue, ti.queued_at, ti.start_date, ti.end_date,
	ti.next_retry_at, ti.hostname, ti.worker_id, ti.heartbeat_at, ti.handle, ti.rendered, ti.row_version,
	ti.infra_reruns, ti.first_poke_at, ti.pokes, ti.note`

func scanTI(sc scanner, ti *store.TaskInstance) error {
	return sc.Scan(&ti.DagID, &ti.RunID, &ti.TaskID, mapCol{&ti.Map}, (*string)(&ti.State), &ti.TryNumber, &ti.MaxTries,
		&ti.Pool, &ti.PoolSlots, &ti.PriorityWeight, &ti.Queue,
		tc(&ti.QueuedAt), tc(&ti.StartDate), tc(&ti.EndDate), tc(&ti.NextRetryAt),
		&ti.Hostname, &ti.WorkerID, tc(&ti.HeartbeatAt), &ti.Handle, &ti.Rendered, &ti.Version,
		&ti.InfraReruns, tc(&ti.FirstPokeAt), &ti.Pokes, &ti.Note)
}

// tiInsertCols is the column list of a task instance insert; seq is the
// index of the task in CreateRun's slice and orders every listing.
const tiInsertCols = `dag_id, run_id, task_id, map_index, seq, state, try_number, max_tries, pool, pool_slots,
	priority_weight, queue, queued_at, start_date, end_date, next_retry_at, hostname, worker_id,
	heartbeat_at, handle, rendered`

const tiInsertArity = 21

// tiInsertBatch is how many task instances one INSERT carries on
// PostgreSQL, where a statement is a round trip: 50 rows of 21 values stay
// far below its bound-parameter limit.
const tiInsertBatch = 50

// sqliteInsertBatch is the same on SQLite, which has no round trips: a
// short-lived process (`dags trigger`) parses the statement on every run,
// and one of 10 rows costs a fifth of one of 50 to parse while inserting
// as fast (BenchmarkCreateRun).
const sqliteInsertBatch = 10

// CreateRun inserts the run and its task instances in one transaction. A
// run that collides on (dag, run id) or (dag, logical date) gives an error
// wrapping store.ErrExists and leaves nothing behind. The task instances
// keep their slice order (column seq), which every listing follows. The
// key's DagID and RunID of each task instance are taken from run.
func (s *Store) CreateRun(ctx context.Context, run store.DagRun, tis []store.TaskInstance) error {
	conf, err := encodeConf(run.Conf)
	if err != nil {
		return fmt.Errorf("create run %s/%s: %w", run.DagID, run.RunID, err)
	}
	stmts := []stmt{{`INSERT INTO dag_runs (` + runInsertCols + `) VALUES (` + placeholders(11) + `)`, []any{
		run.DagID, run.RunID, string(run.RunType), string(run.State),
		s.tv(run.LogicalDate), s.tv(run.DataIntervalStart), s.tv(run.DataIntervalEnd),
		conf, s.tv(run.QueuedAt), s.tv(run.StartDate), s.tv(run.EndDate)}}}
	stmts = append(stmts, s.insertTIs(run, tis)...)
	err = s.execBatch(ctx, stmts)
	if isUniqueViolation(err) {
		err = fmt.Errorf("%w: %w", store.ErrExists, err)
	}
	if err != nil {
		return fmt.Errorf("create run %s/%s: %w", run.DagID, run.RunID, err)
	}
	if s.dialect == DialectPostgres && len(tis) >= analyzeAfter {
		// Until PostgreSQL has statistics for a big run it may look task
		// instances up through the (dag, run, seq) index and filter the
		// whole run for every single-task statement; refresh them now.
		// Best effort: a failure only costs speed.
		_, _ = s.exec(ctx, `ANALYZE task_instances`)
	}
	s.notified(ctx)
	return nil
}

// analyzeAfter is the run size from which PostgreSQL's statistics are
// refreshed after the insert.
const analyzeAfter = 1000

// insertTIs returns the statements inserting tis, in batches of
// tiInsertBatch on PostgreSQL and of sqliteInsertBatch on SQLite.
func (s *Store) insertTIs(run store.DagRun, tis []store.TaskInstance) []stmt {
	batch := tiInsertBatch
	if !s.pg {
		batch = sqliteInsertBatch
	}
	stmts := make([]stmt, 0, (len(tis)+batch-1)/batch)
	for start := 0; start < len(tis); start += batch {
		stmts = append(stmts, s.insertTIBatch(run, tis, start, batch))
	}
	return stmts
}

// insertTIBatch is the statement inserting tis[start:start+batch].
// PostgreSQL's column default stamps change_seq with the inserting
// transaction; on SQLite each row takes the table's maximum plus one.
func (s *Store) insertTIBatch(run store.DagRun, tis []store.TaskInstance, start, batch int) stmt {
	end := min(start+batch, len(tis))
	var b strings.Builder
	b.WriteString(`INSERT INTO task_instances (` + tiInsertCols)
	row := "(" + placeholders(tiInsertArity) + ")"
	if !s.pg {
		b.WriteString(`, change_seq`)
		row = "(" + placeholders(tiInsertArity) + ", (SELECT COALESCE(MAX(change_seq), 0) + 1 FROM task_instances))"
	}
	b.WriteString(`) VALUES `)
	args := make([]any, 0, (end-start)*tiInsertArity)
	for i := start; i < end; i++ {
		if i > start {
			b.WriteString(", ")
		}
		b.WriteString(row)
		ti := &tis[i]
		args = append(args, run.DagID, run.RunID, ti.TaskID, ti.MapIndex(), i, string(ti.State), ti.TryNumber, ti.MaxTries,
			ti.Pool, ti.PoolSlots, ti.PriorityWeight, ti.Queue,
			s.tv(ti.QueuedAt), s.tv(ti.StartDate), s.tv(ti.EndDate), s.tv(ti.NextRetryAt),
			ti.Hostname, ti.WorkerID, s.tv(ti.HeartbeatAt), blob(ti.Handle), blob(ti.Rendered))
	}
	return stmt{b.String(), args}
}

// GetRun returns a run or an error wrapping store.ErrNotFound.
func (s *Store) GetRun(ctx context.Context, dagID, runID string) (store.DagRun, error) {
	var r store.DagRun
	err := scanRun(s.queryRow(ctx, `SELECT `+runCols+` FROM dag_runs WHERE dag_id = ? AND run_id = ?`, dagID, runID), &r)
	if err != nil {
		return store.DagRun{}, fmt.Errorf("get run %s/%s: %w", dagID, runID, notFound(err))
	}
	return r, nil
}

// ListRuns returns the runs f selects, newest logical date first (runs
// without one last), at most f.Limit of them when it is positive.
func (s *Store) ListRuns(ctx context.Context, f store.RunFilter) ([]store.DagRun, error) {
	var (
		where []string
		args  []any
	)
	if f.DagID != "" {
		where = append(where, "dag_id = ?")
		args = append(args, f.DagID)
	}
	if len(f.States) > 0 {
		where = append(where, "state IN ("+placeholders(len(f.States))+")")
		for _, st := range f.States {
			args = append(args, string(st))
		}
	}
	q := `SELECT ` + runCols + ` FROM dag_runs`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY logical_date DESC NULLS LAST, queued_at DESC NULLS LAST, dag_id, run_id DESC"
	if f.Limit > 0 {
		q += " LIMIT ?"
		args = append(args, f.Limit)
	}
	rows, err := s.query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list runs: %w", err)
	}
	return collect(rows, "list runs", scanRun)
}

// LastScheduledRun returns the scheduled run of dagID with the latest
// logical date, from which the scheduler computes the next one; no such run
// gives store.ErrNotFound.
func (s *Store) LastScheduledRun(ctx context.Context, dagID string) (store.DagRun, error) {
	var r store.DagRun
	err := scanRun(s.queryRow(ctx, `SELECT `+runCols+` FROM dag_runs
		WHERE dag_id = ? AND run_type = ? AND logical_date IS NOT NULL
		ORDER BY logical_date DESC LIMIT 1`, dagID, string(store.RunScheduled)), &r)
	if err != nil {
		return store.DagRun{}, fmt.Errorf("last scheduled run of %s: %w", dagID, notFound(err))
	}
	return r, nil
}

// PreviousRun returns the newest non-test run of dagID whose logical date
// is before before.
func (s *Store) PreviousRun(ctx context.Context, dagID string, before time.Time) (store.DagRun, error) {
	var r store.DagRun
	err := scanRun(s.queryRow(ctx, `SELECT `+runCols+` FROM dag_runs
		WHERE dag_id = ? AND run_type <> ? AND logical_date IS NOT NULL AND logical_date < ?
		ORDER BY logical_date DESC LIMIT 1`, dagID, string(store.RunTest), s.tv(before)), &r)
	if err != nil {
		return store.DagRun{}, fmt.Errorf("run of %s before %s: %w", dagID, before.UTC().Format(time.RFC3339Nano), notFound(err))
	}
	return r, nil
}

// UpdateRun applies u in one conditional UPDATE: the run moves to u.To
// (with the non-nil dates) only if its state is in u.From, or in any state
// when From is empty, and its task rows are still u.Tasks when set. It reports whether the run changed; a missing run or
// a lost race is (false, nil).
func (s *Store) UpdateRun(ctx context.Context, u store.RunUpdate) (bool, error) {
	if u.To == "" {
		return false, fmt.Errorf("update run %s/%s: empty target state", u.DagID, u.RunID)
	}
	var b strings.Builder
	args := make([]any, 0, 8)
	b.WriteString(`UPDATE dag_runs SET state = ?`)
	args = append(args, string(u.To))
	if u.StartDate != nil {
		b.WriteString(`, start_date = ?`)
		args = append(args, s.tp(u.StartDate))
	}
	if u.EndDate != nil {
		b.WriteString(`, end_date = ?`)
		args = append(args, s.tp(u.EndDate))
	}
	b.WriteString(` WHERE dag_id = ? AND run_id = ?`)
	args = append(args, u.DagID, u.RunID)
	if len(u.From) > 0 {
		b.WriteString(` AND state IN (` + placeholders(len(u.From)) + `)`)
		for _, st := range u.From {
			args = append(args, string(st))
		}
	}
	if u.Tasks != nil {
		b.WriteString(` AND (SELECT COUNT(*) FROM task_instances WHERE dag_id = ? AND run_id = ?) = ?` +
			` AND (SELECT COALESCE(SUM(row_version), 0) FROM task_instances WHERE dag_id = ? AND run_id = ?) = ?`)
		args = append(args, u.DagID, u.RunID, u.Tasks.Count, u.DagID, u.RunID, u.Tasks.Versions)
	}
	if len(u.Notify) > 0 {
		return s.updateRunNotify(ctx, u, b.String(), args)
	}
	res, err := s.exec(ctx, b.String(), args...)
	if err != nil {
		return false, fmt.Errorf("update run %s/%s to %s: %w", u.DagID, u.RunID, u.To, err)
	}
	ok, err := affected(res)
	if err != nil {
		return false, fmt.Errorf("update run %s/%s to %s: %w", u.DagID, u.RunID, u.To, err)
	}
	if ok {
		s.notified(ctx)
	}
	return ok, nil
}

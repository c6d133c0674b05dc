package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/sirocco-dev/sirocco/internal/store"
)

const noteCols = `dag_id, run_id, task_id, map_index, try_number, event, idx, state, reason, attempts,
	next_at, created_at, lease_end, claimed_by, last_error, sent_at`

func scanNote(sc scanner, n *store.Notification) error {
	var state string
	err := sc.Scan(&n.DagID, &n.RunID, &n.TaskID, mapCol{&n.Map}, &n.Try, &n.Event, &n.Index, &state, &n.Reason, &n.Attempts,
		tc(&n.NextAt), tc(&n.CreatedAt), tc(&n.LeaseEnd), &n.ClaimedBy, &n.LastError, tc(&n.SentAt))
	n.State = store.NotificationState(state)
	return err
}

// noteKeyWhere is the condition naming one notification.
const noteKeyWhere = `dag_id = ? AND run_id = ? AND task_id = ? AND map_index = ? AND try_number = ? AND event = ? AND idx = ?`

func noteKeyArgs(k store.NotificationKey) []any {
	return []any{k.DagID, k.RunID, k.TaskID, k.Map - 1, k.Try, k.Event, k.Index}
}

// EnqueueNotifications inserts what is not there yet, in one transaction.
func (s *Store) EnqueueNotifications(ctx context.Context, ns []store.Notification) (int, error) {
	if len(ns) == 0 {
		return 0, nil
	}
	inserted := 0
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var err error
		inserted, err = s.enqueue(ctx, tx, ns)
		return err
	})
	return inserted, err
}

// updateRunNotify applies a run update (query, args) and, if it applied,
// enqueues its notifications, in one transaction.
func (s *Store) updateRunNotify(ctx context.Context, u store.RunUpdate, query string, args []any) (bool, error) {
	ok := false
	err := s.tx(ctx, func(tx *sql.Tx) error {
		res, err := s.txExec(ctx, tx, query, args...)
		if err != nil {
			return err
		}
		if ok, err = affected(res); err != nil || !ok {
			return err
		}
		_, err = s.enqueue(ctx, tx, u.Notify)
		return err
	})
	if err != nil {
		return false, fmt.Errorf("update run %s/%s to %s: %w", u.DagID, u.RunID, u.To, err)
	}
	if ok {
		s.notified(ctx)
	}
	return ok, nil
}

// enqueue inserts each notification unless its key exists; the SELECT
// from dag_runs skips a missing run and checks a deadline's condition in
// the same statement as the insert.
func (s *Store) enqueue(ctx context.Context, tx *sql.Tx, ns []store.Notification) (int, error) {
	inserted := 0
	for _, n := range ns {
		q := `INSERT INTO notifications (dag_id, run_id, task_id, map_index, try_number, event, idx, state, reason, attempts, next_at, created_at)
				SELECT dag_id, run_id, ?, ?, ?, ?, ?, ?, ?, 0, ?, ? FROM dag_runs WHERE dag_id = ? AND run_id = ?`
		args := []any{n.TaskID, n.Map - 1, n.Try, n.Event, n.Index, string(store.NotePending), n.Reason,
			s.tv(n.NextAt), s.tv(n.CreatedAt), n.DagID, n.RunID}
		if n.TaskID != "" && isEndEvent(n.Event) {
			// One end per try: the unique index notifications_one_end
			// makes a concurrent writer of another end wait and lose on
			// idx 0; this makes it lose on every idx.
			q += ` AND NOT EXISTS (SELECT 1 FROM notifications o WHERE o.dag_id = ? AND o.run_id = ? AND o.task_id = ?
				AND o.map_index = ? AND o.try_number = ? AND o.event IN ('success', 'failure', 'retry') AND o.event <> ?)`
			args = append(args, n.DagID, n.RunID, n.TaskID, n.Map-1, n.Try, n.Event)
		}
		switch {
		case n.UnlessEndedBy.IsZero():
		case n.TaskID == "":
			q += ` AND (state NOT IN (?, ?) OR end_date IS NULL OR end_date > ?)`
			args = append(args, string(store.RunSuccess), string(store.RunFailed), s.tv(n.UnlessEndedBy))
		default:
			q += ` AND EXISTS (SELECT 1 FROM task_instances t WHERE t.dag_id = ? AND t.run_id = ? AND t.task_id = ?
				AND t.map_index = ? AND t.try_number = ? AND (t.end_date IS NULL OR t.end_date > ?))`
			args = append(args, n.DagID, n.RunID, n.TaskID, n.Map-1, n.Try, s.tv(n.UnlessEndedBy))
		}
		q += ` ON CONFLICT DO NOTHING`
		res, err := s.txExec(ctx, tx, q, args...)
		if err != nil {
			return inserted, fmt.Errorf("enqueue notification %s/%s/%s %s: %w", n.DagID, n.RunID, n.TaskID, n.Event, err)
		}
		if ok, err := affected(res); err != nil {
			return inserted, err
		} else if ok {
			inserted++
		}
	}
	return inserted, nil
}

// isEndEvent reports whether a task's event ends its try.
func isEndEvent(ev string) bool { return ev == "success" || ev == "failure" || ev == "retry" }

// ClaimNotifications reads the due rows, then takes each by a write that
// requires the state and attempts it read: of two workers, one wins.
func (s *Store) ClaimNotifications(ctx context.Context, worker string, now time.Time, lease time.Duration, limit int) ([]store.Notification, error) {
	rows, err := s.query(ctx, `SELECT `+noteCols+` FROM notifications
		WHERE (state = ? AND next_at <= ?) OR (state = ? AND lease_end < ?)
		ORDER BY next_at LIMIT ?`,
		string(store.NotePending), s.tv(now), string(store.NoteSending), s.tv(now), limit)
	if err != nil {
		return nil, fmt.Errorf("list due notifications: %w", err)
	}
	due, err := collect(rows, "list due notifications", scanNote)
	if err != nil {
		return nil, err
	}
	end := now.Add(lease)
	var out []store.Notification
	for _, n := range due {
		args := append([]any{string(store.NoteSending), worker, s.tv(end)}, noteKeyArgs(n.NotificationKey)...)
		args = append(args, string(n.State), n.Attempts)
		res, err := s.exec(ctx, `UPDATE notifications SET state = ?, claimed_by = ?, lease_end = ?, attempts = attempts + 1
			WHERE `+noteKeyWhere+` AND state = ? AND attempts = ?`, args...)
		if err != nil {
			return out, fmt.Errorf("claim notification %s/%s/%s %s: %w", n.DagID, n.RunID, n.TaskID, n.Event, err)
		}
		if ok, err := affected(res); err != nil {
			return out, err
		} else if ok {
			n.State, n.ClaimedBy, n.LeaseEnd, n.Attempts = store.NoteSending, worker, stored(end), n.Attempts+1
			out = append(out, n)
		}
	}
	return out, nil
}

// stored is t as the store gives it back.
func stored(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// FinishNotification writes an attempt's outcome if the attempt still
// owns the row.
func (s *Store) FinishNotification(ctx context.Context, n store.Notification, to store.NotificationState, nextAt time.Time, lastErr string, now time.Time) (bool, error) {
	var sent any
	if to == store.NoteSent {
		sent = s.tv(now)
	}
	args := append([]any{string(to), s.tv(nextAt), lastErr, sent}, noteKeyArgs(n.NotificationKey)...)
	args = append(args, string(store.NoteSending), n.ClaimedBy, n.Attempts)
	res, err := s.exec(ctx, `UPDATE notifications SET state = ?, next_at = COALESCE(?, next_at), last_error = ?, sent_at = ?, lease_end = NULL
		WHERE `+noteKeyWhere+` AND state = ? AND claimed_by = ? AND attempts = ?`, args...)
	if err != nil {
		return false, fmt.Errorf("finish notification %s/%s/%s %s: %w", n.DagID, n.RunID, n.TaskID, n.Event, err)
	}
	return affected(res)
}

// NextNotificationAt is the earliest due time of a waiting row.
func (s *Store) NextNotificationAt(ctx context.Context) (time.Time, bool, error) {
	var pending, lease time.Time
	err := s.queryRow(ctx, `SELECT
		(SELECT MIN(next_at) FROM notifications WHERE state = ?),
		(SELECT MIN(lease_end) FROM notifications WHERE state = ?)`,
		string(store.NotePending), string(store.NoteSending)).Scan(tc(&pending), tc(&lease))
	if err != nil {
		return time.Time{}, false, fmt.Errorf("next notification: %w", err)
	}
	switch {
	case pending.IsZero() && lease.IsZero():
		return time.Time{}, false, nil
	case pending.IsZero():
		return lease, true, nil
	case lease.IsZero() || pending.Before(lease):
		return pending, true, nil
	}
	return lease, true, nil
}

// PruneNotifications deletes the delivered (sent or failed) rows created
// before before.
func (s *Store) PruneNotifications(ctx context.Context, before time.Time) (int, error) {
	res, err := s.exec(ctx, `DELETE FROM notifications WHERE state IN (?, ?) AND created_at < ?`,
		string(store.NoteSent), string(store.NoteFailed), s.tv(before))
	if err != nil {
		return 0, fmt.Errorf("prune notifications: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("prune notifications: %w", err)
	}
	return int(n), nil
}

// ListNotifications returns a run's notifications in key order.
func (s *Store) ListNotifications(ctx context.Context, dagID, runID string) ([]store.Notification, error) {
	rows, err := s.query(ctx, `SELECT `+noteCols+` FROM notifications WHERE dag_id = ? AND run_id = ?
		ORDER BY task_id, map_index, try_number, event, idx`, dagID, runID)
	if err != nil {
		return nil, fmt.Errorf("list notifications of %s/%s: %w", dagID, runID, err)
	}
	return collect(rows, "list notifications of "+dagID+"/"+runID, scanNote)
}

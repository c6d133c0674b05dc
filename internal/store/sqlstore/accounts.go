package sqlstore

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/sirocco-dev/sirocco/internal/store"
)

// This file holds users, their tokens and the audit log (store.Accounts).
// Secrets arrive hashed by package auth and are stored as they come.

const userCols = `username, role, password_hash, created_at, updated_at`

func scanUser(sc scanner, u *store.User) error {
	return sc.Scan(&u.Username, &u.Role, &u.PasswordHash, tc(&u.CreatedAt), tc(&u.UpdatedAt))
}

// CreateUser inserts a user; an existing username gives store.ErrExists.
func (s *Store) CreateUser(ctx context.Context, u store.User) error {
	_, err := s.exec(ctx, `INSERT INTO users (`+userCols+`) VALUES (?, ?, ?, ?, ?)`,
		u.Username, u.Role, u.PasswordHash, s.tv(u.CreatedAt), s.tv(u.UpdatedAt))
	if isUniqueViolation(err) {
		err = store.ErrExists
	}
	if err != nil {
		return fmt.Errorf("create user %s: %w", u.Username, err)
	}
	return nil
}

// GetUser returns a user or an error wrapping store.ErrNotFound.
func (s *Store) GetUser(ctx context.Context, username string) (store.User, error) {
	var u store.User
	if err := scanUser(s.queryRow(ctx, `SELECT `+userCols+` FROM users WHERE username = ?`, username), &u); err != nil {
		return store.User{}, fmt.Errorf("get user %s: %w", username, notFound(err))
	}
	return u, nil
}

// ListUsers returns every user sorted by username.
func (s *Store) ListUsers(ctx context.Context) ([]store.User, error) {
	rows, err := s.query(ctx, `SELECT `+userCols+` FROM users ORDER BY username`)
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	return collect(rows, "list users", scanUser)
}

// HasUsers reports whether any user exists.
func (s *Store) HasUsers(ctx context.Context) (bool, error) {
	var n int
	if err := s.queryRow(ctx, `SELECT COUNT(*) FROM (SELECT 1 FROM users LIMIT 1) AS u`).Scan(&n); err != nil {
		return false, fmt.Errorf("count users: %w", err)
	}
	return n > 0, nil
}

// SetUserPassword replaces a user's password hash.
func (s *Store) SetUserPassword(ctx context.Context, username, hash string, now time.Time) error {
	res, err := s.exec(ctx, `UPDATE users SET password_hash = ?, updated_at = ? WHERE username = ?`, hash, s.tv(now), username)
	if err != nil {
		return fmt.Errorf("set password of %s: %w", username, err)
	}
	if ok, err := affected(res); err != nil || !ok {
		return fmt.Errorf("set password of %s: %w", username, orNotFound(err))
	}
	return nil
}

// DeleteUser removes a user; the foreign key takes their tokens along.
func (s *Store) DeleteUser(ctx context.Context, username string) error {
	res, err := s.exec(ctx, `DELETE FROM users WHERE username = ?`, username)
	if err != nil {
		return fmt.Errorf("delete user %s: %w", username, err)
	}
	if ok, err := affected(res); err != nil || !ok {
		return fmt.Errorf("delete user %s: %w", username, orNotFound(err))
	}
	return nil
}

const tokenCols = `id, token_hash, username, kind, name, created_at, expires_at`

func scanToken(sc scanner, t *store.AuthToken) error {
	return sc.Scan(&t.ID, &t.Hash, &t.Username, &t.Kind, &t.Name, tc(&t.CreatedAt), tc(&t.ExpiresAt))
}

// CreateAuthToken stores a token of an existing user.
func (s *Store) CreateAuthToken(ctx context.Context, t store.AuthToken) error {
	_, err := s.exec(ctx, `INSERT INTO auth_tokens (`+tokenCols+`) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		t.ID, t.Hash, t.Username, string(t.Kind), t.Name, s.tv(t.CreatedAt), s.tv(t.ExpiresAt))
	switch {
	case isUniqueViolation(err):
		err = store.ErrExists
	case isForeignKeyViolation(err):
		err = fmt.Errorf("user %s: %w", t.Username, store.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("create %s token %s: %w", t.Kind, t.ID, err)
	}
	return nil
}

// GetAuthToken returns the token whose digest is hash.
func (s *Store) GetAuthToken(ctx context.Context, hash string) (store.AuthToken, error) {
	var t store.AuthToken
	if err := scanToken(s.queryRow(ctx, `SELECT `+tokenCols+` FROM auth_tokens WHERE token_hash = ?`, hash), &t); err != nil {
		return store.AuthToken{}, fmt.Errorf("get token: %w", notFound(err))
	}
	return t, nil
}

// ListAuthTokens returns the tokens of username and kind ("" for any).
func (s *Store) ListAuthTokens(ctx context.Context, username string, kind store.TokenKind) ([]store.AuthToken, error) {
	rows, err := s.query(ctx, `SELECT `+tokenCols+` FROM auth_tokens
		WHERE (? = '' OR username = ?) AND (? = '' OR kind = ?)
		ORDER BY username, created_at, id`, username, username, string(kind), string(kind))
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	return collect(rows, "list tokens", scanToken)
}

// DeleteAuthToken removes one token by id.
func (s *Store) DeleteAuthToken(ctx context.Context, id string) error {
	res, err := s.exec(ctx, `DELETE FROM auth_tokens WHERE id = ?`, id)
	if err != nil {
		return fmt.Errorf("delete token %s: %w", id, err)
	}
	if ok, err := affected(res); err != nil || !ok {
		return fmt.Errorf("delete token %s: %w", id, orNotFound(err))
	}
	return nil
}

// DeleteUserTokens removes the user's tokens of kinds (all when none).
func (s *Store) DeleteUserTokens(ctx context.Context, username string, kinds ...store.TokenKind) (int, error) {
	query, args := `DELETE FROM auth_tokens WHERE username = ?`, []any{username}
	if len(kinds) > 0 {
		query += ` AND kind IN (` + placeholders(len(kinds)) + `)`
		for _, k := range kinds {
			args = append(args, string(k))
		}
	}
	res, err := s.db.ExecContext(ctx, s.q(query), args...) // the IN list varies: not cached
	s.wrote()
	if err != nil {
		return 0, fmt.Errorf("delete tokens of %s: %w", username, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("delete tokens of %s: %w", username, err)
	}
	return int(n), nil
}

// PruneAuthTokens removes the tokens that expired before now.
func (s *Store) PruneAuthTokens(ctx context.Context, now time.Time) (int, error) {
	res, err := s.exec(ctx, `DELETE FROM auth_tokens WHERE expires_at IS NOT NULL AND expires_at < ?`, s.tv(now))
	if err != nil {
		return 0, fmt.Errorf("prune tokens: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("prune tokens: %w", err)
	}
	return int(n), nil
}

const eventCols = `id, happened, owner, event, dag_id, run_id, task_id, extra`

func scanEvent(sc scanner, e *store.EventLog) error {
	return sc.Scan(&e.ID, tc(&e.When), &e.Owner, &e.Event, &e.DagID, &e.RunID, &e.TaskID, &e.Extra)
}

// AddEventLog appends an audit entry.
func (s *Store) AddEventLog(ctx context.Context, e store.EventLog) error {
	_, err := s.exec(ctx, `INSERT INTO event_logs (happened, owner, event, dag_id, run_id, task_id, extra)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, s.tv(e.When), e.Owner, e.Event, e.DagID, e.RunID, e.TaskID, e.Extra)
	if err != nil {
		return fmt.Errorf("add event log %s: %w", e.Event, err)
	}
	return nil
}

// ListEventLogs returns the entries f selects and how many match.
func (s *Store) ListEventLogs(ctx context.Context, f store.EventLogFilter) ([]store.EventLog, int, error) {
	where := ` WHERE (? = 0 OR id = ?) AND (? = '' OR owner = ?) AND (? = '' OR event = ?) AND (? = '' OR dag_id = ?)`
	args := []any{f.ID, f.ID, f.Owner, f.Owner, f.Event, f.Event, f.DagID, f.DagID}
	var total int
	if err := s.queryRow(ctx, `SELECT COUNT(*) FROM event_logs`+where, args...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("count event logs: %w", err)
	}
	var q strings.Builder
	q.WriteString(`SELECT ` + eventCols + ` FROM event_logs` + where + ` ORDER BY id`)
	if f.Desc {
		q.WriteString(` DESC`)
	}
	limit := int64(f.Limit)
	if limit <= 0 {
		limit = -1 // SQLite: no limit
		if s.pg {
			limit = 1 << 62
		}
	}
	q.WriteString(` LIMIT ? OFFSET ?`)
	rows, err := s.query(ctx, q.String(), append(args, limit, max(f.Offset, 0))...)
	if err != nil {
		return nil, 0, fmt.Errorf("list event logs: %w", err)
	}
	out, err := collect(rows, "list event logs", scanEvent)
	return out, total, err
}

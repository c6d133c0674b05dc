package store

import (
	"context"
	"time"
)

// User is someone who logs in to the API and the UI. Role is one of
// Airflow's role names (package auth owns their meaning); PasswordHash is
// a PHC string made by package auth with a slow KDF: the store never sees
// a password.
type User struct {
	Username     string
	Role         string
	PasswordHash string
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// TokenKind says what an AuthToken is for.
type TokenKind string

// Token kinds: a browser session (cookie), a short-lived bearer token from
// POST /auth/token, and a long-lived API token made by the CLI.
const (
	TokenSession TokenKind = "session"
	TokenAccess  TokenKind = "access"
	TokenAPI     TokenKind = "api"
)

// AuthToken is a credential handed to a user once. Only Hash, a digest of
// the secret, is stored, so a database dump grants nothing; ID names the
// token to list and revoke it.
type AuthToken struct {
	ID        string
	Hash      string
	Username  string
	Kind      TokenKind
	Name      string
	CreatedAt time.Time
	ExpiresAt time.Time // zero: never
}

// EventLog is one audit entry: who (Owner) did what (Event, and the DAG,
// run and task it touched) and when. Extra is a JSON object with the rest
// (method, path, status, remote address, how the caller authenticated).
type EventLog struct {
	ID     int64
	When   time.Time
	Owner  string
	Event  string
	DagID  string
	RunID  string
	TaskID string
	Extra  string
}

// EventLogFilter selects audit entries; empty fields match anything.
type EventLogFilter struct {
	ID                  int64 // 0: any
	Owner, Event, DagID string
	Desc                bool // newest first
	Limit, Offset       int  // Limit 0 = no limit
}

// Accounts is the part of the store that package auth uses: users, their
// credentials and the audit log.
type Accounts interface {
	// CreateUser inserts a user; an existing username gives ErrExists.
	CreateUser(ctx context.Context, u User) error
	// GetUser returns a user or ErrNotFound.
	GetUser(ctx context.Context, username string) (User, error)
	// ListUsers returns every user sorted by username.
	ListUsers(ctx context.Context) ([]User, error)
	// HasUsers reports whether any user exists: the API trusts loopback
	// callers only while none does.
	HasUsers(ctx context.Context) (bool, error)
	// SetUserPassword replaces a user's password hash; a missing user
	// gives ErrNotFound.
	SetUserPassword(ctx context.Context, username, hash string, now time.Time) error
	// DeleteUser removes a user and every token of theirs; a missing one
	// gives ErrNotFound.
	DeleteUser(ctx context.Context, username string) error

	// CreateAuthToken stores a token of an existing user (else
	// ErrNotFound); a duplicate id or hash gives ErrExists.
	CreateAuthToken(ctx context.Context, t AuthToken) error
	// GetAuthToken returns the token whose Hash is hash, expired or not,
	// or ErrNotFound: the caller judges the expiry with its clock.
	GetAuthToken(ctx context.Context, hash string) (AuthToken, error)
	// ListAuthTokens returns the tokens of username (every user's when
	// empty) of kind (every kind when empty), sorted by user, then
	// creation time.
	ListAuthTokens(ctx context.Context, username string, kind TokenKind) ([]AuthToken, error)
	// DeleteAuthToken removes the token with this id; a missing one gives
	// ErrNotFound.
	DeleteAuthToken(ctx context.Context, id string) error
	// DeleteUserTokens removes the user's tokens of the given kinds (all
	// kinds when none is given) and says how many went.
	DeleteUserTokens(ctx context.Context, username string, kinds ...TokenKind) (int, error)
	// PruneAuthTokens removes the tokens that expired before now.
	PruneAuthTokens(ctx context.Context, now time.Time) (int, error)

	// AddEventLog appends an audit entry; its ID is assigned.
	AddEventLog(ctx context.Context, e EventLog) error
	// ListEventLogs returns the entries f selects, oldest first unless
	// f.Desc, and how many match before Limit and Offset.
	ListEventLogs(ctx context.Context, f EventLogFilter) ([]EventLog, int, error)
}

package auth

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sync"
	"time"

	"github.com/sirocco-dev/sirocco/internal/store"
)

// Users manages accounts and their API tokens in the store: what the
// `sirocco users` commands and the first start run.
type Users struct {
	Store store.Accounts
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

func (u Users) now() time.Time {
	if u.Now == nil {
		return time.Now().UTC()
	}
	return u.Now().UTC()
}

var usernameRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@+-]{0,63}$`) })

// reservedNames are identities the audit log uses for callers that are no
// user: a user by that name would be mistaken for them.
var reservedNames = map[string]bool{"service": true, "anonymous": true}

// CheckUsername says what is wrong with a new username.
func CheckUsername(name string) error {
	if !usernameRE().MatchString(name) {
		return fmt.Errorf("username %q: 1 to 64 letters, digits or . _ @ + -, starting with a letter or digit", name)
	}
	if reservedNames[name] {
		return fmt.Errorf("username %q is reserved for callers that are not users", name)
	}
	return nil
}

// Create adds a user with role and password (checked, then hashed).
func (u Users) Create(ctx context.Context, username string, role Role, password string) error {
	if err := CheckUsername(username); err != nil {
		return err
	}
	if role < Viewer || role > Admin {
		return fmt.Errorf("user %s: no role", username)
	}
	if err := CheckNewPassword(password); err != nil {
		return err
	}
	hash, err := HashPassword(password)
	if err != nil {
		return err
	}
	now := u.now()
	if err := u.Store.CreateUser(ctx, store.User{Username: username, Role: role.String(), PasswordHash: hash,
		CreatedAt: now, UpdatedAt: now}); err != nil {
		return fmt.Errorf("create user: %w", err)
	}
	return nil
}

// ResetPassword sets a user's password and ends their sessions and
// short-lived tokens (their API tokens stay: revoke those one by one). It
// returns how many were ended.
func (u Users) ResetPassword(ctx context.Context, username, password string) (int, error) {
	if err := CheckNewPassword(password); err != nil {
		return 0, err
	}
	hash, err := HashPassword(password)
	if err != nil {
		return 0, err
	}
	if err := u.Store.SetUserPassword(ctx, username, hash, u.now()); err != nil {
		return 0, fmt.Errorf("reset password: %w", err)
	}
	n, err := u.Store.DeleteUserTokens(ctx, username, store.TokenSession, store.TokenAccess)
	if err != nil {
		return 0, fmt.Errorf("end the sessions of %s: %w", username, err)
	}
	return n, nil
}

// CreateToken makes a long-lived API token for username, named name,
// expiring after ttl (never when 0). The secret is returned once; the
// store keeps its digest.
func (u Users) CreateToken(ctx context.Context, username, name string, ttl time.Duration) (string, store.AuthToken, error) {
	if _, err := u.Store.GetUser(ctx, username); err != nil {
		return "", store.AuthToken{}, fmt.Errorf("create token: %w", err)
	}
	secret, id, err := newSecret(TokenPrefix)
	if err != nil {
		return "", store.AuthToken{}, err
	}
	now := u.now()
	t := store.AuthToken{ID: id, Hash: digest(secret), Username: username, Kind: store.TokenAPI, Name: name, CreatedAt: now}
	if ttl > 0 {
		t.ExpiresAt = now.Add(ttl)
	}
	if err := u.Store.CreateAuthToken(ctx, t); err != nil {
		return "", store.AuthToken{}, fmt.Errorf("create token: %w", err)
	}
	return secret, t, nil
}

// FirstAdmin is the user the first start creates.
const FirstAdmin = "admin"

// EnsureAdmin creates the user admin (role Admin) with a generated
// password when no user exists, and returns that password (shown once by
// the caller; only its hash is stored). With users already there it does
// nothing and returns "". Two processes starting together create one.
func (u Users) EnsureAdmin(ctx context.Context) (string, error) {
	has, err := u.Store.HasUsers(ctx)
	if err != nil || has {
		return "", err
	}
	password := GeneratePassword()
	err = u.Create(ctx, FirstAdmin, Admin, password)
	if errors.Is(err, store.ErrExists) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	return password, nil
}

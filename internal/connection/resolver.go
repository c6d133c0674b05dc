package connection

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/sirocco-dev/sirocco/internal/store"
)

// EnvPrefix starts the environment variables that define connections, as
// Airflow's AIRFLOW_CONN_: SIROCCO_CONN_SPARK_DEFAULT defines spark_default.
const EnvPrefix = "SIROCCO_CONN_"

// EnvVar names the environment variable that defines connection id.
func EnvVar(id string) string { return EnvPrefix + strings.ToUpper(id) }

// Source says where a connection was found.
type Source string

// Sources, in lookup order.
const (
	SourceEnv   Source = "env"
	SourceStore Source = "store"
)

// Entry is a connection with where it came from. Shadowed marks a stored
// connection that an environment variable of the same id overrides.
type Entry struct {
	Connection
	Source   Source
	Shadowed bool
}

// Resolver is the front door to connections: reads follow Airflow's
// secrets-backend order (environment, then store) and writes go to the
// store, sealed with Keys. The zero value reads the environment only.
type Resolver struct {
	// Store keeps connections added by the CLI or API; nil means none.
	Store store.Store
	// Keys decrypts and encrypts stored secrets; needed as soon as a stored
	// connection has a password or extras.
	Keys *Keyring
	// Environ lists the environment as KEY=VALUE (os.Environ when nil);
	// tests set it to avoid touching the process environment.
	Environ func() []string
}

func (r *Resolver) environ() []string {
	if r.Environ != nil {
		return r.Environ()
	}
	return os.Environ()
}

// whoseEnviron names the environment Lookup read, for a "not found"
// error: a task's connection is looked up by the process running the
// task (a scheduler's, a worker's, dags test's), often not the shell where
// the user exported a variable.
func (r *Resolver) whoseEnviron() string {
	if r.Environ != nil {
		return "the environment given"
	}
	host, _ := os.Hostname()
	return fmt.Sprintf("the environment of the process looking it up (pid %d on host %s)", os.Getpid(), host)
}

// Get returns connection id from the first source that has it. Absent
// everywhere, the error wraps store.ErrNotFound; a malformed environment
// variable is an error rather than a silent fall-through to the store.
func (r *Resolver) Get(ctx context.Context, id string) (Connection, error) {
	e, err := r.Lookup(ctx, id)
	return e.Connection, err
}

// Lookup is Get, also saying where the connection came from.
func (r *Resolver) Lookup(ctx context.Context, id string) (Entry, error) {
	name := EnvVar(id)
	for _, kv := range r.environ() {
		if k, v, _ := strings.Cut(kv, "="); k == name && strings.TrimSpace(v) != "" {
			c, err := fromEnv(id, v)
			if err != nil {
				return Entry{}, err
			}
			return Entry{Connection: c, Source: SourceEnv}, nil
		}
	}
	if r.Store == nil {
		return Entry{}, fmt.Errorf("connection %s: %w (no %s in %s; set it there or add the connection with `sirocco connections add`)",
			id, store.ErrNotFound, name, r.whoseEnviron())
	}
	rec, err := r.Store.GetConnection(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return Entry{}, fmt.Errorf("connection %s: %w (no %s in %s, none in the database; "+
			"a variable exported in another shell does not reach this process: add the connection with "+
			"`sirocco connections add %s --conn-uri URI`, or set the variable where this process starts)",
			id, store.ErrNotFound, name, r.whoseEnviron(), id)
	}
	if err != nil {
		return Entry{}, fmt.Errorf("connection %s: %w", id, err)
	}
	c, err := Unseal(r.Keys, rec)
	if err != nil {
		return Entry{}, err
	}
	return Entry{Connection: c, Source: SourceStore}, nil
}

// fromEnv reads a SIROCCO_CONN_ value: a JSON object or a URI.
func fromEnv(id, v string) (Connection, error) {
	c, err := parseValue(id, v)
	if err != nil {
		return Connection{}, fmt.Errorf("environment variable %s: %w", EnvVar(id), err)
	}
	return c, nil
}

// parseValue reads connection id written as a JSON object (starting with
// '{', as Airflow decides) or as a URI.
func parseValue(id, v string) (Connection, error) {
	if strings.HasPrefix(strings.TrimSpace(v), "{") {
		return FromJSON(id, []byte(v))
	}
	c, err := Parse(v)
	if err != nil {
		return Connection{}, fmt.Errorf("connection %s: %w", id, err)
	}
	c.ID = id
	return c, nil
}

// List returns every connection of every source sorted by id, an
// environment one before a stored one of the same id (which is marked
// Shadowed). Ids of environment connections are the variable names in
// lower case. A variable that does not parse is an error.
func (r *Resolver) List(ctx context.Context) ([]Entry, error) {
	var out []Entry
	fromEnvID := map[string]bool{}
	for _, kv := range r.environ() {
		k, v, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(k, EnvPrefix) || len(k) == len(EnvPrefix) || strings.TrimSpace(v) == "" {
			continue
		}
		id := strings.ToLower(k[len(EnvPrefix):])
		c, err := fromEnv(id, v)
		if err != nil {
			return nil, err
		}
		out = append(out, Entry{Connection: c, Source: SourceEnv})
		fromEnvID[id] = true
	}
	if r.Store != nil {
		recs, err := r.Store.ListConnections(ctx)
		if err != nil {
			return nil, err
		}
		for _, rec := range recs {
			c, err := Unseal(r.Keys, rec)
			if err != nil {
				return nil, err
			}
			out = append(out, Entry{Connection: c, Source: SourceStore, Shadowed: fromEnvID[strings.ToLower(c.ID)]})
		}
	}
	slices.SortStableFunc(out, func(a, b Entry) int {
		return cmp.Or(strings.Compare(strings.ToLower(a.ID), strings.ToLower(b.ID)), cmp.Compare(a.Source, b.Source))
	})
	return out, nil
}

// Add stores a new connection, sealed; an existing id gives an error
// wrapping store.ErrExists.
func (r *Resolver) Add(ctx context.Context, c Connection) error {
	rec, err := r.seal(c)
	if err != nil {
		return err
	}
	return r.Store.CreateConnection(ctx, rec)
}

// Set stores a connection, sealed, replacing one of the same id.
func (r *Resolver) Set(ctx context.Context, c Connection) error {
	rec, err := r.seal(c)
	if err != nil {
		return err
	}
	return r.Store.SetConnection(ctx, rec)
}

func (r *Resolver) seal(c Connection) (store.ConnectionRecord, error) {
	if r.Store == nil {
		return store.ConnectionRecord{}, fmt.Errorf("connection %s: no store to write to", c.ID)
	}
	return Seal(r.Keys, c)
}

// Delete removes a stored connection. One that only an environment
// variable defines cannot be deleted here: the error wraps
// store.ErrNotFound and names the variable.
func (r *Resolver) Delete(ctx context.Context, id string) error {
	if r.Store == nil {
		return fmt.Errorf("connection %s: no store to delete from", id)
	}
	err := r.Store.DeleteConnection(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		for _, kv := range r.environ() {
			if k, _, _ := strings.Cut(kv, "="); k == EnvVar(id) {
				return fmt.Errorf("connection %s is defined by the environment variable %s, not stored: %w", id, k, store.ErrNotFound)
			}
		}
	}
	return err
}

// RotateResult counts what RotateKey did.
type RotateResult struct {
	Total       int // stored connections
	Reencrypted int // of which were re-encrypted with the current key
}

// rotateAttempts bounds how often RotateKey retries a connection that keeps
// changing under it.
const rotateAttempts = 5

// RotateKey re-encrypts the secrets of every stored connection that are not
// under the current key yet. Each row is swapped by a conditional write on
// its old ciphertexts, so a connection changed meanwhile is re-read rather
// than overwritten, and running it again (or concurrently) is harmless.
func (r *Resolver) RotateKey(ctx context.Context) (RotateResult, error) {
	var res RotateResult
	if r.Store == nil || r.Keys == nil {
		return res, errors.New("rotate key: need a store and a keyring")
	}
	recs, err := r.Store.ListConnections(ctx)
	if err != nil {
		return res, fmt.Errorf("rotate key: %w", err)
	}
	res.Total = len(recs)
	for _, rec := range recs {
		done, err := r.rotateOne(ctx, rec)
		if err != nil {
			return res, fmt.Errorf("rotate key: %w", err)
		}
		if done {
			res.Reencrypted++
		}
	}
	return res, nil
}

// rotateOne re-encrypts one connection, reporting whether it wrote.
func (r *Resolver) rotateOne(ctx context.Context, rec store.ConnectionRecord) (bool, error) {
	for range rotateAttempts {
		if r.Keys.IsCurrent(rec.Password) && r.Keys.IsCurrent(rec.Extra) {
			return false, nil
		}
		password, err := r.reencrypt(rec.ConnID, fieldPassword, rec.Password)
		if err != nil {
			return false, err
		}
		extra, err := r.reencrypt(rec.ConnID, fieldExtra, rec.Extra)
		if err != nil {
			return false, err
		}
		ok, err := r.Store.ReplaceConnectionSecrets(ctx, rec, password, extra)
		if err != nil || ok {
			return ok, err
		}
		// Changed or deleted meanwhile: look again.
		rec, err = r.Store.GetConnection(ctx, rec.ConnID)
		if errors.Is(err, store.ErrNotFound) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
	}
	return false, fmt.Errorf("connection %s kept changing during rotation; run rotate-key again", rec.ConnID)
}

// reencrypt decrypts token with whichever key made it and encrypts the
// plaintext with the current key; current or empty tokens are kept.
func (r *Resolver) reencrypt(connID, field, token string) (string, error) {
	if r.Keys.IsCurrent(token) {
		return token, nil
	}
	plain, err := open(r.Keys, connID, field, token)
	if err != nil {
		return "", err
	}
	return r.Keys.Encrypt(plain, aad(connID, field)), nil
}

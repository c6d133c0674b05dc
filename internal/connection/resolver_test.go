package connection_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/sirocco-dev/sirocco/internal/connection"
	"github.com/sirocco-dev/sirocco/internal/store"
	"github.com/sirocco-dev/sirocco/internal/store/sqlstore"
	"github.com/sirocco-dev/sirocco/internal/testenv"
)

// TestMain stops the PostgreSQL server the tests may start and checks that
// no goroutine leaks.
func TestMain(m *testing.M) { testenv.RunMain(m) }

// backend is a store under test plus a way to read its raw connection rows
// behind the store's back.
type backend struct {
	name string
	open func(t *testing.T) (st store.Store, raw *sql.DB, files string)
}

// backends are SQLite (a file in a temp dir, whose files are returned so
// tests can grep them) and PostgreSQL (skipped without it, outside CI).
var backends = []backend{
	{"sqlite", func(t *testing.T) (store.Store, *sql.DB, string) {
		dir := t.TempDir()
		path := filepath.Join(dir, "sirocco.db")
		st := openStore(t, path)
		raw, err := sql.Open("sqlite", path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { raw.Close() })
		return st, raw, dir
	}},
	{"postgres", func(t *testing.T) (store.Store, *sql.DB, string) {
		dsn := testenv.Postgres(t)
		st := openStore(t, dsn)
		raw, err := sql.Open("pgx", dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { raw.Close() })
		return st, raw, ""
	}},
}

func openStore(t *testing.T, url string) store.Store {
	t.Helper()
	st, err := sqlstore.Open(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	return st
}

func keyring(t *testing.T, current byte, old ...byte) *connection.Keyring {
	t.Helper()
	var olds [][]byte
	for _, b := range old {
		olds = append(olds, bytes.Repeat([]byte{b}, connection.KeySize))
	}
	k, err := connection.NewKeyring(bytes.Repeat([]byte{current}, connection.KeySize), olds...)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func environ(kv ...string) func() []string { return func() []string { return kv } }

const (
	password = "s3cr3t-P@ssw0rd"
	apiToken = "tok-0123456789"
)

var edge = connection.Connection{ID: "edge", Type: "ssh", Host: "edge.example.com", Port: 22, Login: "spark",
	Password: password, Description: "edge node",
	Extra: map[string]string{"key_file": "/home/spark/.ssh/id", "api_token": apiToken}}

// TestSecretsNeverStoredInClear: after adding a connection, neither the
// password nor a secret extra appears in the raw columns, nor (SQLite)
// anywhere in the database files, WAL included; the resolver reads them
// back intact.
func TestSecretsNeverStoredInClear(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			ctx := t.Context()
			st, raw, files := b.open(t)
			r := &connection.Resolver{Store: st, Keys: keyring(t, 1), Environ: environ()}
			if err := r.Add(ctx, edge); err != nil {
				t.Fatal(err)
			}
			var pw, extra string
			if err := raw.QueryRowContext(ctx, `SELECT password, extra FROM connections WHERE conn_id = 'edge'`).
				Scan(&pw, &extra); err != nil {
				t.Fatal(err)
			}
			for _, col := range []string{pw, extra} {
				if !strings.HasPrefix(col, "v1:"+connection.KeyID(bytes.Repeat([]byte{1}, 32))+":") {
					t.Errorf("raw column %q is not a v1 ciphertext under the current key", col)
				}
				for _, secret := range []string{password, apiToken, "key_file"} {
					if strings.Contains(col, secret) {
						t.Errorf("raw column %q contains %q", col, secret)
					}
				}
			}
			if files != "" {
				entries, err := os.ReadDir(files)
				if err != nil {
					t.Fatal(err)
				}
				for _, e := range entries {
					data, err := os.ReadFile(filepath.Join(files, e.Name()))
					if err != nil {
						t.Fatal(err)
					}
					if bytes.Contains(data, []byte(password)) || bytes.Contains(data, []byte(apiToken)) {
						t.Errorf("%s contains a secret in clear", e.Name())
					}
				}
				if !fileHas(files, "edge.example.com") {
					t.Error("the non-secret host is in no file either: the search proves nothing")
				}
			}
			got, err := r.Get(ctx, "edge")
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, edge) {
				t.Errorf("Get\n got %#v\nwant %#v", got, edge)
			}
		})
	}
}

// fileHas reports whether any file in dir contains s.
func fileHas(dir, s string) bool {
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if data, err := os.ReadFile(filepath.Join(dir, e.Name())); err == nil && bytes.Contains(data, []byte(s)) {
			return true
		}
	}
	return false
}

// TestResolverLookupOrder: the environment (URI or JSON) wins over the
// store, a bad variable is an error rather than a fall-through, and a
// connection absent everywhere wraps store.ErrNotFound.
func TestResolverLookupOrder(t *testing.T) {
	ctx := t.Context()
	st, _, _ := backends[0].open(t)
	keys := keyring(t, 1)
	if err := (&connection.Resolver{Store: st, Keys: keys}).Add(ctx, edge); err != nil {
		t.Fatal(err)
	}
	spark := connection.Connection{ID: "spark_default", Type: "spark", Host: "master", Port: 7077}
	if err := (&connection.Resolver{Store: st, Keys: keys}).Add(ctx, spark); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		env     []string
		store   bool
		id      string
		want    connection.Connection
		source  connection.Source
		wantErr string
		is      error
	}{
		{name: "store only", store: true, id: "edge", want: edge, source: connection.SourceStore},
		{name: "env URI overrides store", store: true, id: "edge",
			env: []string{"SIROCCO_CONN_EDGE=ssh://root:pw@other:2222?key_file=%2Fk"},
			want: connection.Connection{ID: "edge", Type: "ssh", Host: "other", Port: 2222, Login: "root", Password: "pw",
				Extra: map[string]string{"key_file": "/k"}}, source: connection.SourceEnv},
		{name: "env JSON", store: true, id: "spark_default",
			env:    []string{`SIROCCO_CONN_SPARK_DEFAULT={"conn_type": "spark", "host": "yarn", "extra": {"deploy_mode": "cluster"}}`},
			want:   connection.Connection{ID: "spark_default", Type: "spark", Host: "yarn", Extra: map[string]string{"deploy_mode": "cluster"}},
			source: connection.SourceEnv},
		{name: "env without store", id: "x", env: []string{"SIROCCO_CONN_X=http://h"},
			want: connection.Connection{ID: "x", Type: "http", Host: "h"}, source: connection.SourceEnv},
		{name: "id is upper-cased", store: true, id: "Spark_Default", env: []string{"SIROCCO_CONN_SPARK_DEFAULT=spark://env"},
			want: connection.Connection{ID: "Spark_Default", Type: "spark", Host: "env"}, source: connection.SourceEnv},
		{name: "empty variable is unset", store: true, id: "edge", env: []string{"SIROCCO_CONN_EDGE="},
			want: edge, source: connection.SourceStore},
		{name: "other variables ignored", store: true, id: "edge",
			env:  []string{"SIROCCO_CONN_EDGE2=ssh://x", "SIROCCO_CONN_=ssh://y", "SIROCCO_CONN_EDG=z", "XSIROCCO_CONN_EDGE=ssh://w"},
			want: edge, source: connection.SourceStore},
		{name: "bad env URI", store: true, id: "edge", env: []string{"SIROCCO_CONN_EDGE=not a uri"},
			wantErr: "environment variable SIROCCO_CONN_EDGE: connection edge: connection uri: missing \"type://\""},
		{name: "bad env JSON", store: true, id: "edge", env: []string{`SIROCCO_CONN_EDGE={"host": 1}`},
			wantErr: "environment variable SIROCCO_CONN_EDGE"},
		{name: "absent", store: true, id: "nope", wantErr: "SIROCCO_CONN_NOPE", is: store.ErrNotFound},
		{name: "absent, no store", id: "nope", wantErr: "connections add", is: store.ErrNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &connection.Resolver{Keys: keys, Environ: environ(tc.env...)}
			if tc.store {
				r.Store = st
			}
			e, err := r.Lookup(ctx, tc.id)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Lookup = %+v, %v; want an error mentioning %q", e, err, tc.wantErr)
				}
				if tc.is != nil && !errors.Is(err, tc.is) {
					t.Errorf("error %v does not wrap %v", err, tc.is)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(e.Connection, tc.want) || e.Source != tc.source {
				t.Errorf("Lookup\n got %#v from %s\nwant %#v from %s", e.Connection, e.Source, tc.want, tc.source)
			}
			if c, err := r.Get(ctx, tc.id); err != nil || !reflect.DeepEqual(c, tc.want) {
				t.Errorf("Get = %#v, %v; want what Lookup found", c, err)
			}
		})
	}
}

// TestResolverNotFoundSaysWhoseEnvironment: a connection absent from the
// process's own environment and the database is an error naming that
// process (pid and host), since a variable exported in another shell
// never reaches the process that runs the task, and how to add it.
func TestResolverNotFoundSaysWhoseEnvironment(t *testing.T) {
	st, _, _ := backends[0].open(t)
	host, _ := os.Hostname()
	_, err := (&connection.Resolver{Store: st}).Get(t.Context(), "not_set_anywhere_42")
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Get = %v, want ErrNotFound", err)
	}
	for _, want := range []string{
		"no SIROCCO_CONN_NOT_SET_ANYWHERE_42 in the environment of the process looking it up",
		fmt.Sprintf("(pid %d on host %s)", os.Getpid(), host),
		"none in the database",
		"sirocco connections add not_set_anywhere_42 --conn-uri URI",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
}

// TestResolverList: connections of both sources sorted by id, an
// environment one first and the stored one it overrides marked shadowed.
func TestResolverList(t *testing.T) {
	ctx := t.Context()
	st, _, _ := backends[0].open(t)
	r := &connection.Resolver{Store: st, Keys: keyring(t, 1), Environ: environ(
		"SIROCCO_CONN_EDGE=ssh://env-host", "SIROCCO_CONN_AAA=http://a", "PATH=/bin", "SIROCCO_CONN_EMPTY=")}
	for _, c := range []connection.Connection{edge, {ID: "zzz", Type: "spark"}} {
		if err := r.Add(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	list, err := r.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		id, host string
		src      connection.Source
		shadowed bool
	}
	var got []row
	for _, e := range list {
		got = append(got, row{e.ID, e.Host, e.Source, e.Shadowed})
	}
	want := []row{
		{"aaa", "a", connection.SourceEnv, false},
		{"edge", "env-host", connection.SourceEnv, false},
		{"edge", "edge.example.com", connection.SourceStore, true},
		{"zzz", "", connection.SourceStore, false},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("List\n got %+v\nwant %+v", got, want)
	}
	if list[2].Password != password {
		t.Errorf("stored entry not decrypted: password %q", list[2].Password)
	}

	r.Environ = environ("SIROCCO_CONN_BAD=nope")
	if _, err := r.List(ctx); err == nil || !strings.Contains(err.Error(), "SIROCCO_CONN_BAD") {
		t.Errorf("List with a bad variable = %v, want an error naming it", err)
	}
}

// TestResolverWrites: Add refuses an existing id, Set replaces, Delete
// removes and explains an environment-only connection; invalid connections
// never reach the store.
func TestResolverWrites(t *testing.T) {
	ctx := t.Context()
	st, _, _ := backends[0].open(t)
	r := &connection.Resolver{Store: st, Keys: keyring(t, 1), Environ: environ("SIROCCO_CONN_ENVONLY=http://h")}
	if err := r.Add(ctx, edge); err != nil {
		t.Fatal(err)
	}
	if err := r.Add(ctx, edge); !errors.Is(err, store.ErrExists) {
		t.Errorf("second Add = %v, want ErrExists", err)
	}
	changed := edge
	changed.Password, changed.Extra = "", nil
	if err := r.Set(ctx, changed); err != nil {
		t.Fatal(err)
	}
	if got, err := r.Get(ctx, "edge"); err != nil || !reflect.DeepEqual(got, changed) {
		t.Errorf("after Set: %#v, %v", got, err)
	}
	if err := r.Add(ctx, connection.Connection{ID: "bad id", Type: "ssh"}); err == nil {
		t.Error("Add accepted an invalid id")
	}
	if err := r.Delete(ctx, "edge"); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Get(ctx, "edge"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Get after Delete = %v, want ErrNotFound", err)
	}
	if err := r.Delete(ctx, "edge"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("second Delete = %v, want ErrNotFound", err)
	}
	err := r.Delete(ctx, "envonly")
	if !errors.Is(err, store.ErrNotFound) || !strings.Contains(err.Error(), "SIROCCO_CONN_ENVONLY") {
		t.Errorf("Delete of an environment connection = %v, want ErrNotFound naming the variable", err)
	}
	noKeys := &connection.Resolver{Store: st}
	if err := noKeys.Add(ctx, edge); !errors.Is(err, connection.ErrNoKeyring) {
		t.Errorf("Add with secrets and no keyring = %v", err)
	}
}

// TestRotateKey: connections written under an old key stay readable while
// it is listed as old; RotateKey re-encrypts exactly those, after which the
// new key alone reads everything; running it again changes nothing.
func TestRotateKey(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			ctx := t.Context()
			st, raw, _ := b.open(t)
			oldR := &connection.Resolver{Store: st, Keys: keyring(t, 1), Environ: environ()}
			conns := []connection.Connection{
				edge,
				{ID: "plain", Type: "spark", Host: "m", Port: 7077},
				{ID: "pg", Type: "postgres", Host: "db", Login: "u", Password: "pw", Schema: "w"},
			}
			for _, c := range conns {
				if err := oldR.Add(ctx, c); err != nil {
					t.Fatal(err)
				}
			}

			newOnly := &connection.Resolver{Store: st, Keys: keyring(t, 2), Environ: environ()}
			if _, err := newOnly.Get(ctx, "edge"); !errors.Is(err, connection.ErrUnknownKey) {
				t.Fatalf("new key without the old one: %v, want ErrUnknownKey", err)
			}
			rotating := &connection.Resolver{Store: st, Keys: keyring(t, 2, 1), Environ: environ()}
			if got, err := rotating.Get(ctx, "edge"); err != nil || got.Password != password {
				t.Fatalf("new key with the old one listed: %+v, %v", got, err)
			}
			res, err := rotating.RotateKey(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if res != (connection.RotateResult{Total: 3, Reencrypted: 2}) {
				t.Errorf("RotateKey = %+v, want 3 total, 2 re-encrypted", res)
			}
			newID := connection.KeyID(bytes.Repeat([]byte{2}, 32))
			rows, err := raw.QueryContext(ctx, `SELECT conn_id, password, extra FROM connections`)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			for rows.Next() {
				var id, pw, extra string
				if err := rows.Scan(&id, &pw, &extra); err != nil {
					t.Fatal(err)
				}
				for _, col := range []string{pw, extra} {
					if col != "" && !strings.HasPrefix(col, "v1:"+newID+":") {
						t.Errorf("%s: column %q not under the new key %s", id, col, newID)
					}
				}
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
			for _, c := range conns {
				got, err := newOnly.Get(ctx, c.ID)
				if err != nil {
					t.Fatalf("after rotation, new key alone: %v", err)
				}
				if !reflect.DeepEqual(got, c) {
					t.Errorf("after rotation\n got %#v\nwant %#v", got, c)
				}
			}
			if res, err := rotating.RotateKey(ctx); err != nil || res.Reencrypted != 0 {
				t.Errorf("second RotateKey = %+v, %v; want nothing re-encrypted", res, err)
			}
			if _, err := (&connection.Resolver{Store: st, Keys: keyring(t, 3)}).RotateKey(ctx); !errors.Is(err, connection.ErrUnknownKey) {
				t.Errorf("RotateKey without the key that encrypted the rows = %v, want ErrUnknownKey", err)
			}
		})
	}
}

// TestRotateKeyConcurrentChange: a connection replaced between RotateKey's
// read and its write is not overwritten with the stale value.
func TestRotateKeyConcurrentChange(t *testing.T) {
	ctx := t.Context()
	st, _, _ := backends[0].open(t)
	if err := (&connection.Resolver{Store: st, Keys: keyring(t, 1)}).Add(ctx, edge); err != nil {
		t.Fatal(err)
	}
	keys := keyring(t, 2, 1)
	racing := &racingStore{Store: st, change: func() {
		changed := edge
		changed.Password = "changed-meanwhile"
		if err := (&connection.Resolver{Store: st, Keys: keys}).Set(context.Background(), changed); err != nil {
			t.Error(err)
		}
	}}
	r := &connection.Resolver{Store: racing, Keys: keys}
	if _, err := r.RotateKey(ctx); err != nil {
		t.Fatal(err)
	}
	got, err := r.Get(ctx, "edge")
	if err != nil || got.Password != "changed-meanwhile" {
		t.Errorf("after a concurrent change: password %q, %v; want the concurrent value", got.Password, err)
	}
}

// racingStore runs change just before the first ReplaceConnectionSecrets.
type racingStore struct {
	store.Store
	change func()
	done   bool
}

func (s *racingStore) ReplaceConnectionSecrets(ctx context.Context, old store.ConnectionRecord, pw, extra string) (bool, error) {
	if !s.done {
		s.done = true
		s.change()
	}
	return s.Store.ReplaceConnectionSecrets(ctx, old, pw, extra)
}

// TestLoadKeyringFromEnvironment: LoadKeyring reads the real environment.
func TestLoadKeyringFromEnvironment(t *testing.T) {
	key := bytes.Repeat([]byte{9}, connection.KeySize)
	t.Setenv(connection.EnvSecretKey, base64.StdEncoding.EncodeToString(key))
	t.Setenv(connection.EnvSecretKeyOld, "")
	k, generated, err := connection.LoadKeyring(t.TempDir())
	if err != nil || generated || k.CurrentID() != connection.KeyID(key) {
		t.Errorf("LoadKeyring = %v generated=%v %v", k, generated, err)
	}
}

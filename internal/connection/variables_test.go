package connection_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sirocco-dev/sirocco/internal/connection"
	"github.com/sirocco-dev/sirocco/internal/store"
)

const varSecret = "vendor-key-7f3a9c"

// TestVariablesNeverStoredInClear: a variable set through Variables is a
// v1 ciphertext in the raw column and (SQLite) in no database file in
// clear; Get and List read it back.
func TestVariablesNeverStoredInClear(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			ctx := t.Context()
			st, raw, files := b.open(t)
			vars := &connection.Variables{Store: st, Keys: keyring(t, 1), Environ: environ()}
			if err := vars.Set(ctx, store.Variable{Key: "api_key", Value: varSecret, Description: "vendor"}); err != nil {
				t.Fatal(err)
			}
			var val string
			var encrypted bool
			if err := raw.QueryRowContext(ctx, `SELECT val, is_encrypted FROM variables WHERE key = 'api_key'`).Scan(&val, &encrypted); err != nil {
				t.Fatal(err)
			}
			if !encrypted || !strings.HasPrefix(val, "v1:"+connection.KeyID(bytes.Repeat([]byte{1}, 32))+":") || strings.Contains(val, varSecret) {
				t.Errorf("raw row = %q (encrypted %v), want a v1 ciphertext", val, encrypted)
			}
			if files != "" {
				entries, _ := os.ReadDir(files)
				for _, e := range entries {
					if data, _ := os.ReadFile(filepath.Join(files, e.Name())); bytes.Contains(data, []byte(varSecret)) {
						t.Errorf("%s holds the variable in clear", e.Name())
					}
				}
				if !fileHas(files, "vendor") {
					t.Error("the description is in no file either: the search proves nothing")
				}
			}
			want := store.Variable{Key: "api_key", Value: varSecret, Description: "vendor"}
			if got, err := vars.Get(ctx, "api_key"); err != nil || got != want {
				t.Errorf("Get = %+v, %v; want %+v", got, err, want)
			}
			if list, err := vars.List(ctx); err != nil || len(list) != 1 || list[0] != want {
				t.Errorf("List = %+v, %v", list, err)
			}
			if _, err := (&connection.Variables{Store: st}).Get(ctx, "api_key"); !errors.Is(err, connection.ErrNoKeyring) {
				t.Errorf("Get without a keyring = %v, want ErrNoKeyring", err)
			}
		})
	}
}

// TestVariablesSealAllAndRotate: plaintext rows from before encryption are
// read as they are, then sealed by SealAll; after a key change SealAll
// re-encrypts with the new key (rotate-key), and a second run writes
// nothing.
func TestVariablesSealAllAndRotate(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			ctx := t.Context()
			st, raw, _ := b.open(t)
			for _, v := range []store.Variable{{Key: "region", Value: "eu-west-1"}, {Key: "db_password", Value: varSecret}} {
				if err := st.SetVariable(ctx, v); err != nil { // as an old Sirocco wrote them
					t.Fatal(err)
				}
			}
			old := &connection.Variables{Store: st, Keys: keyring(t, 1), Environ: environ()}
			if got, err := old.Get(ctx, "db_password"); err != nil || got.Value != varSecret {
				t.Fatalf("a plaintext row reads %+v, %v", got, err)
			}
			if res, err := old.SealAll(ctx); err != nil || res != (connection.RotateResult{Total: 2, Reencrypted: 2}) {
				t.Fatalf("SealAll = %+v, %v", res, err)
			}
			rawValue := func() string {
				var val string
				if err := raw.QueryRowContext(ctx, `SELECT val FROM variables WHERE key = 'db_password'`).Scan(&val); err != nil {
					t.Fatal(err)
				}
				return val
			}
			if v := rawValue(); !strings.HasPrefix(v, "v1:"+connection.KeyID(bytes.Repeat([]byte{1}, 32))) {
				t.Fatalf("after SealAll the row holds %q", v)
			}
			rotated := &connection.Variables{Store: st, Keys: keyring(t, 2, 1), Environ: environ()}
			if res, err := rotated.SealAll(ctx); err != nil || res.Reencrypted != 2 {
				t.Fatalf("rotation = %+v, %v", res, err)
			}
			if v := rawValue(); !strings.HasPrefix(v, "v1:"+connection.KeyID(bytes.Repeat([]byte{2}, 32))) {
				t.Fatalf("after rotation the row holds %q", v)
			}
			if res, err := rotated.SealAll(ctx); err != nil || res.Reencrypted != 0 {
				t.Errorf("a second rotation = %+v, %v; want nothing to do", res, err)
			}
			newOnly := &connection.Variables{Store: st, Keys: keyring(t, 2), Environ: environ()}
			if got, err := newOnly.Get(ctx, "db_password"); err != nil || got.Value != varSecret {
				t.Errorf("with the new key alone: %+v, %v", got, err)
			}
		})
	}
}

// TestVariablesLookupAndSecrets: SIROCCO_VAR_<KEY> (as given or upper
// case) wins over the store, and Secrets lists the values of sensitive
// keys only, from both sources.
func TestVariablesLookupAndSecrets(t *testing.T) {
	ctx := t.Context()
	st, _, _ := backends[0].open(t)
	vars := &connection.Variables{Store: st, Keys: keyring(t, 1),
		Environ: environ("SIROCCO_VAR_REGION=env-region", "SIROCCO_VAR_SLACK_TOKEN=xoxb-env-token", "SIROCCO_VAR_=x")}
	for _, v := range []store.Variable{{Key: "region", Value: "store-region"}, {Key: "db_password", Value: varSecret}, {Key: "bucket", Value: "raw-zone"}} {
		if err := vars.Set(ctx, v); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := vars.Get(ctx, "region"); err != nil || got.Value != "env-region" {
		t.Errorf("Get(region) = %+v, %v; want the environment's", got, err)
	}
	if _, err := vars.Get(ctx, "missing"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Get(missing) = %v, want ErrNotFound", err)
	}
	secrets, err := vars.Secrets(ctx)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(secrets)
	if want := []string{varSecret, "xoxb-env-token"}; !slices.Equal(secrets, want) {
		t.Errorf("Secrets = %q, want %q", secrets, want)
	}
}

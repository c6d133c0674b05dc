package connection

import (
	"bytes"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/sirocco-dev/sirocco/internal/store"
)

// testKey returns a fixed key made of b, for reproducible key ids.
func testKey(b byte) []byte { return bytes.Repeat([]byte{b}, KeySize) }

func mustKeyring(t *testing.T, current []byte, old ...[]byte) *Keyring {
	t.Helper()
	k, err := NewKeyring(current, old...)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

var tokenPattern = regexp.MustCompile(`^v1:[0-9a-f]{16}:[A-Za-z0-9_-]+$`)

// TestEncryptRoundTrip: the format is v1:<key id>:<base64url>, the key id
// is the first 8 bytes of SHA-256 of the key, nonces are fresh, and the
// plaintext comes back only with the same additional data.
func TestEncryptRoundTrip(t *testing.T) {
	k := mustKeyring(t, testKey(1))
	if k.CurrentID() != KeyID(testKey(1)) || k.CurrentID() != "72cd6e8422c407fb" {
		t.Errorf("CurrentID() = %s, KeyID = %s", k.CurrentID(), KeyID(testKey(1)))
	}
	for _, plain := range []string{"", "hunter2", strings.Repeat("é", 1000), "\x00\xff"} {
		tok := k.Encrypt([]byte(plain), "aad")
		if !tokenPattern.MatchString(tok) || !strings.HasPrefix(tok, "v1:"+k.CurrentID()+":") {
			t.Errorf("Encrypt(%q) = %q, want v1:%s:<base64url>", plain, tok, k.CurrentID())
		}
		if plain != "" && strings.Contains(tok, plain) {
			t.Errorf("token %q contains the plaintext", tok)
		}
		got, err := k.Decrypt(tok, "aad")
		if err != nil || string(got) != plain {
			t.Errorf("Decrypt(Encrypt(%q)) = %q, %v", plain, got, err)
		}
	}
	if a, b := k.Encrypt([]byte("x"), ""), k.Encrypt([]byte("x"), ""); a == b {
		t.Error("two encryptions of the same value are equal: nonce reused")
	}
}

// TestDecryptRejects: every alteration of a token, a wrong additional data
// or an unknown key fails with the matching error, never with data.
func TestDecryptRejects(t *testing.T) {
	k := mustKeyring(t, testKey(1))
	tok := k.Encrypt([]byte("hunter2"), "conn\x00password")
	prefix := tok[:len("v1:")+16+1]
	body, err := base64.RawURLEncoding.DecodeString(tok[len(prefix):])
	if err != nil {
		t.Fatal(err)
	}
	flipped := func(i int) string {
		b := bytes.Clone(body)
		b[i] ^= 0x01
		return prefix + base64.RawURLEncoding.EncodeToString(b)
	}
	other := mustKeyring(t, testKey(2)).Encrypt([]byte("hunter2"), "conn\x00password")
	for _, tc := range []struct {
		name, token, aad string
		want             error
	}{
		{"flipped nonce", flipped(0), "conn\x00password", ErrDecrypt},
		{"flipped ciphertext", flipped(13), "conn\x00password", ErrDecrypt},
		{"flipped tag", flipped(len(body) - 1), "conn\x00password", ErrDecrypt},
		{"truncated", prefix + base64.RawURLEncoding.EncodeToString(body[:len(body)-1]), "conn\x00password", ErrDecrypt},
		{"too short", prefix + "AAAA", "conn\x00password", ErrDecrypt},
		{"not base64", prefix + "!!!", "conn\x00password", ErrDecrypt},
		{"other field", tok, "conn\x00extra", ErrDecrypt},
		{"other connection", tok, "conn2\x00password", ErrDecrypt},
		{"clear text", "hunter2", "conn\x00password", ErrDecrypt},
		{"other version", "v2" + tok[2:], "conn\x00password", ErrDecrypt},
		{"short key id", "v1:abc:" + tok[len(prefix):], "conn\x00password", ErrDecrypt},
		{"unknown key", other, "conn\x00password", ErrUnknownKey},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := k.Decrypt(tc.token, tc.aad)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Decrypt = %q, %v; want an error wrapping %v", got, err, tc.want)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("error %q leaks the plaintext", err)
			}
		})
	}
}

// TestKeyringRotation: a keyring with an old key reads values of both keys
// and encrypts with the current one only.
func TestKeyringRotation(t *testing.T) {
	oldK := mustKeyring(t, testKey(1))
	tokOld := oldK.Encrypt([]byte("a"), "x")
	both := mustKeyring(t, testKey(2), testKey(1))
	tokNew := both.Encrypt([]byte("b"), "x")
	for tok, want := range map[string]string{tokOld: "a", tokNew: "b"} {
		if got, err := both.Decrypt(tok, "x"); err != nil || string(got) != want {
			t.Errorf("Decrypt with current+old = %q, %v; want %q", got, err, want)
		}
	}
	if !strings.Contains(tokNew, KeyID(testKey(2))) {
		t.Errorf("new token %q is not under the current key", tokNew)
	}
	if both.IsCurrent(tokOld) || !both.IsCurrent(tokNew) || !both.IsCurrent("") {
		t.Error("IsCurrent does not tell old from current tokens")
	}
	if _, err := oldK.Decrypt(tokNew, "x"); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("old keyring on a new token: %v, want ErrUnknownKey", err)
	}
	if _, err := NewKeyring(testKey(1)[:16]); err == nil {
		t.Error("NewKeyring accepted a 16-byte key")
	}
	if _, err := NewKeyring(testKey(1), []byte("short")); err == nil {
		t.Error("NewKeyring accepted a short old key")
	}
}

func TestParseKey(t *testing.T) {
	key := testKey(0xfb) // "+/v7..." in standard base64, "-_v7..." in URL base64
	for _, s := range []string{
		base64.StdEncoding.EncodeToString(key), base64.RawStdEncoding.EncodeToString(key),
		base64.URLEncoding.EncodeToString(key), base64.RawURLEncoding.EncodeToString(key),
		" " + base64.StdEncoding.EncodeToString(key) + "\n",
	} {
		if got, err := ParseKey(s); err != nil || !bytes.Equal(got, key) {
			t.Errorf("ParseKey(%q) = %x, %v", s, got, err)
		}
	}
	for _, tc := range []struct{ in, want string }{
		{base64.StdEncoding.EncodeToString(key[:16]), "16 bytes, want 32"},
		{base64.StdEncoding.EncodeToString(append(key, 1)), "33 bytes, want 32"},
		{"not base64!", "not base64"},
		{"", "0 bytes"},
	} {
		if _, err := ParseKey(tc.in); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseKey(%q) = %v, want an error mentioning %q", tc.in, err, tc.want)
		}
	}
	if k, err := ParseKey(GenerateKey()); err != nil || len(k) != KeySize {
		t.Errorf("ParseKey(GenerateKey()) = %x, %v", k, err)
	}
	if a, b := GenerateKey(), GenerateKey(); a == b {
		t.Error("GenerateKey returned the same key twice")
	}
}

// env returns a getenv over m.
func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

// TestLoadKeyring: the environment wins over the file; without either a
// 0600 file is generated once and reused; old keys come from
// SIROCCO_SECRET_KEY_OLD; bad keys and a readable key file are refused.
func TestLoadKeyring(t *testing.T) {
	envKey := base64.StdEncoding.EncodeToString(testKey(7))
	oldKey := base64.StdEncoding.EncodeToString(testKey(8))

	t.Run("generated once, 0600, then reused", func(t *testing.T) {
		home := filepath.Join(t.TempDir(), "home")
		k1, gen1, err := loadKeyring(home, env(nil))
		if err != nil || !gen1 {
			t.Fatalf("first load: generated=%v, %v", gen1, err)
		}
		st, err := os.Stat(filepath.Join(home, KeyFileName))
		if err != nil || st.Mode().Perm() != 0o600 {
			t.Fatalf("key file: %v, %v; want mode 0600", st, err)
		}
		k2, gen2, err := loadKeyring(home, env(nil))
		if err != nil || gen2 || k2.CurrentID() != k1.CurrentID() {
			t.Errorf("second load: id %s generated=%v %v; want id %s, not generated", k2.CurrentID(), gen2, err, k1.CurrentID())
		}
		if !strings.HasPrefix(k1.Source(), "file ") {
			t.Errorf("Source() = %q", k1.Source())
		}
		entries, _ := os.ReadDir(home)
		if len(entries) != 1 {
			t.Errorf("home holds %d files after generation, want only %s", len(entries), KeyFileName)
		}
	})
	t.Run("environment wins", func(t *testing.T) {
		home := t.TempDir()
		if _, _, err := loadKeyring(home, env(nil)); err != nil {
			t.Fatal(err)
		}
		k, gen, err := loadKeyring(home, env(map[string]string{EnvSecretKey: envKey}))
		if err != nil || gen || k.CurrentID() != KeyID(testKey(7)) || k.Source() != "environment variable "+EnvSecretKey {
			t.Errorf("load with %s: id %s (%s) generated=%v %v", EnvSecretKey, k.CurrentID(), k.Source(), gen, err)
		}
	})
	t.Run("environment only: no file written", func(t *testing.T) {
		home := filepath.Join(t.TempDir(), "none")
		if _, _, err := loadKeyring(home, env(map[string]string{EnvSecretKey: envKey})); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(home); !os.IsNotExist(err) {
			t.Errorf("home was created although the key came from the environment: %v", err)
		}
	})
	t.Run("old keys", func(t *testing.T) {
		k, _, err := loadKeyring(t.TempDir(), env(map[string]string{
			EnvSecretKey: envKey, EnvSecretKeyOld: " " + oldKey + " ,, " + envKey + ",",
		}))
		if err != nil {
			t.Fatal(err)
		}
		tok := mustKeyring(t, testKey(8)).Encrypt([]byte("v"), "a")
		if got, err := k.Decrypt(tok, "a"); err != nil || string(got) != "v" {
			t.Errorf("old key not used: %q, %v", got, err)
		}
	})
	for _, tc := range []struct {
		name string
		env  map[string]string
		want string
	}{
		{"bad current", map[string]string{EnvSecretKey: "short"}, EnvSecretKey},
		{"bad old", map[string]string{EnvSecretKey: envKey, EnvSecretKeyOld: oldKey + ",xx"}, EnvSecretKeyOld + ", key 2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := loadKeyring(t.TempDir(), env(tc.env))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("loadKeyring = %v, want an error mentioning %q", err, tc.want)
			}
		})
	}
	t.Run("readable key file refused", func(t *testing.T) {
		home := t.TempDir()
		path := filepath.Join(home, KeyFileName)
		if err := os.WriteFile(path, []byte(envKey), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path, 0o644); err != nil {
			t.Fatal(err)
		}
		_, _, err := loadKeyring(home, env(nil))
		if err == nil || !strings.Contains(err.Error(), "chmod 600") {
			t.Errorf("loadKeyring with a 0644 key file = %v, want a chmod 600 hint", err)
		}
	})
	t.Run("corrupt key file", func(t *testing.T) {
		home := t.TempDir()
		if err := os.WriteFile(filepath.Join(home, KeyFileName), []byte("garbage"), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, _, err := loadKeyring(home, env(nil)); err == nil || !strings.Contains(err.Error(), KeyFileName) {
			t.Errorf("loadKeyring with a corrupt key file = %v", err)
		}
	})
}

// TestLoadKeyringRace: processes starting at once on a fresh home agree on
// one key, and exactly one of them generated it.
func TestLoadKeyringRace(t *testing.T) {
	home := filepath.Join(t.TempDir(), "home")
	const n = 16
	ids := make([]string, n)
	gens := make([]bool, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			k, gen, err := loadKeyring(home, env(nil))
			if err != nil {
				t.Errorf("loader %d: %v", i, err)
				return
			}
			ids[i], gens[i] = k.CurrentID(), gen
		})
	}
	wg.Wait()
	generated := 0
	for i := range n {
		if ids[i] != ids[0] {
			t.Errorf("loader %d got key %s, loader 0 got %s", i, ids[i], ids[0])
		}
		if gens[i] {
			generated++
		}
	}
	if generated != 1 {
		t.Errorf("%d loaders generated a key, want 1", generated)
	}
}

// TestSealUnseal: secrets reach the record only as ciphertext bound to their
// connection and field; the rest is stored as is.
func TestSealUnseal(t *testing.T) {
	k := mustKeyring(t, testKey(1))
	c := Connection{ID: "edge", Type: "ssh", Host: "h", Port: 22, Login: "u", Password: "hunter2", Schema: "s",
		Description: "d", Extra: map[string]string{"private_key": "PK-SECRET", "key_file": "/k"}}
	r, err := Seal(k, c)
	if err != nil {
		t.Fatal(err)
	}
	for _, field := range []string{r.ConnID, r.ConnType, r.Description, r.Host, r.Login, r.Password, r.Schema, r.Extra} {
		for _, secret := range []string{"hunter2", "PK-SECRET", "/k"} {
			if strings.Contains(field, secret) {
				t.Errorf("record field %q contains %q", field, secret)
			}
		}
	}
	if !tokenPattern.MatchString(r.Password) || !tokenPattern.MatchString(r.Extra) {
		t.Errorf("record secrets are not v1 tokens: %q, %q", r.Password, r.Extra)
	}
	back, err := Unseal(k, r)
	if err != nil {
		t.Fatal(err)
	}
	if back.ID != c.ID || back.Password != c.Password || back.Extra["private_key"] != "PK-SECRET" ||
		back.Description != "d" || back.Port != 22 || back.Schema != "s" || len(back.Extra) != 2 {
		t.Errorf("Unseal(Seal(c)) = %#v, want %#v", back, c)
	}

	other, err := Seal(k, Connection{ID: "other", Type: "ssh", Password: "x", Extra: map[string]string{"a": "b"}})
	if err != nil {
		t.Fatal(err)
	}
	for name, tampered := range map[string]store.ConnectionRecord{
		"password of another connection": func() store.ConnectionRecord { x := r; x.Password = other.Password; return x }(),
		"extra of another connection":    func() store.ConnectionRecord { x := r; x.Extra = other.Extra; return x }(),
		"password in the extra column":   func() store.ConnectionRecord { x := r; x.Extra = r.Password; return x }(),
		"renamed row":                    func() store.ConnectionRecord { x := r; x.ConnID = "edge2"; return x }(),
		"clear text password":            func() store.ConnectionRecord { x := r; x.Password = "hunter2"; return x }(),
	} {
		if _, err := Unseal(k, tampered); !errors.Is(err, ErrDecrypt) {
			t.Errorf("%s: Unseal = %v, want ErrDecrypt", name, err)
		}
	}

	plain := Connection{ID: "p", Type: "spark", Host: "h"}
	r2, err := Seal(nil, plain)
	if err != nil || r2.Password != "" || r2.Extra != "" {
		t.Errorf("Seal without secrets or keys = %+v, %v", r2, err)
	}
	if back, err := Unseal(nil, r2); err != nil || back.Host != "h" {
		t.Errorf("Unseal without secrets or keys = %+v, %v", back, err)
	}
	if _, err := Seal(nil, c); !errors.Is(err, ErrNoKeyring) {
		t.Errorf("Seal with secrets and no keys: %v", err)
	}
	if _, err := Unseal(nil, r); !errors.Is(err, ErrNoKeyring) {
		t.Errorf("Unseal with secrets and no keys: %v", err)
	}
	if _, err := Seal(k, Connection{ID: "bad id", Type: "ssh"}); err == nil {
		t.Error("Seal accepted an invalid connection")
	}
}

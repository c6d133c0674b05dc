package connection

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Where the secret key comes from.
const (
	// EnvSecretKey holds the current key (base64 of 32 bytes); it wins over
	// the key file.
	EnvSecretKey = "SIROCCO_SECRET_KEY"
	// EnvSecretKeyOld holds previous keys, comma-separated, still accepted
	// for decryption until `connections rotate-key` has run.
	EnvSecretKeyOld = "SIROCCO_SECRET_KEY_OLD"
	// KeyFileName is the key file in $SIROCCO_HOME, used when EnvSecretKey
	// is unset and created on first use.
	KeyFileName = "secret.key"
)

// LoadKeyring returns the keyring from the environment and home: the
// current key from SIROCCO_SECRET_KEY, else from home/secret.key, which is
// generated (mode 0600) when it does not exist; old keys from
// SIROCCO_SECRET_KEY_OLD. generated reports that a new key file was
// written, which the caller should tell the user about: without that file
// the stored secrets cannot be read.
func LoadKeyring(home string) (k *Keyring, generated bool, err error) {
	return loadKeyring(home, os.Getenv)
}

func loadKeyring(home string, getenv func(string) string) (*Keyring, bool, error) {
	var current []byte
	var source string
	generated := false
	if v := strings.TrimSpace(getenv(EnvSecretKey)); v != "" {
		key, err := ParseKey(v)
		if err != nil {
			return nil, false, fmt.Errorf("%s: %w", EnvSecretKey, err)
		}
		current, source = key, "environment variable "+EnvSecretKey
	} else {
		path := filepath.Join(home, KeyFileName)
		key, created, err := readOrCreateKeyFile(path)
		if err != nil {
			return nil, false, err
		}
		current, source, generated = key, "file "+path, created
	}
	var old [][]byte
	for i, v := range strings.Split(getenv(EnvSecretKeyOld), ",") {
		if strings.TrimSpace(v) == "" {
			continue
		}
		key, err := ParseKey(v)
		if err != nil {
			return nil, false, fmt.Errorf("%s, key %d: %w", EnvSecretKeyOld, i+1, err)
		}
		old = append(old, key)
	}
	k, err := NewKeyring(current, old...)
	if err != nil {
		return nil, false, err
	}
	k.source = source
	return k, generated, nil
}

// readOrCreateKeyFile reads the key at path, creating it first if it does
// not exist. A key file others may read or write is refused, as ssh
// refuses such private keys.
func readOrCreateKeyFile(path string) (key []byte, created bool, err error) {
	key, err = readKeyFile(path)
	if !errors.Is(err, fs.ErrNotExist) {
		return key, false, err
	}
	switch err := createKeyFile(path); {
	case err == nil:
		created = true
	case errors.Is(err, fs.ErrExist):
	default:
		return nil, false, err
	}
	// Read back what is there: ours, or the key of a process that won the race.
	key, err = readKeyFile(path)
	return key, created, err
}

func readKeyFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read secret key: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("read secret key: %w", err)
	}
	if perm := st.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("secret key file %s has mode %04o: other users may read it; run chmod 600 %s", path, perm, path)
	}
	data, err := io.ReadAll(io.LimitReader(f, 4096))
	if err != nil {
		return nil, fmt.Errorf("read secret key %s: %w", path, err)
	}
	key, err := ParseKey(string(data))
	if err != nil {
		return nil, fmt.Errorf("secret key file %s: %w", path, err)
	}
	return key, nil
}

// createKeyFile writes a new key to path without ever exposing a partial
// file: the key goes to a private temporary file that is then hard-linked
// into place, which fails with fs.ErrExist if another process got there
// first.
func createKeyFile(path string) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create secret key: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".secret.key-*") // mode 0600
	if err != nil {
		return fmt.Errorf("create secret key: %w", err)
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.WriteString(GenerateKey() + "\n")
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("create secret key %s: %w", path, err)
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return err
		}
		return fmt.Errorf("create secret key %s: %w", path, err)
	}
	return nil
}

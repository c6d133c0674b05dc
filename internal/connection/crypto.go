package connection

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// KeySize is the length of a secret key: AES-256.
const KeySize = 32

// cipherVersion prefixes every ciphertext, so a later format (another
// cipher, a KMS-wrapped key) can be read next to this one.
const cipherVersion = "v1"

// Errors callers may tell apart with errors.Is.
var (
	// ErrUnknownKey: the ciphertext names a key the keyring does not hold,
	// typically after the key changed without SIROCCO_SECRET_KEY_OLD.
	ErrUnknownKey = errors.New("encrypted with a key that is not configured")
	// ErrDecrypt: the ciphertext is malformed or fails authentication (it
	// was altered, or copied from another connection or field).
	ErrDecrypt = errors.New("cannot decrypt")
)

// Keyring holds the current key, which encrypts, and the old keys kept
// only to decrypt values not yet rotated. It is safe for concurrent use.
type Keyring struct {
	current string // key id
	keys    map[string]cipher.AEAD
	source  string
}

// NewKeyring builds a keyring from raw keys of KeySize bytes: current
// encrypts, current and old decrypt.
func NewKeyring(current []byte, old ...[]byte) (*Keyring, error) {
	k := &Keyring{keys: map[string]cipher.AEAD{}}
	for i, key := range append([][]byte{current}, old...) {
		if len(key) != KeySize {
			return nil, fmt.Errorf("secret key %d: %d bytes, want %d", i, len(key), KeySize)
		}
		block, err := aes.NewCipher(key)
		if err != nil {
			return nil, fmt.Errorf("secret key %d: %w", i, err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("secret key %d: %w", i, err)
		}
		id := KeyID(key)
		if i == 0 {
			k.current = id
		}
		k.keys[id] = aead
	}
	return k, nil
}

// KeyID names a key without revealing it: the hex of the first 8 bytes of
// its SHA-256. Ciphertexts carry it so decryption picks the right key.
func KeyID(key []byte) string {
	sum := sha256.Sum256(key)
	return hex.EncodeToString(sum[:8])
}

// GenerateKey returns a new random key in the text form SIROCCO_SECRET_KEY
// and secret.key take (standard base64 of KeySize bytes).
func GenerateKey() string {
	key := make([]byte, KeySize)
	rand.Read(key) // never fails: crypto/rand aborts the program instead
	return base64.StdEncoding.EncodeToString(key)
}

// ParseKey reads a key in text form: base64 (standard or URL alphabet,
// padded or not, as Fernet keys are written) of exactly KeySize bytes.
func ParseKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	for _, enc := range []*base64.Encoding{
		base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding,
	} {
		if b, err := enc.DecodeString(s); err == nil {
			if len(b) != KeySize {
				return nil, fmt.Errorf("key decodes to %d bytes, want %d (generate one with: head -c 32 /dev/urandom | base64)",
					len(b), KeySize)
			}
			return b, nil
		}
	}
	return nil, errors.New("key is not base64 (generate one with: head -c 32 /dev/urandom | base64)")
}

// CurrentID is the id of the key that encrypts.
func (k *Keyring) CurrentID() string { return k.current }

// Source says where the current key came from, for messages.
func (k *Keyring) Source() string { return k.source }

// Encrypt seals plaintext with the current key, binding it to aad (which
// Decrypt must be given again), and returns "v1:<key id>:<base64url>".
func (k *Keyring) Encrypt(plaintext []byte, aad string) string {
	aead := k.keys[k.current]
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plaintext)+aead.Overhead())
	rand.Read(nonce) // never fails: crypto/rand aborts the program instead
	sealed := aead.Seal(nonce, nonce, plaintext, []byte(aad))
	return cipherVersion + ":" + k.current + ":" + base64.RawURLEncoding.EncodeToString(sealed)
}

// Decrypt opens a value made by Encrypt with any key of the keyring. The
// errors wrap ErrUnknownKey or ErrDecrypt and never include the value.
func (k *Keyring) Decrypt(token, aad string) ([]byte, error) {
	id, body, err := splitToken(token)
	if err != nil {
		return nil, err
	}
	aead, ok := k.keys[id]
	if !ok {
		return nil, fmt.Errorf("key %s: %w (the current key is %s; list the old key in SIROCCO_SECRET_KEY_OLD)",
			id, ErrUnknownKey, k.current)
	}
	sealed, err := base64.RawURLEncoding.DecodeString(body)
	if err != nil || len(sealed) < aead.NonceSize()+aead.Overhead() {
		return nil, fmt.Errorf("%w: malformed ciphertext", ErrDecrypt)
	}
	n := aead.NonceSize()
	plain, err := aead.Open(nil, sealed[:n], sealed[n:], []byte(aad))
	if err != nil {
		return nil, fmt.Errorf("%w: authentication failed (the value was altered or belongs to another connection or field)", ErrDecrypt)
	}
	return plain, nil
}

// IsCurrent reports whether token is empty or encrypted with the current
// key, that is, whether rotation can leave it alone.
func (k *Keyring) IsCurrent(token string) bool {
	if token == "" {
		return true
	}
	id, _, err := splitToken(token)
	return err == nil && id == k.current
}

// splitToken returns the key id and the base64 body of a v1 ciphertext.
func splitToken(token string) (id, body string, err error) {
	version, rest, ok := strings.Cut(token, ":")
	if !ok || version != cipherVersion {
		return "", "", fmt.Errorf("%w: not a %s ciphertext (was the value written in clear by another tool?)", ErrDecrypt, cipherVersion)
	}
	id, body, ok = strings.Cut(rest, ":")
	if !ok || len(id) != 16 {
		return "", "", fmt.Errorf("%w: malformed %s ciphertext", ErrDecrypt, cipherVersion)
	}
	return id, body, nil
}

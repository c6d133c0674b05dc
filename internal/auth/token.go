package auth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
)

// TokenPrefix starts every bearer token Sirocco hands out, so secret
// scanners and people recognise one in a log or a repository.
const TokenPrefix = "sirocco_"

// newSecret returns a random secret (32 bytes, base64url) with prefix and
// a short random id to name it.
func newSecret(prefix string) (secret, id string, err error) {
	b := make([]byte, 32+6)
	if _, err := rand.Read(b); err != nil {
		return "", "", fmt.Errorf("random token: %w", err)
	}
	return prefix + base64.RawURLEncoding.EncodeToString(b[:32]), hex.EncodeToString(b[32:]), nil
}

// digest is what the store keeps of a secret: its SHA-256. Secrets carry
// 256 random bits, so a fast hash is enough (nothing to brute-force).
func digest(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// csrfFor derives the CSRF token of a session from its secret: the page
// can read it (cookie sirocco_csrf), the session secret stays HttpOnly, and
// a token planted by another site for another session does not match.
func csrfFor(sessionSecret string) string {
	m := hmac.New(sha256.New, []byte(sessionSecret))
	m.Write([]byte("sirocco csrf v1"))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// sameSecret compares two secrets in constant time over their digests,
// so neither content nor length leaks.
func sameSecret(a, b string) bool {
	x, y := sha256.Sum256([]byte(a)), sha256.Sum256([]byte(b))
	return hmac.Equal(x[:], y[:])
}

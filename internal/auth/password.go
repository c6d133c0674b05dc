package auth

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Passwords are hashed with argon2id (RFC 9106) in the PHC string format,
// $argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>, with OWASP's minimum
// parameters: 19 MiB, two passes, one lane. The parameters travel with each
// hash, so raising them later leaves old hashes verifiable.
const (
	argonMemory  = 19 * 1024 // KiB
	argonTime    = 2
	argonThreads = 1
	argonKeyLen  = 32
	saltLen      = 16
)

// Bounds on the parameters a stored hash may ask for, so a tampered row
// cannot make one login allocate gigabytes or spin for minutes.
const (
	maxArgonMemory  = 1 << 18 // 256 MiB in KiB
	maxArgonTime    = 16
	maxArgonThreads = 16
	maxHashLen      = 128
)

// MinPasswordLength is the shortest password users create or reset-password
// accept.
const MinPasswordLength = 8

// ErrBadHash says a stored password hash is not one this package made.
var ErrBadHash = errors.New("password hash is not an argon2id PHC string")

var b64 = base64.RawStdEncoding

// HashPassword returns the argon2id PHC string of password, salted afresh.
func HashPassword(password string) (string, error) {
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("salt: %w", err)
	}
	key := argon2.IDKey([]byte(password), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// CheckPassword reports whether password matches hash (in constant time
// over the derived keys). A malformed hash is an error wrapping ErrBadHash.
func CheckPassword(hash, password string) (bool, error) {
	p, err := parseHash(hash)
	if err != nil {
		return false, err
	}
	key := argon2.IDKey([]byte(password), p.salt, p.time, p.memory, p.threads, uint32(len(p.key)))
	return subtle.ConstantTimeCompare(key, p.key) == 1, nil
}

type phc struct {
	memory, time uint32
	threads      uint8
	salt, key    []byte
}

// parseHash reads a PHC string strictly: every field present, parameters
// within bounds.
func parseHash(hash string) (phc, error) {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" || parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return phc{}, ErrBadHash
	}
	var p phc
	kvs := strings.Split(parts[3], ",")
	if len(kvs) != 3 {
		return phc{}, fmt.Errorf("%w: parameters %q", ErrBadHash, parts[3])
	}
	for i, kv := range kvs {
		name, val, ok := strings.Cut(kv, "=")
		n, err := strconv.ParseUint(val, 10, 32)
		if !ok || err != nil || n == 0 || name != [...]string{"m", "t", "p"}[i] {
			return phc{}, fmt.Errorf("%w: parameter %q", ErrBadHash, kv)
		}
		switch name {
		case "m":
			p.memory = uint32(n)
		case "t":
			p.time = uint32(n)
		case "p":
			if n > maxArgonThreads {
				return phc{}, fmt.Errorf("%w: %d lanes", ErrBadHash, n)
			}
			p.threads = uint8(n)
		}
	}
	if p.memory == 0 || p.time == 0 || p.threads == 0 || p.memory > maxArgonMemory || p.time > maxArgonTime ||
		p.memory < 8*uint32(p.threads) {
		return phc{}, fmt.Errorf("%w: parameters %s out of bounds", ErrBadHash, parts[3])
	}
	var err error
	if p.salt, err = b64.DecodeString(parts[4]); err != nil || len(p.salt) < 8 || len(p.salt) > maxHashLen {
		return phc{}, fmt.Errorf("%w: salt", ErrBadHash)
	}
	if p.key, err = b64.DecodeString(parts[5]); err != nil || len(p.key) < 16 || len(p.key) > maxHashLen {
		return phc{}, fmt.Errorf("%w: key", ErrBadHash)
	}
	return p, nil
}

// passwordAlphabet leaves out look-alikes (0/O, 1/l/I) so a printed
// password can be typed.
const passwordAlphabet = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"

// GeneratePassword returns a random password of 20 characters (about 116
// bits), for the first admin and users created without one.
func GeneratePassword() string {
	out := make([]byte, 20)
	for i := range out {
		out[i] = passwordAlphabet[randIndex(len(passwordAlphabet))]
	}
	return string(out)
}

// randIndex returns a uniform random int in [0, n) from crypto/rand.
func randIndex(n int) int {
	var b [1]byte
	limit := 256 - 256%n
	for {
		if _, err := rand.Read(b[:]); err != nil {
			panic(fmt.Sprintf("crypto/rand: %v", err)) // never fails on supported platforms
		}
		if int(b[0]) < limit {
			return int(b[0]) % n
		}
	}
}

// CheckNewPassword says what is wrong with a password a user chose.
func CheckNewPassword(password string) error {
	if len([]rune(password)) < MinPasswordLength {
		return fmt.Errorf("password: at least %d characters, got %d", MinPasswordLength, len([]rune(password)))
	}
	if strings.TrimSpace(password) != password {
		return errors.New("password: leading or trailing whitespace is not allowed (a pasted newline?)")
	}
	return nil
}

package auth

import (
	"errors"
	"testing"
)

// FuzzParseHash reads arbitrary stored password hashes: a malformed one is
// ErrBadHash, never a panic, and an accepted one asks for parameters within
// the bounds (so a tampered row cannot make a login allocate gigabytes).
func FuzzParseHash(f *testing.F) {
	good, _ := HashPassword("correct horse")
	for _, seed := range []string{good, "", "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
		"$argon2id$v=19$m=4294967295,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA", "$argon2id$v=19$m=19456,t=2,p=1,x=1$$",
		"$argon2id$v=19$m=19456,t=2,p=0$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA", "$$$$$"} {
		f.Add(seed, "correct horse")
	}
	f.Fuzz(func(t *testing.T, hash, password string) {
		p, err := parseHash(hash)
		if err != nil {
			if !errors.Is(err, ErrBadHash) {
				t.Fatalf("parseHash(%q) = %v, not ErrBadHash", hash, err)
			}
			return
		}
		if p.memory > maxArgonMemory || p.time > maxArgonTime || p.threads == 0 || p.threads > maxArgonThreads ||
			len(p.salt) < 8 || len(p.key) < 16 || len(p.key) > maxHashLen {
			t.Fatalf("parseHash(%q) accepted %+v", hash, p)
		}
		if p.memory <= 256 && p.time <= 2 { // cheap enough to run the KDF here
			if _, err := CheckPassword(hash, password); err != nil {
				t.Fatalf("CheckPassword(%q) after a clean parse: %v", hash, err)
			}
		}
	})
}

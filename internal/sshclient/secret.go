package sshclient

import (
	"fmt"
	"io"
	"log/slog"
)

// Secret is a private key, passphrase or password. It prints, formats,
// logs and marshals as "***" (or "" when empty), whatever the verb, so a
// Settings value dumped into an error or a log line cannot leak it; only
// Reveal gives the value, at the one place that hands it to the SSH
// library.
type Secret string

const masked = "***"

func (s Secret) shown() string {
	if s == "" {
		return ""
	}
	return masked
}

// String hides the value.
func (s Secret) String() string { return s.shown() }

// GoString hides the value from %#v.
func (s Secret) GoString() string { return fmt.Sprintf("%q", s.shown()) }

// Format hides the value from every fmt verb, %x and %d included.
func (s Secret) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, s.shown()) }

// LogValue hides the value from log/slog.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.shown()) }

// MarshalText hides the value from encoding/json and friends.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.shown()), nil }

// Reveal returns the secret itself.
func (s Secret) Reveal() string { return string(s) }

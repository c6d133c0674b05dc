package sshclient

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// HostKeyPin is one host key a connection accepts (its host_key extra):
// a whole public key, or only its SHA256 fingerprint.
type HostKeyPin struct {
	Key         ssh.PublicKey // nil for a fingerprint pin
	Fingerprint string        // SHA256:... (of Key, when there is one)
}

// String shows the pin as type and fingerprint.
func (p HostKeyPin) String() string {
	if p.Key != nil {
		return p.Key.Type() + " " + p.Fingerprint
	}
	return p.Fingerprint
}

// Matches reports whether the server's key k is the pinned one.
func (p HostKeyPin) Matches(k ssh.PublicKey) bool {
	if p.Key != nil {
		return bytes.Equal(p.Key.Marshal(), k.Marshal())
	}
	return ssh.FingerprintSHA256(k) == p.Fingerprint
}

// ParseHostKeyPins reads a host_key extra: one pin per line, each an
// authorized_keys line ("ssh-ed25519 AAAA... comment"), a known_hosts line,
// a bare base64 key (as Airflow takes it), or a fingerprint as ssh-keygen
// -l prints it ("SHA256:...").
func ParseHostKeyPins(v string) ([]HostKeyPin, error) {
	var pins []HostKeyPin
	for i, line := range strings.Split(v, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		p, err := parsePin(line)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", i+1, err)
		}
		pins = append(pins, p)
	}
	if len(pins) == 0 {
		return nil, errors.New("no key in it")
	}
	return pins, nil
}

func parsePin(line string) (HostKeyPin, error) {
	if fp, ok := strings.CutPrefix(line, "SHA256:"); ok {
		b, err := base64.RawStdEncoding.DecodeString(strings.TrimRight(fp, "="))
		if err != nil || len(b) != 32 {
			return HostKeyPin{}, fmt.Errorf("%q is not a SHA256 fingerprint (SHA256: and 43 base64 characters, as ssh-keygen -l prints)", line)
		}
		return HostKeyPin{Fingerprint: "SHA256:" + base64.RawStdEncoding.EncodeToString(b)}, nil
	}
	if k, _, _, _, err := ssh.ParseAuthorizedKey([]byte(line)); err == nil {
		return pinOf(k), nil
	}
	if marker, _, k, _, _, err := ssh.ParseKnownHosts([]byte(line)); err == nil {
		if marker != "" {
			// @revoked says "never trust this key"; @cert-authority names a
			// CA, not the host's key: neither may become a pin.
			return HostKeyPin{}, fmt.Errorf("a known_hosts line marked @%s is not a host key to pin", marker)
		}
		return pinOf(k), nil
	}
	if b, err := base64.StdEncoding.DecodeString(line); err == nil {
		if k, err := ssh.ParsePublicKey(b); err == nil {
			return pinOf(k), nil
		}
	}
	return HostKeyPin{}, errors.New("expected a public key (ssh-ed25519 AAAA...), a known_hosts line, " +
		"a base64 key, or a SHA256: fingerprint")
}

func pinOf(k ssh.PublicKey) HostKeyPin {
	return HostKeyPin{Key: k, Fingerprint: ssh.FingerprintSHA256(k)}
}

// HostKeyError is a server whose host key is not trusted: unknown to the
// known_hosts files, different from the known or pinned key, or revoked.
// It carries the offered key, so that a caller which asked the user (such
// as `connections test --accept-host-key`) can trust it with
// AppendKnownHost.
type HostKeyError struct {
	ConnID  string
	Addr    string        // host:port as dialed
	Key     ssh.PublicKey // what the server offered
	Known   []string      // the keys that were expected, each with where it came from
	Revoked bool
	Files   []string // the known_hosts files consulted (none when pinned)
}

// Fingerprint is the offered key's SHA256 fingerprint.
func (e *HostKeyError) Fingerprint() string { return ssh.FingerprintSHA256(e.Key) }

// KnownHostsLine is the line that trusts the offered key in a known_hosts
// file.
func (e *HostKeyError) KnownHostsLine() string {
	return knownhosts.Line([]string{knownhosts.Normalize(e.Addr)}, e.Key)
}

func (e *HostKeyError) Error() string {
	offered := fmt.Sprintf("%s %s", e.Key.Type(), e.Fingerprint())
	switch {
	case e.Revoked:
		return fmt.Sprintf("ssh connection %s: host %s offered the revoked host key %s", e.ConnID, e.Addr, offered)
	case len(e.Known) > 0:
		return fmt.Sprintf("ssh connection %s: HOST KEY MISMATCH for %s: the server offered %s but %s is expected "+
			"(someone may be intercepting the connection, or the host was reinstalled); nothing was run. "+
			"If the new key is genuine, replace the old entry in known_hosts or host_key", e.ConnID, e.Addr, offered,
			strings.Join(e.Known, ", "))
	}
	return fmt.Sprintf("ssh connection %s: host %s is not known (it offered %s; known_hosts files: %s); nothing was run. "+
		"To trust it after checking the fingerprint: add the line %q to %s, or set the connection's host_key to %q, "+
		"or run `sirocco connections test %s --accept-host-key`", e.ConnID, e.Addr, offered, strings.Join(e.Files, ", "),
		e.KnownHostsLine(), firstOr(e.Files, "~/.ssh/known_hosts"), e.Fingerprint(), e.ConnID)
}

func firstOr(list []string, def string) string {
	if len(list) > 0 {
		return list[0]
	}
	return def
}

// AppendKnownHost trusts key for addr (host:port) by appending a
// known_hosts line to path, creating the file (0600) and its directory
// (0700) when missing. Sirocco writes known_hosts only through this, when
// the user asks.
func AppendKnownHost(path, addr string, key ssh.PublicKey) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("known_hosts %s: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("known_hosts %s: %w", path, err)
	}
	line := knownhosts.Line([]string{knownhosts.Normalize(addr)}, key) + "\n"
	if st, err := f.Stat(); err == nil && st.Size() > 0 {
		// Start on a line of our own if the file lacks a final newline.
		if b, err := os.ReadFile(path); err == nil && len(b) > 0 && b[len(b)-1] != '\n' {
			line = "\n" + line
		}
	}
	_, err = f.WriteString(line)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("known_hosts %s: %w", path, err)
	}
	return nil
}

// hostKeyCheck is the host key policy of one dial: the callback for the
// SSH library, the key algorithms to ask for, and what the server offered.
type hostKeyCheck struct {
	s        *Settings
	log      *slog.Logger
	known    ssh.HostKeyCallback // nil unless known_hosts decides
	files    []string            // known_hosts files that exist
	algos    []string
	verified bool          // the callback accepted the server's key
	failed   *HostKeyError // the callback refused it
}

// newHostKeyCheck builds the policy of s. Missing known_hosts files count
// as empty; a malformed one is an error.
func newHostKeyCheck(s *Settings, log *slog.Logger) (*hostKeyCheck, error) {
	h := &hostKeyCheck{s: s, log: log}
	switch {
	case s.InsecureSkipHostKey:
	case len(s.HostKeys) > 0:
		for _, p := range s.HostKeys {
			if p.Key == nil {
				h.algos = nil // a fingerprint does not say its type: let the server choose
				break
			}
			h.algos = append(h.algos, algorithmsFor(p.Key.Type())...)
		}
	default:
		for _, f := range s.KnownHosts {
			if _, err := os.Stat(f); err == nil {
				h.files = append(h.files, f)
			} else if !errors.Is(err, fs.ErrNotExist) {
				return nil, fmt.Errorf("known_hosts %s: %w", f, err)
			}
		}
		known, err := knownhosts.New(h.files...)
		if err != nil {
			return nil, err // knownhosts names the file and line
		}
		h.known = known
		h.algos = h.knownAlgorithms()
	}
	return h, nil
}

// knownAlgorithms asks the known_hosts files which key types they hold for
// the host, so the server is asked for a key that can match, as OpenSSH
// does: a server with an RSA and an ed25519 key, known by its ed25519 key,
// must not be allowed to present the RSA one.
func (h *hostKeyCheck) knownAlgorithms() []string {
	probe, _ := ssh.NewPublicKey(ed25519.PublicKey(make([]byte, ed25519.PublicKeySize)))
	var ke *knownhosts.KeyError
	if err := h.known(h.s.Addr(), &net.TCPAddr{}, probe); !errors.As(err, &ke) {
		return nil
	}
	var algos []string
	for _, k := range ke.Want {
		for _, a := range algorithmsFor(k.Key.Type()) {
			if !slices.Contains(algos, a) {
				algos = append(algos, a)
			}
		}
	}
	return algos
}

// algorithmsFor lists the signature algorithms a key of type t can make.
func algorithmsFor(t string) []string {
	if t == ssh.KeyAlgoRSA {
		return []string{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA}
	}
	return []string{t}
}

// callback checks the server's key against the policy.
func (h *hostKeyCheck) callback(addr string, remote net.Addr, key ssh.PublicKey) error {
	err := h.check(addr, remote, key)
	var hke *HostKeyError
	if errors.As(err, &hke) {
		h.failed = hke
	}
	return err
}

func (h *hostKeyCheck) check(addr string, remote net.Addr, key ssh.PublicKey) error {
	fail := &HostKeyError{ConnID: h.s.ConnID, Addr: h.s.Addr(), Key: key}
	switch {
	case h.s.InsecureSkipHostKey:
		h.verified = true
		return nil
	case len(h.s.HostKeys) > 0:
		for _, p := range h.s.HostKeys {
			if p.Matches(key) {
				h.verified = true
				return nil
			}
			fail.Known = append(fail.Known, p.String()+" (host_key)")
		}
		return fail
	}
	err := h.known(addr, remote, key)
	if err == nil {
		h.verified = true
		return nil
	}
	fail.Files = h.s.KnownHosts
	var ke *knownhosts.KeyError
	var re *knownhosts.RevokedError
	switch {
	case errors.As(err, &ke):
		for _, k := range ke.Want {
			fail.Known = append(fail.Known, fmt.Sprintf("%s %s (%s:%d)", k.Key.Type(), ssh.FingerprintSHA256(k.Key), k.Filename, k.Line))
		}
	case errors.As(err, &re):
		fail.Revoked = true
	default:
		return err
	}
	return fail
}

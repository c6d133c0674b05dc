package preflight_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sirocco-dev/sirocco/internal/connection"
	"github.com/sirocco-dev/sirocco/internal/preflight"
	"github.com/sirocco-dev/sirocco/internal/store"
	"github.com/sirocco-dev/sirocco/internal/testenv"
	"golang.org/x/crypto/ssh"
)

// TestSSHLogin checks real logins on a real sshd: every step passes with
// a known host; an unknown host fails at the host key naming the offered
// fingerprint, and nothing after it runs; --accept-host-key records it and
// passes (and never accepts a changed key); a key the server refuses fails
// at auth; a bastion named by a connection id is crossed, each hop
// verified.
func TestSSHLogin(t *testing.T) {
	srv := testenv.SSHD(t)
	bastion := testenv.SSHD(t, testenv.SSHDBastion())
	conns := map[string]connection.Connection{}
	ck := &preflight.Checker{Lookup: func(_ context.Context, id string) (connection.Connection, error) {
		c, ok := conns[id]
		if !ok {
			return c, fmt.Errorf("connection %q: %w", id, store.ErrNotFound)
		}
		return c, nil
	}}
	conn := func(s *testenv.SSHServer, id, knownHosts string, extra ...string) connection.Connection {
		ex := map[string]string{"key_file": s.KeyFile, "known_hosts": knownHosts, "use_agent": "false", "look_for_keys": "false"}
		for i := 0; i+1 < len(extra); i += 2 {
			ex[extra[i]] = extra[i+1]
		}
		c := connection.Connection{ID: id, Type: "ssh", Host: s.Host, Port: s.Port, Login: s.User, Extra: ex}
		conns[id] = c
		return c
	}
	const all = "dns=ok tcp=ok ssh banner=ok ssh handshake=ok ssh host key=ok ssh auth=ok ssh run true=ok"

	if r := ck.Check(t.Context(), conn(srv, "edge", srv.KnownHostsFile)); steps(r) != all || !r.OK() {
		t.Errorf("known host: %s\n%s", steps(r), r.Text())
	}

	fresh := filepath.Join(t.TempDir(), "known_hosts")
	if err := os.WriteFile(fresh, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	unknown := conn(srv, "edge2", fresh)
	r := ck.Check(t.Context(), unknown)
	hk := step(t, r, preflight.StepSSHHostKey)
	if got := steps(r); got != "dns=ok tcp=ok ssh banner=ok ssh handshake=ok ssh host key=failed ssh auth=skipped ssh run true=skipped" ||
		!strings.Contains(hk.Detail, "is not known") || !strings.Contains(hk.Detail, "SHA256:") {
		t.Errorf("unknown host: %s: %s\n%s", got, hk.Detail, r.Text())
	}
	if b, _ := os.ReadFile(fresh); len(b) != 0 {
		t.Errorf("known_hosts written without --accept-host-key: %q", b)
	}
	accept := *ck
	accept.AcceptHostKey = true
	r = accept.Check(t.Context(), unknown)
	if hk := step(t, r, preflight.StepSSHHostKey); steps(r) != all || !strings.Contains(hk.Detail, "recorded in "+fresh) {
		t.Errorf("--accept-host-key: %s: %s\n%s", steps(r), hk.Detail, r.Text())
	}
	if r := ck.Check(t.Context(), unknown); steps(r) != all {
		t.Errorf("after --accept-host-key: %s\n%s", steps(r), r.Text())
	}

	// A changed key (another server's, recorded for this address) is never accepted.
	other := testenv.SSHD(t)
	changed := filepath.Join(t.TempDir(), "known_hosts")
	line := strings.Replace(other.KnownHosts, fmt.Sprintf("[%s]:%d", other.Host, other.Port), fmt.Sprintf("[%s]:%d", srv.Host, srv.Port), 1)
	if err := os.WriteFile(changed, []byte(line+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r = accept.Check(t.Context(), conn(srv, "edge3", changed))
	if hk := step(t, r, preflight.StepSSHHostKey); hk.Outcome != preflight.Failed || !strings.Contains(hk.Detail, "MISMATCH") {
		t.Errorf("changed key with --accept-host-key: %s: %s\n%s", steps(r), hk.Detail, r.Text())
	}

	badKey := filepath.Join(t.TempDir(), "id")
	if err := os.WriteFile(badKey, unauthorizedKey(t), 0o600); err != nil {
		t.Fatal(err)
	}
	r = ck.Check(t.Context(), conn(srv, "edge4", srv.KnownHostsFile, "key_file", badKey))
	if got := steps(r); got != "dns=ok tcp=ok ssh banner=ok ssh handshake=ok ssh host key=ok ssh auth=failed ssh run true=skipped" {
		t.Errorf("refused key: %s\n%s", got, r.Text())
	}

	// Through a bastion: both hosts' keys in one known_hosts file.
	both := filepath.Join(t.TempDir(), "known_hosts")
	if err := os.WriteFile(both, []byte(srv.KnownHosts+"\n"+bastion.KnownHosts+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	conn(bastion, "jump", both)
	r = ck.Check(t.Context(), conn(srv, "behind", both, "proxy_jump", "jump"))
	if s := step(t, r, preflight.StepSSHBanner); steps(r) != all || !strings.Contains(s.Target, "bastion jump") {
		t.Errorf("through the bastion: %s\n%s", steps(r), r.Text())
	}
}

// unauthorizedKey is a fresh private key no server authorizes.
func unauthorizedKey(t *testing.T) []byte {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(block)
}

// TestSSHLoginAcceptsBastionKeyInItsOwnFile: with --accept-host-key, a
// bastion connection with a known_hosts file of its own gets its new key
// recorded there (the file its hop consults), and the target's key in the
// target's file; neither file gets the other's key.
func TestSSHLoginAcceptsBastionKeyInItsOwnFile(t *testing.T) {
	srv := testenv.SSHD(t)
	bastion := testenv.SSHD(t, testenv.SSHDBastion())
	dir := t.TempDir()
	targetKH, bastionKH := filepath.Join(dir, "target_known_hosts"), filepath.Join(dir, "bastion_known_hosts")
	conns := map[string]connection.Connection{}
	add := func(s *testenv.SSHServer, id, knownHosts string, extra ...string) connection.Connection {
		ex := map[string]string{"key_file": s.KeyFile, "known_hosts": knownHosts, "use_agent": "false", "look_for_keys": "false"}
		for i := 0; i+1 < len(extra); i += 2 {
			ex[extra[i]] = extra[i+1]
		}
		c := connection.Connection{ID: id, Type: "ssh", Host: s.Host, Port: s.Port, Login: s.User, Extra: ex}
		conns[id] = c
		return c
	}
	add(bastion, "jump", bastionKH)
	target := add(srv, "behind", targetKH, "proxy_jump", "jump")
	ck := &preflight.Checker{AcceptHostKey: true, Lookup: func(_ context.Context, id string) (connection.Connection, error) {
		c, ok := conns[id]
		if !ok {
			return c, fmt.Errorf("connection %q: %w", id, store.ErrNotFound)
		}
		return c, nil
	}}
	const all = "dns=ok tcp=ok ssh banner=ok ssh handshake=ok ssh host key=ok ssh auth=ok ssh run true=ok"
	if r := ck.Check(t.Context(), target); steps(r) != all {
		t.Fatalf("--accept-host-key through a bastion: %s\n%s", steps(r), r.Text())
	}
	tb, _ := os.ReadFile(targetKH)
	bb, _ := os.ReadFile(bastionKH)
	bastionAddr := fmt.Sprintf("[%s]:%d", bastion.Host, bastion.Port)
	targetAddr := fmt.Sprintf("[%s]:%d", srv.Host, srv.Port)
	if strings.Count(string(bb), "\n") != 1 || !strings.HasPrefix(string(bb), bastionAddr+" ") {
		t.Errorf("bastion's known_hosts %s holds %q, want the bastion's key only", bastionKH, bb)
	}
	if strings.Count(string(tb), "\n") != 1 || !strings.HasPrefix(string(tb), targetAddr+" ") {
		t.Errorf("target's known_hosts %s holds %q, want the target's key only", targetKH, tb)
	}
}

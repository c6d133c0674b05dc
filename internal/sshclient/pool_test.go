package sshclient

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/testenv"
)

// syncLog is a logger whose output the test reads.
func syncLog() (*slog.Logger, *testenv.SyncBuffer) {
	var b testenv.SyncBuffer
	return slog.New(slog.NewTextHandler(&b, nil)), &b
}

func poolRun(t *testing.T, p *Pool, s *Settings, cmd string) string {
	t.Helper()
	var out bytes.Buffer
	code, err := p.Run(t.Context(), s, cmd, &out, nil)
	if err != nil || code != 0 {
		t.Fatalf("run %q: exit %d, %v", cmd, code, err)
	}
	return strings.TrimSpace(out.String())
}

// TestPoolReusesOneHandshake: N commands, sequential and concurrent, make
// one login; after the server restarts the pool dials again by itself.
func TestPoolReusesOneHandshake(t *testing.T) {
	srv := testenv.SSHD(t)
	s := settingsOf(t, connTo(srv, "edge", map[string]string{"key_file": srv.KeyFile}))
	p := NewPool(PoolOptions{})
	defer p.Close()
	for i := range 5 {
		if got := poolRun(t, p, s, "echo "+string(rune('a'+i))); got != string(rune('a'+i)) {
			t.Fatalf("got %q", got)
		}
	}
	var wg sync.WaitGroup
	for range 5 {
		wg.Go(func() {
			if _, err := p.Run(t.Context(), s, "true", nil, nil); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n, d := srv.Logins(), p.Stats().Dials; n != 1 || d != 1 {
		t.Fatalf("10 commands made %d logins, %d dials; want 1", n, d)
	}

	// A restarted server breaks the pooled connection: the next command
	// is sent over a new one, without an error.
	srv.Stop()
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	if got := poolRun(t, p, s, "echo again"); got != "again" {
		t.Fatalf("after restart: %q", got)
	}
	if d := p.Stats().Dials; d != 2 {
		t.Errorf("dials after restart = %d, want 2", d)
	}

	// Edited settings get a new connection.
	s2 := settingsOf(t, connTo(srv, "edge", map[string]string{"key_file": srv.KeyFile, "connect_timeout": "9"}))
	poolRun(t, p, s2, "true")
	if st := p.Stats(); st.Dials != 3 || st.Open != 1 {
		t.Errorf("after an edit: %+v, want 3 dials and 1 open", st)
	}
}

// TestPoolBeyondMaxSessions: sshd allows 10 sessions per connection (its
// MaxSessions default); more concurrent commands get a second connection
// instead of an error.
func TestPoolBeyondMaxSessions(t *testing.T) {
	srv := testenv.SSHD(t)
	s := settingsOf(t, connTo(srv, "edge", map[string]string{"key_file": srv.KeyFile}))
	p := NewPool(PoolOptions{})
	defer p.Close()
	var sessions []*Session
	defer func() {
		for _, sess := range sessions {
			sess.Close()
		}
	}()
	for i := range 12 {
		sess, err := p.Session(t.Context(), s)
		if err != nil {
			t.Fatalf("session %d: %v", i+1, err)
		}
		sessions = append(sessions, sess)
	}
	if d := p.Stats().Dials; d != 2 {
		t.Errorf("12 sessions made %d dials, want 2", d)
	}
}

func TestPoolClosesIdleConnections(t *testing.T) {
	srv := testenv.SSHD(t)
	s := settingsOf(t, connTo(srv, "edge", map[string]string{"key_file": srv.KeyFile}))
	p := NewPool(PoolOptions{IdleTimeout: 50 * time.Millisecond})
	defer p.Close()
	sess, err := p.Session(t.Context(), s)
	if err != nil {
		t.Fatal(err)
	}
	p.mu.Lock()
	var c *Client
	for _, e := range p.entries {
		c = e.c
	}
	p.mu.Unlock()
	sess.Close()
	select {
	case <-c.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("idle connection not closed")
	}
	if st := p.Stats(); st.Open != 0 {
		t.Errorf("open after idle: %+v", st)
	}
}

// TestInsecureWarnsOnEveryUse: each command over a connection that skips
// host key checks logs the warning, pooled or not.
func TestInsecureWarnsOnEveryUse(t *testing.T) {
	srv := testenv.SSHD(t)
	for _, key := range []string{"insecure_skip_host_key", "no_host_key_check"} {
		log, buf := syncLog()
		s := settingsOf(t, connTo(srv, "edge", map[string]string{"key_file": srv.KeyFile, key: "true", "known_hosts": ""}))
		p := NewPool(PoolOptions{Logger: log})
		for range 3 {
			poolRun(t, p, s, "true")
		}
		p.Close()
		c, err := Dial(t.Context(), s, log)
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
		if n := strings.Count(buf.String(), "host key NOT verified"); n != 4 {
			t.Errorf("%s: %d warnings for 4 uses:\n%s", key, n, buf.String())
		}
	}
}

func TestBastion(t *testing.T) {
	target := testenv.SSHD(t)
	bastion := testenv.SSHD(t, testenv.SSHDBastion())
	bastionConn := connTo(bastion, "bastion", map[string]string{"key_file": bastion.KeyFile})

	t.Run("connection id", func(t *testing.T) {
		edge := connTo(target, "edge", map[string]string{"key_file": target.KeyFile, "proxy_jump": "bastion"})
		s, err := Resolve(t.Context(), lookupIn(edge, bastionConn), "edge", isolatedEnv(t))
		if err != nil {
			t.Fatal(err)
		}
		before, beforeTarget := bastion.Logins(), target.Logins()
		mustRun(t, s, "echo via", "via")
		if bastion.Logins() != before+1 || target.Logins() != beforeTarget+1 {
			t.Errorf("logins: bastion %d→%d, target %d→%d", before, bastion.Logins(), beforeTarget, target.Logins())
		}
	})

	t.Run("user@host:port", func(t *testing.T) {
		// The address form uses the target's keys and known_hosts file,
		// which must then know both hosts.
		kh := t.TempDir() + "/known_hosts"
		writeTestFile(t, kh, target.KnownHosts+bastion.KnownHosts)
		edge := connTo(target, "edge", map[string]string{"key_file": target.KeyFile, "known_hosts": kh,
			"proxy_jump": bastion.User + "@" + bastion.Addr()})
		s, err := Resolve(t.Context(), lookupIn(edge), "edge", isolatedEnv(t))
		if err != nil {
			t.Fatal(err)
		}
		mustRun(t, s, "echo via address", "via address")
	})

	t.Run("target key verified through the bastion", func(t *testing.T) {
		edge := connTo(target, "edge", map[string]string{"key_file": target.KeyFile, "proxy_jump": "bastion",
			"known_hosts": t.TempDir() + "/none"})
		s, err := Resolve(t.Context(), lookupIn(edge, bastionConn), "edge", isolatedEnv(t))
		if err != nil {
			t.Fatal(err)
		}
		_, _, err = runOnce(t, s, "true")
		wantStage(t, err, StageHostKey, target.Addr(), "is not known")
	})

	t.Run("bastion key verified", func(t *testing.T) {
		badBastion := connTo(bastion, "bastion", map[string]string{"key_file": bastion.KeyFile,
			"host_key": target.HostKey})
		edge := connTo(target, "edge", map[string]string{"key_file": target.KeyFile, "proxy_jump": "bastion"})
		s, err := Resolve(t.Context(), lookupIn(edge, badBastion), "edge", isolatedEnv(t))
		if err != nil {
			t.Fatal(err)
		}
		_, _, err = runOnce(t, s, "true")
		wantStage(t, err, StageHostKey, "through proxy_jump bastion", "HOST KEY MISMATCH", bastion.Addr())
	})

	t.Run("a server that does not forward", func(t *testing.T) {
		// The target refuses TCP forwarding: jumping through it fails at
		// the tcp stage of the hop behind it.
		other := testenv.SSHD(t)
		notBastion := connTo(target, "nb", map[string]string{"key_file": target.KeyFile})
		edge := connTo(other, "edge", map[string]string{"key_file": other.KeyFile, "proxy_jump": "nb"})
		s, err := Resolve(t.Context(), lookupIn(edge, notBastion), "edge", isolatedEnv(t))
		if err != nil {
			t.Fatal(err)
		}
		_, _, err = runOnce(t, s, "true")
		wantStage(t, err, StageTCP, other.Addr())
	})

	t.Run("loop", func(t *testing.T) {
		a := connTo(target, "a", map[string]string{"proxy_jump": "b"})
		b := connTo(bastion, "b", map[string]string{"proxy_jump": "a"})
		_, err := Resolve(t.Context(), lookupIn(a, b), "a", isolatedEnv(t))
		if err == nil || !strings.Contains(err.Error(), "proxy_jump loop: a -> b -> a") {
			t.Errorf("loop: %v", err)
		}
	})
}

// TestKeepaliveDetectsDeadServer: a frozen server (connection up, nothing
// answering) is detected by keepalives; the client closes and a command
// waiting on it fails instead of hanging.
func TestKeepaliveDetectsDeadServer(t *testing.T) {
	srv := testenv.SSHD(t)
	s := settingsOf(t, connTo(srv, "edge", map[string]string{"key_file": srv.KeyFile,
		"keepalive_interval": "100ms", "keepalive_count_max": "2"}))
	c, err := Dial(t.Context(), s, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	sess, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	if err := sess.Start("sleep 600"); err != nil {
		t.Fatal(err)
	}
	waited := make(chan error, 1)
	go func() { waited <- sess.Wait() }()
	thaw := srv.Freeze(t)
	defer thaw()
	select {
	case <-c.Done():
	case <-time.After(20 * time.Second):
		t.Fatal("keepalive did not detect the frozen server")
	}
	if err := c.Err(); err == nil || !strings.Contains(err.Error(), "no answer to keepalives") {
		t.Errorf("Err() = %v", err)
	}
	select {
	case err := <-waited:
		if err == nil {
			t.Error("the waiting command succeeded")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the waiting command still hangs")
	}

	// With keepalives off, nothing closes the connection.
	thaw()
	s.KeepaliveInterval = 0
	c2, err := Dial(t.Context(), s, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	srv.Freeze(t)
	select {
	case <-c2.Done():
		t.Fatal("connection closed without keepalives")
	case <-time.After(500 * time.Millisecond):
	}
}

// TestRunStopsOnContext: cancelling the context ends a running command's
// session and returns the context's error.
func TestRunStopsOnContext(t *testing.T) {
	srv := testenv.SSHD(t)
	s := settingsOf(t, connTo(srv, "edge", map[string]string{"key_file": srv.KeyFile}))
	p := NewPool(PoolOptions{})
	defer p.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := p.Run(ctx, s, "sleep 60", nil, nil)
	if err == nil || time.Since(start) > 10*time.Second {
		t.Fatalf("err %v after %s", err, time.Since(start))
	}
	// The connection stays usable.
	if got := poolRun(t, p, s, "echo still"); got != "still" {
		t.Fatalf("got %q", got)
	}
}

func writeTestFile(t *testing.T, path, content string) {
	t.Helper()
	if err := osWriteFile(path, content); err != nil {
		t.Fatal(err)
	}
}

// flushRun is attached state whose Flush runs a command over the pool.
type flushRun struct {
	p   *Pool
	s   *Settings
	out string
	err error
}

func (f *flushRun) Flush(ctx context.Context) error {
	var b bytes.Buffer
	_, f.err = f.p.Run(ctx, f.s, "echo flushed", &b, nil)
	f.out = b.String()
	return f.err
}

// TestPoolAttachFlushesAtClose: Attach makes its value once; Close
// flushes it while the connections still take sessions, then refuses them.
func TestPoolAttachFlushesAtClose(t *testing.T) {
	srv := testenv.SSHD(t)
	s := settingsOf(t, connTo(srv, "edge", map[string]string{"key_file": srv.KeyFile}))
	p := NewPool(PoolOptions{})
	type key struct{}
	made := 0
	mk := func() Flusher { made++; return &flushRun{p: p, s: s} }
	f := p.Attach(key{}, mk).(*flushRun)
	if p.Attach(key{}, mk) != Flusher(f) || made != 1 {
		t.Fatalf("Attach made %d values, want 1 shared", made)
	}
	poolRun(t, p, s, "true")
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if f.err != nil || f.out != "flushed\n" {
		t.Fatalf("the flush at Close ran: %q, %v", f.out, f.err)
	}
	if _, err := p.Run(t.Context(), s, "true", nil, nil); err == nil {
		t.Fatal("a closed pool ran a command")
	}
}

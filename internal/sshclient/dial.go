package sshclient

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
)

// Stage is the step of connecting that failed, for a report such as
// `connections test` to show.
type Stage string

// Stages, in the order a dial goes through them.
const (
	StageConfig    Stage = "config"     // settings or local key files
	StageDNS       Stage = "dns"        // resolving the host name
	StageTCP       Stage = "tcp"        // TCP connect (or the bastion's direct-tcpip channel)
	StageHandshake Stage = "handshake"  // SSH version and key exchange
	StageHostKey   Stage = "host key"   // host key verification
	StageAuth      Stage = "auth"       // logging in
	StageConnected Stage = "connection" // an established connection broke
)

// Error is a failure to reach a server over SSH, naming the connection,
// the address and the stage. When the hop to a bastion failed, the
// target's Error has Via set to its proxy_jump and Stage copied from the
// bastion's own Error, which it wraps (errors.As(e.Err, ...) finds it).
type Error struct {
	ConnID string
	Addr   string
	Stage  Stage
	Via    string // the proxy_jump hop the error happened on, if not the target
	Err    error
}

func (e *Error) Error() string {
	var hke *HostKeyError
	if e.Stage == StageHostKey && errors.As(e.Err, &hke) && e.Via == "" {
		return hke.Error() // complete on its own
	}
	if e.Via != "" {
		return fmt.Sprintf("ssh connection %s: through proxy_jump %s: %v", e.ConnID, e.Via, e.Err)
	}
	return fmt.Sprintf("ssh connection %s: %s %s: %v", e.ConnID, e.Stage, e.Addr, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// Client is one logged-in SSH connection: keepalives running, closed
// with its bastion. Safe for concurrent use.
type Client struct {
	s    *Settings
	ssh  *ssh.Client
	jump *Client // the bastion's client, closed with this one

	done    chan struct{} // closed once the connection has ended
	errOnce sync.Once
	err     error // why it ended
}

// SSH is the underlying client, for channels Client does not wrap
// (port forwards, SFTP).
func (c *Client) SSH() *ssh.Client { return c.ssh }

// Settings are the settings c was dialed with.
func (c *Client) Settings() *Settings { return c.s }

// Done is closed when the connection has ended: closed, broken, or given
// up on because keepalives went unanswered.
func (c *Client) Done() <-chan struct{} { return c.done }

// Err says why the connection ended; nil while it is up.
func (c *Client) Err() error {
	select {
	case <-c.done:
		return c.err
	default:
		return nil
	}
}

// Close ends the connection and its bastion's.
func (c *Client) Close() error {
	c.fail(errors.New("closed"))
	<-c.done
	return nil
}

// fail records why the connection ends (the first reason wins) and closes it.
func (c *Client) fail(err error) {
	c.errOnce.Do(func() {
		c.err = &Error{ConnID: c.s.ConnID, Addr: c.s.Addr(), Stage: StageConnected, Err: err}
		_ = c.ssh.Close()
		if c.jump != nil {
			_ = c.jump.Close()
		}
	})
}

// NewSession opens a session (one command) on the connection.
func (c *Client) NewSession() (*ssh.Session, error) {
	sess, err := c.ssh.NewSession()
	if err != nil {
		if cerr := c.Err(); cerr != nil {
			return nil, cerr
		}
		return nil, &Error{ConnID: c.s.ConnID, Addr: c.s.Addr(), Stage: StageConnected, Err: fmt.Errorf("open session: %w", err)}
	}
	return sess, nil
}

// Run runs the shell command line cmd (build it with Quote) in a new
// session, streaming its output to stdout and stderr (nil discards), and
// returns its exit status; see Session.Run.
func (c *Client) Run(ctx context.Context, cmd string, stdout, stderr io.Writer) (int, error) {
	sess, err := c.NewSession()
	if err != nil {
		return -1, err
	}
	s := &Session{Session: sess, release: func() {}}
	defer s.Close()
	s.Stdout, s.Stderr = stdout, stderr
	return s.Run(ctx, cmd)
}

// Dial connects and logs in to the server of s, through its bastion when
// s.Jump is set, verifying every host key on the way. ConnectTimeout
// bounds each hop from TCP connect to login. log receives warnings (an
// insecure host key policy, an unusable agent); nil discards them.
func Dial(ctx context.Context, s *Settings, log *slog.Logger) (*Client, error) {
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	warnInsecure(s, log)
	return dial(ctx, s, log)
}

// warnInsecure logs, on every use of a connection that skips host key
// checks, that it does.
func warnInsecure(s *Settings, log *slog.Logger) {
	for x := s; x != nil; x = x.Jump {
		if x.InsecureSkipHostKey {
			log.Warn("ssh host key NOT verified: anyone on the network path can impersonate this host; "+
				"set known_hosts or host_key instead of insecure_skip_host_key", "conn_id", x.ConnID, "addr", x.Addr())
		}
	}
}

func dial(ctx context.Context, s *Settings, log *slog.Logger) (*Client, error) {
	var jump *Client
	if s.Jump != nil {
		var err error
		if jump, err = dial(ctx, s.Jump, log); err != nil {
			return nil, &Error{ConnID: s.ConnID, Addr: s.Addr(), Stage: stageOf(err), Via: s.ProxyJump, Err: err}
		}
	}
	c, err := dialVia(ctx, s, jump, log)
	if err != nil && jump != nil {
		_ = jump.Close()
	}
	return c, err
}

// dialVia connects to s directly, or through jump's direct-tcpip channel.
func dialVia(ctx context.Context, s *Settings, jump *Client, log *slog.Logger) (*Client, error) {
	fail := func(stage Stage, err error) error {
		return &Error{ConnID: s.ConnID, Addr: s.Addr(), Stage: stage, Err: err}
	}
	a, err := newAuth(s, log)
	if err != nil {
		return nil, fail(StageConfig, err)
	}
	defer a.close()
	hk, err := newHostKeyCheck(s, log)
	if err != nil {
		return nil, fail(StageConfig, err)
	}
	cfg := &ssh.ClientConfig{
		User: s.User, Auth: a.methods, HostKeyCallback: hk.callback, HostKeyAlgorithms: hk.algos,
		ClientVersion: "SSH-2.0-Sirocco",
	}
	cfg.Ciphers = s.Ciphers

	dctx, cancel := context.WithTimeout(ctx, s.ConnectTimeout)
	defer cancel()
	conn, err := dialTCP(dctx, s, jump)
	if err != nil {
		return nil, fail(tcpStage(err), timeoutErr(ctx, dctx, s, err))
	}
	// The library has no deadline for the handshake: closing the
	// connection when the time is up ends it.
	stop := context.AfterFunc(dctx, func() { _ = conn.Close() })
	cc, chans, reqs, err := ssh.NewClientConn(conn, s.Addr(), cfg)
	if !stop() && err == nil {
		err = errors.New("timed out")
		_ = cc.Close()
	}
	if err != nil {
		_ = conn.Close()
		switch {
		case hk.failed != nil:
			return nil, fail(StageHostKey, hk.failed)
		case !hk.verified:
			return nil, fail(StageHandshake, timeoutErr(ctx, dctx, s, err))
		case strings.Contains(err.Error(), "unable to authenticate"):
			return nil, fail(StageAuth, fmt.Errorf("%s refused the login (offered: %s)", s.User,
				strings.Join(a.offered, ", ")))
		}
		return nil, fail(StageAuth, timeoutErr(ctx, dctx, s, err))
	}
	c := &Client{s: s, ssh: ssh.NewClient(cc, chans, reqs), jump: jump, done: make(chan struct{})}
	go func() {
		err := c.ssh.Wait()
		if err == nil {
			err = io.EOF
		}
		c.fail(fmt.Errorf("connection lost: %w", err))
		close(c.done)
	}()
	if s.KeepaliveInterval > 0 {
		go c.keepalive(s.KeepaliveInterval, s.KeepaliveCountMax)
	}
	return c, nil
}

// dialTCP opens the byte stream to the server: TCP, or a direct-tcpip
// channel of the bastion.
func dialTCP(ctx context.Context, s *Settings, jump *Client) (net.Conn, error) {
	if jump != nil {
		return jump.ssh.DialContext(ctx, "tcp", s.Addr())
	}
	var d net.Dialer
	return d.DialContext(ctx, "tcp", s.Addr())
}

func tcpStage(err error) Stage {
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return StageDNS
	}
	return StageTCP
}

// timeoutErr rewrites an error caused by connect_timeout running out into
// one that says so.
func timeoutErr(parent, dctx context.Context, s *Settings, err error) error {
	if parent.Err() == nil && errors.Is(dctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("no answer within connect_timeout %s: %w", s.ConnectTimeout, err)
	}
	if parent.Err() != nil {
		return fmt.Errorf("%w: %w", parent.Err(), err)
	}
	return err
}

func stageOf(err error) Stage {
	var e *Error
	if errors.As(err, &e) {
		return e.Stage
	}
	return StageConfig
}

// keepalive sends keepalive@openssh.com requests every interval, as
// OpenSSH's ServerAliveInterval; when one goes unanswered for countMax
// intervals the peer is taken for dead and the connection closed, so
// waiting sessions fail instead of hanging.
func (c *Client) keepalive(interval time.Duration, countMax int) {
	t := time.NewTimer(interval)
	defer t.Stop()
	for {
		select {
		case <-c.done:
			return
		case <-t.C:
		}
		reply := make(chan error, 1)
		go func() {
			_, _, err := c.ssh.SendRequest("keepalive@openssh.com", true, nil)
			reply <- err
		}()
		wait := time.NewTimer(interval * time.Duration(countMax))
		select {
		case err := <-reply:
			wait.Stop()
			if err != nil {
				c.fail(fmt.Errorf("keepalive: %w", err))
				return
			}
		case <-wait.C:
			c.fail(fmt.Errorf("no answer to keepalives for %s (keepalive_interval %s × %d): the server is unreachable",
				interval*time.Duration(countMax), interval, countMax))
			return
		case <-c.done:
			wait.Stop()
			return
		}
		t.Reset(interval)
	}
}

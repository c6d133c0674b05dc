package sshclient

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/ssh"
)

// DefaultIdleTimeout is how long a pooled connection with no open session
// stays up.
const DefaultIdleTimeout = 5 * time.Minute

// PoolOptions configure a Pool.
type PoolOptions struct {
	Logger *slog.Logger // warnings; nil discards them
	// IdleTimeout closes a connection no session has used for this long
	// (DefaultIdleTimeout when 0; negative: never).
	IdleTimeout time.Duration
}

// Pool shares SSH connections between tasks: one connection (one
// handshake) per connection id and settings, one session per command. A
// connection found broken is dropped and dialed again, once. Safe for
// concurrent use; concurrent first uses share one dial. A connection that
// refuses another session (sshd's MaxSessions, 10 by default) is taken out
// of the pool, its running sessions left alone, and a new one dialed.
type Pool struct {
	log  *slog.Logger
	idle time.Duration

	mu       sync.Mutex
	entries  map[string]*entry // by pool key
	closed   bool
	attached map[any]Flusher // see Attach, in the order made
	order    []any

	dials atomic.Int64
}

// entry is one pooled connection and its leases (open sessions).
type entry struct {
	key     string
	connID  string
	ready   chan struct{} // closed once the dial has finished
	c       *Client
	err     error
	leases  int
	retired bool // out of the map: close when the last lease ends
	idle    *time.Timer
}

// NewPool returns an empty pool.
func NewPool(opts PoolOptions) *Pool {
	p := &Pool{log: opts.Logger, idle: opts.IdleTimeout, entries: map[string]*entry{}}
	if p.log == nil {
		p.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if p.idle == 0 {
		p.idle = DefaultIdleTimeout
	}
	return p
}

// PoolStats counts what a pool did.
type PoolStats struct {
	Dials int64 // SSH handshakes made (bastion hops not counted)
	Open  int   // connections in the pool
}

// Stats reports the pool's counters.
func (p *Pool) Stats() PoolStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return PoolStats{Dials: p.dials.Load(), Open: len(p.entries)}
}

// ErrPoolClosed is returned by a closed pool.
var ErrPoolClosed = errors.New("ssh connection pool is closed")

// Session opens a session on the pooled connection for s, dialing it
// first if needed. If the pooled connection turns out broken (the server
// restarted, the network dropped), it is dropped and dialed again, once.
// The caller must Close the session. A connection that skips host key
// checks logs its warning on every call.
func (p *Pool) Session(ctx context.Context, s *Settings) (*Session, error) {
	warnInsecure(s, p.log)
	var lastErr error
	for range 2 {
		e, fresh, err := p.acquire(ctx, s)
		if err != nil {
			return nil, err
		}
		sess, err := e.c.NewSession()
		if err == nil {
			var once sync.Once
			return &Session{Session: sess, release: func() { once.Do(func() { p.release(e) }) }}, nil
		}
		p.release(e)
		p.retire(e)
		if fresh {
			return nil, err
		}
		lastErr = err
	}
	return nil, lastErr
}

// Run runs the shell command line cmd (build it with Quote) in a new
// session of the pooled connection, streaming its output to stdout and
// stderr (nil discards), and returns its exit status. See Session.Run.
func (p *Pool) Run(ctx context.Context, s *Settings, cmd string, stdout, stderr io.Writer) (int, error) {
	sess, err := p.Session(ctx, s)
	if err != nil {
		return -1, err
	}
	defer sess.Close()
	sess.Stdout, sess.Stderr = stdout, stderr
	return sess.Run(ctx, cmd)
}

// acquire returns a live pooled client for s with a lease taken, dialing
// it if none is pooled; fresh reports a client dialed by this call.
func (p *Pool) acquire(ctx context.Context, s *Settings) (e *entry, fresh bool, err error) {
	key := s.ConnID + "\x00" + s.fingerprint()
	for attempt := 0; ; attempt++ {
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			return nil, false, ErrPoolClosed
		}
		e = p.entries[key]
		if e != nil && e.c != nil && e.c.Err() != nil {
			p.retireLocked(e) // found dead (keepalive, EOF): dial anew
			e = nil
		}
		fresh = e == nil
		if fresh {
			e = &entry{key: key, connID: s.ConnID, ready: make(chan struct{})}
			p.supersedeLocked(s.ConnID)
			p.entries[key] = e
		}
		e.leases++
		if e.idle != nil {
			e.idle.Stop()
			e.idle = nil
		}
		p.mu.Unlock()

		if fresh {
			p.dial(ctx, s, e)
		}
		select {
		case <-e.ready:
		case <-ctx.Done():
			p.release(e)
			return nil, false, ctx.Err()
		}
		if e.err == nil {
			return e, fresh, nil
		}
		p.release(e)
		// Another caller's dial failed because its own context ended:
		// that says nothing about this caller, who tries once itself.
		if !fresh && attempt == 0 && ctx.Err() == nil && isContextErr(e.err) {
			continue
		}
		return nil, false, e.err
	}
}

func isContextErr(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// dial fills e, removing it from the map when the dial failed.
func (p *Pool) dial(ctx context.Context, s *Settings, e *entry) {
	c, err := dial(ctx, s, p.log)
	p.dials.Add(1)
	p.mu.Lock()
	defer p.mu.Unlock()
	e.c, e.err = c, err
	if err != nil && p.entries[e.key] == e {
		delete(p.entries, e.key)
		e.retired = true
	}
	if err == nil && (p.closed || e.retired) {
		e.retired = true
		if e.leases == 0 {
			go c.Close()
		}
	}
	close(e.ready)
}

// release ends one lease; an idle connection is closed after the idle
// timeout, a retired one at once.
func (p *Pool) release(e *entry) {
	p.mu.Lock()
	defer p.mu.Unlock()
	e.leases--
	if e.leases > 0 || e.c == nil {
		return
	}
	if e.retired {
		go e.c.Close()
		return
	}
	if p.idle > 0 {
		e.idle = time.AfterFunc(p.idle, func() { p.expire(e) })
	}
}

// expire closes e if it is still idle.
func (p *Pool) expire(e *entry) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if e.leases == 0 && !e.retired && p.entries[e.key] == e {
		p.retireLocked(e)
	}
}

// retire takes e out of the pool (it is broken).
func (p *Pool) retire(e *entry) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.retireLocked(e)
}

func (p *Pool) retireLocked(e *entry) {
	if p.entries[e.key] == e {
		delete(p.entries, e.key)
	}
	if e.retired {
		return
	}
	e.retired = true
	if e.leases == 0 && e.c != nil {
		go e.c.Close()
	}
}

// supersedeLocked retires the connections of connID made with other
// settings (the connection was edited): running sessions keep theirs
// until they close.
func (p *Pool) supersedeLocked(connID string) {
	for _, e := range p.entries {
		if e.connID == connID {
			p.retireLocked(e)
		}
	}
}

// Flusher is state a package keeps with a pool (Attach) that has remote
// work left to do over the pool's connections when it closes.
type Flusher interface {
	// Flush does that work now, within ctx; Close calls it while the
	// connections are still open.
	Flush(ctx context.Context) error
}

// attachedFlushTimeout bounds the Flush of what is attached to a pool at
// Close: a shutdown waits at most this long for the remote work left
// (the ssh operator's pending cleanups) before it drops the connections.
const attachedFlushTimeout = 10 * time.Second

// Attach returns the value kept with the pool under key, made by mk on
// the first call: per-process state of a package built on the pool,
// shared by every user of its connections and living as long as they do
// (the ssh operator's pending job cleanups, folded into the next call to
// the same host). Close flushes it first.
func (p *Pool) Attach(key any, mk func() Flusher) Flusher {
	p.mu.Lock()
	defer p.mu.Unlock()
	if v, ok := p.attached[key]; ok {
		return v
	}
	if p.attached == nil {
		p.attached = map[any]Flusher{}
	}
	v := mk()
	p.attached[key] = v
	p.order = append(p.order, key)
	return v
}

// flushAttached flushes what is attached, in the order it was made,
// within attachedFlushTimeout in all; failures go to the pool's log.
func (p *Pool) flushAttached() {
	p.mu.Lock()
	var fs []Flusher
	for _, k := range p.order {
		fs = append(fs, p.attached[k])
	}
	p.mu.Unlock()
	if len(fs) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), attachedFlushTimeout)
	defer cancel()
	for _, f := range fs {
		if err := f.Flush(ctx); err != nil {
			p.log.Warn("remote work left when the ssh pool closed was not finished", "err", err)
		}
	}
}

// Close flushes what is attached (Attach), then closes every pooled
// connection, open sessions included, and makes the pool refuse new ones.
func (p *Pool) Close() error {
	p.flushAttached()
	p.mu.Lock()
	p.closed = true
	var clients []*Client
	for _, e := range p.entries {
		if e.idle != nil {
			e.idle.Stop()
		}
		e.retired = true
		if e.c != nil {
			clients = append(clients, e.c)
		}
	}
	p.entries = map[string]*entry{}
	p.mu.Unlock()
	for _, c := range clients {
		_ = c.Close()
	}
	return nil
}

// Session is one command's channel on a pooled connection: an ssh.Session
// whose Close also hands the connection back to the pool.
type Session struct {
	*ssh.Session
	release func()
}

// Close ends the session and releases its connection.
func (s *Session) Close() error {
	err := s.Session.Close()
	s.release()
	if errors.Is(err, io.EOF) {
		err = nil // already closed by the server at exit
	}
	return err
}

// Run runs the shell command line cmd and returns its exit status
// (128+N when killed by signal N); a non-zero status is not an error. When
// ctx ends first, the command is sent SIGTERM and the session closed
// without waiting, and the error is ctx's. Neither is sure to stop the
// remote process (sshd may refuse signals, and a command that does not
// write never notices its channel closed): work that must be stoppable
// records its pid and is killed explicitly. A connection lost before the
// command reported its status is an error too. Set Stdout and Stderr
// before.
func (s *Session) Run(ctx context.Context, cmd string) (int, error) {
	if err := s.Start(cmd); err != nil {
		return -1, fmt.Errorf("start remote command: %w", err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Wait() }()
	select {
	case err := <-done:
		return exitStatus(err)
	case <-ctx.Done():
		_ = s.Signal(ssh.SIGTERM)
		_ = s.Session.Close()
		return -1, ctx.Err()
	}
}

// exitStatus reads a session's Wait error.
func exitStatus(err error) (int, error) {
	var exit *ssh.ExitError
	var missing *ssh.ExitMissingError
	switch {
	case err == nil:
		return 0, nil
	case errors.As(err, &exit):
		return exit.ExitStatus(), nil
	case errors.As(err, &missing):
		return -1, errors.New("the connection ended before the remote command reported its exit status")
	}
	return -1, fmt.Errorf("remote command: %w", err)
}

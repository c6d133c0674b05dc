package ssh

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/sirocco-dev/sirocco/internal/operator"
	"github.com/sirocco-dev/sirocco/internal/remotejob"
	"github.com/sirocco-dev/sirocco/internal/sshclient"
)

// Reconnecting: the first retry comes quickly (a dropped connection is
// usually dialed again at once), then they back off.
const (
	retryMin = 100 * time.Millisecond
	retryMax = 5 * time.Second
)

// transportError marks a failure of the connection (the script may or
// may not have run), as opposed to an answer of the script: only those
// are worth another try on a new connection.
type transportError struct{ err error }

func (e *transportError) Error() string { return e.err.Error() }
func (e *transportError) Unwrap() error { return e.err }

// fatalError stops retry even around a transport error.
type fatalError struct{ err error }

func (e *fatalError) Error() string { return e.err.Error() }
func (e *fatalError) Unwrap() error { return e.err }

// shell is a remote job's transport (sshclient.Shell, carrying the
// host's pending cleanups: see jobShell) with its failures marked.
type shell struct{ sh remotejob.Shell }

// Run runs script on the host; see sshclient.Shell.Run.
func (s shell) Run(ctx context.Context, script string, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	code, err := s.sh.Run(ctx, script, stdin, stdout, stderr)
	if err != nil && ctx.Err() == nil {
		err = &transportError{err}
	}
	return code, err
}

// retryable reports whether err is a failure of the connection that a new
// connection may not have: not a refused host key or login, nor a closed
// pool, nor an answer of the remote script.
func retryable(err error) bool {
	var fatal *fatalError
	var te *transportError
	if errors.As(err, &fatal) || !errors.As(err, &te) {
		return false
	}
	var hke *sshclient.HostKeyError
	var se *sshclient.Error
	switch {
	case errors.As(err, &hke), errors.Is(err, sshclient.ErrPoolClosed):
		return false
	case errors.As(err, &se):
		return se.Stage != sshclient.StageConfig && se.Stage != sshclient.StageAuth && se.Stage != sshclient.StageHostKey
	}
	return true
}

// dialFailed reports whether err is a failure to reach or log in to the
// host (nothing ran), rather than a connection lost under a command.
func dialFailed(err error) bool {
	var se *sshclient.Error
	return errors.As(err, &se) && se.Stage != sshclient.StageConnected
}

// retry runs op until it succeeds, fails for another reason than the
// connection, or ctx ends; after each lost connection it tells onRetry and
// waits (backing off) before op dials again through the pool.
func retry(ctx context.Context, op func(context.Context) error, onRetry func(error, time.Duration)) error {
	wait := retryMin
	for {
		err := op(ctx)
		if err == nil || ctx.Err() != nil || !retryable(err) {
			return err
		}
		if onRetry != nil {
			onRetry(err, wait)
		}
		if !sleep(ctx, wait) {
			return err
		}
		wait = min(2*wait, retryMax)
	}
}

// sleep waits d, or less if ctx ends (false).
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// connect reads the settings of connection id (environment first, then
// the store, as every operator) and masks their secrets in the try's log.
func connect(ctx context.Context, t *operator.Task, id string) (*sshclient.Settings, error) {
	if t.SSH == nil || t.Connection == nil {
		return nil, errors.New("this process has no ssh connection pool: ssh tasks cannot run here")
	}
	s, err := sshclient.Resolve(ctx, t.Connection, id, sshclient.OSEnv())
	if err != nil {
		return nil, fmt.Errorf("ssh_conn_id %s: %w", id, err)
	}
	if t.Mask != nil {
		for _, secret := range s.Secrets() {
			t.Mask(secret)
		}
	}
	return s, nil
}

// detached reports whether ctx ended because Sirocco is letting go of the
// try (shutdown, adoption) rather than stopping it.
func detached(ctx context.Context) bool {
	return ctx.Err() != nil && errors.Is(context.Cause(ctx), operator.ErrDetach)
}

// workContext is ctx for what must run even when the try is being stopped
// (reach the job and kill it): a fresh context bounded by limit if ctx has
// already ended.
func workContext(ctx context.Context, limit time.Duration) (context.Context, context.CancelFunc) {
	if ctx.Err() == nil {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(context.WithoutCancel(ctx), limit)
}

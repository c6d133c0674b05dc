package ssh

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"github.com/sirocco-dev/sirocco/internal/operator"
	"github.com/sirocco-dev/sirocco/internal/operator/process"
	"github.com/sirocco-dev/sirocco/internal/remotejob"
	"github.com/sirocco-dev/sirocco/internal/sshclient"
)

// uploadScript writes its stdin to a new private file on the host and
// prints the file's name.
const uploadScript = `umask 077 && f=$(mktemp "${TMPDIR:-/tmp}/sirocco-pty.XXXXXXXX") && cat >"$f" && printf '%s\n' "$f"`

// runAttached is get_pty: the command runs in the ssh session itself,
// with a pseudo-terminal, as Airflow's SSHOperator runs it. It is for
// commands that want a terminal (sudo with requiretty, tools that buffer
// without one). There is no detached job: no handle, no reattach after a
// restart, and stdout and stderr arrive merged. The job's script (its
// environment, directory and command) is first copied to a private
// temporary file, which removes itself when it starts, so that neither
// appears in the host's process list. A cancel, a timeout or a lost
// connection hangs the terminal up: the command's foreground processes
// get SIGHUP (what ignores it, or runs in the background, is not
// stopped: use the default detached mode for that).
func runAttached(ctx context.Context, t *operator.Task, c config, s *sshclient.Settings) (operator.Result, error) {
	script, err := remotejob.JobScript(remotejob.Spec{Command: c.command, Env: c.env, Cwd: c.cwd})
	if err != nil {
		return operator.Result{}, err
	}
	fmt.Fprintf(t.Log, "sirocco: %s\n", s)
	fmt.Fprintf(t.Log, "sirocco: get_pty: running the command attached in a pseudo-terminal (no reattach after a restart)\n")
	sh := sshclient.Shell{Pool: t.SSH, Settings: s}
	var path, stderr bytes.Buffer
	body := append([]byte("rm -f -- \"$0\"\n"), script...)
	code, err := sh.Run(ctx, uploadScript, bytes.NewReader(body), &path, &stderr)
	if err != nil {
		return operator.Result{}, fmt.Errorf("copy the command to %s: %w", s.Host, err)
	}
	file := strings.TrimSpace(path.String())
	if code != 0 || file == "" || strings.Contains(file, "\n") {
		return operator.Result{}, fmt.Errorf("copy the command to %s: exit code %d: %s", s.Host, code, strings.TrimSpace(stderr.String()))
	}
	cmd, err := sshclient.Quote([]string{"/bin/sh", file})
	if err != nil {
		return operator.Result{}, err
	}
	fctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	out := &process.LastLine{W: t.Log}
	var w io.Writer = out
	if c.cmdTimeout == nil {
		c.cmdTimeout = &s.CmdTimeout
	}
	if limit := *c.cmdTimeout; limit > 0 {
		idle := time.AfterFunc(limit, func() { cancel(fmt.Errorf("%w: no output for %s", ErrCmdTimeout, limit)) })
		defer idle.Stop()
		w = resetWriter{w: out, reset: func() { idle.Reset(limit) }}
	}
	code, err = runPty(fctx, t, s, cmd, w)
	if fctx.Err() != nil {
		cause := context.Cause(fctx)
		if errors.Is(cause, operator.ErrDetach) {
			// Nothing outlives the session: not a detach (which must not be
			// wrapped), a stop, and the try runs again after the restart.
			return operator.Result{}, fmt.Errorf("terminal session closed (%s): %w", cause.Error(), context.Canceled)
		}
		return operator.Result{}, cause
	}
	if err != nil {
		return operator.Result{}, fmt.Errorf("remote command on %s: %w", s.Host, err)
	}
	j := &job{t: t, c: c, out: out, h: Handle{Host: s.Host}}
	return j.outcome(code)
}

// runPty runs cmd in a new session with a terminal that neither echoes
// nor turns \n into \r\n.
func runPty(ctx context.Context, t *operator.Task, s *sshclient.Settings, cmd string, w io.Writer) (int, error) {
	sess, err := t.SSH.Session(ctx, s)
	if err != nil {
		return -1, err
	}
	defer sess.Close()
	modes := gossh.TerminalModes{gossh.ECHO: 0, gossh.ONLCR: 0, gossh.TTY_OP_ISPEED: 38400, gossh.TTY_OP_OSPEED: 38400}
	if err := sess.RequestPty("xterm", 50, 200, modes); err != nil {
		return -1, fmt.Errorf("request a pseudo-terminal: %w", err)
	}
	sess.Stdout, sess.Stderr = w, w
	return sess.Run(ctx, cmd)
}

// resetWriter calls reset on every write: output arrived.
type resetWriter struct {
	w     io.Writer
	reset func()
}

func (r resetWriter) Write(p []byte) (int, error) {
	r.reset()
	return r.w.Write(p)
}

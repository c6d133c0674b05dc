package sshclient

import (
	"context"
	"io"
)

// Shell runs sh scripts on the host of one ssh connection, over the pool:
// it is how remote jobs (remotejob.Shell) and every operator that works on
// another host reach it, one session per script on a shared connection.
type Shell struct {
	Pool     *Pool
	Settings *Settings
}

// Run runs script with /bin/sh -c on the remote host, whatever the login
// shell of the account, with stdin (nil: empty) as its input, and returns
// its exit status. err is a transport failure, never a non-zero exit.
func (h Shell) Run(ctx context.Context, script string, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	cmd, err := Quote([]string{"/bin/sh", "-c", script})
	if err != nil {
		return -1, err
	}
	sess, err := h.Pool.Session(ctx, h.Settings)
	if err != nil {
		return -1, err
	}
	defer sess.Close()
	sess.Stdin, sess.Stdout, sess.Stderr = stdin, stdout, stderr
	return sess.Run(ctx, "exec "+cmd) // the login shell (csh, fish) steps aside for sh
}

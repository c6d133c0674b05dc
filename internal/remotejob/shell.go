package remotejob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"syscall"
	"time"
)

// Shell runs one POSIX sh script on the job's host: the seam between this
// package and its transport. The ssh client implements it with one session
// per call; Local runs /bin/sh here.
type Shell interface {
	// Run runs script with /bin/sh -c, stdin (nil: empty) as its input, and
	// returns its exit code. err is a transport failure (the connection
	// dropped, ctx ended), never a non-zero exit; after an err the script
	// may or may not have run.
	Run(ctx context.Context, script string, stdin io.Reader, stdout, stderr io.Writer) (exitCode int, err error)
}

// Local runs scripts on this machine: the tests' real shell, and the
// transport for jobs on "localhost" that must outlive Sirocco.
type Local struct{}

// Run runs script with /bin/sh -c in a process group of its own, so a
// cancel also ends what the script waits on (a sleep); jobs the script
// started with setsid live on.
func (Local) Run(ctx context.Context, script string, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", script)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, stdout, stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = time.Second
	err := cmd.Run()
	if ctx.Err() != nil {
		return -1, fmt.Errorf("run /bin/sh: %w", context.Cause(ctx))
	}
	var exit *exec.ExitError
	if errors.As(err, &exit) && exit.Exited() {
		return exit.ExitCode(), nil
	}
	if err != nil {
		return -1, fmt.Errorf("run /bin/sh: %w", err)
	}
	return 0, nil
}

package kubebed

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"time"
)

// stopTimeout is how long a control-plane program gets to exit on SIGTERM
// before it is killed; kube-apiserver drains its requests first.
const stopTimeout = 15 * time.Second

// proc is one program of the bed (etcd, kube-apiserver, kube-scheduler,
// kwok) with its output in a log file.
type proc struct {
	name   string
	log    string
	offset int64 // the log's size when this run started: earlier runs wrote before it
	cmd    *exec.Cmd
	done   chan struct{} // closed once the program has exited
}

// startProc runs argv with its output appended to logPath and env added to
// this process's environment. An attached program is killed by the kernel
// when this process dies; a detached one runs in a session of its own and
// outlives it (the user's bed, stopped by `down`).
func startProc(name, dir, logPath string, detach bool, env []string, argv ...string) (*proc, error) {
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("%s log: %w", name, err)
	}
	defer logFile.Close()
	offset, err := logFile.Seek(0, io.SeekEnd)
	if err != nil {
		return nil, fmt.Errorf("%s log: %w", name, err)
	}
	fmt.Fprintf(logFile, "--- %s: %s\n", time.Now().Format(time.RFC3339Nano), strings.Join(argv, " "))
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if detach {
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	} else {
		// If this process dies without stopping the bed, the kernel
		// kills the program; the signal follows the thread that forked,
		// so that thread stays locked for the program's lifetime.
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	}
	p := &proc{name: name, log: logPath, offset: offset, cmd: cmd, done: make(chan struct{})}
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with this goroutine
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		_ = cmd.Wait()
		close(p.done)
	}()
	if err := <-started; err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	return p, nil
}

// pid is the program's process id.
func (p *proc) pid() int { return p.cmd.Process.Pid }

// exited reports whether the program has ended.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// failure describes an ended program for an error message: its exit and
// the end of its log.
func (p *proc) failure() string {
	return fmt.Sprintf("%s exited (%v); the end of %s:\n%s", p.name, p.cmd.ProcessState, p.log, Tail(p.log))
}

// stop sends SIGTERM, waits for the exit and kills the program when it
// outlasts stopTimeout. Stopping a nil or ended program does nothing.
func (p *proc) stop() error {
	if p == nil || p.exited() {
		return nil
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return nil
	case <-time.After(stopTimeout):
	}
	_ = p.cmd.Process.Kill()
	<-p.done
	return fmt.Errorf("%s did not stop in %s; killed", p.name, stopTimeout)
}

// addrInUse reports whether this run's log says a port it was given was
// taken between the probe and its bind, the one start failure worth a
// retry on other ports.
func (p *proc) addrInUse() bool {
	b, err := os.ReadFile(p.log)
	return err == nil && int64(len(b)) > p.offset && strings.Contains(string(b[p.offset:]), "address already in use")
}

// errAddrInUse marks a start that lost its port to another process.
var errAddrInUse = errors.New("address already in use")

// Tail returns the last 20 lines of a log file, for error messages.
func Tail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	lines := bytes.Split(bytes.TrimSpace(b), []byte("\n"))
	if len(lines) > 20 {
		lines = lines[len(lines)-20:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}

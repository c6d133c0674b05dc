package testenv

import (
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

// kubeStopTimeout is how long a control-plane program gets to exit on
// SIGTERM before it is killed; kube-apiserver drains its requests first.
const kubeStopTimeout = 15 * time.Second

// kubeProc is one program of the Kubernetes test bed (etcd,
// kube-apiserver, kube-scheduler, kwok) with its output in a log file.
type kubeProc struct {
	name   string
	log    string
	offset int64 // the log's size when this run started: earlier runs wrote before it
	cmd    *exec.Cmd
	done   chan struct{} // closed once the program has exited
}

// startKubeProc runs argv with its output appended to logPath and env
// added to this process's environment.
func startKubeProc(name, dir, logPath string, env []string, argv ...string) (*kubeProc, error) {
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
	// If the test binary dies without its cleanups, the kernel kills the
	// program; the signal follows the thread that forked, so that thread
	// stays locked for the program's lifetime.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	p := &kubeProc{name: name, log: logPath, offset: offset, cmd: cmd, done: make(chan struct{})}
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
func (p *kubeProc) pid() int { return p.cmd.Process.Pid }

// exited reports whether the program has ended.
func (p *kubeProc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// failure describes an ended program for an error message: its exit and
// the end of its log.
func (p *kubeProc) failure() string {
	return fmt.Sprintf("%s exited (%v); the end of %s:\n%s", p.name, p.cmd.ProcessState, p.log, tail(p.log))
}

// stop sends SIGTERM, waits for the exit and kills the program when it
// outlasts kubeStopTimeout. Stopping a nil or ended program does nothing.
func (p *kubeProc) stop() error {
	if p == nil || p.exited() {
		return nil
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return nil
	case <-time.After(kubeStopTimeout):
	}
	_ = p.cmd.Process.Kill()
	<-p.done
	return fmt.Errorf("%s did not stop in %s; killed", p.name, kubeStopTimeout)
}

// addrInUse reports whether this run's log says a port it was given was
// taken between the probe and its bind, the one start failure worth a
// retry on other ports.
func (p *kubeProc) addrInUse() bool {
	b, err := os.ReadFile(p.log)
	return err == nil && int64(len(b)) > p.offset && strings.Contains(string(b[p.offset:]), "address already in use")
}

// errAddrInUse marks a start that lost its port to another process.
var errAddrInUse = errors.New("address already in use")

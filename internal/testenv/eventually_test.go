package testenv

import (
	"fmt"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// fatalTB records a failure and, like testing.T, ends the calling
// goroutine (the fakeTB of RequireCI's test returns instead).
type fatalTB struct {
	testing.TB
	failed string
}

func (f *fatalTB) Helper() {}

func (f *fatalTB) Fatalf(format string, args ...any) {
	f.failed = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// runEventually runs Eventually against a fake TB on its own goroutine, as
// the testing package runs a test, and returns the failure message.
func runEventually(what string, timeout time.Duration, check func() (bool, string)) string {
	f := &fatalTB{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		Eventually(f, what, timeout, check)
	}()
	<-done
	return f.failed
}

func TestEventually(t *testing.T) {
	t.Parallel()
	t.Run("returns once the check holds", func(t *testing.T) {
		t.Parallel()
		calls := 0
		msg := runEventually("the third look", time.Minute, func() (bool, string) {
			calls++
			return calls == 3, fmt.Sprintf("look %d", calls)
		})
		if msg != "" || calls != 3 {
			t.Errorf("failed with %q after %d calls, want success after 3", msg, calls)
		}
	})
	t.Run("a timeout names what and the last observation", func(t *testing.T) {
		t.Parallel()
		calls := 0
		start := time.Now()
		msg := runEventually("the run to succeed", 100*time.Millisecond, func() (bool, string) {
			calls++
			return false, fmt.Sprintf("run state running, look %d", calls)
		})
		if took := time.Since(start); took < 100*time.Millisecond {
			t.Errorf("gave up after %s, before the timeout", took)
		}
		last := fmt.Sprintf("last observed: run state running, look %d", calls)
		// The last look, not the first: on a loaded machine there may be
		// few looks within the timeout, so their number is not asserted.
		if !strings.Contains(msg, "timed out after") ||
			!strings.Contains(msg, "waiting for the run to succeed") || !strings.HasSuffix(msg, last) {
			t.Errorf("after %d calls the failure is %q, want it to end with %q", calls, msg, last)
		}
	})
	t.Run("an empty observation is said to be empty", func(t *testing.T) {
		t.Parallel()
		msg := runEventually("nothing", time.Millisecond, func() (bool, string) { return false, "" })
		if !strings.HasSuffix(msg, "last observed: (nothing)") {
			t.Errorf("failure %q", msg)
		}
	})
}

// TestAliveAndEventuallyDead: a running child is alive and described by
// its command; a killed, unreaped one (a zombie) counts as dead; one reaped
// is gone.
func TestAliveAndEventuallyDead(t *testing.T) {
	t.Parallel()
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	reaped := false
	t.Cleanup(func() {
		if !reaped {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	if !Alive(pid) || !strings.Contains(ProcessState(pid), "(sleep)") {
		t.Fatalf("a running child: Alive=%v, %s", Alive(pid), ProcessState(pid))
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	EventuallyDead(t, pid, time.Minute) // a zombie until reaped
	if st := ProcessState(pid); !strings.HasSuffix(st, "in state Z") {
		t.Errorf("a killed, unreaped child: %s", st)
	}
	_ = cmd.Wait()
	reaped = true
	if Alive(pid) || !strings.Contains(ProcessState(pid), "is gone") {
		t.Errorf("a reaped child: Alive=%v, %s", Alive(pid), ProcessState(pid))
	}
}

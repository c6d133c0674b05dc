package testenv

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// Polling backoff of Eventually: the first look again comes quickly (most
// waits end within milliseconds), later ones space out so a long wait on a
// loaded machine does not add to its load.
const (
	firstPoll = 5 * time.Millisecond
	maxPoll   = 200 * time.Millisecond
)

// Eventually polls check until it reports done, and fails t when timeout
// passes first. check also describes what it saw (the states it read, the
// output so far); the failure names what was awaited and that last
// observation, so a timeout says what the test found, not only that it
// found nothing. check runs on the test's goroutine and may call t.Fatal.
//
// Use it where no event can be awaited: another process, the store written
// by other goroutines, a remote service. Timeouts should be generous: they
// bound a broken run, not a slow one, and CI machines are loaded.
func Eventually(t testing.TB, what string, timeout time.Duration, check func() (done bool, observed string)) {
	t.Helper()
	start := time.Now()
	deadline := start.Add(timeout)
	wait := firstPoll
	for {
		done, observed := check()
		if done {
			return
		}
		left := time.Until(deadline)
		if left <= 0 {
			if observed == "" {
				observed = "(nothing)"
			}
			t.Fatalf("timed out after %s waiting for %s; last observed: %s",
				time.Since(start).Round(time.Millisecond), what, observed)
			return
		}
		time.Sleep(min(wait, left))
		wait = min(wait*2, maxPoll)
	}
}

// EventuallyDead waits until process pid has ended. A process's end is the
// kernel's business, not an event this process can await unless it is the
// parent, hence the poll.
func EventuallyDead(t testing.TB, pid int, timeout time.Duration) {
	t.Helper()
	Eventually(t, fmt.Sprintf("process %d to end", pid), timeout, func() (bool, string) {
		return !Alive(pid), ProcessState(pid)
	})
}

// Alive reports whether process pid runs. A zombie counts as dead: it was
// killed, but the init of a container may never reap it.
func Alive(pid int) bool {
	state, ok := procState(pid)
	return ok && state != 'Z'
}

// ProcessState describes process pid for a failure message: its command
// and state letter from /proc (R running, S sleeping, Z zombie, ...), or
// that it is gone.
func ProcessState(pid int) string {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return fmt.Sprintf("process %d is gone", pid)
	}
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return fmt.Sprintf("process %d: %v", pid, err)
	}
	open, end := bytes.IndexByte(data, '('), bytes.LastIndexByte(data, ')')
	if open < 0 || end < open || end+2 >= len(data) {
		return fmt.Sprintf("process %d: unreadable stat %q", pid, data)
	}
	return fmt.Sprintf("process %d (%s) in state %c", pid, data[open+1:end], data[end+2])
}

// procState returns pid's state letter from /proc/<pid>/stat, and false
// when the process does not exist.
func procState(pid int) (byte, bool) {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return 0, false
	}
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, false
	}
	i := bytes.LastIndexByte(data, ')')
	if i < 0 || i+2 >= len(data) {
		return 0, true // exists, state unknown: count it as running
	}
	return data[i+2], true
}

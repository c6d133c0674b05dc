package process_test

import (
	"bytes"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// output is an io.Writer that tests can wait on: every Write wakes the
// goroutines blocked in waitFor.
type output struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	changed chan struct{}
}

func newOutput() *output { return &output{changed: make(chan struct{})} }

func (o *output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	n, err := o.buf.Write(p)
	close(o.changed)
	o.changed = make(chan struct{})
	return n, err
}

func (o *output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}

// waitFor blocks until the output contains s and returns the output.
func (o *output) waitFor(t *testing.T, s string, timeout time.Duration) string {
	t.Helper()
	return o.waitUntil(t, "output containing "+strconv.Quote(s), timeout, func(out string) bool {
		return strings.Contains(out, s)
	})
}

// waitUntil blocks until cond holds for the output and returns the output.
func (o *output) waitUntil(t *testing.T, what string, timeout time.Duration, cond func(string) bool) string {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		o.mu.Lock()
		got, ch := o.buf.String(), o.changed
		o.mu.Unlock()
		if cond(got) {
			return got
		}
		select {
		case <-ch:
		case <-deadline.C:
			t.Fatalf("timed out after %s waiting for %s; output:\n%s", timeout, what, got)
		}
	}
}

// pidAfter waits for a complete output line "<prefix><pid>" and returns pid.
func (o *output) pidAfter(t *testing.T, prefix string, timeout time.Duration) int {
	t.Helper()
	pid := 0
	o.waitUntil(t, "a line "+strconv.Quote(prefix+"<pid>"), timeout, func(out string) bool {
		for line := range strings.Lines(out) {
			rest, ok := strings.CutPrefix(line, prefix)
			if !ok || !strings.HasSuffix(rest, "\n") {
				continue
			}
			n, err := strconv.Atoi(strings.TrimSpace(rest))
			if err == nil && n > 0 {
				pid = n
				return true
			}
		}
		return false
	})
	return pid
}

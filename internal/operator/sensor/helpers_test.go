package sensor

import (
	"bytes"
	"sync"
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/operator"
	"github.com/sirocco-dev/sirocco/internal/testenv"
)

func TestMain(m *testing.M) { testenv.RunMain(m) }

// logBuffer is a try's log: a command's stdout and stderr write to it
// concurrently.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// newTask is a try of a sensor with args.
func newTask(t *testing.T, args map[string]any) (*operator.Task, *logBuffer) {
	log := &logBuffer{}
	return &operator.Task{DagID: "d", RunID: "r", TaskID: "s", TryNumber: 1, Args: args, DagDir: t.TempDir(),
		LogicalDate: "2026-02-03T00:00:00Z", DataIntervalEnd: time.Date(2026, 2, 3, 0, 0, 0, 0, time.UTC), Log: log}, log
}

// clock is a settable time for the loop.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

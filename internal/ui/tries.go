package ui

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sync"
	"time"

	"github.com/sirocco-dev/sirocco/internal/store"
	"github.com/sirocco-dev/sirocco/internal/tasklog"
)

// tryJSON is one try of a task instance. The store keeps only the latest
// try's state and times; earlier tries are read back from their log files
// (every line is timestamped and the runner's last word names the outcome).
type tryJSON struct {
	Try      int      `json:"try"`
	State    string   `json:"state"`
	Start    *string  `json:"start_date"`
	End      *string  `json:"end_date"`
	Duration *float64 `json:"duration"`
	HasLog   bool     `json:"has_log"`
}

// trySummary is what a try's log tells about it.
type trySummary struct {
	Start, End time.Time
	Outcome    string // success, failed, skipped, stopped, or "" when the log does not say
}

// logStamp is the layout of the timestamp, in brackets, opening every task
// log line (package tasklog).
const logStamp = "2006-01-02T15:04:05.000Z07:00"

// outcomes are the runner's closing lines (internal/executor) and the state
// each means, checked in order on the last lines of a log.
var outcomes = []struct{ marker, state string }{
	{"sirocco: task succeeded", "success"},
	{"sirocco: task failed", "failed"},
	{"sirocco: task skipped", "skipped"},
	{"sirocco: task stopped", "stopped"},
	{"stopped by shutdown", "stopped"},
}

// summarizeLog reads a try's times and outcome from the head and the tail
// of its log: the first timestamp is its start, the last its end, and the
// last closing line of the runner its outcome. Lines without a timestamp
// (a partial line, a foreign file) are ignored.
func summarizeLog(head, tail []byte) trySummary {
	var s trySummary
	for line := range bytes.Lines(head) {
		if t, ok := lineTime(line); ok {
			s.Start = t
			break
		}
	}
	lines := bytes.Split(tail, []byte("\n"))
	for i := len(lines) - 1; i >= 0; i-- {
		t, ok := lineTime(lines[i])
		if !ok {
			continue
		}
		if s.End.IsZero() {
			s.End = t
		}
		if o := outcomeOf(lines[i]); o != "" {
			s.Outcome = o
			break
		}
	}
	if !s.Start.IsZero() && s.End.Before(s.Start) {
		s.End = s.Start
	}
	return s
}

// lineTime is the timestamp opening a log line: "[<RFC 3339>] text".
func lineTime(line []byte) (time.Time, bool) {
	rest, ok := bytes.CutPrefix(line, []byte("["))
	if !ok {
		return time.Time{}, false
	}
	stamp, _, ok := bytes.Cut(rest, []byte("] "))
	if !ok || len(stamp) < len("2006-01-02T15:04:05Z") || len(stamp) > 40 {
		return time.Time{}, false
	}
	t, err := time.Parse(logStamp, string(stamp))
	if err != nil {
		return time.Time{}, false
	}
	return t.UTC(), true
}

func outcomeOf(line []byte) string {
	for _, o := range outcomes {
		if bytes.Contains(line, []byte(o.marker)) {
			return o.state
		}
	}
	return ""
}

// logWindow is how much of a log's head and tail summarizeLog reads.
const logWindow = 64 << 10

// readTrySummary summarizes the log file of one try; a missing file is
// (zero, false, nil).
func readTrySummary(path string) (trySummary, bool, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return trySummary{}, false, nil
	}
	if err != nil {
		return trySummary{}, false, fmt.Errorf("open %s: %w", path, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return trySummary{}, false, fmt.Errorf("stat %s: %w", path, err)
	}
	head := make([]byte, min(st.Size(), logWindow))
	if _, err := io.ReadFull(f, head); err != nil {
		return trySummary{}, false, fmt.Errorf("read %s: %w", path, err)
	}
	tail := head
	if st.Size() > logWindow {
		tail = make([]byte, logWindow)
		if _, err := f.ReadAt(tail, st.Size()-logWindow); err != nil && !errors.Is(err, io.EOF) {
			return trySummary{}, false, fmt.Errorf("read %s: %w", path, err)
		}
	}
	return summarizeLog(head, tail), true, nil
}

// tryCache keeps the summaries of earlier tries' logs: those files no
// longer change, so a summary is good while the file (its identity, size
// and time) is the same. The task page asks for them on every change.
type tryCache struct {
	mu sync.Mutex
	m  map[string]cachedTry
}

type cachedTry struct {
	file os.FileInfo
	sum  trySummary
}

// maxCachedTries bounds the cache; beyond it, it starts afresh.
const maxCachedTries = 4096

// summary is readTrySummary of an earlier try's log, from the cache when
// the file has not changed since.
func (c *tryCache) summary(path string) (trySummary, bool, error) {
	st, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return trySummary{}, false, nil
	}
	if err != nil {
		return trySummary{}, false, fmt.Errorf("stat %s: %w", path, err)
	}
	c.mu.Lock()
	hit, ok := c.m[path]
	c.mu.Unlock()
	if ok && sameFile(hit.file, st) {
		return hit.sum, true, nil
	}
	sum, has, err := readTrySummary(path)
	if err != nil || !has {
		return sum, has, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= maxCachedTries {
		clear(c.m)
	}
	c.m[path] = cachedTry{file: st, sum: sum}
	return sum, true, nil
}

// sameFile reports whether two looks at a path saw the same, unchanged file.
func sameFile(a, b os.FileInfo) bool {
	return os.SameFile(a, b) && a.Size() == b.Size() && a.ModTime().Equal(b.ModTime())
}

// tries lists every try of ti: the earlier ones from their logs (cached),
// the latest from the row itself (its log is only looked for).
func (c *tryCache) tries(logsDir string, ti store.TaskInstance) ([]tryJSON, error) {
	out := make([]tryJSON, 0, ti.TryNumber)
	for n := 1; n <= ti.TryNumber; n++ {
		path := tasklog.MapPath(logsDir, ti.DagID, ti.RunID, ti.TaskID, ti.MapIndex(), n)
		t := tryJSON{Try: n}
		var sum trySummary
		if n == ti.TryNumber {
			_, err := os.Stat(path)
			if err != nil && !errors.Is(err, fs.ErrNotExist) {
				return nil, fmt.Errorf("stat %s: %w", path, err)
			}
			t.HasLog = err == nil
			sum = trySummary{Start: ti.StartDate, End: ti.EndDate, Outcome: string(ti.State)}
			if ti.State == store.StateNone {
				sum.Outcome = "none"
			}
		} else {
			var err error
			if sum, t.HasLog, err = c.summary(path); err != nil {
				return nil, err
			}
			if sum.Outcome == "" {
				sum.Outcome = "unknown"
			}
		}
		t.State, t.Start, t.End = sum.Outcome, stamp(sum.Start), stamp(sum.End)
		if !sum.Start.IsZero() && !sum.End.IsZero() {
			d := sum.End.Sub(sum.Start).Seconds()
			t.Duration = &d
		}
		out = append(out, t)
	}
	return out, nil
}

// stamp is t as the API writes times: RFC 3339 in UTC, or null.
func stamp(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	s := t.UTC().Format(time.RFC3339Nano)
	return &s
}

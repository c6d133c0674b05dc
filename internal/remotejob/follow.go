package remotejob

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// Offsets are how many bytes of the job's stdout and stderr a follower has
// written out; a caller that persists them resumes the log there.
type Offsets struct {
	Stdout int64 `json:"stdout"`
	Stderr int64 `json:"stderr"`
}

// Output is where Follow writes the job's output.
type Output struct {
	Stdout, Stderr io.Writer
	// Progress, when set, is called after each write with the offsets
	// reached, from Follow's goroutine: the place to persist them.
	Progress func(Offsets)
}

// ErrLost means the job ended without an exit code: its wrapper was killed
// by something else than Stop, or the host rebooted.
var ErrLost = errors.New("remote job ended without recording an exit code")

// ErrGone means the job's directory no longer exists (cleaned up).
var ErrGone = errors.New("remote job directory is gone")

// Polling: the first polls come quickly for short jobs, then back off to a
// poll a second while the job is quiet; output brings the quick polls back.
const (
	minPoll  = 50 * time.Millisecond
	maxPoll  = time.Second
	maxChunk = 1 << 20 // bytes of each stream per poll
)

// Follow streams the job's output from the offsets in from until the job
// ends, and returns its exit code and the offsets reached. One remote call
// per poll. When ctx ends it returns at once with ctx's cause and the
// offsets reached, leaving the job running (Stop is the caller's decision);
// a transport error likewise returns, and a later Follow from the returned
// offsets continues without losing or repeating output.
func Follow(ctx context.Context, sh Shell, h Handle, from Offsets, out Output) (int, Offsets, error) {
	if err := h.Validate(); err != nil {
		return -1, from, err
	}
	at := from
	wait := minPoll
	for {
		a, err := poll(ctx, sh, h, at)
		if err != nil {
			if ctx.Err() != nil {
				return -1, at, context.Cause(ctx)
			}
			return -1, at, fmt.Errorf("follow remote job %s: %w", h.JobID, err)
		}
		if err := write(a, &at, out); err != nil {
			return -1, at, fmt.Errorf("follow remote job %s: %w", h.JobID, err)
		}
		if a.Stdout.Len()+a.Stderr.Len() > 0 {
			wait = minPoll
			if at.Stdout < a.StdoutSize || at.Stderr < a.StderrSize {
				continue // more output is there already
			}
		}
		switch a.State {
		case stateExited:
			return a.Code, at, nil
		case stateLost:
			return -1, at, fmt.Errorf("follow remote job %s in %s: %w", h.JobID, h.Dir, ErrLost)
		case stateGone:
			return -1, at, fmt.Errorf("follow remote job %s in %s: %w", h.JobID, h.Dir, ErrGone)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return -1, at, context.Cause(ctx)
		case <-t.C:
		}
		wait = min(2*wait, maxPoll)
	}
}

func write(a pollAnswer, at *Offsets, out Output) error {
	if a.Stdout.Len() > 0 {
		if _, err := out.Stdout.Write(a.Stdout.Bytes()); err != nil {
			return fmt.Errorf("write stdout: %w", err)
		}
		at.Stdout += int64(a.Stdout.Len())
	}
	if a.Stderr.Len() > 0 {
		if _, err := out.Stderr.Write(a.Stderr.Bytes()); err != nil {
			return fmt.Errorf("write stderr: %w", err)
		}
		at.Stderr += int64(a.Stderr.Len())
	}
	if out.Progress != nil && a.Stdout.Len()+a.Stderr.Len() > 0 {
		out.Progress(*at)
	}
	return nil
}

func poll(ctx context.Context, sh Shell, h Handle, at Offsets) (pollAnswer, error) {
	src := script("poll", str("dir", h.Dir), num("pid", int64(h.PID)),
		num("oo", at.Stdout), num("eo", at.Stderr), num("max", maxChunk))
	data, err := run(ctx, sh, src, nil)
	if err != nil {
		return pollAnswer{}, err
	}
	return parsePoll(data, at)
}

// Job states in a poll answer.
const (
	stateRunning = "running"
	stateExited  = "exited"
	stateLost    = "lost"
	stateGone    = "gone"
)

// pollAnswer is one poll: the job's state and exit code, the sizes of its
// output files, and their new bytes from the offsets asked for.
type pollAnswer struct {
	State                  string
	Code                   int
	StdoutSize, StderrSize int64
	Stdout, Stderr         *bytes.Buffer
}

// parsePoll reads the poll script's answer:
//
//	sirocco-remotejob v1 <state> <code> <stdout size> <stderr size> <n out> <n err>\n
//
// then exactly n out bytes of stdout and n err bytes of stderr.
func parsePoll(data []byte, at Offsets) (pollAnswer, error) {
	head, body, ok := bytes.Cut(data, []byte("\n"))
	if !ok || !bytes.HasPrefix(head, []byte(answerPrefix)) {
		return pollAnswer{}, fmt.Errorf("unexpected answer from the poll script: %q", clip(data))
	}
	f := strings.Split(string(head[len(answerPrefix):]), " ")
	if len(f) != 6 {
		return pollAnswer{}, fmt.Errorf("poll answer %q: want state, code, two sizes, two lengths", head)
	}
	a := pollAnswer{State: f[0]}
	switch a.State {
	case stateRunning, stateExited, stateLost, stateGone:
	default:
		return pollAnswer{}, fmt.Errorf("poll answer %q: unknown state %q", head, a.State)
	}
	code, ok := number(f[1])
	if !ok || code > 255 {
		return pollAnswer{}, fmt.Errorf("poll answer %q: exit code %q, want 0 to 255 (the job's exit file holds something else)", head, f[1])
	}
	a.Code = int(code)
	var n [4]int64
	for i := range n {
		if n[i], ok = number(f[2+i]); !ok {
			return pollAnswer{}, fmt.Errorf("poll answer %q: %q is not a byte count", head, f[2+i])
		}
	}
	a.StdoutSize, a.StderrSize = n[0], n[1]
	if err := checkChunk("stdout", at.Stdout, n[0], n[2]); err != nil {
		return pollAnswer{}, fmt.Errorf("poll answer %q: %w", head, err)
	}
	if err := checkChunk("stderr", at.Stderr, n[1], n[3]); err != nil {
		return pollAnswer{}, fmt.Errorf("poll answer %q: %w", head, err)
	}
	if int64(len(body)) != n[2]+n[3] {
		return pollAnswer{}, fmt.Errorf("poll answer %q: %d bytes of output follow, want %d", head, len(body), n[2]+n[3])
	}
	a.Stdout = bytes.NewBuffer(body[:n[2]])
	a.Stderr = bytes.NewBuffer(body[n[2]:])
	return a, nil
}

// number reads a number as the scripts print it: decimal digits, no sign,
// no leading zero.
func number(s string) (int64, bool) {
	if s == "" || len(s) > 18 || (s[0] == '0' && len(s) > 1) {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}

// checkChunk: a file only grows, and a chunk lies within it.
func checkChunk(name string, offset, size, n int64) error {
	if size < offset {
		return fmt.Errorf("%s is %d bytes, shorter than the %d already read: the file was truncated or replaced", name, size, offset)
	}
	if n > size-offset || n > maxChunk {
		return fmt.Errorf("%d new bytes of %s beyond its size %d from offset %d", n, name, size, offset)
	}
	return nil
}

func clip(b []byte) []byte {
	if len(b) > 200 {
		return b[:200]
	}
	return b
}

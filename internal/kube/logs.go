package kube

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// LogPosition is how far a container's log has been written: the
// timestamp of the last line and how many lines carried exactly that
// timestamp. A stream opened again skips what is at or before it.
type LogPosition struct {
	Time time.Time `json:"time"`
	Seen int       `json:"seen,omitempty"`
}

// IsZero reports a position before the first line.
func (p LogPosition) IsZero() bool { return p.Time.IsZero() }

// LogFollower streams one container's log into Out, line by line, with
// the apiserver's timestamps, so that a stream that drops (an apiserver
// restart, the kubelet ending an idle stream) is opened again from the
// last line written and no line is written twice.
type LogFollower struct {
	Pods      PodInterface
	Pod       string
	Container string
	Out       io.Writer
	// OnRetry is told when the log cannot be read and when the follower
	// tries again (nil: silent).
	OnRetry func(err error, wait time.Duration)
	// OnProgress is called after lines were written, with the new
	// position (nil: nothing).
	OnProgress func(LogPosition)
	// Delay is how long Follow waits before it opens its first stream:
	// the log of a container that ends sooner is read once, by CatchUp,
	// rather than by a stream and then a catch-up (zero: at once).
	Delay time.Duration

	mu    sync.Mutex
	pos   LogPosition
	final bool // Stop's catch-up: OnProgress is no longer called

	// The follow Start runs in the background; Start and Stop are
	// called from one goroutine.
	cancel context.CancelFunc
	done   chan struct{}
}

// Start follows the log in the background (Follow) until Stop; a Start
// while it follows does nothing.
func (f *LogFollower) Start(ctx context.Context) {
	if f.done != nil {
		return
	}
	fctx, cancel := context.WithCancel(ctx)
	f.cancel, f.done = cancel, make(chan struct{})
	go func() {
		defer close(f.done)
		f.Follow(fctx)
	}()
}

// Stop stops the follow Start began and waits for it. With catchUp it
// then writes what the log holds after the position (CatchUp, bounded by
// timeout): the end of the log of a container that ended. The catch-up
// does not call OnProgress: the caller stores the position with the end.
func (f *LogFollower) Stop(catchUp bool, timeout time.Duration) error {
	if f.done != nil {
		f.cancel()
		<-f.done
		f.done = nil
	}
	if !catchUp {
		return nil
	}
	f.mu.Lock()
	f.final = true
	f.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return f.CatchUp(ctx)
}

// SetPosition starts the follower after p (a resumed try's stored one).
func (f *LogFollower) SetPosition(p LogPosition) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pos = p
}

// Position is how far the log has been written.
func (f *LogFollower) Position() LogPosition {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.pos
}

// reopenAfterEnd is the pause before a stream that ended cleanly is
// opened again: a kubelet ends a stream when the container stops, kwok's
// log server after a second without output.
const reopenAfterEnd = 500 * time.Millisecond

// Follow streams the log until ctx ends (after Delay), opening the
// stream again after each end or failure (backing off while it fails).
// A partial last line is held back until its end arrives (CatchUp
// writes it).
func (f *LogFollower) Follow(ctx context.Context) {
	if f.Delay > 0 && !sleep(ctx, f.Delay) {
		return
	}
	var b backoff
	for ctx.Err() == nil {
		wrote, err := f.stream(ctx, true)
		if ctx.Err() != nil {
			return
		}
		wait := reopenAfterEnd
		switch {
		case errors.Is(err, errStreamEnded):
			b.ok()
			if wrote {
				continue
			}
		default:
			var report bool
			wait, report = b.failed()
			if report && f.OnRetry != nil {
				f.OnRetry(err, wait)
			}
		}
		if !sleep(ctx, wait) {
			return
		}
	}
}

// errStreamEnded is a follow stream's clean end.
var errStreamEnded = errors.New("the log stream ended")

// CatchUp reads what the log holds after the position, once, without
// following, partial last line included: the end of the log of a
// container that stopped.
func (f *LogFollower) CatchUp(ctx context.Context) error {
	_, err := f.stream(ctx, false)
	return err
}

// stream opens the log once from the position and writes the lines after
// it; wrote reports whether any line was written.
func (f *LogFollower) stream(ctx context.Context, follow bool) (wrote bool, err error) {
	start := f.Position()
	opts := &corev1.PodLogOptions{Container: f.Container, Follow: follow, Timestamps: true}
	if !start.IsZero() {
		// The API takes whole seconds: the lines of that second come
		// again and are skipped below.
		opts.SinceTime = &metav1.Time{Time: start.Time.Truncate(time.Second)}
	}
	rc, err := f.Pods.GetLogs(f.Pod, opts).Stream(ctx)
	if err != nil {
		return false, fmt.Errorf("open the log of container %s of pod %s: %w", f.Container, f.Pod, err)
	}
	defer rc.Close()
	return f.copyLines(rc, follow, start)
}

// maxLogLine bounds the part of one log line held in memory and written:
// the kubelet serves a line the container wrote without a newline whole,
// however long it grows.
const maxLogLine = 1 << 20

// cutNote ends a line longer than maxLogLine, written cut.
const cutNote = " [sirocco: line cut, longer than 1 MiB]\n"

// copyLines writes the lines of one log stream after start; wrote reports
// whether any was written. A follow stream's partial last line is left
// for the next stream.
func (f *LogFollower) copyLines(rc io.Reader, follow bool, start LogPosition) (wrote bool, err error) {
	r := bufio.NewReaderSize(rc, 64<<10)
	atStart := 0 // lines seen in this stream stamped start.Time
	for {
		line, rerr := readLine(r, maxLogLine)
		if len(line) > 0 && (rerr == nil || !follow) {
			w, err := f.writeLine(line, start, &atStart)
			if err != nil {
				return wrote, err
			}
			wrote = wrote || w
		}
		if errors.Is(rerr, io.EOF) {
			if follow {
				return wrote, errStreamEnded
			}
			return wrote, nil
		}
		if rerr != nil {
			return wrote, fmt.Errorf("read the log of container %s of pod %s: %w", f.Container, f.Pod, rerr)
		}
	}
}

// readLine reads one line, newline included, keeping at most max bytes
// of it: the rest of a longer line is read and dropped, and the line
// ends with cutNote instead.
func readLine(r *bufio.Reader, max int) ([]byte, error) {
	var line []byte
	cut := false
	for {
		chunk, err := r.ReadSlice('\n')
		room := max - len(line)
		if len(chunk) > room {
			chunk, cut = chunk[:room], true
		}
		line = append(line, chunk...)
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if cut {
			line = append(bytes.TrimSuffix(line, []byte("\n")), cutNote...)
		}
		return line, err
	}
}

// writeLine writes one "TIMESTAMP text" line unless the position is past
// it, and moves the position.
func (f *LogFollower) writeLine(line []byte, start LogPosition, atStart *int) (bool, error) {
	ts, text, ok := splitTimestamp(line)
	if ok {
		switch {
		case ts.Before(start.Time):
			return false, nil
		case ts.Equal(start.Time):
			*atStart++
			if *atStart <= start.Seen {
				return false, nil
			}
		}
	}
	if len(text) > 0 && text[len(text)-1] != '\n' {
		text = append(text, '\n')
	}
	if _, err := f.Out.Write(text); err != nil {
		return false, fmt.Errorf("write the container's log: %w", err)
	}
	if ok {
		f.mu.Lock()
		if ts.Equal(f.pos.Time) {
			f.pos.Seen++
		} else if ts.After(f.pos.Time) {
			f.pos = LogPosition{Time: ts, Seen: 1}
		}
		pos, final := f.pos, f.final
		f.mu.Unlock()
		if f.OnProgress != nil && !final {
			f.OnProgress(pos)
		}
	}
	return true, nil
}

// splitTimestamp splits the apiserver's "RFC3339Nano-timestamp text"
// line. A line without one (a log server that ignores timestamps) is
// written whole.
func splitTimestamp(line []byte) (time.Time, []byte, bool) {
	i := bytes.IndexByte(line, ' ')
	if i <= 0 || i > 40 {
		return time.Time{}, line, false
	}
	ts, err := time.Parse(time.RFC3339Nano, string(line[:i]))
	if err != nil {
		return time.Time{}, line, false
	}
	return ts, line[i+1:], true
}

package process

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"time"
)

// output carries a child's stdout and stderr to their writers through
// pipes Run makes itself, so that exec starts no goroutine inside Start
// (one started during a fork/exec delays it on small machines) and the
// copies use pooled buffers. A writer that is a file, or nil, is handed to
// the child as it is.
type output struct {
	reads  []*os.File // our ends
	writes []*os.File // the child's ends, closed in us once it started
	dests  []io.Writer
	left   atomic.Int32  // copies not at their end yet
	done   chan struct{} // closed when left reaches 0
	forced atomic.Bool   // wait closed our ends after the grace
	mu     sync.Mutex
	err    error // the first failed write to a destination
}

// newOutput makes the pipes and sets cmd's Stdout and Stderr to them; one
// pipe serves both when they are the same writer, as exec does.
func newOutput(cmd *exec.Cmd, stdout, stderr io.Writer) (*output, error) {
	o := &output{}
	var err error
	if cmd.Stdout, err = o.pipe(stdout); err != nil {
		o.abort()
		return nil, err
	}
	if sameWriter(stdout, stderr) {
		cmd.Stderr = cmd.Stdout
	} else if cmd.Stderr, err = o.pipe(stderr); err != nil {
		o.abort()
		return nil, err
	}
	return o, nil
}

// pipe returns what the child writes w through.
func (o *output) pipe(w io.Writer) (io.Writer, error) {
	switch w.(type) {
	case nil, *os.File:
		return w, nil
	}
	r, cw, err := childPipe()
	if err != nil {
		return nil, fmt.Errorf("output pipe: %w", err)
	}
	o.reads, o.writes, o.dests = append(o.reads, r), append(o.writes, cw), append(o.dests, w)
	return cw, nil
}

// started closes the child's ends in this process and starts copying.
func (o *output) started() {
	for _, w := range o.writes {
		_ = w.Close()
	}
	o.done = make(chan struct{})
	o.left.Store(int32(len(o.reads)))
	if len(o.reads) == 0 {
		close(o.done)
	}
	for i, r := range o.reads {
		go o.copy(r, o.dests[i])
	}
}

func (o *output) copy(r *os.File, w io.Writer) {
	defer func() {
		if o.left.Add(-1) == 0 {
			close(o.done)
		}
	}()
	buf := copyBuffers.Get().(*[]byte)
	defer copyBuffers.Put(buf)
	if _, err := io.CopyBuffer(onlyWriter{w}, onlyReader{r}, *buf); err != nil && !(o.forced.Load() && errors.Is(err, os.ErrClosed)) {
		o.mu.Lock()
		if o.err == nil {
			o.err = err
		}
		o.mu.Unlock()
	}
	_ = r.Close() // a child still writing gets EPIPE, as with exec
}

// wait waits for the copies to reach the end of the output, which comes
// once every process holding a pipe has closed it or exited; after grace
// it stops reading (Run then kills the group). It returns the first failed
// write.
func (o *output) wait(grace time.Duration) error {
	select {
	case <-o.done: // usually: the output ended with the process
	default:
		t := time.NewTimer(grace)
		select {
		case <-o.done:
		case <-t.C:
			o.forced.Store(true)
			for _, r := range o.reads {
				_ = r.Close()
			}
			<-o.done
		}
		t.Stop()
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.err
}

// abort closes every pipe of a child that never started.
func (o *output) abort() {
	for _, f := range append(o.reads, o.writes...) {
		_ = f.Close()
	}
}

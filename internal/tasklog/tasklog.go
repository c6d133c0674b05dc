// Package tasklog stores one log file per task try, laid out as Airflow does
// (dag_id=X/run_id=Y/task_id=Z/attempt=N.log), with every line timestamped.
package tasklog

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// Writer prefixes each line with an RFC 3339 timestamp and writes it to the
// file. It is safe for concurrent use (stdout and stderr share one).
type Writer struct {
	mu      sync.Mutex
	f       *os.File
	partial []byte
	now     func() time.Time
	secrets [][]byte
	// pending holds the lines written while the file is still being opened
	// (Start); opened is closed once it is open or failed with openErr.
	pending []byte
	opened  chan struct{}
	openErr error // the open failed, or a write did: the log is incomplete
}

// AddSecret makes the writer replace s with "***" in every line written
// from now on, so connection passwords and tokens never reach a log file.
// Values shorter than 4 bytes are ignored: masking "a" would garble the log
// without protecting anything.
func (w *Writer) AddSecret(s string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.secrets = addSecret(w.secrets, s)
}

// maxPartial bounds the unterminated tail a Writer keeps.
const maxPartial = 64 * 1024

// Create opens (appending) the log file of a try, making its folders.
func Create(path string) (*Writer, error) {
	f, err := openFile(path)
	if err != nil {
		return nil, err
	}
	opened := make(chan struct{})
	close(opened)
	return &Writer{f: f, now: time.Now, opened: opened}, nil
}

// Start returns a writer at once and opens the file in the background: a
// try's folders are new, and creating them on a busy disk costs
// milliseconds that need not delay the task's start. Lines written before
// the file is open are kept in memory and written first. Wait reports
// whether the open succeeded.
func Start(path string) *Writer { return StartThen(path, nil) }

// StartThen is Start that then, once the file is open (or could not be),
// runs then in the same goroutine: background work of the try that may
// wait on the disk as well (Prepare), without a goroutine of its own.
func StartThen(path string, then func()) *Writer {
	w := &Writer{now: time.Now, opened: make(chan struct{})}
	go func() {
		w.open(path)
		if then != nil {
			then()
		}
	}()
	return w
}

// open opens the file of a writer from Start and writes what is pending.
func (w *Writer) open(path string) {
	f, err := openFile(path)
	w.mu.Lock()
	defer w.mu.Unlock()
	defer close(w.opened)
	if err != nil {
		w.openErr = err
		return
	}
	w.f = f
	if len(w.pending) > 0 {
		if _, err := f.Write(w.pending); err != nil {
			w.openErr = fmt.Errorf("write task log: %w", err) // the lines stay in pending
			return
		}
		w.pending = nil
	}
}

// Prepare makes the log folders of tasks of a run ahead of their tries, so
// that a try's log costs one file creation when it starts. It is best
// effort: Start reports any real failure when the try runs.
func Prepare(base, dagID, runID string, taskIDs []string) {
	for _, id := range taskIDs {
		_ = os.MkdirAll(filepath.Dir(Path(base, dagID, runID, id, 1)), 0o755)
	}
}

// openFile opens (appending) a try's log file, making its folders only
// when they are missing: Prepare has usually made them.
func openFile(path string) (*os.File, error) {
	f, err := openAppend(path)
	if errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return nil, fmt.Errorf("create log folder: %w", err)
		}
		f, err = openAppend(path)
	}
	if err != nil {
		return nil, fmt.Errorf("open task log: %w", err)
	}
	return f, nil
}

// openAppend opens path for appending, creating it, as a plain
// descriptor: os.OpenFile would first offer it to the runtime's poller,
// which never takes a regular file, four system calls on every try.
func openAppend(path string) (*os.File, error) {
	for {
		fd, err := syscall.Open(path, syscall.O_CREAT|syscall.O_WRONLY|syscall.O_APPEND|syscall.O_CLOEXEC, 0o644)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return nil, &os.PathError{Op: "open", Path: path, Err: err}
		}
		return os.NewFile(uintptr(fd), path), nil
	}
}

// maxPending bounds what a writer whose file cannot be opened keeps.
const maxPending = 1 << 20

// Wait blocks until the file is open and every line written so far is in
// it, and returns the error that prevented that (a failed open, or a write
// that failed, e.g. on a full disk). The lines that did not reach the file
// then stay in Pending, so the caller can put them somewhere else.
func (w *Writer) Wait() error {
	<-w.opened
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.openErr
}

// Pending returns the lines that could not be written to the file.
func (w *Writer) Pending() []byte {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]byte(nil), w.pending...)
}

// Write timestamps every complete line; a trailing partial line waits for
// its end (or Close).
func (w *Writer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := len(p)
	data := p
	if len(w.partial) > 0 {
		data = append(w.partial, p...)
		w.partial = nil
	}
	var out bytes.Buffer
	for {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			break
		}
		w.stamp(&out, data[:i+1])
		data = data[i+1:]
	}
	if len(data) > maxPartial {
		// A huge unterminated line (a progress bar, binary output): write it
		// out as a line of its own rather than growing without bound, but
		// keep a tail that may be the start of a secret (safeCut).
		cut := safeCut(w.secrets, data)
		w.stamp(&out, append(data[:cut:cut], '\n'))
		data = data[cut:]
	}
	if len(data) > 0 {
		w.partial = append([]byte(nil), data...)
	}
	if out.Len() > 0 {
		if err := w.emit(out.Bytes()); err != nil {
			return 0, err
		}
	}
	return n, nil
}

// emit writes stamped lines to the file, or keeps them while it is not
// open. A write that fails is remembered (Wait reports it) and its lines,
// and every later one, are kept for Pending instead. The caller holds mu.
func (w *Writer) emit(b []byte) error {
	if w.f == nil || w.openErr != nil {
		if len(w.pending)+len(b) <= maxPending {
			w.pending = append(w.pending, b...)
		}
		return w.openErr
	}
	if _, err := w.f.Write(b); err != nil {
		w.openErr = fmt.Errorf("write task log: %w", err)
		w.pending = append(w.pending, b...)
		return w.openErr
	}
	return nil
}

func (w *Writer) stamp(out *bytes.Buffer, line []byte) {
	out.WriteByte('[')
	out.WriteString(w.now().UTC().Format("2006-01-02T15:04:05.000Z07:00"))
	out.WriteString("] ")
	out.Write(mask(w.secrets, line))
}

// Printf writes one line of Sirocco's own commentary into the task log.
func (w *Writer) Printf(format string, args ...any) {
	fmt.Fprintf(w, format+"\n", args...)
}

// Close flushes a partial last line and closes the file, after waiting for
// it to be open.
func (w *Writer) Close() error {
	<-w.opened
	w.mu.Lock()
	defer w.mu.Unlock()
	var err error
	if len(w.partial) > 0 {
		var out bytes.Buffer
		w.stamp(&out, append(w.partial, '\n'))
		w.partial = nil
		err = w.emit(out.Bytes())
	}
	if w.f == nil {
		return w.openErr
	}
	if w.openErr != nil {
		err = w.openErr
	}
	return errors.Join(err, w.f.Close())
}

// Follow copies the file at path to out and keeps copying what is appended
// until done returns true after the end was reached (the try finished) or
// stop is closed. It polls, since the writer may be another process.
func Follow(path string, out io.Writer, done func() bool, stop <-chan struct{}) error {
	var f *os.File
	for f == nil {
		var err error
		f, err = os.Open(path)
		if err != nil {
			if !os.IsNotExist(err) {
				return fmt.Errorf("open task log: %w", err)
			}
			if done() {
				return fmt.Errorf("no log at %s", path)
			}
			select {
			case <-stop:
				return nil
			case <-time.After(200 * time.Millisecond):
			}
		}
	}
	defer f.Close()
	buf := make([]byte, 32*1024)
	for {
		n, err := f.Read(buf)
		if n > 0 {
			if _, werr := out.Write(buf[:n]); werr != nil {
				return werr
			}
			continue
		}
		if err != nil && err != io.EOF {
			return fmt.Errorf("read task log: %w", err)
		}
		if done() {
			// One last drain: the writer may have flushed between our read and done().
			_, err := io.Copy(out, f)
			return err
		}
		select {
		case <-stop:
			return nil
		case <-time.After(200 * time.Millisecond):
		}
	}
}

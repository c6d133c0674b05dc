// Package tasklog stores one log file per task try, laid out as Airflow does
// (dag_id=X/run_id=Y/task_id=Z/attempt=N.log), with every line timestamped.
package tasklog

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"
)

// Path returns the log file of one try under the logs folder. Run ids contain
// ':' and '+', which are fine in file names on Linux; '/' is replaced.
func Path(base, dagID, runID, taskID string, try int) string {
	clean := func(s string) string { return strings.ReplaceAll(s, "/", "_") }
	return filepath.Join(base, "dag_id="+clean(dagID), "run_id="+clean(runID),
		"task_id="+clean(taskID), fmt.Sprintf("attempt=%d.log", try))
}

// Writer prefixes each line with an RFC 3339 timestamp and writes it to the
// file. It is safe for concurrent use (stdout and stderr share one).
type Writer struct {
	mu      sync.Mutex
	f       *os.File
	partial []byte
	now     func() time.Time
	secrets [][]byte
}

// AddSecret makes the writer replace s with "***" in every line written
// from now on, so connection passwords and tokens never reach a log file.
// Values shorter than 4 bytes are ignored: masking "a" would garble the log
// without protecting anything.
func (w *Writer) AddSecret(s string) {
	if len(s) < 4 {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, have := range w.secrets {
		if string(have) == s {
			return
		}
	}
	w.secrets = append(w.secrets, []byte(s))
	// Longest first, so a secret containing another is masked whole.
	sort.Slice(w.secrets, func(i, j int) bool { return len(w.secrets[i]) > len(w.secrets[j]) })
}

// maxPartial bounds the unterminated tail a Writer keeps.
const maxPartial = 64 * 1024

// Create opens (appending) the log file of a try, making its folders.
func Create(path string) (*Writer, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("create log folder: %w", err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open task log: %w", err)
	}
	return &Writer{f: f, now: time.Now}, nil
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
		// out as a line of its own rather than growing without bound.
		w.stamp(&out, append(data, '\n'))
		data = nil
	}
	if len(data) > 0 {
		w.partial = append([]byte(nil), data...)
	}
	if out.Len() > 0 {
		if _, err := w.f.Write(out.Bytes()); err != nil {
			return 0, fmt.Errorf("write task log: %w", err)
		}
	}
	return n, nil
}

func (w *Writer) stamp(out *bytes.Buffer, line []byte) {
	out.WriteByte('[')
	out.WriteString(w.now().UTC().Format("2006-01-02T15:04:05.000Z07:00"))
	out.WriteString("] ")
	for _, s := range w.secrets {
		if bytes.Contains(line, s) {
			line = bytes.ReplaceAll(line, s, []byte("***"))
		}
	}
	out.Write(line)
}

// Printf writes one line of Sirocco's own commentary into the task log.
func (w *Writer) Printf(format string, args ...any) {
	fmt.Fprintf(w, format+"\n", args...)
}

// Close flushes a partial last line and closes the file.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.partial) > 0 {
		var out bytes.Buffer
		w.stamp(&out, append(w.partial, '\n'))
		w.partial = nil
		if _, err := w.f.Write(out.Bytes()); err != nil {
			w.f.Close()
			return fmt.Errorf("write task log: %w", err)
		}
	}
	return w.f.Close()
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

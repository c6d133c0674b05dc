package tasklog

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/testenv"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fixedClock returns t0, t0+1ms, t0+2ms, ... on successive calls.
func fixedClock(t0 time.Time) func() time.Time {
	var n atomic.Int64
	return func() time.Time { return t0.Add(time.Duration(n.Add(1)-1) * time.Millisecond) }
}

func create(t *testing.T) (*Writer, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "dag_id=d", "run_id=r", "task_id=t", "attempt=1.log")
	w, err := Create(path)
	if err != nil {
		t.Fatal(err)
	}
	return w, path
}

func read(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func TestWriterTimestampsLines(t *testing.T) {
	t.Parallel()
	w, path := create(t)
	// A zone other than UTC: the stamp is written in UTC.
	paris := time.FixedZone("CET", 3600)
	w.now = fixedClock(time.Date(2026, 2, 3, 5, 5, 6, 789_000_000, paris))

	write := func(s string) {
		t.Helper()
		if n, err := w.Write([]byte(s)); err != nil || n != len(s) {
			t.Fatalf("Write(%q) = %d, %v", s, n, err)
		}
	}
	write("one\ntw")
	if got := read(t, path); got != "[2026-02-03T04:05:06.789Z] one\n" {
		t.Errorf("after a partial line the file is %q; the partial must wait", got)
	}
	write("o\n")
	write("")
	write("\n")
	w.Printf("sirocco: %s %d", "note", 3)
	write("tail without newline")
	if strings.Contains(read(t, path), "tail") {
		t.Error("an unterminated line was written before Close")
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	want := "[2026-02-03T04:05:06.789Z] one\n" +
		"[2026-02-03T04:05:06.790Z] two\n" +
		"[2026-02-03T04:05:06.791Z] \n" +
		"[2026-02-03T04:05:06.792Z] sirocco: note 3\n" +
		"[2026-02-03T04:05:06.793Z] tail without newline\n"
	if got := read(t, path); got != want {
		t.Errorf("log =\n%s\nwant\n%s", got, want)
	}
	if _, err := w.Write([]byte("late\n")); err == nil {
		t.Error("Write after Close should fail")
	}
}

func TestWriterRealClockFormat(t *testing.T) {
	t.Parallel()
	w, path := create(t)
	before := time.Now().UTC().Truncate(time.Millisecond)
	fmt.Fprintf(w, "hello\n")
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`^\[(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)\] hello\n$`).FindStringSubmatch(read(t, path))
	if m == nil {
		t.Fatalf("log %q is not one line with an RFC 3339 millisecond UTC stamp", read(t, path))
	}
	stamp, err := time.Parse(time.RFC3339Nano, m[1])
	if err != nil {
		t.Fatal(err)
	}
	if stamp.Before(before) || stamp.After(time.Now()) {
		t.Errorf("stamp %s is not the time of the write (after %s)", stamp, before)
	}
}

func TestCreateAppendsAndMakesFolders(t *testing.T) {
	t.Parallel()
	path := Path(t.TempDir(), "d", "r", "t", 1)
	for _, line := range []string{"first", "second"} {
		w, err := Create(path)
		if err != nil {
			t.Fatal(err)
		}
		w.Printf("%s", line)
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
	got := read(t, path)
	if strings.Count(got, "\n") != 2 || !strings.Contains(got, "] first\n") || !strings.HasSuffix(got, "] second\n") {
		t.Errorf("reopening should append:\n%s", got)
	}
	// A file where a folder must be: Create reports it.
	blocker := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(blocker, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Create(filepath.Join(blocker, "attempt=1.log")); err == nil {
		t.Error("Create under a regular file should fail")
	}
}

func TestWriterConcurrentWrites(t *testing.T) {
	t.Parallel()
	w, path := create(t)
	const writers, lines = 8, 200
	var wg sync.WaitGroup
	for g := range writers {
		wg.Go(func() {
			for i := range lines {
				if _, err := fmt.Fprintf(w, "writer %d line %d\n", g, i); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	stamp := regexp.MustCompile(`^\[\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\] (writer \d+ line \d+)$`)
	var got []string
	for line := range strings.Lines(read(t, path)) {
		m := stamp.FindStringSubmatch(strings.TrimSuffix(line, "\n"))
		if m == nil {
			t.Fatalf("mangled line %q", line)
		}
		got = append(got, m[1])
	}
	var want []string
	for g := range writers {
		for i := range lines {
			want = append(want, fmt.Sprintf("writer %d line %d", g, i))
		}
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("got %d lines, want each of %d exactly once", len(got), len(want))
	}
}

// output collects what Follow copies and lets the test wait for it.
type output struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	changed chan struct{}
}

func newOutput() *output { return &output{changed: make(chan struct{})} }

func (o *output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	close(o.changed)
	o.changed = make(chan struct{})
	return o.buf.Write(p)
}

func (o *output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}

func (o *output) waitFor(t *testing.T, s string) {
	t.Helper()
	deadline := time.NewTimer(10 * time.Second)
	defer deadline.Stop()
	for {
		o.mu.Lock()
		got, ch := o.buf.String(), o.changed
		o.mu.Unlock()
		if strings.Contains(got, s) {
			return
		}
		select {
		case <-ch:
		case <-deadline.C:
			t.Fatalf("timed out waiting for %q; followed so far:\n%s", s, got)
		}
	}
}

// follow runs Follow in a goroutine; the returned channel gives its result.
func follow(path string, out *output, done func() bool, stop <-chan struct{}) <-chan error {
	res := make(chan error, 1)
	go func() { res <- Follow(path, out, done, stop) }()
	return res
}

func result(t *testing.T, res <-chan error) error {
	t.Helper()
	select {
	case err := <-res:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("Follow did not return")
		return nil
	}
}

func TestFollowCopiesAFinishedLog(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "attempt=1.log")
	content := strings.Repeat("a finished line\n", 5000) // several reads
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := Follow(path, &out, func() bool { return true }, nil); err != nil {
		t.Fatal(err)
	}
	if out.String() != content {
		t.Errorf("copied %d bytes, want the %d of the file", out.Len(), len(content))
	}
}

func TestFollowTailsUntilDone(t *testing.T) {
	t.Parallel()
	w, path := create(t)
	w.Printf("existing")
	var finished atomic.Bool
	out := newOutput()
	res := follow(path, out, finished.Load, make(chan struct{}))
	out.waitFor(t, "] existing\n")
	w.Printf("appended 1")
	out.waitFor(t, "] appended 1\n")
	w.Printf("appended 2")
	if _, err := w.Write([]byte("last, unterminated")); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil { // the try ends: its last line is flushed
		t.Fatal(err)
	}
	finished.Store(true)
	if err := result(t, res); err != nil {
		t.Fatalf("Follow = %v", err)
	}
	if got, want := out.String(), read(t, path); got != want {
		t.Errorf("followed:\n%s\nthe file:\n%s", got, want)
	}
	if !strings.HasSuffix(out.String(), "] last, unterminated\n") {
		t.Errorf("the final flushed line is missing:\n%s", out.String())
	}
}

func TestFollowWaitsForTheFile(t *testing.T) {
	t.Parallel()
	path := Path(t.TempDir(), "d", "r", "t", 1)
	var finished atomic.Bool
	out := newOutput()
	res := follow(path, out, finished.Load, make(chan struct{}))
	w, err := Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w.Printf("appeared later")
	out.waitFor(t, "] appeared later\n")
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	finished.Store(true)
	if err := result(t, res); err != nil {
		t.Fatalf("Follow = %v", err)
	}
}

func TestFollowNoLogOnceDone(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "attempt=1.log")
	err := Follow(path, newOutput(), func() bool { return true }, nil)
	if err == nil || !strings.Contains(err.Error(), "no log at "+path) {
		t.Errorf("Follow = %v, want \"no log at %s\"", err, path)
	}
}

func TestFollowReturnsWhenStopped(t *testing.T) {
	t.Parallel()
	t.Run("while waiting for the file", func(t *testing.T) {
		t.Parallel()
		stop := make(chan struct{})
		res := follow(filepath.Join(t.TempDir(), "never.log"), newOutput(), func() bool { return false }, stop)
		close(stop)
		if err := result(t, res); err != nil {
			t.Errorf("Follow = %v, want nil", err)
		}
	})
	t.Run("while tailing", func(t *testing.T) {
		t.Parallel()
		w, path := create(t)
		w.Printf("running")
		defer w.Close()
		stop := make(chan struct{})
		out := newOutput()
		res := follow(path, out, func() bool { return false }, stop)
		out.waitFor(t, "] running\n")
		close(stop)
		if err := result(t, res); err != nil {
			t.Errorf("Follow = %v, want nil", err)
		}
	})
}

type failingWriter struct{}

var errSink = errors.New("sink closed")

func (failingWriter) Write([]byte) (int, error) { return 0, errSink }

func TestFollowReportsOutputErrors(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "attempt=1.log")
	if err := os.WriteFile(path, []byte("x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Follow(path, failingWriter{}, func() bool { return false }, nil); !errors.Is(err, errSink) {
		t.Errorf("Follow = %v, want the writer's error", err)
	}
}

// TestStartKeepsLinesUntilTheFileIsOpen: a writer from Start takes lines at
// once; after Wait every one of them is in the file, in order, followed by
// later ones.
func TestStartKeepsLinesUntilTheFileIsOpen(t *testing.T) {
	t.Parallel()
	path := Path(t.TempDir(), "d", "r", "t", 1)
	w := Start(path)
	for i := range 100 {
		w.Printf("early %d", i)
	}
	if err := w.Wait(); err != nil {
		t.Fatal(err)
	}
	w.Printf("late")
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	if len(lines) != 101 {
		t.Fatalf("%d lines, want 101:\n%s", len(lines), data)
	}
	for i, l := range lines[:100] {
		if !strings.HasSuffix(l, fmt.Sprintf("] early %d", i)) {
			t.Fatalf("line %d = %q", i, l)
		}
	}
	if !strings.HasSuffix(lines[100], "] late") {
		t.Fatalf("last line = %q", lines[100])
	}
	if len(w.Pending()) != 0 {
		t.Errorf("pending after a successful open: %q", w.Pending())
	}
}

// TestStartThenRunsAfterTheOpen: StartThen's work runs once the open is
// over, whether or not it worked, so it never delays the try's log.
func TestStartThenRunsAfterTheOpen(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, path := range []string{Path(dir, "d", "r", "t", 1), "/dev/full/not-a-folder/attempt=1.log"} {
		var w *Writer
		ready := make(chan struct{})
		afterOpen := make(chan bool, 1)
		w = StartThen(path, func() {
			<-ready
			select {
			case <-w.opened:
				afterOpen <- true
			default:
				afterOpen <- false
			}
		})
		close(ready)
		if !<-afterOpen {
			t.Errorf("%s: then ran before the open was over", path)
		}
		_ = w.Close()
	}
}

// TestStartReportsAFileThatCannotBeOpened: Wait and Close return the open
// error, and the lines stay available (masked) for the caller to keep.
func TestStartReportsAFileThatCannotBeOpened(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	blocker := filepath.Join(dir, "dag_id=d")
	if err := os.WriteFile(blocker, []byte("a file where a folder should be"), 0o644); err != nil {
		t.Fatal(err)
	}
	w := Start(Path(dir, "d", "r", "t", 1))
	w.AddSecret("hunter22")
	w.Printf("password is hunter22")
	if err := w.Wait(); err == nil {
		t.Fatal("Wait: no error for a log folder that cannot be made")
	}
	if err := w.Close(); err == nil {
		t.Fatal("Close: no error for a log that was never opened")
	}
	got := string(w.Pending())
	if !strings.Contains(got, "password is ***") || strings.Contains(got, "hunter22") {
		t.Errorf("pending = %q, want the masked line", got)
	}
}

// TestAFullDiskIsReported: a log whose writes fail (here /dev/full, as on a
// full disk) makes Wait and Close fail, and its lines stay in Pending,
// whether the failure hits the early lines or later ones.
func TestAFullDiskIsReported(t *testing.T) {
	t.Parallel()
	_, err := os.Stat("/dev/full")
	testenv.RequireCI(t, "/dev/full", err)
	for name, open := range map[string]func() *Writer{
		"Start":  func() *Writer { return Start("/dev/full") },
		"Create": func() *Writer { w, err := Create("/dev/full"); must(t, err); return w },
	} {
		w := open()
		w.Printf("line one")
		if err := w.Wait(); err == nil {
			t.Errorf("%s: Wait reported no error for a log that could not be written", name)
		}
		w.Printf("line two")
		if err := w.Close(); err == nil {
			t.Errorf("%s: Close reported no error", name)
		}
		if got := string(w.Pending()); !strings.Contains(got, "line one") || !strings.Contains(got, "line two") {
			t.Errorf("%s: Pending = %q, want both lines", name, got)
		}
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

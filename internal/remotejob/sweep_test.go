package remotejob

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// countShell is Local counting its calls (sessions, over ssh) and telling
// when one has ended.
type countShell struct {
	mu    sync.Mutex
	calls int
	ended chan struct{} // one send per ended call, when not nil
}

func (c *countShell) Run(ctx context.Context, script string, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	code, err := Local{}.Run(ctx, script, stdin, stdout, stderr)
	c.mu.Lock()
	c.calls++
	c.mu.Unlock()
	if c.ended != nil {
		c.ended <- struct{}{}
	}
	return code, err
}

func (c *countShell) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.calls
}

// endedJob starts a job of command and follows it to its end.
func endedJob(t *testing.T, base, id, command string) Handle {
	t.Helper()
	h, _, err := Start(context.Background(), Local{}, Spec{Command: command, BaseDir: base, JobID: id})
	if err != nil {
		t.Fatal(err)
	}
	if code, _, _ := follow(t, h); code != 0 {
		t.Fatalf("job %s exited with %d", id, code)
	}
	return h
}

// newSweeper is a sweeper whose idle flush does not come during a test
// unless asked for; it is flushed at the end.
func newSweeper(t *testing.T, idle time.Duration) *Sweeper {
	s := NewSweeper(idle)
	t.Cleanup(func() {
		if err := s.Flush(context.Background()); err != nil {
			t.Errorf("flush at cleanup: %v", err)
		}
	})
	return s
}

func exists(t *testing.T, path string) bool {
	t.Helper()
	_, err := os.Stat(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	return err == nil
}

// TestSweepCarriedByTheNextCall: the cleanups pending for a host are done
// by the next call to it, in the same call (one session), before its own
// work, whose answer reads as without them (the job arrives on stdin).
func TestSweepCarriedByTheNextCall(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	a, b := endedJob(t, base, "job-a", "true"), endedJob(t, base, "job-b", "true")
	s := newSweeper(t, time.Hour)
	var reported []error
	report := func(err error) { reported = append(reported, err) }
	for _, h := range []Handle{a, b, a} { // a twice: queued once
		if err := s.Defer("host", Local{}, h, report); err != nil {
			t.Fatal(err)
		}
	}
	if n := s.Pending("host"); n != 2 {
		t.Fatalf("%d pending, want 2", n)
	}
	sh := &countShell{}
	h, fresh, q, err := StartQuick(context.Background(), s.Shell("host", sh, "job-c"), Spec{Command: "echo hi", BaseDir: base, JobID: "job-c"}, time.Second)
	if err != nil || !fresh || q == nil || string(q.Stdout) != "hi\n" {
		t.Fatalf("StartQuick carrying two cleanups = %+v, %v, %+v, %v; want a fresh job that said hi", h, fresh, q, err)
	}
	t.Cleanup(func() { stopQuietly(t, h) })
	if exists(t, a.Dir) || exists(t, b.Dir) || !exists(t, h.Dir) {
		t.Fatalf("after the start: %s, %s gone? want both gone and %s there", a.Dir, b.Dir, h.Dir)
	}
	if sh.count() != 1 || s.Pending("host") != 0 || len(reported) != 0 {
		t.Fatalf("%d calls, %d pending, reported %v; want 1, 0, none", sh.count(), s.Pending("host"), reported)
	}
	other := newSweeper(t, time.Hour)
	if err := other.Defer("elsewhere", Local{}, h, nil); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Find(context.Background(), other.Shell("host", Local{}, ""), base, "job-c"); err != nil || !exists(t, h.Dir) {
		t.Fatalf("a call to another target removed %s (%v)", h.Dir, err)
	}
}

// TestSweepNeverRemovesItsOwnDirectory: a job's own calls never carry its
// own cleanup. A start of the same job id (a resume) finds the job and
// does not run the command again; the cleanup stays pending for others.
func TestSweepNeverRemovesItsOwnDirectory(t *testing.T) {
	t.Parallel()
	base, work := t.TempDir(), t.TempDir()
	count := filepath.Join(work, "count")
	spec := Spec{Command: "echo ran >> '" + count + "'", BaseDir: base, JobID: "job-own"}
	h := endedJob(t, base, spec.JobID, spec.Command)
	s := newSweeper(t, time.Hour)
	if err := s.Defer("host", Local{}, h, nil); err != nil {
		t.Fatal(err)
	}
	again, fresh, _, err := StartQuick(context.Background(), s.Shell("host", Local{}, spec.JobID), spec, 100*time.Millisecond)
	if err != nil || fresh || again.Dir != h.Dir {
		t.Fatalf("start again = %+v, fresh %v, %v; want the existing job", again, fresh, err)
	}
	data, _ := os.ReadFile(count)
	if string(data) != "ran\n" || !exists(t, h.Dir) || s.Pending("host") != 1 {
		t.Fatalf("the command ran %q, directory there: %v, %d pending; want once, there, 1", data, exists(t, h.Dir), s.Pending("host"))
	}
}

// TestSweepIdleFlush: cleanups no call carries are done after the idle
// delay, all of a host's in one session.
func TestSweepIdleFlush(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	a, b := endedJob(t, base, "idle-a", "true"), endedJob(t, base, "idle-b", "true")
	s := newSweeper(t, 50*time.Millisecond)
	sh := &countShell{ended: make(chan struct{}, 4)}
	for _, h := range []Handle{a, b} {
		if err := s.Defer("host", sh, h, func(err error) { t.Errorf("reported: %v", err) }); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case <-sh.ended:
	case <-time.After(30 * time.Second):
		t.Fatal("no idle flush within 30s")
	}
	if exists(t, a.Dir) || exists(t, b.Dir) || sh.count() != 1 || s.Pending("host") != 0 {
		t.Fatalf("after the idle flush: %s there %v, %s there %v, %d sessions; want both gone in 1",
			a.Dir, exists(t, a.Dir), b.Dir, exists(t, b.Dir), sh.count())
	}
}

// TestSweepReportsWhatItCannotRemove: a directory that is not the job's
// (its marker names another) and a job still running are reported, not
// removed, and the carrying call's own work is not disturbed.
func TestSweepReportsWhatItCannotRemove(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	forged := endedJob(t, base, "forged", "true")
	if err := os.WriteFile(filepath.Join(forged.Dir, "sirocco-job"), []byte("sirocco-remotejob v1 other\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	running := startJob(t, Spec{Command: "sleep 30", BaseDir: base, JobID: "running"})
	s := newSweeper(t, time.Hour)
	got := map[string]error{}
	for _, h := range []Handle{forged, running} {
		if err := s.Defer("host", Local{}, h, func(err error) { got[h.JobID] = err }); err != nil {
			t.Fatal(err)
		}
	}
	found, ok, err := Find(context.Background(), s.Shell("host", Local{}, ""), base, "running")
	if err != nil || !ok || found != running {
		t.Fatalf("the carrying Find = %+v, %v, %v", found, ok, err)
	}
	if err := got["forged"]; err == nil || !strings.Contains(err.Error(), "is not the directory of job forged") {
		t.Errorf("forged directory reported %v", err)
	}
	if err := got["running"]; !errors.Is(err, ErrRunning) {
		t.Errorf("running job reported %v, want ErrRunning", err)
	}
	if !exists(t, forged.Dir) || !exists(t, running.Dir) || s.Pending("host") != 0 {
		t.Fatalf("directories removed, or still pending (%d)", s.Pending("host"))
	}
}

// failShell fails like a dropped connection.
type failShell struct{ calls int }

func (f *failShell) Run(context.Context, string, io.Reader, io.Writer, io.Writer) (int, error) {
	f.calls++
	return -1, errors.New("connection lost")
}

// TestSweepRetriesAfterALostAnswer: a cleanup whose call lost its
// connection is carried again, and reported once sweepTries calls lost it.
func TestSweepRetriesAfterALostAnswer(t *testing.T) {
	t.Parallel()
	h := Handle{Version: Version, JobID: "j", Dir: "/nowhere/j", PID: 42}
	s := newSweeper(t, time.Hour)
	var reported error
	if err := s.Defer("host", Local{}, h, func(err error) { reported = err }); err != nil {
		t.Fatal(err)
	}
	f := &failShell{}
	for i := range sweepTries {
		if _, err := s.Shell("host", f, "").Run(context.Background(), ":", nil, io.Discard, io.Discard); err == nil {
			t.Fatal("no error from a failed transport")
		}
		if want := min(1, sweepTries-1-i); s.Pending("host") != want {
			t.Fatalf("after %d lost calls: %d pending, want %d", i+1, s.Pending("host"), want)
		}
	}
	if reported == nil || !strings.Contains(reported.Error(), "connection lost") {
		t.Fatalf("reported %v, want the lost connection", reported)
	}
	if err := s.Defer("host", Local{}, Handle{Version: Version, JobID: "j", Dir: "relative/j", PID: 42}, nil); err == nil {
		t.Fatal("Defer accepted an invalid handle")
	}
}

// TestSweepFlush: Flush removes every pending directory at once (the
// shutdown), one session per host.
func TestSweepFlush(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	a, b := endedJob(t, base, "flush-a", "true"), endedJob(t, base, "flush-b", "true")
	s := NewSweeper(time.Hour)
	sh := &countShell{}
	for _, h := range []Handle{a, b} {
		if err := s.Defer("host", sh, h, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if exists(t, a.Dir) || exists(t, b.Dir) || sh.count() != 1 {
		t.Fatalf("after Flush: directories there (%v, %v), %d sessions; want gone, 1", exists(t, a.Dir), exists(t, b.Dir), sh.count())
	}
}

// TestSweepHeadSplitsAnyWay: the sweep's lines are read off the head of
// the answer however the transport cuts it, and the rest is passed on
// whole; a line that does not read back stops everything.
func TestSweepHeadSplitsAnyWay(t *testing.T) {
	t.Parallel()
	want := []pendingCleanup{{h: Handle{JobID: "a"}}, {h: Handle{JobID: "b"}}}
	answer := "sirocco-remotejob v1 swept removed a\nsirocco-remotejob v1 swept failed b cannot remove /x\nsirocco-remotejob v1 exited 0 0 0 0 0\n"
	for _, size := range []int{1, 2, 7, 40, len(answer)} {
		var rest bytes.Buffer
		w := &sweepHead{want: want, next: &rest}
		for i := 0; i < len(answer); i += size {
			if _, err := w.Write([]byte(answer[i:min(i+size, len(answer))])); err != nil {
				t.Fatal(err)
			}
		}
		if w.err != nil || len(w.got) != 2 || w.got[0].word != "removed" || w.got[1] != (swept{"failed", "cannot remove /x"}) ||
			rest.String() != "sirocco-remotejob v1 exited 0 0 0 0 0\n" {
			t.Fatalf("in pieces of %d: got %+v, err %v, rest %q", size, w.got, w.err, rest.String())
		}
	}
	var rest bytes.Buffer
	w := &sweepHead{want: want, next: &rest}
	_, _ = w.Write([]byte("sirocco-remotejob v1 swept removed b\nsirocco-remotejob v1 exited 0 0 0 0 0\n"))
	if w.err == nil || rest.Len() != 0 {
		t.Fatalf("the answer for the wrong job was accepted: %+v, rest %q", w.got, rest.String())
	}
}

func TestParseSwept(t *testing.T) {
	t.Parallel()
	tests := []struct {
		line string
		want swept
		ok   bool
	}{
		{"sirocco-remotejob v1 swept removed j", swept{word: "removed"}, true},
		{"sirocco-remotejob v1 swept gone j", swept{word: "gone"}, true},
		{"sirocco-remotejob v1 swept running j", swept{word: "running"}, true},
		{"sirocco-remotejob v1 swept failed j cannot remove /a b", swept{"failed", "cannot remove /a b"}, true},
		{"sirocco-remotejob v1 swept failed j", swept{}, false},
		{"sirocco-remotejob v1 swept failed j ", swept{}, false},
		{"sirocco-remotejob v1 swept failed j bad\x01byte", swept{}, false},
		{"sirocco-remotejob v1 swept removed j extra", swept{}, false},
		{"sirocco-remotejob v1 swept removed k", swept{}, false},
		{"sirocco-remotejob v1 swept removed", swept{}, false},
		{"sirocco-remotejob v1 swept vanished j", swept{}, false},
		{"sirocco-remotejob v1 removed", swept{}, false},
		{"", swept{}, false},
	}
	for _, tt := range tests {
		got, err := parseSwept([]byte(tt.line), "j")
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("parseSwept(%q) = %+v, %v; want %+v, ok %v", tt.line, got, err, tt.want, tt.ok)
		}
	}
}

// TestSweepBatchesAreBounded: a call carries at most carryMax cleanups
// (the oldest); the rest wait for the next call, or the flush.
func TestSweepBatchesAreBounded(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	s := NewSweeper(time.Hour)
	for i := range carryMax + 2 {
		id := "gone-" + string(rune('a'+i))
		if err := s.Defer("host", Local{}, Handle{Version: Version, JobID: id, Dir: filepath.Join(base, id), PID: 42}, nil); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Shell("host", Local{}, "").Run(context.Background(), ":", nil, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	if n := s.Pending("host"); n != 2 {
		t.Fatalf("%d pending after a call, want 2", n)
	}
	if err := s.Flush(context.Background()); err != nil || s.Pending("host") != 0 {
		t.Fatalf("Flush: %v, %d pending", err, s.Pending("host"))
	}
}

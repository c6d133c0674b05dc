package kube

import (
	"bytes"
	"context"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

// TestLogResumeWritesEachLineOnce: a stream opened again from the stored
// position (whole seconds, as the API takes it) repeats the lines of that
// second; those already written, including several with the same
// timestamp, are skipped, and the rest is written once.
func TestLogResumeWritesEachLineOnce(t *testing.T) {
	t.Parallel()
	stream := []string{
		"2026-01-01T10:00:00.100000000Z one",
		"2026-01-01T10:00:00.200000000Z two",
		"2026-01-01T10:00:00.200000000Z two again",
		"2026-01-01T10:00:01.000000000Z three",
	}
	var out bytes.Buffer
	f := &LogFollower{Out: &out}
	write := func(lines []string) {
		start, n := f.Position(), 0
		for _, l := range lines {
			if _, err := f.writeLine([]byte(l+"\n"), start, &n); err != nil {
				t.Fatal(err)
			}
		}
	}
	write(stream[:2]) // the first stream drops after "two"
	if p := f.Position(); !p.Time.Equal(time.Date(2026, 1, 1, 10, 0, 0, 200000000, time.UTC)) || p.Seen != 1 {
		t.Fatalf("position %+v", p)
	}
	write(stream) // opened again from 10:00:00: everything of that second comes again
	write(stream) // and once more, after the end
	want := "one\ntwo\ntwo again\nthree\n"
	if out.String() != want {
		t.Errorf("log:\n%s\nwant:\n%s", out.String(), want)
	}
}

// TestLogLineWithoutTimestamp: a log server that ignores timestamps gets
// its lines written whole; a last line without newline gets one.
func TestLogLineWithoutTimestamp(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	f := &LogFollower{Out: &out}
	n := 0
	for _, l := range []string{"plain line\n", "no-space-at-all", "2026-99-01T00:00:00Z bad date\n"} {
		if _, err := f.writeLine([]byte(l), LogPosition{}, &n); err != nil {
			t.Fatal(err)
		}
	}
	if got := out.String(); got != "plain line\nno-space-at-all\n2026-99-01T00:00:00Z bad date\n" {
		t.Errorf("log %q", got)
	}
	if !f.Position().IsZero() {
		t.Errorf("position moved: %+v", f.Position())
	}
	if strings.Count(out.String(), "\n") != 3 {
		t.Error("every line ends with a newline")
	}
}

// hugeLine is a log stream of one stamped line of n bytes, made as it is
// read, then a short line.
type hugeLine struct {
	head, tail []byte
	n          int
}

func (h *hugeLine) Read(p []byte) (int, error) {
	switch {
	case len(h.head) > 0:
		c := copy(p, h.head)
		h.head = h.head[c:]
		return c, nil
	case h.n > 0:
		c := min(len(p), h.n)
		for i := range c {
			p[i] = 'x'
		}
		h.n -= c
		return c, nil
	case len(h.tail) > 0:
		c := copy(p, h.tail)
		h.tail = h.tail[c:]
		return c, nil
	}
	return 0, io.EOF
}

// TestLogHugeLineIsCut: a container's line without a newline for 64 MiB
// is written cut at maxLogLine, with a note, not held whole in memory;
// the next line follows intact.
func TestLogHugeLineIsCut(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	f := &LogFollower{Out: &out}
	src := &hugeLine{head: []byte("2026-01-01T10:00:00Z "), n: 64 << 20, tail: []byte("\n2026-01-01T10:00:01Z next\n")}
	if _, err := f.copyLines(src, false, LogPosition{}); err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(out.String(), "\n")
	if len(lines) != 3 || lines[1] != "next\n" || lines[2] != "" {
		t.Fatalf("%d lines, the second %.40q", len(lines), lines[min(1, len(lines)-1)])
	}
	if n := len(lines[0]); n > maxLogLine+len(cutNote) || !strings.HasSuffix(lines[0], cutNote) {
		t.Errorf("first line of %d bytes, ending %q", n, lines[0][max(0, n-60):])
	}
	if p := f.Position(); p.Seen != 1 || p.Time.Second() != 1 {
		t.Errorf("position %+v", p)
	}
}

// TestFollowDelay: a container that ends within the follower's Delay has
// its log read once, by the catch-up, without a follow stream before it.
func TestFollowDelay(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		delay   time.Duration
		streams bool
	}{{0, true}, {time.Hour, false}} {
		cs := fake.NewClientset()
		var out syncBuffer
		f := &LogFollower{Pods: cs.CoreV1().Pods("ns"), Pod: "p", Container: "c", Out: &out, Delay: tc.delay}
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		f.Follow(ctx) // the container ends within 100 ms
		cancel()
		if n := logReads(cs); (n > 0) != tc.streams {
			t.Errorf("delay %s: %d log streams opened while following", tc.delay, n)
		}
		before := logReads(cs)
		if err := f.CatchUp(context.Background()); err != nil {
			t.Fatal(err)
		}
		if n := logReads(cs) - before; n != 1 {
			t.Errorf("delay %s: the catch-up read the log %d times", tc.delay, n)
		}
		if !strings.HasSuffix(out.String(), "fake logs\n") {
			t.Errorf("delay %s: log %q", tc.delay, out.String())
		}
	}
}

// logReads counts the reads of a pod's log the fake clientset served.
func logReads(cs *fake.Clientset) int {
	n := 0
	for _, a := range cs.Actions() {
		if a.GetSubresource() == "log" {
			n++
		}
	}
	return n
}

// syncBuffer is a bytes.Buffer safe for the follower's writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestStartStopCatchUp: Stop ends the follow Start began (a second Start
// adds none) and its catch-up writes the end of the log and moves the
// position without calling OnProgress: the caller stores it with the end.
func TestStartStopCatchUp(t *testing.T) {
	t.Parallel()
	cs := fake.NewClientset()
	cs.PrependReactor("get", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if a.GetSubresource() != "log" {
			return false, nil, nil
		}
		return true, &runtime.Unknown{Raw: []byte("2026-01-01T10:00:00.5Z the end\n")}, nil
	})
	var out syncBuffer
	progress := 0
	f := &LogFollower{Pods: cs.CoreV1().Pods("ns"), Pod: "p", Container: "c", Out: &out, Delay: time.Hour,
		OnProgress: func(LogPosition) { progress++ }}
	f.Start(context.Background())
	f.Start(context.Background())
	if err := f.Stop(true, time.Minute); err != nil {
		t.Fatal(err)
	}
	if out.String() != "the end\n" || progress != 0 || logReads(cs) != 1 {
		t.Errorf("log %q, %d progress calls, %d reads", out.String(), progress, logReads(cs))
	}
	if p := f.Position(); !p.Time.Equal(time.Date(2026, 1, 1, 10, 0, 0, 500000000, time.UTC)) || p.Seen != 1 {
		t.Errorf("position %+v", p)
	}
	if err := f.Stop(false, time.Minute); err != nil {
		t.Errorf("a second Stop: %v", err)
	}
}

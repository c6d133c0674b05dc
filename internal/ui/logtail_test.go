package ui_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/store"
	"github.com/sirocco-dev/sirocco/internal/tasklog"
)

// tailSite is a site with run r1 of etl whose extract is in state, and
// the path of its first try's log (folder made).
func tailSite(t *testing.T, state store.TaskState) (*site, string) {
	t.Helper()
	s := newSite(t, map[string]string{"etl.yaml": etlYAML})
	s.createRun("etl", "r1", time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		map[string]store.TaskState{"extract": state}, "extract")
	path := tasklog.Path(s.cfg.LogsDir(), "etl", "r1", "extract", 1)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	return s, path
}

const tailPath = "/ui/api/log?dag_id=etl&run_id=r1&task_id=extract&try=1"

// collect reads a stream to its end: the text of its "lines" events
// joined, every event's name, and the end's reason.
func collect(t *testing.T, events <-chan event) (text string, names []string, reason string) {
	t.Helper()
	var b strings.Builder
	for {
		ev, ok := next(t, events, 10*time.Second)
		if !ok {
			t.Fatalf("the stream closed without an end event after %v", names)
		}
		names = append(names, ev.name)
		var s string
		switch ev.name {
		case "lines":
			if err := json.Unmarshal([]byte(ev.data), &s); err != nil {
				t.Fatal(err)
			}
			b.WriteString(s)
		case "end":
			if err := json.Unmarshal([]byte(ev.data), &s); err != nil {
				t.Fatal(err)
			}
			return b.String(), names, s
		}
	}
}

// TestLogTailKeepsCharactersWhole: a log of "€" (3 bytes each) with no
// line end, longer than a chunk, arrives whole: no character is split
// between two events (each half became U+FFFD before).
func TestLogTailKeepsCharactersWhole(t *testing.T) {
	s, path := tailSite(t, store.StateSuccess)
	want := strings.Repeat("€", 150000) // 450,000 bytes: chunks of 256 KiB cut a character
	if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
		t.Fatal(err)
	}
	got, names, _ := collect(t, s.stream(tailPath))
	if strings.ContainsRune(got, '\uFFFD') || got != want {
		t.Errorf("the log arrived as %d bytes in %v with %d U+FFFD, want the file's %d bytes",
			len(got), names, strings.Count(got, "\uFFFD"), len(want))
	}
}

// TestLogTailFromTheEnd: ?tail_bytes= starts at the first line within the
// last bytes, says where with an "earlier" event, and sends the rest of
// the file; without it the whole file comes.
func TestLogTailFromTheEnd(t *testing.T) {
	s, path := tailSite(t, store.StateSuccess)
	var b bytes.Buffer
	for i := range 120000 {
		fmt.Fprintf(&b, "line %06d\n", i) // 12 bytes a line, 1.44 MB
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	events := s.stream(tailPath + "&tail_bytes=1048576")
	ev, _ := next(t, events, 10*time.Second)
	var earlier struct{ Bytes int }
	if err := json.Unmarshal([]byte(ev.data), &earlier); ev.name != "earlier" || err != nil {
		t.Fatalf("first event %+v (%v), want earlier", ev, err)
	}
	if earlier.Bytes%12 != 0 || b.Len()-earlier.Bytes > 1<<20 || b.Len()-earlier.Bytes < 1<<20-12 {
		t.Errorf("earlier: %d bytes skipped, want the start of the first line in the last MiB of %d", earlier.Bytes, b.Len())
	}
	got, _, reason := collect(t, events)
	if got != b.String()[earlier.Bytes:] || reason != "the try is over" {
		t.Errorf("got %d bytes (end %q), want the file's last %d", len(got), reason, b.Len()-earlier.Bytes)
	}
	if got, names, _ := collect(t, s.stream(tailPath)); got != b.String() || names[0] != "lines" {
		t.Errorf("without tail_bytes: %d bytes, events %v", len(got), names[:1])
	}
	if status, _, _ := s.get(tailPath + "&tail_bytes=0"); status != http.StatusBadRequest {
		t.Errorf("tail_bytes=0: %d, want 400", status)
	}
}

// TestLogTailUnreadableEnds: a log that cannot be read ends the stream with
// an "end" event saying so, so the browser closes it rather than
// reconnecting every two seconds forever.
func TestLogTailUnreadableEnds(t *testing.T) {
	s, path := tailSite(t, store.StateRunning)
	if err := os.Mkdir(path, 0o755); err != nil { // opens, but every read fails
		t.Fatal(err)
	}
	_, names, reason := collect(t, s.stream(tailPath))
	if !strings.Contains(reason, "could not be read") || len(names) != 1 {
		t.Errorf("events %v, end %q: want only an end saying the log could not be read", names, reason)
	}
}

// TestLogTailTruncated: a log truncated below what was sent (logrotate's
// copytruncate) is sent again from its start after a line saying so,
// rather than stalling until it grows past the old offset.
func TestLogTailTruncated(t *testing.T) {
	s, path := tailSite(t, store.StateRunning)
	if err := os.WriteFile(path, []byte("old line one\nold line two\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	events := s.stream(tailPath)
	if ev, _ := next(t, events, 5*time.Second); ev.data != `"old line one\nold line two\n"` {
		t.Fatalf("first event %+v", ev)
	}
	if err := os.WriteFile(path, []byte("new\n"), 0o644); err != nil { // truncates in place
		t.Fatal(err)
	}
	var got []string
	for len(got) < 2 {
		ev, _ := next(t, events, 5*time.Second)
		got = append(got, ev.name+" "+ev.id+" "+ev.data)
	}
	if !strings.Contains(got[0], "truncated") || !strings.HasPrefix(got[0], "lines 0 ") || got[1] != `lines 4 "new\n"` {
		t.Errorf("after truncation: %q", got)
	}
}

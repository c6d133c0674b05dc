package ui

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/sirocco-dev/sirocco/internal/store"
	"github.com/sirocco-dev/sirocco/internal/tasklog"
)

// logChunk bounds one "lines" event of a tailed log.
const logChunk = 256 << 10

// maxTailBytes bounds ?tail_bytes=.
const maxTailBytes = 64 << 20

// truncatedLine is sent when the file shrank below the offset or was
// replaced (logrotate copytruncate, a client's offset past the end): the
// stream starts over from the file's first byte.
const truncatedLine = "[sirocco: the log file was truncated or replaced; showing it again from the start]\n"

// logTail streams one try's log as server-sent events. Query: dag_id,
// run_id, task_id and try (required); from=OFFSET starts at a byte offset
// (Last-Event-ID, sent by a reconnecting EventSource, wins over it);
// tail_bytes=N (1 to 64 MiB) starts at the first line that begins within
// the last N bytes of the file, for a log too big to show whole (the page
// asks for the last MiB). Events:
//   - "earlier", first, only when tail_bytes skipped the log's head: data
//     {"bytes": K}, the offset the stream starts at (a line's start). The
//     page can offer to show the earlier lines: reopen with from=0, or
//     fetch the REST API's text log.
//   - "lines": data, the text as a JSON string; id, the byte offset after
//     it, so a reconnecting EventSource resumes where it was. A full chunk
//     ends at a line's end, or failing that at a character's end; only a
//     finished try's last line may be unterminated.
//   - "end": data, the reason as a JSON string. The try is over and its
//     whole log was sent, there is no log file, the log cannot be read, or
//     the caller's sign-in no longer holds. The server then closes the
//     stream, and a client must not reconnect.
//
// The runner writes a try's log completely before it records the outcome,
// so reading the state before reading to the end of the file never loses
// the last lines. The state is read again only when the change feed says
// something changed (and at each keep-alive), not on every poll.
func (h *handler) logTail(w http.ResponseWriter, r *http.Request) {
	t, err := h.newTail(r)
	if err != nil {
		h.fail(w, err)
		return
	}
	release, err := h.acquire(r)
	if err != nil {
		h.fail(w, err)
		return
	}
	defer release()
	wt, err := h.newWatch(r)
	if err != nil {
		h.fail(w, err)
		return
	}
	defer wt.stop()
	changes, unsubscribe := h.feed.subscribe()
	defer unsubscribe()
	if t.s, err = startSSE(w, r); err != nil {
		return
	}
	defer t.close()
	reason, err := t.run(r, wt, changes)
	if err != nil && r.Context().Err() == nil {
		h.log.Warn("ui log tail stopped", "dag_id", t.key.DagID, "run_id", t.key.RunID, "task_id", t.key.TaskID, "try", t.try, "err", err)
		reason = "the log could not be read: see the server log"
	}
	if reason != "" {
		_ = t.s.send("end", "", quote(reason))
	}
}

// newTail reads a tail's parameters and checks that its try has started.
func (h *handler) newTail(r *http.Request) (*tail, error) {
	q := r.URL.Query()
	mapIndex, err := mapIndexParam(r)
	if err != nil {
		return nil, err
	}
	key := store.TaskKey{DagID: q.Get("dag_id"), RunID: q.Get("run_id"), TaskID: q.Get("task_id")}.WithMapIndex(mapIndex)
	try, err := intParam(r, "try", 0, 1, 1<<30)
	if err == nil && try == 0 {
		err = &httpError{http.StatusBadRequest, "try: required"}
	}
	if err != nil {
		return nil, err
	}
	from, err := intParam(r, "from", 0, 0, 1<<62)
	if err != nil {
		return nil, err
	}
	tailBytes, err := intParam(r, "tail_bytes", 0, 1, maxTailBytes)
	if err != nil {
		return nil, err
	}
	if id, err := strconv.ParseInt(r.Header.Get("Last-Event-ID"), 10, 64); err == nil && id >= 0 {
		from, tailBytes = int(id), 0
	}
	ti, err := h.o.Store.GetTaskInstance(r.Context(), key)
	if errors.Is(err, store.ErrNotFound) {
		return nil, &httpError{http.StatusNotFound, fmt.Sprintf("run %s of DAG %s has no task %s", key.RunID, key.DagID, key.TaskID)}
	}
	if err != nil {
		return nil, fmt.Errorf("read task instance: %w", err)
	}
	if try > ti.TryNumber {
		return nil, &httpError{http.StatusNotFound, fmt.Sprintf("try %d of %s has not started (the task is at try %d)", try, key.TaskID, ti.TryNumber)}
	}
	return &tail{h: h, key: key, try: try, offset: int64(from), tailBytes: int64(tailBytes),
		path: tasklog.MapPath(h.o.Config.LogsDir(), key.DagID, key.RunID, key.TaskID, key.MapIndex(), try)}, nil
}

// tail is one log being streamed.
type tail struct {
	h         *handler
	s         *sse
	key       store.TaskKey
	try       int
	path      string
	offset    int64
	tailBytes int64 // start within the last tailBytes of the file (0: at offset)
	f         *os.File
	buf       []byte // one chunk, allocated once per tail
}

func (t *tail) close() {
	if t.f != nil {
		t.f.Close()
	}
}

// run streams until the try is over, the client leaves (""), or the
// credentials fail; it returns the "end" event's reason.
func (t *tail) run(r *http.Request, wt *watch, changes <-chan struct{}) (string, error) {
	poll := time.NewTicker(t.h.o.PollInterval)
	defer poll.Stop()
	keep := time.NewTicker(t.h.o.KeepAlive)
	defer keep.Stop()
	over, err := t.over(r)
	for {
		if err != nil {
			return "", err
		}
		sent, perr := t.pump(over)
		if perr != nil {
			return "", perr
		}
		if over {
			if t.f == nil {
				return "no log file for this try on this server", nil
			}
			return "the try is over", nil
		}
		if !sent {
			again, rerr := t.reopenIfReplaced()
			if rerr != nil {
				return "", rerr
			}
			if again {
				continue
			}
		}
		select {
		case <-r.Context().Done():
			return "", nil
		case <-t.h.o.Stop:
			return "", nil
		case <-poll.C:
		case <-changes:
			over, err = t.over(r)
		case <-keep.C:
			if t.s.comment() != nil {
				return "", nil // the client went away
			}
			over, err = t.over(r)
		case <-wt.due():
			if reason := wt.recheck(); reason != "" {
				return reason, nil
			}
		case <-wt.expired():
			return expiredReason, nil
		}
	}
}

// over reports whether the try can write no more: a later try started, or
// the task instance is in a state no try runs in.
func (t *tail) over(r *http.Request) (bool, error) {
	ti, err := t.h.o.Store.GetTaskInstance(r.Context(), t.key)
	if errors.Is(err, store.ErrNotFound) {
		return true, nil // the run was deleted
	}
	if err != nil {
		return false, fmt.Errorf("read task instance: %w", err)
	}
	if ti.TryNumber > t.try {
		return true, nil
	}
	switch ti.State {
	case store.StateRunning, store.StateQueued, store.StateRestarting:
		return false, nil
	}
	return true, nil
}

// open opens the log once it exists (false while it does not) and, on
// the first open with tail_bytes, skips to the last lines.
func (t *tail) open() (bool, error) {
	if t.f != nil {
		return true, nil
	}
	f, err := os.Open(t.path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("open %s: %w", t.path, err)
	}
	t.f = f
	if t.buf == nil {
		t.buf = make([]byte, logChunk)
	}
	if t.tailBytes > 0 {
		skip := t.tailBytes
		t.tailBytes = 0
		return true, t.skipHead(skip)
	}
	return true, nil
}

// skipHead moves the offset to the first line starting within the last n
// bytes of the file and tells the client with an "earlier" event.
func (t *tail) skipHead(n int64) error {
	st, err := t.f.Stat()
	if err != nil {
		return fmt.Errorf("stat %s: %w", t.path, err)
	}
	if st.Size() <= n {
		return nil
	}
	start := st.Size() - n
	m, err := t.f.ReadAt(t.buf, start-1) // from the byte before: is start a line's start?
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("read %s: %w", t.path, err)
	}
	head := t.buf[:m]
	if i := bytes.IndexByte(head, '\n'); i >= 0 {
		start += int64(i)
	} else {
		start += int64(runeStart(head[1:]))
	}
	t.offset = start
	b, _ := json.Marshal(map[string]int64{"bytes": start}) // a map of numbers always encodes
	return t.s.send("earlier", "", string(b))
}

// runeStart is the index of the first character that starts in b.
func runeStart(b []byte) int {
	for i := 0; i < len(b) && i < utf8.UTFMax; i++ {
		if utf8.RuneStart(b[i]) {
			return i
		}
	}
	return 0
}

// pump sends what the file holds beyond the offset (see cut).
func (t *tail) pump(over bool) (bool, error) {
	if ok, err := t.open(); !ok || err != nil {
		return false, err
	}
	sent := false
	for {
		n, err := t.f.ReadAt(t.buf, t.offset)
		if err != nil && !errors.Is(err, io.EOF) {
			return sent, fmt.Errorf("read %s: %w", t.path, err)
		}
		chunk := cut(t.buf[:n], n == len(t.buf), over)
		if len(chunk) == 0 {
			return sent, nil
		}
		t.offset += int64(len(chunk))
		if err := t.s.send("lines", strconv.FormatInt(t.offset, 10), quote(string(chunk))); err != nil {
			return sent, err
		}
		sent = true
	}
}

// cut is what of a read to send now. A read that filled the buffer ends
// at its last line's end, or at its last whole character when it holds no
// line's end (so no character is split between events). A shorter read
// keeps a partial last line for the next look, unless the try is over
// (then its last line may stay unterminated).
func cut(chunk []byte, full, over bool) []byte {
	if i := bytes.LastIndexByte(chunk, '\n'); i >= 0 && (full || !over) {
		return chunk[:i+1]
	}
	if !full {
		if over {
			return chunk
		}
		return chunk[:0]
	}
	// A full buffer without a line's end: cut before a character that does
	// not end in it.
	for i := len(chunk) - 1; i >= 0 && i >= len(chunk)-utf8.UTFMax; i-- {
		if utf8.RuneStart(chunk[i]) {
			if !utf8.FullRune(chunk[i:]) && i > 0 {
				return chunk[:i]
			}
			break
		}
	}
	return chunk
}

// reopenIfReplaced starts over from the file's first byte when the log
// shrank below the offset or another file took its name, saying so in
// the stream; it reports whether it did.
func (t *tail) reopenIfReplaced() (bool, error) {
	if t.f == nil {
		return false, nil
	}
	now, err := os.Stat(t.path)
	if err != nil {
		return false, nil //nolint:nilerr // gone for now: keep what was open
	}
	was, err := t.f.Stat()
	if err != nil {
		return false, fmt.Errorf("stat %s: %w", t.path, err)
	}
	if now.Size() >= t.offset && os.SameFile(was, now) {
		return false, nil
	}
	t.f.Close()
	t.f, t.offset = nil, 0
	return true, t.s.send("lines", "0", quote(truncatedLine))
}

// quote is s as a JSON string: one line of SSE data.
func quote(s string) string {
	b, _ := json.Marshal(s) // a string always encodes
	return string(b)
}

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

	"github.com/sirocco-dev/sirocco/internal/store"
	"github.com/sirocco-dev/sirocco/internal/tasklog"
)

// logChunk bounds one "lines" event of a tailed log.
const logChunk = 256 << 10

// logTail streams one try's log as server-sent events: "lines" events
// (data: the text as a JSON string, id: the byte offset after it, so a
// reconnecting EventSource resumes where it was), then "end" once the try
// is over and its whole log sent. The runner writes a try's log completely
// before it records the outcome, so reading the state before reading to
// the end of the file never loses the last lines.
func (h *handler) logTail(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	key := store.TaskKey{DagID: q.Get("dag_id"), RunID: q.Get("run_id"), TaskID: q.Get("task_id")}
	try, err := intParam(r, "try", 0, 1, 1<<30)
	if err == nil && try == 0 {
		err = &httpError{http.StatusBadRequest, "try: required"}
	}
	if err != nil {
		h.fail(w, err)
		return
	}
	offset, _ := strconv.ParseInt(r.Header.Get("Last-Event-ID"), 10, 64)
	ti, err := h.o.Store.GetTaskInstance(r.Context(), key)
	if errors.Is(err, store.ErrNotFound) {
		h.fail(w, &httpError{http.StatusNotFound, fmt.Sprintf("run %s of DAG %s has no task %s", key.RunID, key.DagID, key.TaskID)})
		return
	}
	if err != nil {
		h.fail(w, fmt.Errorf("read task instance: %w", err))
		return
	}
	if try > ti.TryNumber {
		h.fail(w, &httpError{http.StatusNotFound, fmt.Sprintf("try %d of %s has not started (%d tries so far)", try, key.TaskID, ti.TryNumber)})
		return
	}
	s, err := startSSE(w, r)
	if err != nil {
		return
	}
	t := &tail{h: h, s: s, key: key, try: try, offset: max(offset, 0),
		path: tasklog.Path(h.o.Config.LogsDir(), key.DagID, key.RunID, key.TaskID, try)}
	if err := t.run(r); err != nil && r.Context().Err() == nil {
		h.log.Warn("ui log tail stopped", "dag_id", key.DagID, "run_id", key.RunID, "task_id", key.TaskID, "try", try, "err", err)
		_ = s.send("failure", "", quote("the log could not be read: see the server log"))
	}
}

// tail is one log being streamed.
type tail struct {
	h      *handler
	s      *sse
	key    store.TaskKey
	try    int
	path   string
	offset int64
	f      *os.File
}

func (t *tail) run(r *http.Request) error {
	defer func() {
		if t.f != nil {
			t.f.Close()
		}
	}()
	poll := time.NewTicker(t.h.o.PollInterval)
	defer poll.Stop()
	idle := 0
	for {
		over, err := t.over(r)
		if err != nil {
			return err
		}
		sent, err := t.pump(over)
		if err != nil {
			return err
		}
		if over {
			if t.f == nil {
				return t.s.send("end", "", quote("no log file for this try on this server"))
			}
			return t.s.send("end", "", quote("the try is over"))
		}
		if sent {
			idle = 0
			continue
		}
		idle++
		if time.Duration(idle)*t.h.o.PollInterval >= t.h.o.KeepAlive {
			idle = 0
			if err := t.s.comment(); err != nil {
				return nil // the client went away
			}
		}
		select {
		case <-r.Context().Done():
			return nil
		case <-t.h.o.Stop:
			return nil
		case <-poll.C:
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

// pump sends what the file holds beyond the offset, in chunks that end at
// a line's end unless the try is over (its last line may be unterminated).
func (t *tail) pump(over bool) (bool, error) {
	if t.f == nil {
		f, err := os.Open(t.path)
		if errors.Is(err, fs.ErrNotExist) {
			return false, nil
		}
		if err != nil {
			return false, fmt.Errorf("open %s: %w", t.path, err)
		}
		t.f = f
	}
	sent := false
	buf := make([]byte, logChunk)
	for {
		n, err := t.f.ReadAt(buf, t.offset)
		if err != nil && !errors.Is(err, io.EOF) {
			return sent, fmt.Errorf("read %s: %w", t.path, err)
		}
		chunk := buf[:n]
		if !over && n < logChunk {
			// Keep a partial last line for the next look, when it is whole.
			chunk = chunk[:bytes.LastIndexByte(chunk, '\n')+1]
		}
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

// quote is s as a JSON string: one line of SSE data.
func quote(s string) string {
	b, _ := json.Marshal(s) // a string always encodes
	return string(b)
}

package ui

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/sirocco-dev/sirocco/internal/store"
)

// sse is one server-sent events stream.
type sse struct {
	w  http.ResponseWriter
	rc *http.ResponseController
}

// startSSE answers the headers of an event stream and the client's retry
// delay, and flushes them: EventSource's open event fires then.
func startSSE(w http.ResponseWriter, r *http.Request) (*sse, error) {
	rc := http.NewResponseController(w)
	// A stream outlives the server's write timeout, if any.
	_ = rc.SetWriteDeadline(time.Time{})
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	w.WriteHeader(http.StatusOK)
	s := &sse{w: w, rc: rc}
	if _, err := fmt.Fprint(w, "retry: 2000\n\n"); err != nil {
		return nil, err
	}
	return s, rc.Flush()
}

// send writes one event; data must hold no newline (callers send JSON).
func (s *sse) send(event, id, data string) error {
	var b strings.Builder
	if id != "" {
		b.WriteString("id: " + id + "\n")
	}
	b.WriteString("event: " + event + "\ndata: " + data + "\n\n")
	if _, err := fmt.Fprint(s.w, b.String()); err != nil {
		return err
	}
	return s.rc.Flush()
}

// comment keeps an idle stream open through proxies.
func (s *sse) comment() error {
	if _, err := fmt.Fprint(s.w, ": keep-alive\n\n"); err != nil {
		return err
	}
	return s.rc.Flush()
}

// events streams "change" whenever a task instance was written or the set
// of active runs changed (a run started or finished), looked at every
// PollInterval. A page loads its data once the stream is open (so no
// change between the two is missed) and again on each change. It is a
// poll of the store's change cursor, an index lookup, rather than a
// subscription: the in-process scheduler's writes never reach Store.Watch.
func (h *handler) events(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	last, err := h.signature(ctx)
	if err != nil {
		h.fail(w, err)
		return
	}
	s, err := startSSE(w, r)
	if err != nil {
		return
	}
	poll := time.NewTicker(h.o.PollInterval)
	defer poll.Stop()
	keep := time.NewTicker(h.o.KeepAlive)
	defer keep.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-h.o.Stop:
			return
		case <-keep.C:
			if s.comment() != nil {
				return
			}
		case <-poll.C:
			sig, err := h.signature(ctx)
			if err != nil {
				if ctx.Err() == nil {
					h.log.Warn("ui change feed: cannot read the store", "err", err)
				}
				continue
			}
			if sig == last {
				continue
			}
			last = sig
			if s.send("change", "", "{}") != nil {
				return
			}
		}
	}
}

// signature changes whenever a task instance is written or a run becomes
// or stops being active.
func (h *handler) signature(ctx context.Context) (string, error) {
	c, err := h.o.Store.TaskChangeCursor(ctx)
	if err != nil {
		return "", err
	}
	runs, err := h.o.Store.ListRuns(ctx, store.RunFilter{States: []store.RunState{store.RunQueued, store.RunRunning}})
	if err != nil {
		return "", fmt.Errorf("list active runs: %w", err)
	}
	var b strings.Builder
	b.WriteString(strconv.FormatInt(int64(c), 10))
	for _, run := range runs {
		b.WriteString("|" + run.DagID + "/" + run.RunID + "=" + string(run.State))
	}
	return b.String(), nil
}

package ui

import (
	"fmt"
	"net/http"
	"strings"
	"time"
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
// of active runs changed (a run started or finished), as the change feed's
// one poller sees it every PollInterval. A page loads its data once the
// stream is open (so no change between the two is missed) and again on
// each change. The stream ends with "end" (data: the reason) when the
// caller's credentials no longer hold (Options.Recheck).
func (h *handler) events(w http.ResponseWriter, r *http.Request) {
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
	s, err := startSSE(w, r)
	if err != nil {
		return
	}
	keep := time.NewTicker(h.o.KeepAlive)
	defer keep.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-h.o.Stop:
			return
		case <-keep.C:
			if s.comment() != nil {
				return
			}
		case <-changes:
			if s.send("change", "", "{}") != nil {
				return
			}
		case <-wt.due():
			if reason := wt.recheck(); reason != "" {
				_ = s.send("end", "", quote(reason))
				return
			}
		case <-wt.expired():
			_ = s.send("end", "", quote(expiredReason))
			return
		}
	}
}

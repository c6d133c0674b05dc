package ui

import (
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/sirocco-dev/sirocco/internal/auth"
)

// streamCount counts the open event streams and log tails, per caller and
// in all, so that no caller (a Viewer included) can hold thousands of
// goroutines, tickers and file descriptors.
type streamCount struct {
	mu    sync.Mutex
	total int
	per   map[string]int
}

// acquire counts one more stream of r's caller, or refuses it with 429
// when the caller or the server is at its cap; release undoes it.
func (h *handler) acquire(r *http.Request) (release func(), err error) {
	who := caller(r)
	c := &h.streams
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.total >= h.o.MaxStreams {
		return nil, &httpError{http.StatusTooManyRequests,
			fmt.Sprintf("the server has %d event streams open, its maximum; close some tabs or try again later", c.total)}
	}
	if c.per[who] >= h.o.MaxStreamsPerUser {
		return nil, &httpError{http.StatusTooManyRequests,
			fmt.Sprintf("you have %d event streams (pages and log tails) open, the maximum; close some tabs", c.per[who])}
	}
	c.total++
	c.per[who]++
	var once sync.Once
	return func() {
		once.Do(func() {
			c.mu.Lock()
			defer c.mu.Unlock()
			c.total--
			if c.per[who]--; c.per[who] <= 0 {
				delete(c.per, who)
			}
		})
	}, nil
}

// caller names who makes r for the per-caller cap: the user the auth
// middleware found, else (no users: the loopback-only mode) the address.
func caller(r *http.Request) string {
	if id, ok := auth.FromContext(r.Context()); ok && id.Auth != auth.ViaNone {
		return "user:" + id.Username
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	return "addr:" + host
}

// watch ends a stream whose caller's credentials went bad (Options.Recheck):
// its channels fire when a look is due and when the credentials expire.
type watch struct {
	h      *handler
	r      *http.Request
	tick   *time.Ticker
	expiry *time.Timer
}

// neverC is a channel that never fires: a watch without Recheck.
var neverC = make(chan time.Time)

// newWatch checks r's credentials once, to learn when they expire; an
// error means they are already bad (the stream is refused with 401).
func (h *handler) newWatch(r *http.Request) (*watch, error) {
	w := &watch{h: h, r: r}
	if h.o.Recheck == nil {
		return w, nil
	}
	until, err := h.o.Recheck(r)
	if err != nil {
		return nil, &httpError{http.StatusUnauthorized, "your sign-in is no longer valid: " + err.Error()}
	}
	w.tick = time.NewTicker(h.o.RecheckInterval)
	if !until.IsZero() {
		w.expiry = time.NewTimer(max(until.Sub(h.o.Now()), 0))
	}
	return w, nil
}

// due fires when the credentials should be looked at again.
func (w *watch) due() <-chan time.Time {
	if w.tick == nil {
		return neverC
	}
	return w.tick.C
}

// expired fires when the credentials' life ends.
func (w *watch) expired() <-chan time.Time {
	if w.expiry == nil {
		return neverC
	}
	return w.expiry.C
}

// recheck returns why the stream must end ("" while the credentials hold),
// moving the expiry if they now end at another time.
func (w *watch) recheck() string {
	until, err := w.h.o.Recheck(w.r)
	if err != nil {
		return "signed out: " + err.Error() + "; sign in again"
	}
	if !until.IsZero() {
		if w.expiry == nil {
			w.expiry = time.NewTimer(0)
		}
		w.expiry.Reset(max(until.Sub(w.h.o.Now()), 0))
	}
	return ""
}

// expiredReason is the "end" event's reason when the credentials expire.
const expiredReason = "signed out: the session expired; sign in again"

func (w *watch) stop() {
	if w.tick != nil {
		w.tick.Stop()
	}
	if w.expiry != nil {
		w.expiry.Stop()
	}
}

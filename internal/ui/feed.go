package ui

import (
	"context"
	"fmt"
	"hash/fnv"
	"strconv"
	"sync"
	"time"

	"github.com/sirocco-dev/sirocco/internal/store"
)

// feed is the change feed's one poller: while anyone subscribes (an event
// stream, a log tail), a single goroutine reads the store's signature every
// PollInterval and tells each subscriber when it changed, so N open tabs
// cost one poll per interval rather than N.
type feed struct {
	h       *handler
	mu      sync.Mutex
	subs    map[chan struct{}]struct{}
	running bool
	ready   chan struct{} // closed once the running poller has its first look
}

// subscribe returns a channel that receives (coalesced) after each change
// seen from now on, and the function that ends the subscription. It
// returns once the poller has looked at the store, so a change made after
// subscribe returns is never missed.
func (f *feed) subscribe() (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	f.mu.Lock()
	f.subs[ch] = struct{}{}
	if !f.running {
		f.running, f.ready = true, make(chan struct{})
		go f.poll(f.ready)
	}
	ready := f.ready
	f.mu.Unlock()
	select {
	case <-ready:
	case <-f.h.o.Stop:
	}
	return ch, func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		delete(f.subs, ch)
	}
}

// poll looks at the store every PollInterval until no one subscribes or
// Stop is closed.
func (f *feed) poll(ready chan struct{}) {
	last, known := f.look()
	close(ready)
	t := time.NewTicker(f.h.o.PollInterval)
	defer t.Stop()
	for {
		select {
		case <-f.h.o.Stop:
			f.end()
			return
		case <-t.C:
		}
		if f.idle() {
			return
		}
		sig, ok := f.look()
		if ok && known && sig != last {
			f.broadcast()
		}
		if ok {
			last, known = sig, true
		}
	}
}

// look reads the signature, logging a failure.
func (f *feed) look() (uint64, bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	sig, err := f.h.signature(ctx)
	if err != nil {
		f.h.log.Warn("ui change feed: cannot read the store", "err", err)
		return 0, false
	}
	return sig, true
}

// idle ends the poller when no one subscribes any more.
func (f *feed) idle() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.subs) > 0 {
		return false
	}
	f.running = false
	return true
}

func (f *feed) end() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.running = false
}

func (f *feed) broadcast() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for ch := range f.subs {
		select {
		case ch <- struct{}{}:
		default: // one pending signal is enough
		}
	}
}

// signature changes whenever a task instance is written or a run becomes
// or stops being active.
func (h *handler) signature(ctx context.Context) (uint64, error) {
	c, err := h.o.Store.TaskChangeCursor(ctx)
	if err != nil {
		return 0, err
	}
	runs, err := h.o.Store.ListRuns(ctx, store.RunFilter{States: []store.RunState{store.RunQueued, store.RunRunning}})
	if err != nil {
		return 0, fmt.Errorf("list active runs: %w", err)
	}
	sum := fnv.New64a()
	_, _ = sum.Write([]byte(strconv.FormatInt(int64(c), 10)))
	for _, run := range runs {
		_, _ = sum.Write([]byte("|" + run.DagID + "/" + run.RunID + "=" + string(run.State)))
	}
	return sum.Sum64(), nil
}

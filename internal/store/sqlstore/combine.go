package sqlstore

import (
	"context"
	"sync"
	"time"

	"github.com/sirocco-dev/sirocco/internal/store"
)

// combiner turns task updates that arrive while another is being written
// into one transaction (group commit). SQLite has one writer: without it,
// 32 executors finishing at once queue for the connection and pay a commit
// each, rewriting the same pages; with it they share a commit. PostgreSQL
// saves the commits too (a WAL flush each when commits are durable). A lone
// update (a chain's hand-off) is written at once, as before. Every update
// stays its own conditional UPDATE with its own answer.
type combiner struct {
	mu      sync.Mutex
	queue   []*pendingUpdate
	writing bool
}

type pendingUpdate struct {
	u    store.TaskUpdate
	ok   bool
	err  error
	done chan struct{}
}

// combineTimeout bounds a shared transaction: it carries other callers'
// writes, so it does not end with the context of the caller that leads it.
const combineTimeout = 30 * time.Second

// updateTaskCombined queues u and either waits for the writer to apply it
// or, when no write is under way, becomes the writer: it applies every
// queued update, a transaction per round, until the queue is empty.
func (s *Store) updateTaskCombined(ctx context.Context, u store.TaskUpdate) (bool, error) {
	p := &pendingUpdate{u: u, done: make(chan struct{})}
	c := &s.comb
	c.mu.Lock()
	c.queue = append(c.queue, p)
	lead := !c.writing
	c.writing = true
	c.mu.Unlock()
	if lead {
		wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), combineTimeout)
		for {
			c.mu.Lock()
			batch := c.queue
			c.queue = nil
			if len(batch) == 0 {
				c.writing = false
				c.mu.Unlock()
				break
			}
			c.mu.Unlock()
			s.writeBatch(wctx, batch)
		}
		cancel()
	}
	<-p.done
	return p.ok, p.err
}

// writeBatch applies a round of queued updates: alone, as one statement;
// together, in one transaction, or one by one if that transaction fails, so
// one bad update never fails the others.
func (s *Store) writeBatch(ctx context.Context, batch []*pendingUpdate) {
	defer func() {
		for _, p := range batch {
			close(p.done)
		}
	}()
	if len(batch) > 1 {
		us := make([]store.TaskUpdate, len(batch))
		for i, p := range batch {
			us[i] = p.u
		}
		if won, err := s.updateTasksTx(ctx, us); err == nil {
			for i, p := range batch {
				p.ok = won[i]
			}
			return
		}
	}
	for _, p := range batch {
		p.ok, p.err = s.updateTaskDirect(ctx, p.u)
	}
}

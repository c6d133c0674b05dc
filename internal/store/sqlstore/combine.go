package sqlstore

import (
	"context"
	"fmt"
	"slices"
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
//
// One caller at a time leads: it writes everything queued (its own update
// included) as one round, then hands the lead to the first caller still
// waiting, so nobody writes for others for longer than one round.
type combiner struct {
	mu      sync.Mutex
	queue   []*pendingUpdate
	writing bool // a leader holds the lead
}

type pendingUpdate struct {
	u    store.TaskUpdate
	w    store.Written
	err  error
	done chan struct{} // closed once written (or failed)
	lead chan struct{} // receives the lead; buffered, at most one token
}

// roundTimeout bounds one round: it carries other callers' writes, so it
// does not end with the context of the caller that leads it.
const roundTimeout = 30 * time.Second

// updateTaskCombined queues u and waits until a leader wrote it, or until
// it is handed the lead and writes a round itself. A caller whose context
// ends while its update is still queued takes it back and returns the
// context's error; once a round has taken it, it waits for the round.
func (s *Store) updateTaskCombined(ctx context.Context, u store.TaskUpdate) (store.Written, error) {
	if err := ctx.Err(); err != nil {
		return store.Written{}, fmt.Errorf("update task %s/%s/%s to %q: %w", u.Key.DagID, u.Key.RunID, u.Key.TaskID, u.To, err)
	}
	p := &pendingUpdate{u: u, done: make(chan struct{}), lead: make(chan struct{}, 1)}
	c := &s.comb
	c.mu.Lock()
	c.queue = append(c.queue, p)
	if !c.writing {
		c.writing = true
		p.lead <- struct{}{}
	}
	c.mu.Unlock()

	select {
	case <-p.done:
	case <-p.lead:
		s.leadRound()
	case <-ctx.Done():
		c.mu.Lock()
		i := slices.Index(c.queue, p)
		if i >= 0 && len(p.lead) == 0 {
			c.queue = slices.Delete(c.queue, i, i+1)
			c.mu.Unlock()
			return store.Written{}, fmt.Errorf("update task %s/%s/%s to %q: %w", u.Key.DagID, u.Key.RunID, u.Key.TaskID, u.To, ctx.Err())
		}
		c.mu.Unlock()
		select { // already taken by a round, or handed the lead meanwhile
		case <-p.done:
		case <-p.lead:
			s.leadRound()
		}
	}
	<-p.done
	return p.w, p.err
}

// leadRound writes everything queued as one round, then passes the lead to
// the first caller that queued meanwhile, or gives it up.
func (s *Store) leadRound() {
	c := &s.comb
	c.mu.Lock()
	batch := c.queue
	c.queue = nil
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		if len(c.queue) > 0 {
			c.queue[0].lead <- struct{}{}
		} else {
			c.writing = false
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), roundTimeout)
	defer cancel()
	s.writeBatch(ctx, batch)
}

// writeBatch applies a round of queued updates: alone, as one statement;
// together, in one transaction, or one by one if that transaction fails, so
// one bad update never fails the others. Every caller of the round gets an
// answer, a panic included.
func (s *Store) writeBatch(ctx context.Context, batch []*pendingUpdate) {
	defer func() {
		if r := recover(); r != nil {
			for _, p := range batch {
				p.w, p.err = store.Written{}, fmt.Errorf("update task %s: panic in the store: %v", p.u.Key.TaskID, r)
			}
		}
		for _, p := range batch {
			close(p.done)
		}
	}()
	if len(batch) > 1 {
		us := make([]store.TaskUpdate, len(batch))
		for i, p := range batch {
			us[i] = p.u
		}
		if ws, err := s.updateTasksTx(ctx, us); err == nil {
			for i, p := range batch {
				p.w = ws[i]
			}
			return
		}
	}
	for _, p := range batch {
		p.w, p.err = s.updateTaskDirect(ctx, p.u)
	}
}

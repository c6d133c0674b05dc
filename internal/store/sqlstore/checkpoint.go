package sqlstore

import (
	"context"
	"sync/atomic"
	"time"
)

// SQLite copies its write-ahead log back into the database file in a
// checkpoint, which syncs the log and then the file: two fsyncs, on this
// VM's disk from one to a hundred milliseconds. By default the commit that
// takes the log past 1,000 pages runs it, and that commit is nearly always
// a hand-off's (a try's outcome with the next task's claim), so every few
// hundred tasks one hand-off waited for the disk. The writer therefore
// never checkpoints (wal_autocheckpoint 0) and a goroutine of the store
// runs a PASSIVE checkpoint on a reader connection instead, at most once
// per checkpointEvery and only after a write: it neither waits for nor
// blocks a writer, and an idle store does nothing. Durability is
// unchanged: with synchronous=NORMAL no commit is synced, only
// checkpoints, and a checkpoint still syncs the log before it writes the
// file. When the last connection to the database closes, SQLite
// checkpoints as before. See docs/decisions.md, "Checkpoints off the
// hand-off".

// checkpointEvery is the wait from a write to the checkpoint that follows
// it: the log holds about that much of writes (a busy chain: some 1,000
// pages, the default threshold's worth), and the disk sees no more
// checkpoints than it did before.
const checkpointEvery = time.Second

// checkpointer is a store's background checkpoint.
type checkpointer struct {
	dirty atomic.Bool   // written since the last checkpoint began
	kick  chan struct{} // the first write after a checkpoint
	stop  chan struct{}
	done  chan struct{}
}

// startCheckpoints runs the store's checkpoints until Close.
func (s *Store) startCheckpoints() {
	c := &checkpointer{kick: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	s.ckpt = c
	go s.checkpoints(c)
}

// wrote notes a write of the writer connection for the checkpoints.
func (s *Store) wrote() {
	if c := s.ckpt; c != nil && !c.dirty.Load() && c.dirty.CompareAndSwap(false, true) {
		signal(c.kick)
	}
}

// checkpoints waits for a write, then checkpointEvery, then checkpoints.
func (s *Store) checkpoints(c *checkpointer) {
	defer close(c.done)
	t := time.NewTimer(checkpointEvery)
	t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-c.kick:
		}
		t.Reset(checkpointEvery)
		select {
		case <-c.stop:
			return
		case <-t.C:
		}
		c.dirty.Store(false) // a write from now on asks for the next one
		_, _ = s.checkpoint(context.Background())
	}
}

// checkpoint runs one PASSIVE checkpoint and returns the number of frames
// in the log, as SQLite reports it.
func (s *Store) checkpoint(ctx context.Context) (int, error) {
	var busy, frames, done int
	err := s.rdb.QueryRowContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &frames, &done)
	return frames, err
}

// stopCheckpoints ends the checkpoint goroutine, if there is one; a
// second call does nothing.
func (s *Store) stopCheckpoints() {
	s.ckptOnce.Do(func() {
		if s.ckpt != nil {
			close(s.ckpt.stop)
			<-s.ckpt.done
		}
	})
}

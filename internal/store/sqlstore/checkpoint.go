package sqlstore

import (
	"context"
	"time"
)

// SQLite copies its write-ahead log back into the database file in a
// checkpoint, which syncs the log and then the file: two fsyncs, on this
// VM's disk from one to a hundred milliseconds. By default the commit that
// takes the log past 1,000 pages runs it, and that commit is nearly always
// a hand-off's (a try's outcome with the next task's claim), so every few
// hundred tasks one hand-off waited for the disk. The writer therefore
// never checkpoints (wal_autocheckpoint 0) and a goroutine of the store
// runs a PASSIVE checkpoint on a reader connection instead: it neither
// waits for nor blocks a writer. Durability is unchanged: with
// synchronous=NORMAL no commit is synced, only checkpoints, and a
// checkpoint still syncs the log before it writes the file. When the last
// connection to the database closes, SQLite checkpoints as before. See
// docs/decisions.md, "Checkpoints off the hand-off".

// checkpointBusy is the wait between checkpoints while the log grows, and
// checkpointIdle the wait once a checkpoint found it as it was before: the
// log holds at most checkpointBusy of writes, and an idle Sirocco looks
// rarely.
const (
	checkpointBusy = 200 * time.Millisecond
	checkpointIdle = 2 * time.Second
)

// startCheckpoints runs the store's checkpoints until Close.
func (s *Store) startCheckpoints() {
	s.ckptStop, s.ckptDone = make(chan struct{}), make(chan struct{})
	go s.checkpoints()
}

// checkpoints checkpoints every checkpointBusy while the log grows, every
// checkpointIdle while it does not.
func (s *Store) checkpoints() {
	defer close(s.ckptDone)
	t := time.NewTimer(checkpointBusy)
	defer t.Stop()
	last := -1
	for {
		select {
		case <-s.ckptStop:
			return
		case <-t.C:
		}
		frames, err := s.checkpoint(context.Background())
		wait := checkpointBusy
		if err != nil || frames == last {
			wait = checkpointIdle
		}
		last = frames
		t.Reset(wait)
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
		if s.ckptStop != nil {
			close(s.ckptStop)
			<-s.ckptDone
		}
	})
}

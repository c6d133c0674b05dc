package sqlstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/sirocco-dev/sirocco/internal/store"
)

// Notifications between handles on one database (Store.Notify and
// Store.Watch) wake a scheduler when another process (the CLI, an API
// server, another scheduler) changed something, instead of at its next
// poll. Each handle has an origin, a name unique to it; a watcher drops
// what its own handle sent, so a scheduler's own writes never wake it.
//
// PostgreSQL has LISTEN/NOTIFY: Notify is pg_notify(wakeChannel, origin)
// and Watch holds one connection of its own in LISTEN.
//
// SQLite has no such thing. Every handle that notifies owns a small file
// named by its origin in the folder <database>-wake next to the database,
// and Notify rewrites its one byte; Watch asks the kernel (inotify) for
// the writes into that folder and ignores its own file. A notification
// costs one pwrite and wakes a watcher in microseconds; an idle watcher
// costs nothing. See docs/decisions.md, "Waking the scheduler".

// wakeChannel is the PostgreSQL channel of the notifications.
const wakeChannel = "sirocco_wake"

// wakeSuffix names the SQLite notification folder after the database file,
// as SQLite names its -wal and -shm files.
const wakeSuffix = "-wake"

// wakeState is a handle's side of the notifications.
type wakeState struct {
	origin string // this handle's name in notifications
	dir    string // SQLite: the notification folder; "" when none (in memory)

	mu sync.Mutex
	f  *os.File // SQLite: this handle's notification file, opened by the first Notify

	life     context.Context // ends when the store closes: every watch ends with it
	stop     context.CancelFunc
	watchers sync.WaitGroup
}

// initWake names the handle; dir is the SQLite notification folder or "".
func (s *Store) initWake(dir string) {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	s.wake.origin = strconv.Itoa(os.Getpid()) + "-" + hex.EncodeToString(b)
	s.wake.dir = dir
	s.wake.life, s.wake.stop = context.WithCancel(context.Background())
}

// wakeDir returns the notification folder of the SQLite database at path,
// after its symbolic links, as SQLite follows them to name its own files.
func wakeDir(path string) string {
	if real, err := filepath.EvalSymlinks(path); err == nil {
		path = real
	}
	return path + wakeSuffix
}

// Notify tells the other handles on this database that something changed;
// see store.Store.
func (s *Store) Notify(ctx context.Context) error {
	if s.pg {
		if _, err := s.exec(ctx, `SELECT pg_notify(?, ?)`, wakeChannel, s.wake.origin); err != nil {
			return fmt.Errorf("notify: %w", err)
		}
		return nil
	}
	if err := s.wake.touch(); err != nil {
		return fmt.Errorf("notify: %w", err)
	}
	return nil
}

// notified notifies after a write that changed something. A failure is
// not the write's: it only leaves the others to their poll.
func (s *Store) notified(ctx context.Context) {
	_ = s.Notify(ctx)
}

// notifiedTryEnds notifies when one of the task writes ended a try as
// up_for_retry or failed: a watcher (`dags trigger --wait`) must see a
// retry while it lasts, not only the run's end. A successful try does not
// notify: a chain's hand-offs stay free of it.
func (s *Store) notifiedTryEnds(ctx context.Context, ws ...store.Written) {
	for _, w := range ws {
		if w.OK && (w.Row.State == store.StateUpForRetry || w.Row.State == store.StateFailed) {
			s.notified(ctx)
			return
		}
	}
}

// Watch returns a channel that receives after another handle on this
// database notified; see store.Store.
func (s *Store) Watch(ctx context.Context) (<-chan struct{}, error) {
	if !s.pg && s.wake.dir == "" {
		return nil, nil // a private in-memory database: nobody else writes it
	}
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(s.wake.life, cancel)
	ch := make(chan struct{}, 1)
	var started bool
	var err error
	if s.pg {
		started, err = s.listenPostgres(ctx, ch)
	} else {
		started, err = s.wake.watchFiles(ctx, ch)
	}
	if err != nil || !started {
		stop()
		cancel()
		return nil, err
	}
	return ch, nil
}

// signal makes ch hold a pending signal, without blocking.
func signal(ch chan<- struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// touch rewrites this handle's notification file, creating it (and the
// folder) the first time and again if someone removed it.
func (w *wakeState) touch() error {
	if w.dir == "" {
		return nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f != nil && removed(w.f) {
		w.f.Close()
		w.f = nil
	}
	if w.f == nil {
		f, err := w.create()
		if err != nil {
			return err
		}
		w.f = f
	}
	_, err := w.f.WriteAt([]byte{'.'}, 0)
	return err
}

// removed reports whether f's file no longer has a name.
func removed(f *os.File) bool {
	fi, err := f.Stat()
	if err != nil {
		return true
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && st.Nlink == 0
}

// create makes this handle's notification file and removes the files of
// processes that are gone.
func (w *wakeState) create() (*os.File, error) {
	if err := os.MkdirAll(w.dir, 0o755); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(w.dir, w.origin), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	w.prune()
	return f, nil
}

// prune removes the notification files of processes that no longer exist
// (a process killed before it could remove its own). A process in another
// PID namespace may look gone; it makes its file again at its next Notify.
func (w *wakeState) prune() {
	entries, err := os.ReadDir(w.dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		pid, _, ok := strings.Cut(e.Name(), "-")
		n, err := strconv.Atoi(pid)
		if !ok || err != nil || n <= 0 || n == os.Getpid() {
			continue
		}
		if errors.Is(syscall.Kill(n, 0), syscall.ESRCH) {
			_ = os.Remove(filepath.Join(w.dir, e.Name()))
		}
	}
}

// close ends every watch, waits for them, and removes this handle's
// notification file.
func (w *wakeState) close() {
	if w.stop == nil {
		return
	}
	w.stop()
	w.watchers.Wait()
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f != nil {
		_ = os.Remove(w.f.Name())
		_ = w.f.Close()
		w.f = nil
	}
}

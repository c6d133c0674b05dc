package sqlstore

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestCommitsLeaveCheckpointsToTheStore: a commit that takes the log far
// past SQLite's 1,000-page checkpoint threshold does not checkpoint (its
// caller would wait for two fsyncs); the store's own checkpoint does.
func TestCommitsLeaveCheckpointsToTheStore(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.db")
	s, err := OpenSQLite(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	s.stopCheckpoints() // this test checkpoints by hand
	ctx := context.Background()
	var auto int
	if err := s.db.QueryRowContext(ctx, `PRAGMA wal_autocheckpoint`).Scan(&auto); err != nil || auto != 0 {
		t.Fatalf("writer's wal_autocheckpoint = %d, %v; want 0", auto, err)
	}
	writeBlob(t, s, 8<<20) // 2,048 pages and more
	if size := fileSize(t, path); size > 1<<20 {
		t.Fatalf("the database file has %d bytes after the commit: the commit checkpointed", size)
	}
	frames, err := s.checkpoint(ctx)
	if err != nil || frames < 2048 {
		t.Fatalf("checkpoint: %d frames, %v; want the blob's pages", frames, err)
	}
	if size := fileSize(t, path); size < 8<<20 {
		t.Errorf("the database file has %d bytes after the checkpoint; want the blob in it", size)
	}
}

// TestStoreCheckpointsInTheBackground: written pages reach the database
// file about checkpointEvery after the write without anyone asking, and
// Close stops the goroutine (TestMain's leak check).
func TestStoreCheckpointsInTheBackground(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.db")
	s, err := OpenSQLite(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	writeBlob(t, s, 1<<20)
	// Nothing signals a checkpoint: look at the file until it holds the blob.
	deadline := time.Now().Add(10 * time.Second)
	for fileSize(t, path) < 1<<20 {
		if time.Now().After(deadline) {
			t.Fatalf("the database file still has %d bytes after 10s", fileSize(t, path))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func writeBlob(t *testing.T, s *Store, size int) {
	t.Helper()
	ctx := context.Background()
	if _, err := s.exec(ctx, `CREATE TABLE IF NOT EXISTS big (b BLOB)`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.exec(ctx, `INSERT INTO big VALUES (zeroblob(?))`, size); err != nil {
		t.Fatal(err)
	}
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

package ssh

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/remotejob"
	"github.com/sirocco-dev/sirocco/internal/sshclient"
	"github.com/sirocco-dev/sirocco/internal/testenv"
)

// holdCleanups gives the rig's pool a sweeper whose idle flush does not
// come during the test: pending cleanups wait for a call, or the pool's
// Close.
func (r *rig) holdCleanups() *remotejob.Sweeper {
	return r.pool.Attach(sweeperKey{}, func() sshclient.Flusher { return remotejob.NewSweeper(time.Hour) }).(*remotejob.Sweeper)
}

// sessions counts the sessions the server started (sshd's VERBOSE log
// says "Starting session" for each): one per remote call.
func (r *rig) sessions() int { return strings.Count(r.srv.Log(), "Starting session: ") }

// edgeTarget is the sweeper's name for the rig's edge connection.
func (r *rig) edgeTarget() string {
	return fmt.Sprintf("edge %s@%s", r.srv.User, r.srv.Addr())
}

func dirExists(t *testing.T, dir string) bool {
	t.Helper()
	_, err := os.Stat(dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	return err == nil
}

// succeed runs a try to success and returns its job's directory.
func (r *rig) succeed(t *testing.T, ru *run) string {
	t.Helper()
	res := await(t, ru.execute(t.Context()), time.Minute)
	if res.err != nil {
		t.Fatalf("try %s: %v\n%s", ru.task.TaskID, res.err, ru.log)
	}
	hs := ru.handles(t)
	if len(hs) == 0 || hs[len(hs)-1].Job == nil {
		t.Fatalf("try %s stored no job handle: %+v", ru.task.TaskID, hs)
	}
	return hs[len(hs)-1].Job.Dir
}

// TestCleanupFoldedIntoTheNextStart: with cleanup: on_success, a chain of
// tries opens one session each: a try's directory is removed by the next
// try's start on the same host, not by a session of its own; the last one
// is removed when the pool closes (shutdown).
func TestCleanupFoldedIntoTheNextStart(t *testing.T) {
	r := newRig(t)
	sw := r.holdCleanups()
	before := r.sessions()
	var dirs []string
	for i := range 3 {
		dir := r.succeed(t, r.newRun(t, fmt.Sprintf("chain%d", i), map[string]any{"command": "true"}))
		dirs = append(dirs, dir)
		for _, d := range dirs[:i] {
			if dirExists(t, d) {
				t.Fatalf("after try %d, the directory %s of an earlier try is still there", i, d)
			}
		}
		if !dirExists(t, dir) || sw.Pending(r.edgeTarget()) != 1 {
			t.Fatalf("after try %d: its directory there %v, %d cleanups pending; want there, 1 pending",
				i, dirExists(t, dir), sw.Pending(r.edgeTarget()))
		}
	}
	if n := r.sessions() - before; n != len(dirs) {
		t.Fatalf("%d tries of `true` opened %d sessions; want %d: one start each, the cleanups carried by the next start", len(dirs), n, len(dirs))
	}
	if err := r.pool.Close(); err != nil {
		t.Fatal(err)
	}
	if dirExists(t, dirs[2]) || r.sessions()-before != len(dirs)+1 {
		t.Fatalf("after the pool's Close: the last directory there %v, %d sessions; want removed by one more session",
			dirExists(t, dirs[2]), r.sessions()-before)
	}
}

// TestOwnDirectorySurvivesItsStart: a try resumed from its pending handle
// (as after a crash before its job handle was stored) while its own
// cleanup is pending starts again with its job id: its start must find
// the job, not remove the directory first and run the command twice.
func TestOwnDirectorySurvivesItsStart(t *testing.T) {
	r := newRig(t)
	sw := r.holdCleanups()
	count := filepath.Join(r.work, "count")
	ru := r.newRun(t, "own", map[string]any{"command": "echo ran >> " + count})
	dir := r.succeed(t, ru)
	if sw.Pending(r.edgeTarget()) != 1 {
		t.Fatalf("%d cleanups pending, want the try's", sw.Pending(r.edgeTarget()))
	}
	ru.mu.Lock()
	pending := ru.hs[0]
	ru.mu.Unlock()
	if _, err := (Recoverer{}).Resume(t.Context(), ru.task, pending); err != nil {
		t.Fatalf("resume: %v\n%s", err, ru.log)
	}
	if n := counter(t, count); n != 1 || !dirExists(t, dir) {
		t.Fatalf("the command ran %d times, its directory there: %v; want once, there\n%s", n, dirExists(t, dir), ru.log)
	}
	if !strings.Contains(ru.log.String(), "was already started") {
		t.Errorf("the resumed start did not find the job:\n%s", ru.log)
	}
}

// TestIdleFlushRemovesTheLastDirectory: with no call to carry it, the
// cleanup of the last try is done by the idle flush.
func TestIdleFlushRemovesTheLastDirectory(t *testing.T) {
	r := newRig(t)
	dir := r.succeed(t, r.newRun(t, "last", map[string]any{"command": "true"}))
	waitRemoved(t, dir)
	if n := sweeperOf(r.pool).Pending(r.edgeTarget()); n != 0 {
		t.Fatalf("%d cleanups still pending", n)
	}
}

// TestFailingCleanupIsLoggedNotFatal: a directory that cannot be removed
// (its marker no longer names the job) is reported in the service log of
// the try it belongs to; the try that carried the cleanup succeeds.
func TestFailingCleanupIsLoggedNotFatal(t *testing.T) {
	r := newRig(t)
	r.holdCleanups()
	var logged testenv.SyncBuffer
	first := r.newRun(t, "first", map[string]any{"command": "true"})
	first.task.Logger = slog.New(slog.NewTextHandler(&logged, nil))
	dir := r.succeed(t, first)
	if err := os.WriteFile(filepath.Join(dir, "sirocco-job"), []byte("sirocco-remotejob v1 someone-else\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r.succeed(t, r.newRun(t, "second", map[string]any{"command": "true"}))
	log := logged.String()
	if !strings.Contains(log, "could not remove a remote job's directory") || !strings.Contains(log, "task_id=first") ||
		!strings.Contains(log, "is not the directory of job") || !dirExists(t, dir) {
		t.Fatalf("directory there: %v; service log:\n%s", dirExists(t, dir), log)
	}
}

// TestUnsavedHandleKeepsItsDirectory: a job whose handle could not be
// stored keeps its directory (a resumed try finds the job only by it).
func TestUnsavedHandleKeepsItsDirectory(t *testing.T) {
	r := newRig(t)
	r.holdCleanups()
	ru := r.newRun(t, "unsaved", map[string]any{"command": "true"})
	saves := 0
	ru.task.SaveHandle = func(context.Context, []byte) error {
		saves++
		if saves > 1 {
			return errors.New("store down")
		}
		return nil
	}
	res := await(t, ru.execute(t.Context()), time.Minute)
	if res.err != nil {
		t.Fatalf("try: %v\n%s", res.err, ru.log)
	}
	if err := r.pool.Close(); err != nil {
		t.Fatal(err)
	}
	log := ru.log.String()
	i := strings.Index(log, "keeping the remote job directory ")
	if i < 0 {
		t.Fatalf("the log does not say the directory is kept:\n%s", log)
	}
	dir, _, _ := strings.Cut(log[i+len("keeping the remote job directory "):], ":")
	if !dirExists(t, dir) {
		t.Fatalf("the directory %s of a job whose handle was not stored was removed", dir)
	}
}

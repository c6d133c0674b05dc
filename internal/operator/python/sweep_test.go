package python

import (
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestSweep: at start, the private folders of callables whose process is
// gone (kill -9 skipped their removal) are removed once older than the
// grace period; those of a live process (another scheduler on this host),
// of another PID namespace, of another naming, young ones, files and
// symlinks are kept.
func TestSweep(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	now := time.Now()
	ns := pidNamespace()
	dead := deadPID(t)
	live := os.Getpid()
	old := now.Add(-SweepGrace - time.Minute)
	mk := func(name string, mtime time.Time) string {
		path := filepath.Join(dir, name)
		if err := os.Mkdir(path, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(path, "call.json"), []byte(`{"op_kwargs": {"password": "s3cret"}}`), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(path, mtime, mtime); err != nil {
			t.Fatal(err)
		}
		return path
	}
	name := func(ns string, pid int) string { return tempPrefix + ns + "-" + strconv.Itoa(pid) + "-123456" }
	gone := mk(name(ns, dead), old)
	keep := []string{
		mk(name(ns, live), old),                // a live process: another scheduler's try
		mk(name(ns, dead)+"7", now),            // younger than the grace period
		mk(name(ns+"1", dead), old),            // another PID namespace
		mk(tempPrefix+"123456", old),           // no owner in the name
		mk("other-"+name(ns, dead), old),       // not ours
		mk(tempPrefix+ns+"-x-123", old),        // no PID
		mk(tempPrefix+ns+"-0-123", old),        // PID 0 is no process
		filepath.Join(dir, name(ns, dead)+"f"), // a file
		filepath.Join(dir, name(ns, dead)+"l"), // a symlink to a folder
	}
	if err := os.WriteFile(keep[len(keep)-2], nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(keep[0], keep[len(keep)-1]); err != nil {
		t.Fatal(err)
	}
	_ = os.Chtimes(keep[len(keep)-2], old, old)
	s := Sweep{Dir: dir, Grace: SweepGrace, Now: now, Alive: processAlive, Namespace: ns, UID: os.Getuid()}
	removed, err := s.Run()
	if err != nil || !slices.Equal(removed, []string{gone}) {
		t.Fatalf("Run = %v, %v; want [%s]", removed, err, gone)
	}
	if _, err := os.Lstat(gone); !os.IsNotExist(err) {
		t.Errorf("%s is still there: %v", gone, err)
	}
	for _, p := range keep {
		if _, err := os.Lstat(p); err != nil {
			t.Errorf("%s was removed: %v", p, err)
		}
	}
	s.UID = os.Getuid() + 1
	s.Alive = func(int) bool { return false }
	if removed, _ := s.Run(); len(removed) != 0 {
		t.Errorf("another user's sweep removed %v", removed)
	}
}

// TestPrivateDirIsSwept: the folder a callable makes is named so that the
// sweep knows it: kept while this process lives, taken once it is dead.
func TestPrivateDirIsSwept(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("TMPDIR", dir)
	path, err := privateDir()
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Dir(path) != dir {
		t.Fatalf("privateDir = %s, not in TMPDIR %s", path, dir)
	}
	s := DefaultSweep(time.Now().Add(SweepGrace))
	if s.Dir != dir {
		t.Fatalf("DefaultSweep.Dir = %s, want %s", s.Dir, dir)
	}
	if removed, err := s.Run(); err != nil || len(removed) != 0 {
		t.Fatalf("a live process's folder was swept: %v, %v", removed, err)
	}
	s.Alive = func(pid int) bool { return pid != os.Getpid() }
	if removed, err := s.Run(); err != nil || !slices.Equal(removed, []string{path}) {
		t.Fatalf("Run = %v, %v; want [%s]", removed, err, path)
	}
	// The operator's start hook sweeps TMPDIR.
	left := filepath.Join(dir, tempPrefix+pidNamespace()+"-"+strconv.Itoa(deadPID(t))+"-1")
	if err := os.Mkdir(left, 0o700); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-SweepGrace - time.Second)
	if err := os.Chtimes(left, old, old); err != nil {
		t.Fatal(err)
	}
	var log strings.Builder
	Factory.Clean(slog.New(slog.NewTextHandler(&log, nil)))
	if _, err := os.Lstat(left); !os.IsNotExist(err) {
		t.Errorf("Factory.Clean left %s: %v", left, err)
	}
	if !strings.Contains(log.String(), "removed the private folders of python callables of killed processes") {
		t.Errorf("log: %s", log.String())
	}
}

// deadPID is the PID of a process that has ended.
func deadPID(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	if processAlive(pid) {
		t.Fatalf("PID %d was reused at once", pid)
	}
	return pid
}

package python

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// tempPrefix starts the name of a callable's private folder:
// sirocco-python-<pid namespace>-<pid>-<random>, so that a later start
// can tell whose it is.
const tempPrefix = "sirocco-python-"

// SweepGrace is how old a private folder must be before a sweep may take
// it: a folder of a process that is being created never goes.
const SweepGrace = 10 * time.Minute

// privateDir creates a try's private folder (0700) in the temporary
// folder, named after this process.
func privateDir() (string, error) {
	return os.MkdirTemp("", fmt.Sprintf("%s%s-%d-", tempPrefix, pidNamespace(), os.Getpid()))
}

// pidNamespace names this process's PID namespace (the inode of
// /proc/self/ns/pid), "0" where there is none: two containers sharing a
// temporary folder have their own PIDs, and a PID means nothing in the
// other's namespace.
func pidNamespace() string {
	fi, err := os.Stat("/proc/self/ns/pid")
	if err != nil {
		return "0"
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return "0"
	}
	return strconv.FormatUint(st.Ino, 10)
}

// Sweep removes the private folders that callables of killed processes
// left (kill -9 skips the deferred removal): the shim, the result and,
// when the shim had not read it yet, the call file with the rendered
// arguments, secrets included.
type Sweep struct {
	// Dir is the temporary folder the private folders are made in.
	Dir string
	// Grace is the least age (modification time) of a folder taken.
	Grace time.Duration
	// Now is the sweep's time.
	Now time.Time
	// Alive reports whether a process of this PID namespace runs.
	Alive func(pid int) bool
	// Namespace is this process's PID namespace (pidNamespace).
	Namespace string
	// UID is the user whose folders may be taken.
	UID int
}

// DefaultSweep is the sweep an engine runs at start: the system's
// temporary folder, this user and PID namespace, SweepGrace.
func DefaultSweep(now time.Time) Sweep {
	return Sweep{Dir: os.TempDir(), Grace: SweepGrace, Now: now, Alive: processAlive, Namespace: pidNamespace(), UID: os.Getuid()}
}

// Run removes every folder of Dir that a dead process of this PID
// namespace and user made at least Grace ago, and returns their paths.
// Another scheduler's folders on this host are kept while it runs, and
// folders of another namespace, user or naming are never touched.
func (s Sweep) Run() ([]string, error) {
	entries, err := os.ReadDir(s.Dir)
	if err != nil {
		return nil, fmt.Errorf("sweep %s: %w", s.Dir, err)
	}
	var removed []string
	var errs []error
	for _, e := range entries {
		path := filepath.Join(s.Dir, e.Name())
		if !s.stale(e.Name(), path) {
			continue
		}
		if err := os.RemoveAll(path); err != nil {
			errs = append(errs, fmt.Errorf("remove %s: %w", path, err))
			continue
		}
		removed = append(removed, path)
	}
	return removed, errors.Join(errs...)
}

// stale reports whether the entry name at path is a private folder the
// sweep takes.
func (s Sweep) stale(name, path string) bool {
	rest, ok := strings.CutPrefix(name, tempPrefix)
	if !ok {
		return false
	}
	parts := strings.SplitN(rest, "-", 3)
	if len(parts) != 3 || parts[0] != s.Namespace {
		return false
	}
	pid, err := strconv.Atoi(parts[1])
	if err != nil || pid <= 0 {
		return false
	}
	fi, err := os.Lstat(path) // a symlink is not a folder we made
	if err != nil || !fi.IsDir() {
		return false
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); !ok || int(st.Uid) != s.UID {
		return false
	}
	return s.Now.Sub(fi.ModTime()) >= s.Grace && !s.Alive(pid)
}

// processAlive reports whether pid names a process (one of another user
// counts: it exists).
func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// clean is the operator's start hook: it sweeps what killed processes
// left and says so.
func clean(log *slog.Logger) {
	removed, err := DefaultSweep(time.Now()).Run()
	if len(removed) > 0 {
		log.Info("removed the private folders of python callables of killed processes", "count", len(removed), "folders", removed)
	}
	if err != nil {
		log.Warn("python callable folders left by killed processes", "err", err)
	}
}

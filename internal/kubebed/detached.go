package kubebed

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// A detached bed (Options.Detach) outlives the process that started it;
// its State, saved next to it, lets a later process find and stop it.

// State records a detached bed: where it serves and which processes are
// its components.
type State struct {
	Server     string          `json:"server"`
	Kubeconfig string          `json:"kubeconfig"`
	Dir        string          `json:"dir"`
	Procs      []ProcessRecord `json:"procs"` // in start order
}

// ProcessRecord names one component's process; Start (the kernel's start
// time of the process) tells it from a later process given the same pid.
type ProcessRecord struct {
	Name  string `json:"name"`
	PID   int    `json:"pid"`
	Start uint64 `json:"start"`
}

// State describes the running bed for SaveState.
func (b *Bed) State() (State, error) {
	s := State{Server: b.Server, Kubeconfig: b.Kubeconfig, Dir: b.Dir}
	pids := b.PIDs()
	for _, name := range Components {
		pid, ok := pids[name]
		if !ok {
			continue
		}
		start, err := processStart(pid)
		if err != nil {
			return s, fmt.Errorf("%s (pid %d): %w", name, pid, err)
		}
		s.Procs = append(s.Procs, ProcessRecord{Name: name, PID: pid, Start: start})
	}
	return s, nil
}

// SaveState writes s to path as JSON.
func SaveState(path string, s State) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("encode bed state: %w", err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("write bed state: %w", err)
	}
	return nil
}

// LoadState reads a state SaveState wrote; a missing file is
// os.ErrNotExist.
func LoadState(path string) (State, error) {
	var s State
	b, err := os.ReadFile(path)
	if err != nil {
		return s, fmt.Errorf("read bed state: %w", err)
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return s, fmt.Errorf("bed state %s: %w", path, err)
	}
	return s, nil
}

// Running returns the names of the recorded components that still run.
func (s State) Running() []string {
	var out []string
	for _, p := range s.Procs {
		if p.alive() {
			out = append(out, p.Name)
		}
	}
	return out
}

// Stop stops the recorded components newest first: SIGTERM, then SIGKILL
// after 15 s. A process that is gone, or whose pid now names another
// process, is left alone.
func (s State) Stop() error {
	var errs []error
	for i := len(s.Procs) - 1; i >= 0; i-- {
		if err := s.Procs[i].stop(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// alive reports whether the recorded process still runs (a zombie does
// not).
func (p ProcessRecord) alive() bool {
	start, err := processStart(p.PID)
	if err != nil || start != p.Start {
		return false
	}
	state, _ := processState(p.PID)
	return state != 'Z' && state != 'X'
}

// stop ends one recorded process. It is not this process's child, so its
// end is polled.
func (p ProcessRecord) stop() error {
	if !p.alive() {
		return nil
	}
	if err := syscall.Kill(p.PID, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("stop %s (pid %d): %w", p.Name, p.PID, err)
	}
	deadline := time.Now().Add(stopTimeout)
	for p.alive() {
		if time.Now().After(deadline) {
			_ = syscall.Kill(p.PID, syscall.SIGKILL)
			return fmt.Errorf("%s (pid %d) did not stop in %s; killed", p.Name, p.PID, stopTimeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return nil
}

// statFields returns the fields of /proc/PID/stat after the command name
// (field 3, the state, first).
func statFields(pid int) ([]string, error) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return nil, err
	}
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return nil, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 20 {
		return nil, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	return f, nil
}

// processStart is the process's start time in clock ticks since boot.
func processStart(pid int) (uint64, error) {
	f, err := statFields(pid)
	if err != nil {
		return 0, err
	}
	return strconv.ParseUint(f[19], 10, 64) // field 22
}

// processState is the process's state letter (R, S, Z, ...).
func processState(pid int) (byte, error) {
	f, err := statFields(pid)
	if err != nil {
		return 0, err
	}
	return f[0][0], nil
}

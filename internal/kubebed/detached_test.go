package kubebed

import (
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// TestStateStop: a detached program recorded in a saved State is found
// again by LoadState, reported running and stopped by Stop; a record
// whose start time does not match (the pid reused by another process) is
// neither reported nor signalled.
func TestStateStop(t *testing.T) {
	dir := t.TempDir()
	p, err := startProc("sleeper", dir, filepath.Join(dir, "sleeper.log"), true, nil, "/bin/sleep", "60")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.cmd.Process.Kill(); <-p.done })
	start, err := processStart(p.pid())
	if err != nil {
		t.Fatal(err)
	}
	if f, err := statFields(p.pid()); err != nil || f[3] != strconv.Itoa(p.pid()) {
		t.Errorf("detached program's session %v (%v), want its own (%d)", f, err, p.pid())
	}
	path := filepath.Join(dir, "bed.json")
	if err := SaveState(path, State{Server: "https://127.0.0.1:1", Procs: []ProcessRecord{
		{Name: "reused", PID: p.pid(), Start: start + 1},
		{Name: Etcd, PID: p.pid(), Start: start},
	}}); err != nil {
		t.Fatal(err)
	}
	s, err := LoadState(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Running(); len(got) != 1 || got[0] != Etcd {
		t.Fatalf("Running() = %v, want [etcd] only", got)
	}
	reused := State{Procs: s.Procs[:1]}
	if err := reused.Stop(); err != nil || p.exited() {
		t.Fatalf("Stop of a record naming another process: %v, exited %v", err, p.exited())
	}
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		t.Fatal("the recorded program still runs after Stop")
	}
	if got := s.Running(); len(got) != 0 {
		t.Errorf("Running() after Stop = %v", got)
	}
}

package process

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"syscall"
	"time"

	"github.com/sirocco-dev/sirocco/internal/operator"
)

// Kind is the handle kind of a local process group.
const Kind = "process"

// HandleVersion is the version of Handle's format that Run writes. A
// handle stored without a version is version 1, the same format.
const HandleVersion = 1

// Check reports a handle that stopping it could turn into harm: a process
// or a process group of 1 or less (kill(-1) signals every process we may
// signal, group 0 is Sirocco's own) unless it names neither (saved before
// its process started, or naming only its try: TryHandle), or a version
// this Sirocco does not know.
func (h Handle) Check() error {
	if h.Version > HandleVersion {
		return fmt.Errorf("version %d is newer than this Sirocco reads (%d)", h.Version, HandleVersion)
	}
	noProcess := h.PID == 0 && h.PGID == 0
	if !noProcess && (h.PID <= 1 || h.PGID <= 1) {
		return fmt.Errorf("pid %d and pgid %d must both be above 1", h.PID, h.PGID)
	}
	return nil
}

// TryHandle is the handle of a try that saved none: its processes are
// found by the identity they carry (Spec.TryID), as Stop does for every
// handle that names a try.
func TryHandle(tryID string) []byte {
	b, _ := json.Marshal(Handle{Kind: Kind, Version: HandleVersion, Host: hostname(), TryID: tryID})
	return b
}

// Recoverer stops the process groups of "process" handles, which the
// bash and python operators (and any other that runs a local child with
// Run) store. Such work never outlives Sirocco in a form it could track
// again (the output pipes are gone), so it is stopped, never resumed.
type Recoverer struct{}

// HandleKinds says that Recoverer owns "process" handles.
func (Recoverer) HandleKinds() []string { return []string{Kind} }

// CanResume is false: a local process is always stopped after a restart.
func (Recoverer) CanResume([]byte) bool { return false }

// Resume refuses: see CanResume.
func (Recoverer) Resume(context.Context, *operator.Task, []byte) (operator.Result, error) {
	return operator.Result{}, operator.ErrNotResumable
}

// Stop kills what is left of the handle's processes (Handle.Stop) and
// says so in the try's log.
func (Recoverer) Stop(ctx context.Context, t *operator.Task, handle []byte) error {
	h, err := DecodeHandle(handle)
	if err != nil {
		return err
	}
	if h.Kind != Kind {
		return fmt.Errorf("stop: a %q handle is not a process handle", h.Kind)
	}
	groups, err := h.Stop(ctx, t.KillGrace)
	if len(groups) > 0 && t.Log != nil {
		fmt.Fprintf(t.Log, "sirocco: stopped %d process group(s) left by a previous Sirocco: %v\n", len(groups), groups)
	}
	return err
}

// Stop kills what is left of a handle's processes on this host: its
// process group (if that exact group is still there, OrphanGroup) and
// every group whose processes carry its TryID. All get SIGTERM, then
// SIGKILL after grace (shortened to what ctx leaves). It returns the
// groups it signalled, and an error for a handle of another host or a
// process that survives SIGKILL; work already gone is no error, so Stop
// may be called again.
func (h Handle) Stop(ctx context.Context, grace time.Duration) ([]int, error) {
	if err := h.Check(); err != nil {
		return nil, fmt.Errorf("stop process: %w", err)
	}
	if h.Host != "" && h.Host != hostname() {
		return nil, fmt.Errorf("stop process group %d: it runs on host %s, not on %s", h.PGID, h.Host, hostname())
	}
	var groups []int
	if pgid := orphanGroup(h); pgid != 0 {
		groups = append(groups, pgid)
	}
	if h.TryID != "" {
		tagged, err := TaggedGroups()
		if err != nil {
			return nil, fmt.Errorf("stop the processes of try %s: %w", h.TryID, err)
		}
		for _, g := range tagged[h.TryID] {
			if !slices.Contains(groups, g) {
				groups = append(groups, g)
			}
		}
	}
	// A group of zombies only (killed, not yet reaped) runs nothing.
	live := liveGroups(groups)
	groups = slices.DeleteFunc(groups, func(g int) bool { return !live[g] })
	if len(groups) == 0 {
		return nil, nil
	}
	TermGroups(groups)
	if deadline, ok := ctx.Deadline(); ok {
		grace = min(grace, time.Until(deadline))
	}
	if ctx.Err() != nil {
		grace = 0
	}
	_, stuck := AwaitGroups(groups, max(grace, 0))
	if len(stuck) > 0 {
		return groups, fmt.Errorf("process groups %v survive SIGKILL (stuck in the kernel)", stuck)
	}
	return groups, nil
}

// orphanGroup is OrphanGroup for a decoded handle.
func orphanGroup(h Handle) int {
	if h.Kind != Kind || h.Host != hostname() || h.PID <= 0 || h.PGID <= 1 || h.PGID == syscall.Getpgrp() {
		return 0 // another host's, or our own group: never ours to kill
	}
	now := StartTime(h.PID)
	if now != 0 && now != h.StartTime {
		// The pid was reused, so the old group is gone (Linux does not reuse
		// a pid while its group exists): whatever has that id is not ours.
		return 0
	}
	leaderAlive := h.StartTime != 0 && now == h.StartTime
	// The leader may be gone (Pdeathsig) while grandchildren remain in the
	// group; a group id is only reused once the whole group is gone.
	if !leaderAlive && !groupExists(h.PGID) {
		return 0
	}
	return h.PGID
}

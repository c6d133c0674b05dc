package ssh

import (
	"context"
	"fmt"

	"github.com/sirocco-dev/sirocco/internal/operator"
	"github.com/sirocco-dev/sirocco/internal/remotejob"
	"github.com/sirocco-dev/sirocco/internal/sshclient"
)

// Recoverer resumes and stops the detached jobs of ssh tries after the
// Sirocco that started them died: the job runs on its host whatever
// happened here, and the handle reaches it again.
type Recoverer struct{}

// HandleKinds is the ssh job handle.
func (Recoverer) HandleKinds() []string { return []string{HandleKind} }

// CanResume accepts every valid ssh job handle: the job outlives Sirocco.
func (Recoverer) CanResume(b []byte) bool {
	_, err := decodeHandle(b)
	return err == nil
}

// Resume follows the job from the stored offsets to its end, with the
// same ending as Execute (exit code, skip, stop on cancel and timeouts,
// cleanup). With only the pending handle stored, it starts the job with
// the stored job id, which finds it if the first Start ran it. With ctx
// already ended (the run ended meanwhile) it stops the job, unless the
// cause is a detach.
func (Recoverer) Resume(ctx context.Context, t *operator.Task, b []byte) (operator.Result, error) {
	h, err := decodeHandle(b)
	if err != nil {
		return operator.Result{}, err
	}
	if detached(ctx) {
		return operator.Result{}, context.Cause(ctx)
	}
	c, err := readConfig(withConn(t, h.ConnID))
	if err != nil {
		return operator.Result{}, err
	}
	// The handle's settings are those the job was started with.
	c.cleanup, c.killGrace, c.baseDir = h.Cleanup, h.killGrace(c.killGrace), h.BaseDir
	wctx, cancel := workContext(ctx, c.killGrace+stopMargin)
	defer cancel()
	s, err := reach(wctx, t, h)
	if err != nil {
		return operator.Result{}, err
	}
	j := newJob(t, c, s, h)
	if h.Job == nil {
		if ctx.Err() != nil {
			return operator.Result{}, stopPending(ctx, t, j.sh, h, c.killGrace)
		}
		if operator.HoldsMask(t.Args) || operator.HoldsMask(t.Env) {
			return j.findAndFollow(ctx)
		}
		fmt.Fprintf(t.Log, "sirocco: reattaching to remote job %s on %s@%s:%d (Sirocco stopped before the job's start was confirmed)\n",
			h.JobID, h.User, h.Host, h.Port)
		return j.startAndFollow(ctx)
	}
	fmt.Fprintf(t.Log, "sirocco: reattaching to remote job %s on %s@%s:%d, process group %d, from byte %d of stdout and %d of stderr "+
		"(output written after the last stored offsets appears again)\n",
		h.Job.Dir, h.User, h.Host, h.Port, h.Job.PID, h.Offsets.Stdout, h.Offsets.Stderr)
	return j.followToEnd(ctx)
}

// Stop kills the job's process group (SIGTERM, the try's kill_grace,
// SIGKILL), bounded by ctx; a job already gone, or never started, is no
// error. With cleanup: always its directory is removed too.
func (Recoverer) Stop(ctx context.Context, t *operator.Task, b []byte) error {
	h, err := decodeHandle(b)
	if err != nil {
		return err
	}
	s, err := reach(ctx, t, h)
	if err != nil {
		return err
	}
	sh := jobShell(t, s, h.JobID)
	grace := h.killGrace(t.KillGrace)
	if h.Job == nil {
		return stopPending(ctx, t, sh, h, grace)
	}
	outcome, err := stopJob(ctx, sh, *h.Job, grace, nil)
	if err != nil {
		return fmt.Errorf("stop remote job %s on %s: %w", h.Job.Dir, h.Host, err)
	}
	fmt.Fprintf(t.Log, "sirocco: remote job %s on %s: %s\n", h.Job.Dir, h.Host, describeStop(outcome))
	if h.Cleanup == CleanupAlways {
		if err := remotejob.Cleanup(ctx, sh, *h.Job); err != nil {
			fmt.Fprintf(t.Log, "sirocco: could not remove the remote job directory %s: %v\n", h.Job.Dir, err)
		}
	}
	return nil
}

// reach resolves the handle's connection and points it at the host, port
// and user the job was started on, should the connection have been
// edited since (its keys and host key policy still apply).
func reach(ctx context.Context, t *operator.Task, h Handle) (*sshclient.Settings, error) {
	s, err := connect(ctx, t, h.ConnID)
	if err != nil {
		return nil, err
	}
	if s.Host != h.Host || s.Port != h.Port || s.User != h.User {
		fmt.Fprintf(t.Log, "sirocco: connection %s now points to %s@%s; the job runs on %s@%s:%d, which is used\n",
			h.ConnID, s.User, s.Addr(), h.User, h.Host, h.Port)
		s.Host, s.Port, s.User = h.Host, h.Port, h.User
	}
	return s, nil
}

// withConn is t with ssh_conn_id set when its fields lack it (a resume
// whose rendered fields were not stored).
func withConn(t *operator.Task, id string) *operator.Task {
	if _, ok := t.Args["ssh_conn_id"]; ok {
		return t
	}
	c := *t
	c.Args = map[string]any{"ssh_conn_id": id}
	for k, v := range t.Args {
		c.Args[k] = v
	}
	return &c
}

// findAndFollow resumes a try whose job's start was never confirmed and
// whose stored fields hold masked secrets: the job is followed if the
// first start ran it, but never started from those fields, which would run
// the command with "***" in place of each secret.
func (j *job) findAndFollow(ctx context.Context) (operator.Result, error) {
	h := j.h
	var found remotejob.Handle
	var ok bool
	err := retry(ctx, func(ctx context.Context) error {
		var err error
		found, ok, err = remotejob.Find(ctx, j.sh, h.BaseDir, h.JobID)
		return err
	}, nil)
	if err != nil {
		return operator.Result{}, fmt.Errorf("look for remote job %s on %s: %w", h.JobID, h.Host, err)
	}
	if !ok {
		return operator.Result{}, fmt.Errorf("remote job %s was never started on %s (Sirocco stopped before its start was confirmed) "+
			"and the task's stored fields hold masked secrets, so it is not started from them now", h.JobID, h.Host)
	}
	j.mu.Lock()
	j.h.Job = &found
	j.mu.Unlock()
	if err := j.saveNow(ctx); err != nil && !detached(ctx) {
		fmt.Fprintf(j.t.Log, "sirocco: could not store the remote job's handle (%v); the stored job id still reaches it\n", err)
	}
	fmt.Fprintf(j.t.Log, "sirocco: reattaching to remote job %s on %s@%s:%d, process group %d (its start was not confirmed before Sirocco stopped)\n",
		found.Dir, h.User, h.Host, h.Port, found.PID)
	return j.followToEnd(ctx)
}

package ssh

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/sirocco-dev/sirocco/internal/operator"
	"github.com/sirocco-dev/sirocco/internal/operator/process"
	"github.com/sirocco-dev/sirocco/internal/remotejob"
	"github.com/sirocco-dev/sirocco/internal/sshclient"
)

const (
	// saveEvery bounds how often the offsets reached are stored while
	// output flows: a resume repeats at most this much of the log.
	saveEvery = time.Second
	// stopMargin is added to kill_grace to bound a stop (reaching the
	// host, SIGKILL, the wait for the group to die).
	stopMargin = 30 * time.Second
	// drainTimeout bounds the read of a stopped job's last output.
	drainTimeout = 5 * time.Second
	// saveTimeout bounds one store write of the handle.
	saveTimeout = 5 * time.Second
	// quickLinger is how long the start call waits for a short command to
	// end, answering its exit code and output at once: one round trip for
	// a short task instead of a start and polls.
	quickLinger = 100 * time.Millisecond
)

// ErrCmdTimeout is the cause of a try stopped by cmd_timeout.
var ErrCmdTimeout = errors.New("cmd_timeout")

// Operator runs one ssh task.
type Operator struct{}

// Execute runs the command as a detached job (or attached, with get_pty)
// and maps its exit code to the try's outcome.
func (Operator) Execute(ctx context.Context, t *operator.Task) (operator.Result, error) {
	c, err := readConfig(t)
	if err != nil {
		return operator.Result{}, err
	}
	s, err := connect(ctx, t, c.connID)
	if err != nil {
		return operator.Result{}, err
	}
	if c.pty {
		return runAttached(ctx, t, c, s)
	}
	j := newJob(t, c, s, Handle{
		Kind: HandleKind, Version: handleVersion, ConnID: s.ConnID, Host: s.Host, Port: s.Port, User: s.User,
		JobID:   remotejob.JobID(t.DagID, t.RunID, t.TaskID, t.TryNumber),
		BaseDir: c.baseDir, KillGraceMS: c.killGrace.Milliseconds(), Cleanup: c.cleanup,
	})
	fmt.Fprintf(t.Log, "sirocco: %s\n", s)
	// The job id is stored before Start: if Sirocco dies before Start
	// answers, the next start finds the job by it instead of losing it.
	if err := j.saveNow(ctx); err != nil {
		return operator.Result{}, fmt.Errorf("store the handle before starting the remote job: %w", err)
	}
	return j.startAndFollow(ctx)
}

// job is one try's remote job, from its start or its resume to its end.
type job struct {
	t        *operator.Task
	c        config
	settings *sshclient.Settings
	sh       shell
	out      *process.LastLine

	// trail stores the offsets saveEvery after output that came too soon
	// after the last save: a job that prints and then goes quiet has
	// them stored anyway, and a restart repeats at most saveEvery of it.
	// trailMu is held across that save, so stopTrail waits it out.
	trailMu      sync.Mutex
	trail        *time.Timer
	trailStopped bool

	mu       sync.Mutex // h and saved: Progress runs in Follow's goroutine
	h        Handle
	saved    remotejob.Offsets
	savedAt  time.Time
	jobSaved bool // a handle with the started job is stored
	saveCtx  context.Context
	warned   bool

	idle  *time.Timer // cmd_timeout; nil without one
	limit time.Duration

	quick *remotejob.Quick // the job ended within the start call
}

func newJob(t *operator.Task, c config, s *sshclient.Settings, h Handle) *job {
	if c.cmdTimeout == nil {
		c.cmdTimeout = &s.CmdTimeout
	}
	return &job{t: t, c: c, settings: s, sh: jobShell(t, s, h.JobID), out: &process.LastLine{W: t.Log}, h: h, saved: h.Offsets,
		jobSaved: h.Job != nil}
}

// startAndFollow starts the job (or finds it: Start with a job id that
// ran before), stores its handle, and follows it to the end.
func (j *job) startAndFollow(ctx context.Context) (operator.Result, error) {
	if err := j.start(ctx); err != nil {
		if detached(ctx) {
			return operator.Result{}, context.Cause(ctx)
		}
		if ctx.Err() != nil {
			// The job may have started before the cancel: find it and stop it.
			return operator.Result{}, errors.Join(context.Cause(ctx), stopPending(ctx, j.t, j.sh, j.h, j.c.killGrace))
		}
		return operator.Result{}, err
	}
	if err := j.saveNow(ctx); err != nil && !detached(ctx) {
		fmt.Fprintf(j.t.Log, "sirocco: could not store the remote job's handle (%v); the stored job id still reaches it\n", err)
	}
	if q := j.quick; q != nil {
		if err := j.writeQuick(q); err != nil {
			return operator.Result{}, err
		}
		return j.finish(ctx, ctx, q.Code, nil)
	}
	return j.followToEnd(ctx)
}

// writeQuick writes the output of a job that ended within the start call.
func (j *job) writeQuick(q *remotejob.Quick) error {
	if _, err := j.out.Write(q.Stdout); err != nil {
		return fmt.Errorf("write the job's output: %w", err)
	}
	if _, err := j.t.Log.Write(q.Stderr); err != nil {
		return fmt.Errorf("write the job's output: %w", err)
	}
	j.setOffsets(q.Offsets)
	return nil
}

// start runs remotejob.Start with the handle's job id, again after a lost
// connection (it finds the job instead of starting a second one). A
// first attempt that cannot reach or log in to the host fails at once:
// nothing ran.
func (j *job) start(ctx context.Context) error {
	spec := remotejob.Spec{Command: j.c.command, Env: j.c.env, Cwd: j.c.cwd, BaseDir: j.h.BaseDir, JobID: j.h.JobID}
	first := true
	var h remotejob.Handle
	var fresh bool
	err := retry(ctx, func(ctx context.Context) error {
		var err error
		h, fresh, j.quick, err = remotejob.StartQuick(ctx, j.sh, spec, quickLinger)
		if err != nil && first && dialFailed(err) {
			err = &fatalError{err}
		}
		first = false
		return err
	}, j.logRetry("start the remote job"))
	if err != nil {
		return err
	}
	j.mu.Lock()
	j.h.Job = &h
	j.mu.Unlock()
	if fresh {
		fmt.Fprintf(j.t.Log, "sirocco: remote job started in %s on %s (process group %d)\n", h.Dir, j.h.Host, h.PID)
	} else {
		fmt.Fprintf(j.t.Log, "sirocco: remote job %s was already started (process group %d, %s): following it, not starting it again\n",
			h.Dir, h.PID, h.StartedAt.Format(time.RFC3339))
	}
	return nil
}

// followToEnd follows the job to its end, through lost connections, and
// decides the try's outcome.
func (j *job) followToEnd(ctx context.Context) (operator.Result, error) {
	fctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	j.saveCtx = ctx
	if *j.c.cmdTimeout > 0 {
		j.limit = *j.c.cmdTimeout
		j.idle = time.AfterFunc(j.limit, func() {
			cancel(fmt.Errorf("%w: no output for %s", ErrCmdTimeout, j.limit))
		})
		defer j.idle.Stop()
	}
	code, err := j.follow(fctx)
	return j.finish(ctx, fctx, code, err)
}

// follow runs remotejob.Follow from the handle's offsets, and again from
// the offsets reached after each lost connection: the job runs on, and
// its output is neither lost nor repeated.
func (j *job) follow(ctx context.Context) (int, error) {
	j.startTrail()
	defer j.stopTrail()
	wait := retryMin
	for {
		from := j.offsets()
		code, at, err := remotejob.Follow(ctx, j.sh, *j.h.Job, from,
			remotejob.Output{Stdout: j.out, Stderr: j.t.Log, Progress: j.progress})
		j.setOffsets(at)
		if err == nil || ctx.Err() != nil || !retryable(err) {
			return code, err
		}
		if at != from {
			wait = retryMin
		}
		j.logRetry("follow the remote job")(err, wait)
		if !sleep(ctx, wait) {
			return -1, context.Cause(ctx)
		}
		wait = min(2*wait, retryMax)
	}
}

// logRetry says in the try's log that the connection was lost and what
// happens now.
func (j *job) logRetry(what string) func(error, time.Duration) {
	return func(err error, wait time.Duration) {
		fmt.Fprintf(j.t.Log, "sirocco: connection to %s lost while trying to %s (%v); the job runs on, trying again in %s\n",
			j.h.Host, what, err, wait)
	}
}

// progress is Follow's callback: output arrived (cmd_timeout starts
// again), and the offsets are stored at most every saveEvery.
func (j *job) progress(o remotejob.Offsets) {
	if j.idle != nil {
		j.idle.Reset(j.limit)
	}
	j.setOffsets(o)
	j.mu.Lock()
	due := time.Since(j.savedAt) >= saveEvery
	j.mu.Unlock()
	if !due {
		j.armTrail()
		return
	}
	if err := j.saveNow(j.saveCtx); err != nil {
		j.warnOnce(err)
	}
}

func (j *job) startTrail() {
	j.trailMu.Lock()
	defer j.trailMu.Unlock()
	j.trailStopped = false
}

// armTrail schedules the trailing save, unless one is pending.
func (j *job) armTrail() {
	j.trailMu.Lock()
	defer j.trailMu.Unlock()
	if j.trailStopped || j.trail != nil {
		return
	}
	j.trail = time.AfterFunc(saveEvery, j.trailSave)
}

// trailSave stores offsets that no save has covered yet.
func (j *job) trailSave() {
	j.trailMu.Lock()
	defer j.trailMu.Unlock()
	j.trail = nil
	if j.trailStopped {
		return
	}
	j.mu.Lock()
	pending := j.h.Offsets != j.saved
	j.mu.Unlock()
	if pending {
		if err := j.saveNow(j.saveCtx); err != nil {
			j.warnOnce(err)
		}
	}
}

// stopTrail cancels a pending trailing save and waits for one under way:
// no save of this follow comes after the try's own last one.
func (j *job) stopTrail() {
	j.trailMu.Lock()
	defer j.trailMu.Unlock()
	j.trailStopped = true
	if j.trail != nil {
		j.trail.Stop()
		j.trail = nil
	}
}

func (j *job) warnOnce(err error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if !j.warned {
		j.warned = true
		fmt.Fprintf(j.t.Log, "sirocco: could not store the log offsets (%v); a resume may show more output again\n", err)
	}
}

func (j *job) offsets() remotejob.Offsets {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.h.Offsets
}

func (j *job) setOffsets(o remotejob.Offsets) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.h.Offsets = o
}

// saveNow stores the handle, even while the try is being stopped.
func (j *job) saveNow(ctx context.Context) error {
	j.mu.Lock()
	h := j.h
	j.mu.Unlock()
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), saveTimeout)
	defer cancel()
	if err := j.t.SaveHandle(sctx, h.encode()); err != nil {
		return err
	}
	j.mu.Lock()
	j.saved, j.savedAt = h.Offsets, time.Now()
	j.jobSaved = j.jobSaved || h.Job != nil
	j.mu.Unlock()
	return nil
}

// finish turns Follow's end into the try's outcome: the exit code; a
// detach that leaves the job running; a stop (cancel, timeouts); or an
// error (job lost, directory gone, host refused).
func (j *job) finish(ctx, fctx context.Context, code int, err error) (operator.Result, error) {
	switch {
	case err == nil:
		if j.c.cleanup == CleanupAlways || j.c.cleanup == CleanupOnSuccess && code == 0 {
			j.deferCleanup()
		}
		return j.outcome(code)
	case detached(ctx):
		if o := j.offsets(); o != j.saved {
			if serr := j.saveNow(ctx); serr != nil {
				j.warnOnce(serr)
			}
		}
		fmt.Fprintf(j.t.Log, "sirocco: letting go of remote job %s, which runs on (%v); it is followed again from its handle\n",
			j.h.Job.Dir, context.Cause(ctx))
		return operator.Result{}, context.Cause(ctx)
	case fctx.Err() != nil:
		cause := context.Cause(fctx)
		stopErr := j.stop(ctx, cause)
		if j.c.cleanup == CleanupAlways && stopErr == nil {
			j.cleanup(ctx)
		}
		return operator.Result{}, errors.Join(cause, stopErr)
	}
	if j.c.cleanup == CleanupAlways {
		j.cleanup(ctx)
	}
	return operator.Result{}, err
}

// outcome maps the exit code: 0 succeeds, skip_on_exit_code skips, the
// rest fails naming the code.
func (j *job) outcome(code int) (operator.Result, error) {
	fmt.Fprintf(j.t.Log, "sirocco: remote command exited with code %d\n", code)
	switch {
	case code == 0:
		var res operator.Result
		if j.c.xcom {
			if last := j.out.Last(); last != "" {
				res.ReturnValue = &last
			}
		}
		return res, nil
	case slices.Contains(j.c.skip, code):
		return operator.Result{}, fmt.Errorf("%w: remote command exited with code %d (skip_on_exit_code)", operator.ErrSkip, code)
	}
	return operator.Result{}, fmt.Errorf("remote command on %s exited with code %d", j.h.Host, code)
}

// stop kills the job's process group (SIGTERM, kill_grace, SIGKILL),
// bounded by kill_grace + stopMargin whatever ctx says, then reads the
// output it wrote until it died.
func (j *job) stop(ctx context.Context, why error) error {
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), j.c.killGrace+stopMargin)
	defer cancel()
	h := *j.h.Job
	fmt.Fprintf(j.t.Log, "sirocco: stopping remote job %s (%v): SIGTERM to process group %d on %s, SIGKILL after %s\n",
		h.Dir, why, h.PID, j.h.Host, j.c.killGrace)
	outcome, err := stopJob(sctx, j.sh, h, j.c.killGrace, j.logRetry("stop the remote job"))
	if err != nil {
		fmt.Fprintf(j.t.Log, "sirocco: could not stop remote job %s; it may still run: %v\n", h.Dir, err)
		return err
	}
	fmt.Fprintf(j.t.Log, "sirocco: remote job %s: %s\n", h.Dir, describeStop(outcome))
	dctx, dcancel := context.WithTimeout(sctx, drainTimeout)
	defer dcancel()
	_, at, _ := remotejob.Follow(dctx, j.sh, h, j.offsets(), remotejob.Output{Stdout: j.out, Stderr: j.t.Log})
	j.setOffsets(at)
	return nil
}

// cleanup removes the job's directory now, in the try (after a stop or an
// error; a job that ended by itself has deferCleanup); a failure is said
// in the log and does not change the try's outcome.
func (j *job) cleanup(ctx context.Context) {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), stopMargin)
	defer cancel()
	h := *j.h.Job
	err := retry(cctx, func(ctx context.Context) error { return remotejob.Cleanup(ctx, j.sh, h) }, nil)
	if err != nil {
		fmt.Fprintf(j.t.Log, "sirocco: could not remove the remote job directory %s: %v\n", h.Dir, err)
	}
}

// stopJob is remotejob.Stop through lost connections.
func stopJob(ctx context.Context, sh shell, h remotejob.Handle, grace time.Duration, onRetry func(error, time.Duration)) (remotejob.StopOutcome, error) {
	var outcome remotejob.StopOutcome
	err := retry(ctx, func(ctx context.Context) error {
		var err error
		outcome, err = remotejob.Stop(ctx, sh, h, grace)
		return err
	}, onRetry)
	return outcome, err
}

func describeStop(o remotejob.StopOutcome) string {
	switch o {
	case remotejob.StopGone:
		return "no process of the job was left"
	case remotejob.StopNotOurs:
		return "the job had ended (its process group id now belongs to other processes, left alone)"
	case remotejob.StopTerminated:
		return "its process group ended after SIGTERM"
	case remotejob.StopKilled:
		return "its process group outlived the grace and was killed with SIGKILL"
	}
	return string(o)
}

// stopPending stops the job of a handle stored before Start answered:
// Find tells whether Start ran it.
func stopPending(ctx context.Context, t *operator.Task, sh shell, h Handle, grace time.Duration) error {
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), grace+stopMargin)
	defer cancel()
	var job remotejob.Handle
	var found bool
	err := retry(sctx, func(ctx context.Context) error {
		var err error
		job, found, err = remotejob.Find(ctx, sh, h.BaseDir, h.JobID)
		return err
	}, nil)
	if err != nil {
		return fmt.Errorf("look for remote job %s on %s: %w", h.JobID, h.Host, err)
	}
	if !found {
		fmt.Fprintf(t.Log, "sirocco: remote job %s was never started on %s: nothing to stop\n", h.JobID, h.Host)
		return nil
	}
	outcome, err := stopJob(sctx, sh, job, grace, nil)
	if err != nil {
		return fmt.Errorf("stop remote job %s on %s: %w", job.Dir, h.Host, err)
	}
	fmt.Fprintf(t.Log, "sirocco: remote job %s: %s\n", job.Dir, describeStop(outcome))
	return nil
}

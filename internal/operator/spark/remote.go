package spark

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"time"

	"github.com/sirocco-dev/sirocco/internal/operator"
	"github.com/sirocco-dev/sirocco/internal/remotejob"
	"github.com/sirocco-dev/sirocco/internal/sshclient"
)

// spark_submit with ssh_conn_id: spark-submit runs on the connection's host
// (an edge node) as a detached remote job. Its argv, built exactly as for a
// local run, is quoted word by word (sshclient.Quote), so no value means
// anything to the remote shell; the environment (env_vars in client mode,
// the task's env, SPARK_HOME and JAVA_HOME of the connection) travels in
// the job file on stdin, never on a command line. The handle holds the
// job's handle and how much of its output is in the task log, so a
// restarted Sirocco follows the same spark-submit from there and never
// starts a second one.

// progressEvery bounds how often the offsets reached in a remote
// spark-submit's output are stored while it runs (each id found is stored
// at once).
const progressEvery = 2 * time.Second

// reconnectFor is how long following a remote spark-submit is retried
// while its host cannot be reached (the job runs on meanwhile).
var reconnectFor = 2 * time.Minute

// startAttempts is how many times a start whose answer was lost is tried
// again with the same job id (which finds the job if it started).
const startAttempts = 3

// remoteHost is the host a remote spark-submit runs on.
type remoteHost struct {
	t     *operator.Task
	id    string // ssh connection id
	name  string // user@host:port
	host  string // the host's name or address, for UI links
	shell sshclient.Shell
}

// dialRemote resolves ssh connection id (its bastions too) and masks its
// secrets in the try's log; connections are made on use, over t.SSH.
func dialRemote(ctx context.Context, t *operator.Task, id string) (*remoteHost, error) {
	if t.SSH == nil {
		return nil, fmt.Errorf("ssh_conn_id %s: this Sirocco process cannot reach other hosts (no ssh pool)", id)
	}
	st, err := sshclient.Resolve(ctx, t.Connection, id, sshclient.OSEnv())
	if err != nil {
		return nil, fmt.Errorf("ssh_conn_id %s: %w", id, err)
	}
	for _, secret := range st.Secrets() {
		t.Mask(secret)
	}
	return &remoteHost{t: t, id: id, name: st.User + "@" + st.Addr(), host: st.Host, shell: sshclient.Shell{Pool: t.SSH, Settings: st}}, nil
}

// dialStored reaches the host a stored handle's job runs on: the
// connection must still name that host, or the job is not there.
func dialStored(ctx context.Context, t *operator.Task, rem *RemoteSubmit) (*remoteHost, error) {
	rh, err := dialRemote(ctx, t, rem.SSHConnID)
	if err != nil {
		return nil, err
	}
	if rh.name != rem.Host {
		return nil, fmt.Errorf("ssh connection %s now reaches %s, but spark-submit (remote job %s) was started on %s: point the connection back there to reach it",
			rem.SSHConnID, rh.name, rem.JobID, rem.Host)
	}
	return rh, nil
}

// run runs a command on the host into the task log (a cluster manager's
// kill command, run where spark-submit runs).
func (rh *remoteHost) run(ctx context.Context, argv []string) error {
	cmd, err := sshclient.Quote(argv)
	if err != nil {
		return err
	}
	fmt.Fprintf(rh.t.Log, "sirocco: on %s: %s\n", rh.name, cmd)
	var out bytes.Buffer
	code, err := rh.shell.Run(ctx, cmd, nil, &out, &out)
	_, _ = rh.t.Log.Write(out.Bytes())
	if err == nil && code != 0 {
		err = fmt.Errorf("%s exited with code %d on %s", argv[0], code, rh.name)
	}
	return err
}

// runRemote starts spark-submit on the host of ssh connection id, storing
// the job's id before the start and its handle after, then follows it.
func (r *submission) runRemote(ctx context.Context, id string, argv []string, env map[string]string, poll time.Duration) (operator.Result, error) {
	t := r.t
	rh, err := dialRemote(ctx, t, id)
	if err != nil {
		return operator.Result{}, err
	}
	cmd, err := sshclient.Quote(argv)
	if err != nil {
		return operator.Result{}, fmt.Errorf("spark-submit's command line: %w", err)
	}
	env = maps.Clone(env)
	maps.Copy(env, t.CtxEnv)
	r.runCmd, r.uiHost = rh.run, rh.host
	jobID := remotejob.JobID(t.DagID, t.RunID, t.TaskID, t.TryNumber)
	r.update(func(h *Handle) { h.Remote = &RemoteSubmit{SSHConnID: id, Host: rh.name, JobID: jobID} })
	if err := r.save(ctx); err != nil {
		return operator.Result{}, fmt.Errorf("store the handle before starting spark-submit on %s: %w", rh.name, err)
	}
	fmt.Fprintf(t.Log, "sirocco: on %s (ssh connection %s, remote job %s): %s\n", rh.name, id, jobID, cmd)
	job, fresh, err := startRemote(ctx, rh, remotejob.Spec{Command: cmd, Env: env, JobID: jobID})
	if err != nil {
		// It may run all the same: the stored job id finds it.
		h := r.handle()
		kctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), killTimeout+t.KillGrace)
		defer cancel()
		return operator.Result{}, errors.Join(err, stopRemote(kctx, t, &h))
	}
	if !fresh {
		fmt.Fprintf(t.Log, "sirocco: spark-submit was already started as remote job %s (at %s, process group %d): following it, not starting it again\n",
			jobID, job.StartedAt.Format(time.RFC3339), job.PID)
	}
	r.update(func(h *Handle) { h.Remote.Job = &job })
	if err := r.save(ctx); err != nil {
		kctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), killTimeout+t.KillGrace)
		defer cancel()
		_, serr := remotejob.Stop(kctx, rh.shell, job, t.KillGrace)
		return operator.Result{}, errors.Join(fmt.Errorf("store the handle of spark-submit on %s: %w", rh.name, err), serr)
	}
	return r.followRemote(ctx, rh, poll)
}

// startRemote starts the job, trying again with the same job id when the
// answer was lost (a retry finds the job if the first attempt started it).
func startRemote(ctx context.Context, rh *remoteHost, spec remotejob.Spec) (remotejob.Handle, bool, error) {
	var err error
	for attempt := 1; attempt <= startAttempts; attempt++ {
		var h remotejob.Handle
		var fresh bool
		if h, fresh, err = remotejob.Start(ctx, rh.shell, spec); err == nil {
			return h, fresh, nil
		}
		if ctx.Err() != nil {
			break
		}
		fmt.Fprintf(rh.t.Log, "sirocco: start spark-submit on %s (attempt %d of %d): %v\n", rh.name, attempt, startAttempts, err)
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
	return remotejob.Handle{}, false, fmt.Errorf("start spark-submit on %s: %w", rh.name, err)
}

// followRemote follows the remote spark-submit of the handle from its
// stored offsets to its exit code (a shutdown leaves it running; a cancel
// stops its process group), then finishes the try as for a local one.
func (r *submission) followRemote(ctx context.Context, rh *remoteHost, poll time.Duration) (operator.Result, error) {
	t := r.t
	rem := r.handle().Remote
	if rem.ExitCode != nil {
		return r.finish(ctx, exitError(rh, *rem.ExitCode), r.watcher(ctx).result(), poll)
	}
	w := r.watcher(ctx)
	followCtx, stop := r.submitContext(ctx, true)
	defer stop(nil)
	code, err := r.follow(followCtx, rh, w)
	switch {
	case err == nil:
		r.update(func(h *Handle) { h.Remote.ExitCode = &code })
		if serr := r.save(ctx); serr != nil {
			fmt.Fprintf(t.Log, "sirocco: store handle: %v\n", serr)
		}
		r.cleanup(ctx, rh)
		return r.finish(ctx, exitError(rh, code), w.result(), poll)
	case followCtx.Err() != nil && errors.Is(context.Cause(ctx), operator.ErrDetach):
		_ = r.save(ctx) // the offsets reached
		fmt.Fprintf(t.Log, "sirocco: leaving spark-submit running on %s (%v)\n", rh.name, context.Cause(ctx))
		return operator.Result{}, operator.ErrDetach
	case followCtx.Err() != nil:
		return r.finish(ctx, errors.Join(context.Cause(followCtx), r.stopJob(ctx, rh, w)), w.result(), poll)
	}
	f := w.result()
	if errors.Is(err, remotejob.ErrGone) && f.DriverID != "" && r.cluster {
		// Cleaned up after it submitted the driver: the driver decides.
		return r.finish(ctx, nil, f, poll)
	}
	return r.finish(ctx, fmt.Errorf("spark-submit on %s: %w", rh.name, err), f, poll)
}

// follow reads the job's output from the stored offsets into w, storing
// the offsets reached now and then, until it exits. A host that cannot be
// reached is tried again for reconnectFor: the job runs on meanwhile.
func (r *submission) follow(ctx context.Context, rh *remoteHost, w *watcher) (int, error) {
	var lastSave time.Time
	out := remotejob.Output{Stdout: w, Stderr: w, Progress: func(o remotejob.Offsets) {
		r.update(func(h *Handle) { h.Remote.Offsets = o })
		if time.Since(lastSave) >= progressEvery {
			lastSave = time.Now()
			if err := r.save(ctx); err != nil {
				fmt.Fprintf(r.t.Log, "sirocco: store handle: %v\n", err)
			}
		}
	}}
	var failingSince time.Time
	for {
		rem := r.handle().Remote
		code, at, err := remotejob.Follow(ctx, rh.shell, *rem.Job, rem.Offsets, out)
		r.update(func(h *Handle) { h.Remote.Offsets = at })
		if err == nil || ctx.Err() != nil || errors.Is(err, remotejob.ErrLost) || errors.Is(err, remotejob.ErrGone) {
			return code, err
		}
		if failingSince.IsZero() || at != rem.Offsets {
			failingSince = time.Now()
		}
		if time.Since(failingSince) > reconnectFor {
			return -1, fmt.Errorf("%w (spark-submit may still run there: cancel the task to stop it)", err)
		}
		fmt.Fprintf(r.t.Log, "sirocco: lost spark-submit on %s for now, following it again: %v\n", rh.name, err)
		select {
		case <-ctx.Done():
			return -1, context.Cause(ctx)
		case <-time.After(time.Second):
		}
	}
}

// stopJob stops the remote spark-submit after a cancel or timeout, bounded,
// and copies what it wrote until it died (a driver id among it).
func (r *submission) stopJob(ctx context.Context, rh *remoteHost, w *watcher) error {
	t := r.t
	kctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), killTimeout+t.KillGrace)
	defer cancel()
	rem := r.handle().Remote
	outcome, err := remotejob.Stop(kctx, rh.shell, *rem.Job, t.KillGrace)
	if err != nil {
		return fmt.Errorf("stop spark-submit on %s: %w", rh.name, err)
	}
	fmt.Fprintf(t.Log, "sirocco: spark-submit on %s: %s\n", rh.name, outcome)
	dctx, dcancel := context.WithTimeout(kctx, drainTimeout)
	defer dcancel()
	if code, err := r.follow(dctx, rh, w); err == nil {
		r.update(func(h *Handle) { h.Remote.ExitCode = &code })
	}
	_ = r.save(kctx)
	r.cleanup(kctx, rh)
	return nil
}

// drainTimeout bounds the reading of a stopped job's last output.
const drainTimeout = 10 * time.Second

// cleanup removes the job's directory once its output is in the task log
// and its exit code read; a failure only says so.
func (r *submission) cleanup(ctx context.Context, rh *remoteHost) {
	rem := r.handle().Remote
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), killTimeout)
	defer cancel()
	if err := remotejob.Cleanup(cctx, rh.shell, *rem.Job); err != nil {
		fmt.Fprintf(r.t.Log, "sirocco: %v\n", err)
	}
}

// exitError is the try's error for spark-submit's exit code.
func exitError(rh *remoteHost, code int) error {
	if code == 0 {
		return nil
	}
	return fmt.Errorf("spark-submit on %s exited with code %d", rh.name, code)
}

// resumeRemote follows a remote spark-submit again after a restart, from
// the offsets stored, and then tracks its driver in cluster mode.
func resumeRemote(ctx context.Context, t *operator.Task, h Handle) (operator.Result, error) {
	if h.Remote.Job == nil {
		return operator.Result{}, operator.ErrNotResumable
	}
	wctx, cancel := workContext(ctx, killTimeout)
	defer cancel()
	s, err := storedSettings(wctx, t, h)
	if err != nil {
		return operator.Result{}, fmt.Errorf("resume spark-submit on %s: %w", h.Remote.Host, err)
	}
	rh, err := dialStored(wctx, t, h.Remote)
	if err != nil {
		return operator.Result{}, fmt.Errorf("resume spark-submit: %w", err)
	}
	r := newSubmission(t, s, &h)
	r.runCmd, r.uiHost = rh.run, rh.host
	fmt.Fprintf(t.Log, "sirocco: following spark-submit on %s (remote job %s) again from byte %d of its stdout and %d of its stderr\n",
		rh.name, h.Remote.JobID, h.Remote.Offsets.Stdout, h.Remote.Offsets.Stderr)
	return r.followRemote(ctx, rh, operator.FieldsOf(submitSpec, t.Args).Duration("status_poll_interval"))
}

// storedSettings are the settings a stored handle was made with: where
// the driver runs from the handle, the token and the kill commands'
// binary from the connection it names.
func storedSettings(ctx context.Context, t *operator.Task, h Handle) (settings, error) {
	s := settings{SparkBinary: "spark-submit"}
	if h.ConnID != "" {
		args := maps.Clone(t.Args)
		if args == nil {
			args = map[string]any{}
		}
		args["conn_id"] = h.ConnID
		var err error
		if s, err = resolve(ctx, t, operator.FieldsOf(submitSpec, args)); err != nil {
			return s, err
		}
	}
	s.Master, s.RESTURL, s.MasterUI = h.Master, h.RESTURL, h.MasterUI
	if h.DeployMode != "" {
		s.DeployMode = h.DeployMode
	}
	return s, nil
}

// stopRemote stops the remote spark-submit of a stored handle within ctx,
// and learns the driver id it printed after the handle was last stored. A
// handle stored before the start answered names only the job id: a start
// of a no-op with that id claims it (so the real one never starts) or
// reports the job that did start, which is then stopped.
func stopRemote(ctx context.Context, t *operator.Task, h *Handle) error {
	rem := h.Remote
	rh, err := dialStored(ctx, t, rem)
	if err != nil {
		return fmt.Errorf("stop spark-submit: %w", err)
	}
	if rem.Job == nil {
		job, fresh, err := remotejob.Start(ctx, rh.shell, remotejob.Spec{Command: "exit 0", JobID: rem.JobID})
		if err != nil {
			return fmt.Errorf("find spark-submit (remote job %s) on %s: %w", rem.JobID, rh.name, err)
		}
		rem.Job = &job
		if fresh {
			fmt.Fprintf(t.Log, "sirocco: spark-submit never started on %s (remote job %s)\n", rh.name, rem.JobID)
			waitCleanup(ctx, rh, job)
			return nil
		}
	}
	// The watcher records on h a driver id it reads (standalone cluster
	// mode), for the caller to kill; a stop stores no handle.
	r := newSubmission(t, settings{Master: h.Master, DeployMode: h.DeployMode}, h)
	r.store = func(context.Context, []byte) error { return nil }
	return r.stopJob(ctx, rh, r.watcher(ctx))
}

// waitCleanup removes a claimed no-op job's directory once it has exited.
func waitCleanup(ctx context.Context, rh *remoteHost, job remotejob.Handle) {
	for range 20 {
		if err := remotejob.Cleanup(ctx, rh.shell, job); !errors.Is(err, remotejob.ErrRunning) {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(100 * time.Millisecond):
		}
	}
}

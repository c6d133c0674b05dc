package executor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sirocco-dev/sirocco/internal/connection"
	"github.com/sirocco-dev/sirocco/internal/dag"
	"github.com/sirocco-dev/sirocco/internal/kube"
	"github.com/sirocco-dev/sirocco/internal/operator"
	"github.com/sirocco-dev/sirocco/internal/preflight"
	"github.com/sirocco-dev/sirocco/internal/scheduler"
	"github.com/sirocco-dev/sirocco/internal/sshclient"
	"github.com/sirocco-dev/sirocco/internal/store"
	"github.com/sirocco-dev/sirocco/internal/tasklog"
	"github.com/sirocco-dev/sirocco/internal/template"
)

// ErrKilled is the cancel cause of a try stopped on purpose (run timeout,
// user kill): it fails without a retry.
var ErrKilled = errors.New("killed")

// Runner runs one try of a task instance: claim it (queued → running),
// render its templates, run its operator with the try's log, and record
// the outcome. The local executor and remote workers share it.
type Runner struct {
	Store     store.Store
	DAGs      scheduler.DAGSource
	Operators operator.Registry
	LogsDir   string
	WorkerID  string
	Hostname  string
	Clock     scheduler.Clock
	Logger    *slog.Logger
	// Connections resolves the connections operators ask for.
	Connections *connection.Resolver
	// KillGrace is how long a stopped task's processes get between SIGTERM
	// and SIGKILL.
	KillGrace time.Duration
	// Recorder, when set, writes each try's outcome instead of the store:
	// the scheduler's loop, which writes it in one transaction with the
	// hand-off it allows.
	Recorder Recorder
	// Recorded, when set, gets each row the runner itself wrote at a try's
	// end, so the scheduler learns of it without reading the store.
	Recorded func(store.TaskInstance)
	// TemplateLimits bound the rendering of each templated field; zero
	// fields take template.DefaultLimits. Rendering also stops with the
	// try (execution_timeout, kill, mark-failed).
	TemplateLimits template.Limits
	// SSH is the pool of ssh connections the tries share (see
	// operator.Task.SSH); its owner closes it after the last try.
	SSH *sshclient.Pool
	// Kube caches the Kubernetes clients the tries share (see
	// operator.Task.Kube); nil builds one per try.
	Kube *kube.Clients
	// Preflight configures the connection checks of tasks and DAGs with
	// preflight (kinit, step timeout); nil means the defaults.
	Preflight *preflight.Checker
	// WrapHandle, when set, turns the handle an operator saves into the
	// one stored on the row: a try running in a worker pod keeps the
	// pod's handle there, with the operator's inside it.
	WrapHandle func(h []byte) ([]byte, error)
	// Runs lets tries trigger and clear runs (trigger_dag); nil where
	// they cannot.
	Runs operator.RunControl

	mu         sync.Mutex
	running    map[store.TaskKey]trackedTry
	background sync.WaitGroup // work of finished tries that may still run (log folders)
}

// WaitBackground blocks until the background work started by tries has
// ended; the executor calls it when it stops.
func (r *Runner) WaitBackground() { r.background.Wait() }

// Run executes the try of k that the scheduler queued for this worker. It
// returns only infrastructure errors; a task's own failure is recorded.
func (r *Runner) Run(ctx context.Context, k store.TaskKey) error {
	st := r.Store
	ti, err := st.GetTaskInstance(ctx, k)
	if err != nil {
		return fmt.Errorf("load task instance: %w", err)
	}
	run, err := st.GetRun(ctx, k.DagID, k.RunID)
	if err != nil {
		return fmt.Errorf("load run: %w", err)
	}
	return r.RunLoaded(ctx, ti, run)
}

// RunLoaded is Run with the task instance and run already read (from the
// scheduler's snapshot), saving two reads on the hand-off path. A queued
// row is claimed here; a running row of this worker was claimed by the
// scheduler for us (Claim). The queued row may be stale: the claim is
// conditional, so a stale row only loses it.
func (r *Runner) RunLoaded(ctx context.Context, ti store.TaskInstance, run store.DagRun) error {
	k := ti.TaskKey
	d := r.DAGs.DAGs()[k.DagID]
	var task *dag.Task
	if d != nil {
		task = d.Task(k.TaskID)
	}
	claimed := ti.State == store.StateRunning && ti.WorkerID == r.WorkerID
	try := ti.TryNumber
	if !claimed && ti.Pokes == 0 { // a sensor's next poke goes on with its try
		try++
	}

	if !claimed {
		claim := r.ClaimUpdate(k, []store.TaskState{store.StateQueued}, r.Clock.Now())
		claim.FromWorker, claim.QueuedAt = &r.WorkerID, nil
		won, err := r.Store.UpdateTask(ctx, claim)
		if err != nil {
			return fmt.Errorf("claim %s: %w", k.TaskID, err)
		}
		if !won {
			r.Logger.Info("task no longer queued for us; skipping", "dag_id", k.DagID, "run_id", k.RunID, "task_id", k.TaskID)
			return nil
		}
		ti.TryNumber = try
	}

	// The log file is opened while the operator starts; finishTry waits
	// for it, so the try's outcome is recorded only with its log complete.
	// Then the same goroutine makes the next tasks' log folders while this
	// one runs (on a busy disk a folder costs up to milliseconds), so their
	// hand-offs find them. Nothing waits for those but WaitBackground
	// (shutdown).
	var prepare func()
	if next := downstreamOf(d, k.TaskID); len(next) > 0 {
		r.background.Add(1)
		prepare = func() {
			defer r.background.Done()
			tasklog.Prepare(r.LogsDir, k.DagID, k.RunID, next)
		}
	}
	lw := tasklog.StartThen(tasklog.MapPath(r.LogsDir, k.DagID, k.RunID, k.TaskID, k.MapIndex(), try), prepare)
	defer lw.Close()
	lw.Printf("sirocco: starting try %d of %s (run %s) on %s", try, k.TaskID, k.RunID, r.Hostname)
	if task == nil {
		err := fmt.Errorf("task %s is not in the loaded DAG %s (removed, or the DAG file is broken)", k.TaskID, k.DagID)
		lw.Printf("sirocco: %v", err)
		return r.finishTry(ctx, task, ti, lw, nil, err)
	}

	// The templates are rendered within the try (after its claim, under
	// its context), so that execution_timeout bounds them and a kill or
	// mark-failed stops them; the fields go with the try's next write.
	// The operator is made once prepare has found it.
	return r.runTry(ctx, tryRun{ti: ti, run: run, d: d, task: task, lw: lw,
		timeout: task.ExecutionTimeout, rendered: &pendingRendered{},
		prepare: func(ctx context.Context) (*prepared, error) { return r.prepare(ctx, d, task, run, k, try) }},
		func(ctx context.Context, ot *operator.Task) (operator.Result, error) {
			if wantsPreflight(d, task) {
				if err := r.preflight(ctx, d, task, ot); err != nil {
					return operator.Result{}, err
				}
			}
			return r.Operators[task.Operator].New().Execute(ctx, ot)
		})
}

// ClaimUpdate is the write that starts a try of k on this worker: the
// conditional move from one of from to running, with the try counted and
// the previous try's handle and rendered fields cleared, so they are never
// taken for this one's. The scheduler writes it for tries it hands to the
// local executor (Local.Claim); the runner for queued ones.
func (r *Runner) ClaimUpdate(k store.TaskKey, from []store.TaskState, now time.Time) store.TaskUpdate {
	var none []byte
	return store.TaskUpdate{
		Key: k, From: from, To: store.StateRunning, IncTry: true,
		QueuedAt: &now, StartDate: &now, Hostname: &r.Hostname, WorkerID: &r.WorkerID, HeartbeatAt: &now,
		Handle: &none, Rendered: &none,
	}
}

// downstreamOf returns the tasks that depend on taskID, none when the DAG
// is not loaded.
func downstreamOf(d *dag.DAG, taskID string) []string {
	if d == nil {
		return nil
	}
	return d.Downstream(taskID)
}

// tryRun is one try ready to run: claimed, rendered, with its log open.
type tryRun struct {
	ti      store.TaskInstance
	run     store.DagRun
	d       *dag.DAG
	task    *dag.Task
	args    map[string]any
	env     map[string]string
	params  map[string]any // resolved by prepare; nil for a resumed try
	lw      *tasklog.Writer
	timeout time.Duration // what is left of execution_timeout; 0 = none
	stop    error         // when set, the try is stopped at once with this cause
	// rendered holds the rendered fields until a write carries them (nil
	// for a resumed try).
	rendered *pendingRendered
	// prepare, when set, renders the fields (args, env, rendered) under
	// the try's context before the operator is called.
	prepare func(context.Context) (*prepared, error)
}

// runTry calls the operator with the try's context (timeout, kill) and
// records the outcome: shared by a fresh try and a resumed one.
func (r *Runner) runTry(ctx context.Context, t tryRun, call func(context.Context, *operator.Task) (operator.Result, error)) error {
	k, lw, st := t.ti.TaskKey, t.lw, r.Store
	// The try's context ends on kill, timeout or shutdown. Shutdown is
	// told apart (ErrDetach) so work that outlives us is left running for
	// the next start to adopt rather than killed.
	tctx, cancel := context.WithCancelCause(context.WithoutCancel(ctx))
	defer cancel(nil)
	stopWatch := context.AfterFunc(ctx, func() { cancel(errShutdown) })
	defer stopWatch()
	if t.task.ExecutionTimeout > 0 {
		var stop context.CancelFunc
		tctx, stop = context.WithTimeoutCause(tctx, max(t.timeout, time.Millisecond),
			fmt.Errorf("execution_timeout of %s exceeded", t.task.ExecutionTimeout))
		defer stop()
	}
	r.track(k, t.ti.TryNumber, cancel)
	defer r.untrack(k, t.ti.TryNumber)
	if t.stop != nil {
		cancel(t.stop)
	}
	if t.prepare != nil {
		prep, err := t.prepare(tctx)
		if err != nil {
			if tctx.Err() != nil {
				err = fmt.Errorf("%w (%w)", context.Cause(tctx), err)
			}
			lw.Printf("sirocco: %v", err)
			return r.finishTry(ctx, t.task, t.ti, lw, t.rendered, err)
		}
		for _, secret := range prep.secrets {
			lw.AddSecret(secret)
		}
		t.args, t.env, t.rendered.b, t.params = prep.args, prep.env, &prep.renderedJSON, prep.params
	}

	ot := &operator.Task{
		DagID: k.DagID, RunID: k.RunID, TaskID: k.TaskID, TryNumber: t.ti.TryNumber, Map: k.Map,
		LogicalDate:       t.run.LogicalDate.Format(time.RFC3339Nano),
		DataIntervalStart: t.run.DataIntervalStart.UTC(), DataIntervalEnd: t.run.DataIntervalEnd.UTC(),
		Params: t.params, Conf: t.run.Conf,
		Args: t.args, Env: t.env, CtxEnv: ctxEnv(k, t.run, t.ti.TryNumber), TryID: TryID(r.WorkerID, k, t.ti.TryNumber),
		NoteHandle: func(h []byte) { lw.Printf("%s%s", HandleNote, h) },
		DagDir:     dagDir(t.d), Downstream: downstreamOf(t.d, k.TaskID),
		LatestRun: func(now time.Time) bool { return scheduler.IsLatest(t.d, t.run, now) }, Runs: r.Runs, RunType: string(t.run.RunType),
		Log: lw, Logger: r.Logger, Mask: lw.AddSecret, KillGrace: r.KillGrace,
		Connection: r.connection(lw.AddSecret), SSH: r.SSH, Kube: r.Kube,
		FirstPokeAt: t.ti.FirstPokeAt, Pokes: t.ti.Pokes, RunStates: r.Store,
		PushXCom: func(ctx context.Context, key string, value []byte) error {
			x := store.XCom{TaskKey: k, Key: key, Value: string(value), Timestamp: r.Clock.Now()}
			ok, err := st.PushXCom(ctx, x, t.ti.TryNumber, r.WorkerID)
			if err == nil && !ok {
				err = errors.New("task is no longer running on this worker")
			}
			if err != nil {
				return fmt.Errorf("push %s: %w", key, err)
			}
			return nil
		},
		OwnXCom: func(ctx context.Context, key string) ([]byte, bool, error) {
			x, err := st.GetXCom(ctx, k, key)
			if errors.Is(err, store.ErrNotFound) {
				return nil, false, nil
			}
			if err != nil {
				return nil, false, fmt.Errorf("read XCom %s: %w", key, err)
			}
			return []byte(x.Value), true, nil
		},
		SaveHandle: func(ctx context.Context, h []byte) error {
			if r.WrapHandle != nil {
				var err error
				if h, err = r.WrapHandle(h); err != nil {
					return err
				}
			}
			rendered := t.rendered.take()
			ok, err := st.UpdateTask(ctx, store.TaskUpdate{
				Key: k, From: []store.TaskState{store.StateRunning}, FromWorker: &r.WorkerID, FromTry: &t.ti.TryNumber,
				To: store.StateRunning, Handle: &h, Rendered: rendered,
			})
			if err == nil && !ok {
				err = errors.New("task is no longer running on this worker")
			}
			if err != nil {
				t.rendered.putBack(rendered)
			}
			return err
		},
	}
	res, runErr := call(tctx, ot)
	if errors.Is(runErr, operator.ErrDetach) {
		// The operator let go of work that goes on without us (a cluster
		// driver): the try stays running for whoever adopts it.
		lw.Printf("sirocco: detached from the running work (%v); it is tracked again after adoption", context.Cause(tctx))
		return nil
	}
	if runErr != nil && tctx.Err() != nil && !errors.Is(runErr, context.Cause(tctx)) {
		runErr = fmt.Errorf("%w (%w)", context.Cause(tctx), runErr)
	}
	switch {
	case runErr == nil:
		lw.Printf("sirocco: task succeeded")
		if err := r.pushXComs(ctx, k, t.ti.TryNumber, res); err != nil {
			lw.Printf("sirocco: %v", err)
			return r.finishTry(ctx, t.task, t.ti, lw, t.rendered, err)
		}
	case errors.Is(runErr, operator.ErrSkip):
		lw.Printf("sirocco: %v", skipped(runErr))
	case isReschedule(runErr):
		lw.Printf("sirocco: %v", runErr)
	case stoppedByShutdown(ctx, runErr):
		// finishTry says so.
	case errors.Is(runErr, ErrKilled) || errors.Is(runErr, operator.ErrDetach):
		// Cleared, marked, killed or adopted elsewhere: whoever changed the
		// state decided what comes next; this try did not fail on its own.
		lw.Printf("sirocco: task stopped: %v", runErr)
	default:
		lw.Printf("sirocco: task failed: %v", runErr)
	}
	return r.finishTry(ctx, t.task, t.ti, lw, t.rendered, runErr)
}

// pushXComs stores the XComs of a successful try: the result's other
// keys, then its return_value (last, as Airflow pushes it). The writes
// are made even if the executor is shutting down.
func (r *Runner) pushXComs(ctx context.Context, k store.TaskKey, try int, res operator.Result) error {
	xs, err := xcomsOf(res)
	if err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	now := r.Clock.Now()
	for _, x := range xs {
		x.TaskKey, x.Timestamp = k, now
		// Only while the row is this try's, on this worker: a try that
		// lost its row (cleared, marked, taken over) never writes over
		// the current try's values nor behind a clear.
		ok, err := r.Store.PushXCom(wctx, x, try, r.WorkerID)
		if err != nil {
			return fmt.Errorf("push %s: %w", x.Key, err)
		}
		if !ok {
			return fmt.Errorf("push %s: try %d is no longer running on this worker: %w", x.Key, try, ErrKilled)
		}
	}
	return nil
}

// xcomsOf lists the XComs a result pushes, in order, refusing a value
// that is not JSON (the store and every reader expect JSON).
func xcomsOf(res operator.Result) ([]store.XCom, error) {
	val, hasReturn := returnValue(res)
	var xs []store.XCom
	for _, key := range slices.Sorted(maps.Keys(res.XComs)) {
		if hasReturn && key == returnKey {
			continue
		}
		if key == "" {
			return nil, errors.New("push XComs: the operator gave one an empty key")
		}
		xs = append(xs, store.XCom{Key: key, Value: string(res.XComs[key])})
	}
	if hasReturn {
		xs = append(xs, store.XCom{Key: returnKey, Value: val})
	}
	for _, x := range xs {
		if !json.Valid([]byte(x.Value)) {
			return nil, fmt.Errorf("push %s: the operator's value is not JSON: %.80q", x.Key, x.Value)
		}
	}
	return xs, nil
}

// returnKey is the XCom key of a task's return value.
const returnKey = "return_value"

// returnValue is the JSON text of the return_value XCom a result pushes,
// if any: ReturnJSON as it is, else ReturnValue as a JSON string.
func returnValue(res operator.Result) (string, bool) {
	if res.ReturnJSON != nil {
		return string(res.ReturnJSON), true
	}
	if res.ReturnValue != nil {
		val, _ := json.Marshal(*res.ReturnValue)
		return string(val), true
	}
	return "", false
}

// skipped is the log line's reason for a skip, which says "task skipped"
// once whether or not the operator's error already starts with it.
func skipped(err error) string {
	if msg := err.Error(); strings.HasPrefix(msg, operator.ErrSkip.Error()) {
		return msg
	}
	return operator.ErrSkip.Error() + ": " + err.Error()
}

// finishTry records a try's outcome once its log is complete on disk, so
// whoever sees the final state can read the whole log. A log that could not
// be written fails the try, and its lines go to the service log instead of
// being lost.
func (r *Runner) finishTry(ctx context.Context, task *dag.Task, ti store.TaskInstance, lw *tasklog.Writer, rendered *pendingRendered, runErr error) error {
	if task != nil && stoppedByShutdown(ctx, runErr) {
		r.noteShutdown(task, ti, lw)
	}
	if err := lw.Wait(); err != nil {
		r.Logger.Error("task log could not be written; its lines follow", "dag_id", ti.DagID, "run_id", ti.RunID,
			"task_id", ti.TaskID, "try", ti.TryNumber, "err", err, "lines", string(lw.Pending()))
		if runErr == nil || errors.Is(runErr, operator.ErrSkip) {
			runErr = fmt.Errorf("task log: %w", err)
		}
	}
	return r.finish(ctx, task, ti, rendered.take(), runErr)
}

// Resume continues a try this worker has just adopted from a dead one: the
// operator tracks the work of the stored handle (it does not start it
// again), logging into the same try's file.
func (r *Runner) Resume(ctx context.Context, k store.TaskKey) error {
	st := r.Store
	ti, err := st.GetTaskInstance(ctx, k)
	if err != nil {
		return fmt.Errorf("load task instance: %w", err)
	}
	if ti.State != store.StateRunning || ti.WorkerID != r.WorkerID {
		return nil // someone else decided in the meantime
	}
	run, err := st.GetRun(ctx, k.DagID, k.RunID)
	if err != nil {
		return fmt.Errorf("load run: %w", err)
	}
	lw, err := tasklog.Create(tasklog.MapPath(r.LogsDir, k.DagID, k.RunID, k.TaskID, k.MapIndex(), ti.TryNumber))
	if err != nil {
		return fmt.Errorf("open log: %w", err)
	}
	defer lw.Close()
	d := r.DAGs.DAGs()[k.DagID]
	var task *dag.Task
	if d != nil {
		task = d.Task(k.TaskID)
	}
	// The handle's kind names who resumes it, whatever the task's operator.
	resumer, _, rerr := r.Operators.RecovererOf(ti.Handle)
	if task == nil || rerr != nil || !resumer.CanResume(ti.Handle) {
		err := fmt.Errorf("try %d of %s cannot be resumed after a restart", ti.TryNumber, k.TaskID)
		if rerr != nil {
			err = fmt.Errorf("%w: %w", err, rerr)
		}
		lw.Printf("sirocco: %v", err)
		return r.finish(ctx, task, ti, nil, err)
	}
	var rendered struct {
		Args map[string]any    `json:"args"`
		Env  map[string]string `json:"env"`
	}
	if len(ti.Rendered) > 0 {
		if err := json.Unmarshal(ti.Rendered, &rendered); err != nil {
			return r.finish(ctx, task, ti, nil, fmt.Errorf("decode rendered fields: %w", err))
		}
	}
	lw.Printf("sirocco: resuming try %d of %s on %s after a restart; tracking the work it started", ti.TryNumber, k.TaskID, r.Hostname)
	left := time.Duration(0)
	if task.ExecutionTimeout > 0 {
		left = task.ExecutionTimeout - r.Clock.Now().Sub(ti.StartDate)
	}
	handle := ti.Handle
	var stop error
	if run.State.Finished() {
		// The run ended while nobody tracked this try (it timed out during
		// the downtime): stop the remote work rather than follow it.
		stop = fmt.Errorf("%w: run %s is %s", ErrKilled, run.RunID, run.State)
	}
	return r.runTry(ctx, tryRun{ti: ti, run: run, d: d, task: task, args: rendered.Args, env: rendered.Env, lw: lw, timeout: left, stop: stop},
		func(ctx context.Context, ot *operator.Task) (operator.Result, error) {
			return resumer.Resume(ctx, ot, handle)
		})
}

// CanResume reports whether a running try's stored handle lets the
// recoverer of its kind reattach after the worker that started it died
// (the task must still be loaded: resuming reads its fields).
func (r *Runner) CanResume(ti store.TaskInstance) bool {
	if !r.Outlives(ti) {
		return false
	}
	d := r.DAGs.DAGs()[ti.DagID]
	return d != nil && d.Task(ti.TaskID) != nil
}

// Outlives reports whether a running try's stored handle names work that
// goes on without the worker that started it and that the recoverer of
// its kind can track again (a cluster driver), whether or not its task is
// loaded now: such work is left running for adoption, never stopped
// because its DAG file failed to load at a restart.
func (r *Runner) Outlives(ti store.TaskInstance) bool {
	if len(ti.Handle) == 0 {
		return false
	}
	rec, _, err := r.Operators.RecovererOf(ti.Handle)
	return err == nil && rec.CanResume(ti.Handle)
}

// finish records a try's outcome with one conditional write from running,
// with the rendered fields if no earlier write carried them, and passes
// the row it wrote to Recorded.
func (r *Runner) finish(ctx context.Context, task *dag.Task, ti store.TaskInstance, rendered *[]byte, runErr error) error {
	now := r.Clock.Now()
	var u store.TaskUpdate
	switch {
	case runErr == nil:
		u = store.TaskUpdate{Key: ti.TaskKey, From: []store.TaskState{store.StateRunning}, To: store.StateSuccess, EndDate: &now}
	case errors.Is(runErr, operator.ErrSkip):
		u = store.TaskUpdate{Key: ti.TaskKey, From: []store.TaskState{store.StateRunning}, To: store.StateSkipped, EndDate: &now}
	case errors.Is(runErr, ErrKilled) || errors.Is(runErr, operator.ErrNoRetry) || task == nil:
		u = store.TaskUpdate{Key: ti.TaskKey, From: []store.TaskState{store.StateRunning}, To: store.StateFailed, EndDate: &now}
	case isReschedule(runErr):
		u = rescheduleUpdate(ti, runErr, now)
	case stoppedByShutdown(ctx, runErr):
		u, _ = scheduler.ShutdownUpdate(task, ti, now)
	default:
		u = scheduler.FailureUpdate(task, ti, now)
	}
	if u.To != store.StateUpForReschedule {
		scheduler.EndPokes(&u, ti)
	}
	// Only our own try: one adopted or retried elsewhere is not ours to end.
	u.FromWorker, u.FromTry, u.Rendered = &r.WorkerID, &ti.TryNumber, rendered
	// The outcome must be recorded even if the executor is shutting down.
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	var w store.Written
	var err error
	if r.Recorder != nil {
		w, err = r.Recorder.Record(wctx, u) // the scheduler has the row
	} else if w, err = r.Store.UpdateTaskRow(wctx, u); w.OK {
		r.recorded(w.Row)
	}
	if err != nil {
		return fmt.Errorf("record %s of %s: %w", u.To, ti.TaskID, err)
	}
	if !w.OK {
		// Cleared while it ran: now that the try has stopped, hand the task
		// back to the scheduler to run again.
		hand := store.TaskUpdate{
			Key: ti.TaskKey, From: []store.TaskState{store.StateRestarting}, FromWorker: &r.WorkerID, FromTry: &ti.TryNumber,
			To: store.StateNone,
		}
		scheduler.EndPokes(&hand, ti) // a cleared sensor starts again
		back, err := r.Store.UpdateTaskRow(wctx, hand)
		if err != nil {
			return fmt.Errorf("hand back cleared %s: %w", ti.TaskID, err)
		}
		if back.OK {
			r.recorded(back.Row)
			r.Logger.Info("cleared task stopped; it runs again", "dag_id", ti.DagID, "run_id", ti.RunID, "task_id", ti.TaskID)
			return nil
		}
		r.noteUnrecorded(wctx, ti, u.To, runErr)
	}
	return nil
}

// Recorder writes a try's outcome, as Store.UpdateTaskRow does.
type Recorder interface {
	Record(ctx context.Context, u store.TaskUpdate) (store.Written, error)
}

// recorded passes a row the runner wrote to Recorded.
func (r *Runner) recorded(ti store.TaskInstance) {
	if r.Recorded != nil {
		r.Recorded(ti)
	}
}

type prepared struct {
	args         map[string]any
	env          map[string]string
	params       map[string]any // the run's resolved params
	renderedJSON []byte
	secrets      []string // values of the sensitive variables the templates read
}

// prepare renders the task's templated fields for one try, within the
// template limits, until ctx ends.
func (r *Runner) prepare(ctx context.Context, d *dag.DAG, t *dag.Task, run store.DagRun, k store.TaskKey, try int) (*prepared, error) {
	if _, ok := r.Operators[t.Operator]; !ok {
		return nil, fmt.Errorf("unknown operator %q", t.Operator)
	}
	params, err := d.ResolveParams(run.Conf)
	if err != nil {
		return nil, fmt.Errorf("params: %w", err)
	}
	// Variables are read as tasks see them: SIROCCO_VAR_<KEY> first, then
	// the store, decrypted. The values of sensitive ones are secrets.
	vars := &connection.Variables{Store: r.Store}
	if r.Connections != nil {
		vars.Keys = r.Connections.Keys
	}
	secrets := &tasklog.Secrets{}
	carried := &pulledSecrets{vars: vars, conns: r.Connections}
	assetEvents, err := triggeringAssetEvents(ctx, r.Store, run)
	if err != nil {
		return nil, err
	}
	// Building the context costs more than the rest of a try's start when
	// no field is templated, so it is built only for the first one that is.
	var tc template.Context
	newContext := func() template.Context {
		return template.NewContext(template.Info{
			DagID: d.ID, RunID: run.RunID, TaskID: t.ID, Operator: t.Operator,
			LogicalDate: run.LogicalDate, DataIntervalStart: run.DataIntervalStart, DataIntervalEnd: run.DataIntervalEnd,
			TryNumber: try, Map: k.Map, Params: params, Conf: run.Conf, TriggeringAssetEvents: assetEvents,
			Variables: func(key string) (string, error) {
				v, err := vars.Get(ctx, key)
				if err != nil {
					return "", fmt.Errorf("variable %q: %w", key, err)
				}
				if connection.IsSensitive(key) {
					secrets.Add(v.Value) // masked in the try's log and rendered fields
				}
				return v.Value, nil
			},
			HasTask: func(taskID string) bool { return d.Task(taskID) != nil },
			XComPull: func(taskID, key string) (any, error) {
				up := store.TaskKey{DagID: d.ID, RunID: run.RunID, TaskID: taskID}
				if ut := d.Task(taskID); ut != nil && ut.Mapped() {
					return r.pullMapped(ctx, up, key, func(v string) error { return carried.addFound(ctx, v, secrets) })
				}
				x, err := r.Store.GetXCom(ctx, up, key)
				if errors.Is(err, store.ErrNotFound) {
					return nil, nil
				}
				if err != nil {
					return nil, err
				}
				// An upstream may have pushed a secret it was given (an XCom
				// keeps it in clear): mask it in this try too.
				if err := carried.addFound(ctx, x.Value, secrets); err != nil {
					return nil, fmt.Errorf("xcom_pull %s: %w", taskID, err)
				}
				var v any
				if json.Unmarshal([]byte(x.Value), &v) == nil {
					return v, nil
				}
				return x.Value, nil // not JSON: hand over the raw text
			},
		})
	}
	render := func(v any) (any, error) {
		if !template.Templated(v) {
			return v, nil
		}
		if tc == nil {
			tc = newContext()
		}
		return r.TemplateLimits.RenderValue(ctx, v, tc)
	}
	spec := r.Operators[t.Operator].Spec
	args := maps.Clone(t.Args)
	if args == nil {
		args = map[string]any{}
	}
	if k.Mapped() && t.Mapped() {
		if err := r.mappedArgs(ctx, k, t, spec, args); err != nil {
			return nil, err
		}
	}
	for _, f := range spec.Fields {
		v, ok := args[f.Name]
		if !ok || !f.Templated {
			continue
		}
		out, err := render(v)
		if err != nil {
			return nil, fmt.Errorf("render %s: %w", f.Name, err)
		}
		args[f.Name] = out
	}
	env := make(map[string]string, len(t.Env))
	for k, v := range t.Env {
		out, err := render(v)
		if err != nil {
			return nil, fmt.Errorf("render env %s: %w", k, err)
		}
		env[k] = out.(string)
	}
	// The rendered fields are stored and shown (tasks render, the API):
	// with the secrets they hold masked, as Airflow's rendered fields.
	js, err := json.Marshal(map[string]any{"args": secrets.MaskValue(args), "env": secrets.MaskValue(env)})
	if err != nil {
		return nil, fmt.Errorf("encode rendered fields: %w", err)
	}
	return &prepared{args: args, env: env, params: params, renderedJSON: js, secrets: secrets.List()}, nil
}

// pulledSecrets finds the known secrets (sensitive variables, connection
// secrets) in the values a try pulls from XCom. They are read once per try
// and only by a try whose templates call xcom_pull, so the hand-off of
// other tries costs nothing more.
type pulledSecrets struct {
	vars   *connection.Variables
	conns  *connection.Resolver
	known  []string
	loaded bool
}

// addFound adds to mask every known secret that value (an XCom's JSON)
// holds in any of its masked forms (plain, JSON-escaped, base64...).
func (p *pulledSecrets) addFound(ctx context.Context, value string, mask *tasklog.Secrets) error {
	if !p.loaded {
		var keys *connection.Keyring
		var environ func() []string
		if p.conns != nil {
			keys, environ = p.conns.Keys, p.conns.Environ
		}
		known, err := connection.KnownSecrets(ctx, p.vars.Store, keys, environ)
		if err != nil {
			return err
		}
		p.known, p.loaded = known, true
	}
	for _, s := range p.known {
		for _, form := range tasklog.Variants(s) {
			if strings.Contains(value, form) {
				mask.Add(s)
				break
			}
		}
	}
	return nil
}

// connection returns the resolver operators use: every secret of a
// connection it hands out is masked in the try's log first.
func (r *Runner) connection(mask func(string)) func(context.Context, string) (connection.Connection, error) {
	return func(ctx context.Context, id string) (connection.Connection, error) {
		if r.Connections == nil {
			return connection.Connection{}, fmt.Errorf("connection %q: %w", id, store.ErrNotFound)
		}
		c, err := r.Connections.Get(ctx, id)
		if err != nil {
			return c, err
		}
		for _, s := range c.Secrets() {
			mask(s)
		}
		return c, nil
	}
}

// ctxEnv is Airflow's AIRFLOW_CTX_* set under Sirocco's prefix.
func ctxEnv(k store.TaskKey, run store.DagRun, try int) map[string]string {
	return map[string]string{
		"SIROCCO_CTX_DAG_ID":       k.DagID,
		"SIROCCO_CTX_TASK_ID":      k.TaskID,
		"SIROCCO_CTX_DAG_RUN_ID":   k.RunID,
		"SIROCCO_CTX_TRY_NUMBER":   strconv.Itoa(try),
		"SIROCCO_CTX_LOGICAL_DATE": run.LogicalDate.UTC().Format(time.RFC3339),
	}
}

// dagDir is the absolute folder of the DAG file: the default working
// directory of its tasks and the base of relative paths.
func dagDir(d *dag.DAG) string {
	dir, err := filepath.Abs(filepath.Dir(d.FileLoc))
	if err != nil {
		return filepath.Dir(d.FileLoc)
	}
	return dir
}

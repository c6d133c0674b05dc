package executor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/sirocco-dev/sirocco/internal/dag"
	"github.com/sirocco-dev/sirocco/internal/operator"
	"github.com/sirocco-dev/sirocco/internal/scheduler"
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

	mu      sync.Mutex
	running map[store.TaskKey]context.CancelCauseFunc
}

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
	d := r.DAGs.DAGs()[k.DagID]
	var task *dag.Task
	if d != nil {
		task = d.Task(k.TaskID)
	}
	try := ti.TryNumber + 1
	now := r.Clock.Now()

	var prep *prepared
	var prepErr error
	if task == nil {
		prepErr = fmt.Errorf("task %s is not in the loaded DAG %s (removed, or the DAG file is broken)", k.TaskID, k.DagID)
	} else {
		prep, prepErr = r.prepare(ctx, d, task, run, try)
	}
	var rendered []byte
	if prep != nil {
		rendered = prep.renderedJSON
	}
	claim := store.TaskUpdate{
		Key: k, From: []store.TaskState{store.StateQueued}, To: store.StateRunning, IncTry: true,
		StartDate: &now, Hostname: &r.Hostname, WorkerID: &r.WorkerID, HeartbeatAt: &now,
	}
	if rendered != nil {
		claim.Rendered = &rendered
	}
	won, err := st.UpdateTask(ctx, claim)
	if err != nil {
		return fmt.Errorf("claim %s: %w", k.TaskID, err)
	}
	if !won {
		r.Logger.Info("task no longer queued for us; skipping", "dag_id", k.DagID, "run_id", k.RunID, "task_id", k.TaskID)
		return nil
	}
	ti.TryNumber = try

	logPath := tasklog.Path(r.LogsDir, k.DagID, k.RunID, k.TaskID, try)
	lw, err := tasklog.Create(logPath)
	if err != nil {
		return r.finish(ctx, task, ti, fmt.Errorf("open log: %w", err))
	}
	defer lw.Close()
	lw.Printf("sirocco: starting try %d of %s (run %s) on %s", try, k.TaskID, k.RunID, r.Hostname)
	if prepErr != nil {
		lw.Printf("sirocco: %v", prepErr)
		return r.finish(ctx, task, ti, prepErr)
	}

	tctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	if task.ExecutionTimeout > 0 {
		var stop context.CancelFunc
		tctx, stop = context.WithTimeoutCause(tctx, task.ExecutionTimeout,
			fmt.Errorf("execution_timeout of %s exceeded", task.ExecutionTimeout))
		defer stop()
	}
	r.track(k, cancel)
	defer r.untrack(k)

	op := r.Operators[task.Operator].New()
	ot := &operator.Task{
		DagID: k.DagID, RunID: k.RunID, TaskID: k.TaskID, TryNumber: try,
		LogicalDate: run.LogicalDate.Format(time.RFC3339),
		Args:        prep.args, Env: prep.env, CtxEnv: ctxEnv(k, run, try),
		DagDir: dagDir(d), Log: lw, Logger: r.Logger,
		SaveHandle: func(ctx context.Context, h []byte) error {
			ok, err := st.UpdateTask(ctx, store.TaskUpdate{
				Key: k, From: []store.TaskState{store.StateRunning}, To: store.StateRunning, Handle: &h,
			})
			if err == nil && !ok {
				err = errors.New("task is no longer running")
			}
			return err
		},
	}
	res, runErr := op.Execute(tctx, ot)
	if runErr != nil && tctx.Err() != nil {
		runErr = fmt.Errorf("%w (%w)", context.Cause(tctx), runErr)
	}
	switch {
	case runErr == nil:
		lw.Printf("sirocco: task succeeded")
		if res.ReturnValue != nil {
			val, _ := json.Marshal(*res.ReturnValue)
			if err := st.SetXCom(ctx, store.XCom{TaskKey: k, Key: "return_value", Value: string(val)}); err != nil {
				lw.Printf("sirocco: push return_value: %v", err)
				return r.finish(ctx, task, ti, err)
			}
		}
	case errors.Is(runErr, operator.ErrSkip):
		lw.Printf("sirocco: task skipped: %v", runErr)
	default:
		lw.Printf("sirocco: task failed: %v", runErr)
	}
	return r.finish(ctx, task, ti, runErr)
}

// finish records a try's outcome with one conditional write from running.
func (r *Runner) finish(ctx context.Context, task *dag.Task, ti store.TaskInstance, runErr error) error {
	now := r.Clock.Now()
	var u store.TaskUpdate
	switch {
	case runErr == nil:
		u = store.TaskUpdate{Key: ti.TaskKey, From: []store.TaskState{store.StateRunning}, To: store.StateSuccess, EndDate: &now}
	case errors.Is(runErr, operator.ErrSkip):
		u = store.TaskUpdate{Key: ti.TaskKey, From: []store.TaskState{store.StateRunning}, To: store.StateSkipped, EndDate: &now}
	case errors.Is(runErr, ErrKilled) || task == nil:
		u = store.TaskUpdate{Key: ti.TaskKey, From: []store.TaskState{store.StateRunning}, To: store.StateFailed, EndDate: &now}
	default:
		u = scheduler.FailureUpdate(task, ti, now)
	}
	// The outcome must be recorded even if the executor is shutting down.
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	ok, err := r.Store.UpdateTask(wctx, u)
	if err != nil {
		return fmt.Errorf("record %s of %s: %w", u.To, ti.TaskID, err)
	}
	if !ok {
		r.Logger.Warn("task state changed while it ran; outcome not recorded",
			"dag_id", ti.DagID, "run_id", ti.RunID, "task_id", ti.TaskID, "outcome", u.To)
	}
	return nil
}

type prepared struct {
	args         map[string]any
	env          map[string]string
	renderedJSON []byte
}

// prepare renders the task's templated fields for one try.
func (r *Runner) prepare(ctx context.Context, d *dag.DAG, t *dag.Task, run store.DagRun, try int) (*prepared, error) {
	if _, ok := r.Operators[t.Operator]; !ok {
		return nil, fmt.Errorf("unknown operator %q", t.Operator)
	}
	params, err := d.ResolveParams(run.Conf)
	if err != nil {
		return nil, fmt.Errorf("params: %w", err)
	}
	tc := template.NewContext(template.Info{
		DagID: d.ID, RunID: run.RunID, TaskID: t.ID, Operator: t.Operator,
		LogicalDate: run.LogicalDate, DataIntervalStart: run.DataIntervalStart, DataIntervalEnd: run.DataIntervalEnd,
		TryNumber: try, Params: params, Conf: run.Conf,
		Variables: func(key string) (string, error) {
			if v, ok := os.LookupEnv("SIROCCO_VAR_" + key); ok {
				return v, nil
			}
			v, err := r.Store.GetVariable(ctx, key)
			if err != nil {
				return "", fmt.Errorf("variable %q: %w", key, err)
			}
			return v.Value, nil
		},
		XComPull: func(taskID, key string) (any, error) {
			x, err := r.Store.GetXCom(ctx, store.TaskKey{DagID: d.ID, RunID: run.RunID, TaskID: taskID}, key)
			if errors.Is(err, store.ErrNotFound) {
				return nil, nil
			}
			if err != nil {
				return nil, err
			}
			var v any
			if json.Unmarshal([]byte(x.Value), &v) == nil {
				return v, nil
			}
			return x.Value, nil // not JSON: hand over the raw text
		},
	})
	spec := r.Operators[t.Operator].Spec
	args := maps.Clone(t.Args)
	if args == nil {
		args = map[string]any{}
	}
	for _, f := range spec.Fields {
		v, ok := args[f.Name]
		if !ok || !f.Templated {
			continue
		}
		out, err := template.RenderValue(v, tc)
		if err != nil {
			return nil, fmt.Errorf("render %s: %w", f.Name, err)
		}
		args[f.Name] = out
	}
	env := make(map[string]string, len(t.Env))
	for k, v := range t.Env {
		out, err := template.Render(v, tc)
		if err != nil {
			return nil, fmt.Errorf("render env %s: %w", k, err)
		}
		env[k] = out
	}
	js, err := json.Marshal(map[string]any{"args": args, "env": env})
	if err != nil {
		return nil, fmt.Errorf("encode rendered fields: %w", err)
	}
	return &prepared{args: args, env: env, renderedJSON: js}, nil
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

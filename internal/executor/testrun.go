package executor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/sirocco-dev/sirocco/internal/dag"
	"github.com/sirocco-dev/sirocco/internal/operator"
	"github.com/sirocco-dev/sirocco/internal/scheduler"
	"github.com/sirocco-dev/sirocco/internal/store"
	"github.com/sirocco-dev/sirocco/internal/tasklog"
)

// Test runs one task now, as `airflow tasks test` does: dependencies are
// ignored, no state, XCom or handle is recorded, and output goes to out.
func (r *Runner) Test(ctx context.Context, d *dag.DAG, t *dag.Task, logical time.Time, conf map[string]any, out io.Writer) error {
	if t.Mapped() {
		// Its instances' fields come from a list (maybe an upstream's
		// XCom) that a lone test has not got: running the placeholder
		// would report a success in which no element ran.
		return fmt.Errorf("task %s is mapped (expand): tasks test does not run mapped instances; "+
			"run the DAG with `sirocco dags test %s` instead", t.ID, d.ID)
	}
	run, _ := scheduler.NewRunRecords(d, store.RunManual, dag.Interval{Start: logical, End: logical}, conf, time.Now().UTC())
	ctx, cancel := withExecutionTimeout(ctx, t)
	defer cancel()
	k := store.TaskKey{DagID: d.ID, RunID: run.RunID, TaskID: t.ID}
	prep, err := r.prepare(ctx, d, t, run, k, 1)
	if err != nil {
		return err
	}
	// The terminal gets what the task's log would: secrets masked.
	masked := tasklog.NewMasked(out)
	out = masked
	defer masked.Flush()
	for _, secret := range prep.secrets {
		masked.AddSecret(secret)
	}
	ot := &operator.Task{
		DagID: d.ID, RunID: run.RunID, TaskID: t.ID, TryNumber: 1, LogicalDate: logical.Format(time.RFC3339Nano),
		DataIntervalStart: run.DataIntervalStart.UTC(), DataIntervalEnd: run.DataIntervalEnd.UTC(),
		Params: prep.params, Conf: run.Conf,
		Args: prep.args, Env: prep.env, CtxEnv: ctxEnv(k, run, 1), DagDir: dagDir(d), Downstream: d.Downstream(t.ID),
		Log: masked, Logger: r.Logger, KillGrace: r.KillGrace, Mask: masked.AddSecret,
		Connection: r.connection(masked.AddSecret), SSH: r.SSH, Kube: r.Kube,
		// Nothing is stored: the handle of started work (a Spark driver)
		// is shown instead, so the user can find what a test left running.
		SaveHandle: func(_ context.Context, h []byte) error {
			_, err := fmt.Fprintf(out, "handle: %s\n", h)
			return err
		},
		NoteHandle: func([]byte) {},
		RunStates:  r.Store, // external_task_sensor reads the store, as in a run
	}
	if wantsPreflight(d, t) {
		if err := r.preflight(ctx, d, t, ot); err != nil {
			return err
		}
	}
	res, err := testPokes(ctx, r.Operators[t.Operator].New(), ot, out)
	if errors.Is(err, operator.ErrSkip) {
		fmt.Fprintf(out, "task would be skipped: %v\n", err)
		return nil
	}
	if err != nil {
		return err
	}
	return showXComs(out, res)
}

// testPokes executes the operator; a reschedule-mode sensor's reschedule
// is waited out here and the sensor poked again with its progress, as the
// scheduler would, until it succeeds, times out or ctx ends: a test
// records no state to come back to.
func testPokes(ctx context.Context, op operator.Operator, ot *operator.Task, out io.Writer) (operator.Result, error) {
	for {
		res, err := op.Execute(ctx, ot)
		var re *operator.Reschedule
		if !errors.As(err, &re) {
			return res, err
		}
		fmt.Fprintf(out, "sensor: not yet (poke %d); rescheduled to %s, waited out in this test\n",
			re.Pokes, re.At.UTC().Format(time.RFC3339Nano))
		ot.FirstPokeAt, ot.Pokes = re.FirstPoke, re.Pokes
		t := time.NewTimer(time.Until(re.At))
		select {
		case <-ctx.Done():
			t.Stop()
			return res, context.Cause(ctx)
		case <-t.C:
		}
	}
}

// showXComs writes what the try would push: its other keys, then its
// return_value (a string as itself, other values as JSON).
func showXComs(out io.Writer, res operator.Result) error {
	xs, err := xcomsOf(res)
	if err != nil {
		return err
	}
	for _, x := range xs {
		v := x.Value
		if x.Key == returnKey && res.ReturnJSON == nil {
			v = *res.ReturnValue
		}
		fmt.Fprintf(out, "%s: %s\n", x.Key, v)
	}
	return nil
}

// Render returns the JSON of the rendered fields of task instance k (an
// instance of a mapped task renders its own element) for a run and try,
// without running anything.
func (r *Runner) Render(ctx context.Context, d *dag.DAG, t *dag.Task, run store.DagRun, k store.TaskKey, try int) ([]byte, error) {
	ctx, cancel := withExecutionTimeout(ctx, t)
	defer cancel()
	prep, err := r.prepare(ctx, d, t, run, k, try)
	if err != nil {
		return nil, err
	}
	return prep.renderedJSON, nil
}

// withExecutionTimeout bounds ctx by the task's execution_timeout, if it
// has one: a try's rendering and its work count against it.
func withExecutionTimeout(ctx context.Context, t *dag.Task) (context.Context, context.CancelFunc) {
	if t.ExecutionTimeout <= 0 {
		return ctx, func() {}
	}
	return context.WithTimeoutCause(ctx, t.ExecutionTimeout, fmt.Errorf("execution_timeout of %s exceeded", t.ExecutionTimeout))
}

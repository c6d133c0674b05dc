package executor

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/sirocco-dev/sirocco/internal/actions"
	"github.com/sirocco-dev/sirocco/internal/dag"
	"github.com/sirocco-dev/sirocco/internal/operator"
	"github.com/sirocco-dev/sirocco/internal/scheduler"
	"github.com/sirocco-dev/sirocco/internal/store"
)

// RunControl gives tries (trigger_dag) the trigger and clear the API
// performs, through the same actions package, on the store and DAGs the
// executor runs with.
type RunControl struct {
	Store store.Store
	DAGs  interface{ DAGs() map[string]*dag.DAG }
	Clock scheduler.Clock
	// Changed, when set, wakes the scheduler of this process after a run
	// was created or cleared (other processes learn it from the store).
	Changed func()
}

var _ operator.RunControl = (*RunControl)(nil)

func (c *RunControl) dag(dagID string) (*dag.DAG, error) {
	d := c.DAGs.DAGs()[dagID]
	if d == nil {
		return nil, fmt.Errorf("DAG %q is not loaded (unknown id, or its file has errors)", dagID)
	}
	return d, nil
}

func (c *RunControl) changed() {
	if c.Changed != nil {
		c.Changed()
	}
}

// Trigger creates a manual run as POST dagRuns does.
func (c *RunControl) Trigger(ctx context.Context, req operator.TriggerRequest) (operator.RunInfo, error) {
	d, err := c.dag(req.DagID)
	if err != nil {
		return operator.RunInfo{}, err
	}
	run, err := actions.CreateRun(ctx, c.Store, d, actions.RunRequest{Type: store.RunManual, RunID: req.RunID,
		LogicalDate: req.LogicalDate.UTC().Format(time.RFC3339Nano), Conf: req.Conf}, c.Clock.Now())
	if errors.Is(err, store.ErrExists) {
		existing, ferr := c.existing(ctx, d.ID, req.RunID, run.LogicalDate)
		if ferr != nil {
			return operator.RunInfo{}, fmt.Errorf("%w: %w (%w)", operator.ErrRunExists, err, ferr)
		}
		return existing, fmt.Errorf("%w: %w", operator.ErrRunExists, err)
	}
	if err != nil {
		return operator.RunInfo{}, fmt.Errorf("trigger %s: %w", d.ID, err)
	}
	c.changed()
	return runInfo(run), nil
}

// existing finds the run a trigger collided with: by run id, else by
// logical date.
func (c *RunControl) existing(ctx context.Context, dagID, runID string, logical time.Time) (operator.RunInfo, error) {
	if r, err := c.Store.GetRun(ctx, dagID, runID); err == nil {
		return runInfo(r), nil
	}
	runs, err := c.Store.ListRuns(ctx, store.RunFilter{DagID: dagID})
	if err != nil {
		return operator.RunInfo{}, fmt.Errorf("list runs of %s: %w", dagID, err)
	}
	for _, r := range runs {
		if r.LogicalDate.Equal(logical) {
			return runInfo(r), nil
		}
	}
	return operator.RunInfo{}, fmt.Errorf("no run of %s with id %s or logical date %s", dagID, runID, logical.Format(time.RFC3339Nano))
}

// Run reads one run. An unfinished run of a DAG that is not loaded is
// ErrDAGNotLoaded (with the run): no scheduler would run it, and a
// trigger_dag waiting on it would wait forever.
func (c *RunControl) Run(ctx context.Context, dagID, runID string) (operator.RunInfo, error) {
	r, err := c.Store.GetRun(ctx, dagID, runID)
	if errors.Is(err, store.ErrNotFound) {
		return operator.RunInfo{}, fmt.Errorf("%w: %s/%s", operator.ErrRunNotFound, dagID, runID)
	}
	if err != nil {
		return operator.RunInfo{}, err
	}
	if !r.State.Finished() {
		if _, err := c.dag(dagID); err != nil {
			return runInfo(r), fmt.Errorf("%w: %w", operator.ErrDAGNotLoaded, err)
		}
	}
	return runInfo(r), nil
}

// Clear clears every task of the run, as POST clearTaskInstances does.
func (c *RunControl) Clear(ctx context.Context, dagID, runID string) error {
	d, err := c.dag(dagID)
	if err != nil {
		return err
	}
	_, err = actions.Clear(ctx, c.Store, d, actions.ClearRequest{RunID: runID}, c.Clock.Now())
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("clear run %s of %s: %w: %w", runID, dagID, operator.ErrRunNotFound, err)
	}
	if err != nil {
		return fmt.Errorf("clear run %s of %s: %w", runID, dagID, err)
	}
	c.changed()
	return nil
}

// Paused reports whether the DAG is paused.
func (c *RunControl) Paused(ctx context.Context, dagID string) (bool, error) {
	rec, err := c.Store.GetDAG(ctx, dagID)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil // not synced yet: not paused
	}
	if err != nil {
		return false, err
	}
	return rec.Paused, nil
}

func runInfo(r store.DagRun) operator.RunInfo {
	return operator.RunInfo{DagID: r.DagID, RunID: r.RunID, State: string(r.State), LogicalDate: r.LogicalDate,
		QueuedAt: r.QueuedAt}
}

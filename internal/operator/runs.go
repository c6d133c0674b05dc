package operator

import (
	"context"
	"errors"
	"time"
)

// RunControl is what a try may do to DAG runs (trigger_dag): the calls
// the API's trigger and clear make, with their checks. The executor gives
// one to every try it runs where a store is at hand.
type RunControl interface {
	// Trigger creates a manual run, checked as POST dagRuns checks it: an
	// unknown DAG is an error, conf must satisfy the DAG's params. A run
	// with the same id or logical date gives an error wrapping
	// ErrRunExists and the existing run.
	Trigger(ctx context.Context, req TriggerRequest) (RunInfo, error)
	// Run reads one run; an error wrapping ErrRunNotFound when it does not
	// exist, and one wrapping ErrDAGNotLoaded when the run is unfinished
	// but its DAG is not loaded (its file has errors or is gone): nothing
	// would run it.
	Run(ctx context.Context, dagID, runID string) (RunInfo, error)
	// Clear clears every task of a run, which then runs again (Airflow's
	// reset_dag_run); an error wrapping ErrRunNotFound when the run does
	// not exist (deleted since it was seen).
	Clear(ctx context.Context, dagID, runID string) error
	// Paused reports whether a DAG is paused.
	Paused(ctx context.Context, dagID string) (bool, error)
}

// TriggerRequest is a run to create.
type TriggerRequest struct {
	DagID, RunID string
	LogicalDate  time.Time
	Conf         map[string]any
}

// RunInfo is a run as RunControl reports it.
type RunInfo struct {
	DagID, RunID string
	State        string // queued | running | success | failed
	LogicalDate  time.Time
	// QueuedAt moves forward when a clear requeues the run: a resumed
	// reset_dag_run tells by it whether its clear happened.
	QueuedAt time.Time
}

// Errors RunControl's callers tell apart.
var (
	ErrRunExists    = errors.New("the run already exists")
	ErrRunNotFound  = errors.New("run not found")
	ErrDAGNotLoaded = errors.New("DAG not loaded")
)

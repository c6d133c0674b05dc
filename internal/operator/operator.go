// Package operator defines the one interface every kind of task implements.
// The executor runs an Operator without knowing what it does; operators that
// start work outside the process report a handle before they wait on it, and
// the Recoverer of the handle's kind resumes or stops that work after a
// restart (handle.go).
package operator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/sirocco-dev/sirocco/internal/connection"
	"github.com/sirocco-dev/sirocco/internal/dag"
	"github.com/sirocco-dev/sirocco/internal/kube"
	"github.com/sirocco-dev/sirocco/internal/sshclient"
)

// Task is everything an operator may use for one try. Args are the task's
// operator fields after template rendering.
type Task struct {
	DagID, RunID, TaskID string
	TryNumber            int
	// Map is the instance's map index + 1 for a mapped task (as
	// store.TaskKey.Map), 0 otherwise: what names the remote work of one
	// instance apart from its siblings' (pod labels).
	Map         int
	LogicalDate string // RFC 3339, with the fraction of a second when it has one
	// DataIntervalStart and DataIntervalEnd are the run's data interval
	// (UTC), as templates see them.
	DataIntervalStart, DataIntervalEnd time.Time
	// Params are the run's params (the DAG's defaults merged with the
	// trigger conf), and Conf the run's conf (dag_run.conf): what
	// templates read as params and dag_run.conf, for operators that hand
	// Airflow's context to user code (a python callable). Read only: they
	// may be shared with the scheduler. Params is nil for a try resumed
	// after a restart (the try that started its work rendered its fields).
	Params, Conf map[string]any
	Args         map[string]any
	Env          map[string]string // task env (already rendered)
	CtxEnv       map[string]string // SIROCCO_CTX_* variables for child processes
	DagDir       string            // folder of the DAG file: default cwd, base of relative paths
	Log          io.Writer         // the try's log file; lines are timestamped by the writer
	Logger       *slog.Logger
	// SaveHandle persists a handle of remote or child work before the
	// operator waits on it, so cancel, timeout and restart can reach it.
	SaveHandle func(ctx context.Context, h []byte) error
	// PushXCom pushes an XCom (a JSON value) at once, while the try runs,
	// as Airflow's xcom_push from inside execute: trigger_dag's
	// trigger_run_id is readable while it waits. It applies only while
	// this try owns its row. Nil where nothing can be pushed early.
	PushXCom func(ctx context.Context, key string, value []byte) error
	// OwnXCom reads an XCom this task instance pushed, in this try or an
	// earlier one (XComs last until a clear): a trigger_dag retry finds the
	// run its previous try triggered. ok is false when there is none; nil
	// where none can be read.
	OwnXCom func(ctx context.Context, key string) (value []byte, ok bool, err error)
	// NoteHandle records a local process's handle in the try's log the
	// moment it starts, before its database write is due (see
	// process.HandleAfter); recovery reads it from there.
	NoteHandle func(h []byte)
	// TryID names this try for good: its worker, task instance and try
	// number, all stored by the claim before the try starts. Local child
	// processes carry it (process.Spec.TryID), so a restart finds them by it
	// even before their process handle was saved. Empty outside a run.
	TryID string
	// Connection resolves a connection id (environment first, then the
	// store); operators pass its secrets to Mask.
	Connection func(ctx context.Context, id string) (connection.Connection, error)
	// Mask hides a secret value in the try's log from now on.
	Mask func(secret string)
	// KillGrace is the SIGTERM → SIGKILL delay for the try's processes.
	KillGrace time.Duration
	// SSH holds the process's ssh connections, one per connection id,
	// reused across tries (one handshake, one session per command). Nil
	// where nothing may reach another host.
	SSH *sshclient.Pool
	// Kube holds the process's Kubernetes clients, one per connection
	// settings, reused across tries (one kubeconfig read, one clientset).
	// Nil builds a client per try.
	Kube *kube.Clients
	// Downstream lists the ids of the tasks that depend directly on this
	// one: what a branch may choose from.
	Downstream []string
	// RunType is the run's type: scheduled, manual, backfill, or test
	// (`dags test`, whose process runs that run only).
	RunType string
	// LatestRun reports whether the try's run is the DAG's latest at now
	// (latest_only's rule); nil outside a run.
	LatestRun func(now time.Time) bool
	// Runs, when set, lets the try trigger, read and clear runs of DAGs
	// (trigger_dag); nil where no store is at hand.
	Runs RunControl
	// FirstPokeAt and Pokes are a reschedule-mode sensor's progress,
	// stored by its previous poke's Reschedule; zero at a try's first poke.
	FirstPokeAt time.Time
	Pokes       int
	// RunStates reads DAG runs and task instances (external_task_sensor); nil
	// where no store is at hand.
	RunStates RunReader
}

// Result is what a successful try returns. ReturnValue, when set, is pushed
// as the XCom "return_value", a JSON string of the text.
type Result struct {
	ReturnValue *string
	// ReturnJSON, when set, is pushed as the return_value instead, as it
	// is: a JSON value (a branch's list of task ids, a function's dict),
	// so xcom_pull gives a list or a dict, not the text of one.
	ReturnJSON []byte
	// XComs are pushed besides the return value, each JSON value under
	// its key, before it (Airflow's multiple_outputs: a dict's items). A
	// key "return_value" is left to the return value when there is one.
	XComs map[string][]byte
}

// ValueResult is the result whose return_value is v: a string as itself,
// anything else (a map, a list, a number, json.Number) as its JSON value.
func ValueResult(v any) (Result, error) {
	if s, ok := v.(string); ok {
		return Result{ReturnValue: &s}, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return Result{}, fmt.Errorf("encode the return value: %w", err)
	}
	return Result{ReturnJSON: b}, nil
}

// ErrSkip ends the try as skipped rather than failed (bash skip_on_exit_code).
var ErrSkip = errors.New("task skipped")

// ErrDetach is the cancel cause when Sirocco shuts down or another worker
// adopted the try. An operator whose work outlives it (a cluster driver)
// returns ErrDetach without stopping that work, and the try stays running
// for the adopter; other operators stop their work as on any cancel.
var ErrDetach = errors.New("detached")

// Operator runs one try of a task. It must stop and clean up what it started
// when ctx is cancelled (timeout, cancel, clear).
type Operator interface {
	Execute(ctx context.Context, t *Task) (Result, error)
}

// Factory builds an operator for a kind and declares its fields and,
// for an operator that leaves work outside Sirocco's process, the
// recoverer of the handles it stores (nil for one that leaves nothing).
// Clean, when set, removes what a killed Sirocco left on this host's disk
// (a try's temporary files); the engine calls it once at start.
type Factory struct {
	Spec      dag.OperatorSpec
	New       func() Operator
	Recoverer Recoverer
	Clean     func(log *slog.Logger)
}

// Registry maps operator names to factories; main builds one with every
// operator and passes it to the loader (as specs) and the executor.
type Registry map[string]Factory

// Clean runs every operator's Clean hook (at an engine's start).
func (r Registry) Clean(log *slog.Logger) {
	for _, f := range r {
		if f.Clean != nil {
			f.Clean(log)
		}
	}
}

// Specs returns the field specs the DAG loader validates against.
func (r Registry) Specs() map[string]dag.OperatorSpec {
	out := make(map[string]dag.OperatorSpec, len(r))
	for name, f := range r {
		out[name] = f.Spec
	}
	return out
}

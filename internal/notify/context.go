package notify

import (
	"context"
	"fmt"
	"time"

	"github.com/sirocco-dev/sirocco/internal/connection"
	"github.com/sirocco-dev/sirocco/internal/dag"
	"github.com/sirocco-dev/sirocco/internal/store"
	"github.com/sirocco-dev/sirocco/internal/tasklog"
	"github.com/sirocco-dev/sirocco/internal/template"
)

// Event is what a notification is about: the templates see it.
type Event struct {
	DAG *dag.DAG
	Run store.DagRun
	// Task and TI are the task instance of a task callback; Task is nil
	// for a DAG's callbacks and deadline.
	Task *dag.Task
	TI   store.TaskInstance
	Kind dag.Event
	// Reason says what happened ("task a failed"); Exception is the end of
	// the failed try's log, masked as the log is.
	Reason, Exception string
	// FailedTasks lists a run's failed and upstream_failed tasks (DAG
	// callbacks).
	FailedTasks []string
	// Deadline is when a deadline alert's run should have finished.
	Deadline time.Time
}

// state is the state the templates see: the task's, or the run's.
func (ev Event) state() string {
	if ev.Task != nil {
		return string(ev.TI.State)
	}
	return string(ev.Run.State)
}

// Context builds the template context of ev: Airflow's task context (ds,
// ti, dag_run, params, var, ...) plus reason, exception, state,
// try_number, event, failed_tasks and deadline. vars reads var.value.KEY;
// a sensitive variable's value is added to mask.
func Context(ctx context.Context, ev Event, vars func(context.Context, string) (string, error), mask *tasklog.Secrets) template.Context {
	info := template.Info{
		DagID: ev.Run.DagID, RunID: ev.Run.RunID,
		LogicalDate: ev.Run.LogicalDate, DataIntervalStart: ev.Run.DataIntervalStart, DataIntervalEnd: ev.Run.DataIntervalEnd,
		Conf: ev.Run.Conf, HasTask: func(string) bool { return true },
		XComPull: func(string, string) (any, error) { return nil, nil },
	}
	if ev.DAG != nil {
		if params, err := ev.DAG.ResolveParams(ev.Run.Conf); err == nil {
			info.Params = params
		}
	}
	if ev.Task != nil {
		info.TaskID, info.Operator, info.TryNumber = ev.Task.ID, ev.Task.Operator, ev.TI.TryNumber
	}
	if vars != nil {
		info.Variables = func(key string) (string, error) {
			v, err := vars(ctx, key)
			if err != nil {
				return "", fmt.Errorf("variable %q: %w", key, err)
			}
			if connection.IsSensitive(key) {
				mask.Add(v)
			}
			return v, nil
		}
	}
	c := template.NewContext(info)
	failed := make([]any, len(ev.FailedTasks))
	for i, id := range ev.FailedTasks {
		failed[i] = id
	}
	c["reason"] = ev.Reason
	c["exception"] = ev.Exception
	c["state"] = ev.state()
	c["try_number"] = ev.TI.TryNumber
	c["event"] = string(ev.Kind)
	c["failed_tasks"] = failed
	c["run_state"] = string(ev.Run.State)
	c["deadline"] = ""
	if !ev.Deadline.IsZero() {
		c["deadline"] = ev.Deadline.UTC().Format(time.RFC3339)
	}
	return c
}

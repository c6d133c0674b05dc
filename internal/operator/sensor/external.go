package sensor

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/sirocco-dev/sirocco/internal/dag"
	"github.com/sirocco-dev/sirocco/internal/operator"
	"github.com/sirocco-dev/sirocco/internal/store"
)

// ExternalTaskSpec declares external_task_sensor (Airflow's
// ExternalTaskSensor).
var ExternalTaskSpec = spec("external_task_sensor",
	"Wait until tasks of another DAG's run (or the whole run) with the matching logical date reach allowed_states; "+
		"failed_states fail the try.",
	dag.FieldSpec{Name: "external_dag_id", Kind: dag.FieldString, Required: true, Templated: true, Description: "the DAG to watch"},
	dag.FieldSpec{Name: "external_task_id", Kind: dag.FieldString, Templated: true, Description: "one task to watch"},
	dag.FieldSpec{Name: "external_task_ids", Kind: dag.FieldStringList, Templated: true,
		Description: "tasks to watch; without it or external_task_id, the whole run (its state)"},
	dag.FieldSpec{Name: "allowed_states", Kind: dag.FieldStringList, Default: []string{"success"},
		Description: "states that satisfy the sensor (task states, or run states for a whole run)"},
	dag.FieldSpec{Name: "failed_states", Kind: dag.FieldStringList,
		Description: "states that fail the try at once (soft_fail skips it instead)"},
	dag.FieldSpec{Name: "execution_delta", Kind: dag.FieldDuration,
		Description: "the watched run's logical date is this run's minus this delta (default: the same)"},
	dag.FieldSpec{Name: "execution_date", Kind: dag.FieldString, Templated: true,
		Description: "the watched run's logical date, templated (Airflow's execution_date_fn), e.g. \"{{ macros.ds_add(ds, -1) }}\""})

// external is one poke's reading of the fields.
type external struct {
	dagID           string
	taskIDs         []string
	allowed, failed []string
	logical         time.Time
	softFail        bool
}

// readExternal reads and checks the fields.
func readExternal(sp dag.OperatorSpec, t *operator.Task) (external, error) {
	f := operator.FieldsOf(sp, t.Args)
	e := external{dagID: f.String("external_dag_id"), allowed: f.Strings("allowed_states"),
		failed: f.Strings("failed_states"), softFail: f.Bool("soft_fail")}
	var errs []error
	if e.dagID == "" {
		errs = append(errs, errors.New("field external_dag_id: empty"))
	}
	one, many := f.String("external_task_id"), f.Strings("external_task_ids")
	switch {
	case one != "" && len(many) > 0:
		errs = append(errs, errors.New("fields external_task_id and external_task_ids: give one, not both"))
	case one != "":
		e.taskIDs = []string{one}
	default:
		e.taskIDs = many
	}
	if len(e.allowed) == 0 {
		errs = append(errs, errors.New("field allowed_states: empty"))
	}
	if both := slices.ContainsFunc(e.allowed, func(s string) bool { return slices.Contains(e.failed, s) }); both {
		errs = append(errs, errors.New("fields allowed_states and failed_states: a state is in both"))
	}
	logical, err := time.Parse(time.RFC3339Nano, t.LogicalDate)
	if err != nil {
		errs = append(errs, fmt.Errorf("this run's logical date %q: %w", t.LogicalDate, err))
	}
	_, hasDelta := t.Args["execution_delta"]
	date := f.String("execution_date")
	switch {
	case hasDelta && date != "":
		errs = append(errs, errors.New("fields execution_delta and execution_date: give one, not both"))
	case date != "":
		if logical, err = ParseTime(date); err != nil {
			errs = append(errs, fmt.Errorf("field execution_date: %w", err))
		}
	default:
		logical = logical.Add(-f.Duration("execution_delta"))
	}
	e.logical = logical
	return e, errors.Join(errs...)
}

// externalPoke reads the watched run once.
func externalPoke(sp dag.OperatorSpec) PokeFunc {
	return func(ctx context.Context, t *operator.Task) (bool, error) {
		e, err := readExternal(sp, t)
		if err != nil {
			return false, err
		}
		if t.RunStates == nil {
			return false, errors.New("external_task_sensor: this process cannot read the store")
		}
		what := "the run"
		if len(e.taskIDs) > 0 {
			what = strings.Join(e.taskIDs, ", ")
		}
		fmt.Fprintf(t.Log, "sensor: poking for %s of %s at %s in %s\n", what, e.dagID,
			e.logical.UTC().Format(time.RFC3339), strings.Join(e.allowed, ", "))
		run, ok, err := findRun(ctx, t.RunStates, e.dagID, e.logical)
		if err != nil || !ok {
			return false, err
		}
		states, err := e.states(ctx, t.RunStates, run)
		if err != nil {
			return false, err
		}
		return e.judge(states)
	}
}

// findRun returns the run of dagID with the logical date, if any.
func findRun(ctx context.Context, runs operator.RunReader, dagID string, logical time.Time) (store.DagRun, bool, error) {
	list, err := runs.ListRuns(ctx, store.RunFilter{DagID: dagID})
	if err != nil {
		return store.DagRun{}, false, fmt.Errorf("read runs of %s: %w", dagID, err)
	}
	for _, r := range list {
		if r.LogicalDate.Equal(logical) {
			return r, true, nil
		}
	}
	return store.DagRun{}, false, nil
}

// states returns what is watched: the run's state, or each task's (a
// missing task is "").
func (e external) states(ctx context.Context, runs operator.RunReader, run store.DagRun) ([]string, error) {
	if len(e.taskIDs) == 0 {
		return []string{string(run.State)}, nil
	}
	tis, err := runs.ListTaskInstances(ctx, run.DagID, run.RunID)
	if err != nil {
		return nil, fmt.Errorf("read tasks of %s/%s: %w", run.DagID, run.RunID, err)
	}
	out := make([]string, len(e.taskIDs))
	for i, id := range e.taskIDs {
		for _, ti := range tis {
			if ti.TaskID == id {
				out[i] = string(ti.State)
			}
		}
	}
	return out, nil
}

// judge says whether every watched state is allowed; one in failed_states
// fails the try (skips it with soft_fail), as Airflow's sensor does.
func (e external) judge(states []string) (bool, error) {
	for i, s := range states {
		if slices.Contains(e.failed, s) {
			what := "the run"
			if len(e.taskIDs) > 0 {
				what = "task " + e.taskIDs[i]
			}
			err := fmt.Errorf("%s of %s at %s is %s (failed_states)", what, e.dagID, e.logical.UTC().Format(time.RFC3339), s)
			if e.softFail {
				return false, fmt.Errorf("%w: %w", operator.ErrSkip, err)
			}
			return false, err
		}
	}
	for _, s := range states {
		if !slices.Contains(e.allowed, s) {
			return false, nil
		}
	}
	return true, nil
}

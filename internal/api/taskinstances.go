package api

import (
	"cmp"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/sirocco-dev/sirocco/internal/actions"
	"github.com/sirocco-dev/sirocco/internal/auth"
	"github.com/sirocco-dev/sirocco/internal/store"
)

// taskInstanceJSON is Airflow's TaskInstance plus the handle of the work
// the try started outside Sirocco, decoded as `tasks state -o json` shows
// it, and its Spark ids and links lifted to the top when present.
type taskInstanceJSON struct {
	TaskID         string   `json:"task_id"`
	DagID          string   `json:"dag_id"`
	DagRunID       string   `json:"dag_run_id"`
	ExecutionDate  *string  `json:"execution_date"`
	LogicalDate    *string  `json:"logical_date"`
	StartDate      *string  `json:"start_date"`
	EndDate        *string  `json:"end_date"`
	Duration       *float64 `json:"duration"`
	State          *string  `json:"state"`
	TryNumber      int      `json:"try_number"`
	MapIndex       int      `json:"map_index"`
	MaxTries       int      `json:"max_tries"`
	Hostname       string   `json:"hostname"`
	Pool           string   `json:"pool"`
	PoolSlots      int      `json:"pool_slots"`
	Queue          string   `json:"queue"`
	PriorityWeight int      `json:"priority_weight"`
	Operator       *string  `json:"operator"`
	QueuedWhen     *string  `json:"queued_when"`
	PID            *int     `json:"pid"`
	Note           *string  `json:"note"`
	// NextRetryAt is when a task up_for_retry is retried or one
	// up_for_reschedule pokes next; Pokes and FirstPokeAt are a sensor's
	// progress in its try (reschedule mode).
	NextRetryAt *string `json:"next_retry_at"`
	Pokes       int     `json:"pokes"`
	FirstPokeAt *string `json:"first_poke_at"`

	Handle map[string]any `json:"handle"`
	// From the handle (see internal/operator/spark/handle.go): the Spark
	// standalone driver, the application (app-…, application_…, local-…),
	// its UI, the master's UI and a Kubernetes driver pod.
	DriverID  string `json:"driver_id,omitempty"`
	AppID     string `json:"app_id,omitempty"`
	SparkUI   string `json:"spark_ui,omitempty"`
	MasterUI  string `json:"master_ui,omitempty"`
	DriverPod string `json:"driver_pod,omitempty"`
}

// taskInstanceOf renders ti of run; operator is the task's, "" when the
// DAG no longer has it.
func taskInstanceOf(ti store.TaskInstance, run store.DagRun, operator string) taskInstanceJSON {
	out := taskInstanceJSON{
		TaskID: ti.TaskID, DagID: ti.DagID, DagRunID: ti.RunID,
		ExecutionDate: ts(run.LogicalDate), LogicalDate: ts(run.LogicalDate),
		StartDate: ts(ti.StartDate), EndDate: ts(ti.EndDate), State: strOrNil(string(ti.State)),
		TryNumber: ti.TryNumber, MapIndex: ti.MapIndex(), MaxTries: ti.MaxTries, Hostname: ti.Hostname,
		Pool: ti.Pool, PoolSlots: ti.PoolSlots, Queue: ti.Queue, PriorityWeight: ti.PriorityWeight,
		Operator: strOrNil(operator), QueuedWhen: ts(ti.QueuedAt), Note: strOrNil(ti.Note),
		Pokes: ti.Pokes, FirstPokeAt: ts(ti.FirstPokeAt),
	}
	if ti.State == store.StateUpForRetry || ti.State == store.StateUpForReschedule {
		out.NextRetryAt = ts(ti.NextRetryAt)
	}
	if !ti.StartDate.IsZero() && !ti.EndDate.IsZero() && !ti.EndDate.Before(ti.StartDate) {
		d := ti.EndDate.Sub(ti.StartDate).Seconds()
		out.Duration = &d
	}
	if len(ti.Handle) > 0 && json.Unmarshal(ti.Handle, &out.Handle) == nil {
		str := func(key string) string { v, _ := out.Handle[key].(string); return v }
		out.DriverID, out.AppID, out.SparkUI = str("driver_id"), str("app_id"), str("spark_ui")
		out.MasterUI, out.DriverPod = str("master_ui"), str("driver_pod")
		if pid, ok := out.Handle["pid"].(float64); ok && pid > 0 {
			n := int(pid)
			out.PID = &n
		}
	}
	return out
}

// operatorOf returns the operator of a task of a loaded DAG, or "".
func (s *server) operatorOf(dagID, taskID string) string {
	dags, _ := s.o.DAGs()
	if d := dags[dagID]; d != nil {
		if t := d.Task(taskID); t != nil {
			return t.Operator
		}
	}
	return ""
}

// listTaskInstances lists a run's task instances in the DAG's order;
// ?state= (repeatable; "none" for not yet scheduled) filters.
func (s *server) listTaskInstances(w http.ResponseWriter, r *http.Request) error {
	p, err := pageOf(r)
	if err != nil {
		return err
	}
	states, err := taskStatesOf(r)
	if err != nil {
		return err
	}
	run, err := s.run(r)
	if err != nil {
		return err
	}
	tis, err := s.o.Store.ListTaskInstances(r.Context(), run.DagID, run.RunID)
	if err != nil {
		return fmt.Errorf("list task instances of %s/%s: %w", run.DagID, run.RunID, err)
	}
	tis = keepStates(tis, states)
	out := make([]taskInstanceJSON, 0, min(p.limit, len(tis)))
	for _, ti := range paginate(tis, p) {
		out = append(out, taskInstanceOf(ti, run, s.operatorOf(ti.DagID, ti.TaskID)))
	}
	return writeJSON(w, http.StatusOK, collection("task_instances", out, len(tis)))
}

// taskStateNames are the names ?state= takes: Airflow's task instance
// states ("none" for not yet scheduled; "deferred", which no Sirocco task
// is ever in, matches nothing).
var taskStateNames = []string{"none", "scheduled", "queued", "running", "success", "failed", "up_for_retry",
	"up_for_reschedule", "upstream_failed", "skipped", "restarting", "removed", "deferred"}

// taskStatesOf reads ?state= (repeatable) of a list of task instances,
// refusing a name that is no task state (400, as the runs' list does), so
// a typo is not an empty answer.
func taskStatesOf(r *http.Request) ([]string, error) {
	states := r.URL.Query()["state"]
	for _, st := range states {
		if !slices.Contains(taskStateNames, st) {
			return nil, badRequest("state", "unknown task instance state %q (expected one of %s)", st, strings.Join(taskStateNames, ", "))
		}
	}
	return states, nil
}

// keepStates keeps the instances in one of states (Airflow's names, "none"
// for not yet scheduled); no states keeps them all.
func keepStates(tis []store.TaskInstance, states []string) []store.TaskInstance {
	if len(states) == 0 {
		return tis
	}
	return slices.DeleteFunc(tis, func(ti store.TaskInstance) bool {
		name := string(ti.State)
		if ti.State == store.StateNone {
			name = "none"
		}
		return !slices.Contains(states, name)
	})
}

func (s *server) getTaskInstance(w http.ResponseWriter, r *http.Request) error {
	run, ti, err := s.taskInstance(r)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, taskInstanceOf(ti, run, s.operatorOf(ti.DagID, ti.TaskID)))
}

// taskInstance reads the run and task instance the path names, or a 404
// naming whichever is missing.
func (s *server) taskInstance(r *http.Request) (store.DagRun, store.TaskInstance, error) {
	run, err := s.run(r)
	if err != nil {
		return run, store.TaskInstance{}, err
	}
	key := store.TaskKey{DagID: run.DagID, RunID: run.RunID, TaskID: r.PathValue("task_id")}
	mapIndex, err := mapIndexParam(r)
	if err != nil {
		return run, store.TaskInstance{}, err
	}
	key = key.WithMapIndex(mapIndex)
	ti, err := s.o.Store.GetTaskInstance(r.Context(), key)
	if isNotFound(err) {
		if mapIndex >= 0 {
			return run, ti, notFound("TaskInstance", "run %s of DAG %s has no instance %d of task %q", key.RunID, key.DagID, mapIndex, key.TaskID)
		}
		return run, ti, notFound("TaskInstance", "run %s of DAG %s has no task instance %q "+
			"(an expanded mapped task's instances are .../taskInstances/%s/N or ?map_index=N)", key.RunID, key.DagID, key.TaskID, key.TaskID)
	}
	if err != nil {
		return run, ti, fmt.Errorf("read task instance %s/%s/%s: %w", key.DagID, key.RunID, key.TaskID, err)
	}
	return run, ti, nil
}

// patchTaskInstance marks a task instance success, failed or skipped:
// {"new_state": "success"}. With "dry_run": true it only checks. Unlike
// Airflow, dry_run defaults to false (see docs/decisions.md).
func (s *server) patchTaskInstance(w http.ResponseWriter, r *http.Request) error {
	if _, err := mapIndexParam(r); err != nil {
		return err // before the body: .../setNote is no body error
	}
	var body struct {
		NewState *string `json:"new_state"`
		DryRun   bool    `json:"dry_run"`
	}
	if err := decodeBody(r, &body); err != nil {
		return err
	}
	if body.NewState == nil {
		return badRequest("new_state", "new_state is required: success, failed or skipped")
	}
	if err := actions.CheckMarkState(*body.NewState); err != nil {
		return err
	}
	run, ti, err := s.taskInstance(r)
	if err != nil {
		return err
	}
	if ti.Mapped() {
		auth.NoteFrom(r.Context()).Set("map_index", ti.MapIndex())
	}
	if err := actions.CheckMarkable(ti); err != nil {
		return err
	}
	if !body.DryRun {
		if _, err := actions.Mark(r.Context(), s.o.Store, ti.TaskKey, store.TaskState(*body.NewState), s.now()); err != nil {
			return err
		}
		s.kick()
		key := ti.TaskKey
		if ti, err = s.o.Store.GetTaskInstance(r.Context(), key); err != nil {
			return fmt.Errorf("read task instance %s after marking it: %w", key.TaskID, err)
		}
	}
	return writeJSON(w, http.StatusOK, taskInstanceOf(ti, run, s.operatorOf(ti.DagID, ti.TaskID)))
}

// mapIndexParam reads the map index of a request naming one instance of
// a mapped task: Airflow's path form (.../taskInstances/{task_id}/{map_index})
// or ?map_index=, -1 (Airflow's "not mapped") when neither is given. Both
// may be given only when they agree.
func mapIndexParam(r *http.Request) (int, error) {
	path, query := r.PathValue("map_index"), r.URL.Query().Get("map_index")
	raw := cmp.Or(path, query)
	if raw == "" {
		return -1, nil
	}
	if path == "setNote" {
		// Airflow's user notes: Sirocco's note is the scheduler's (why a
		// task waits, or ended without a try), not a user's text.
		return 0, notFound("setNote", "Sirocco keeps no user notes: a task instance's note is written by "+
			"the scheduler (why it waits or ended without a try)")
	}
	i, err := strconv.Atoi(raw)
	if err != nil || i < -1 {
		return 0, badRequest("map_index", "expected a map index from -1, got %q", raw)
	}
	if q, err := strconv.Atoi(query); path != "" && query != "" && (err != nil || q != i) {
		return 0, badRequest("map_index", "the path names map index %s and ?map_index= %q; give one", path, query)
	}
	return i, nil
}

package api

import (
	"encoding/json"
	"errors"
	"net/http"
	"slices"

	"github.com/sirocco-dev/sirocco/internal/actions"
	"github.com/sirocco-dev/sirocco/internal/auth"
	"github.com/sirocco-dev/sirocco/internal/store"
)

// clearBody is Airflow's ClearTaskInstances, for the fields Sirocco has:
// one run, some tasks (none: all), their downstream, only the failed.
type clearBody struct {
	DagRunID *string `json:"dag_run_id"`
	// TaskIDs are task ids and, as Airflow 3's API takes them,
	// [task_id, map_index] pairs naming one instance (see taskRefsOf).
	TaskIDs           []json.RawMessage `json:"task_ids"`
	IncludeDownstream bool              `json:"include_downstream"`
	OnlyFailed        bool              `json:"only_failed"`
	DryRun            bool              `json:"dry_run"`
	// MapIndex clears one instance of the named mapped tasks.
	MapIndex *int `json:"map_index"`
}

// taskInstanceRef is Airflow's TaskInstanceReference.
type taskInstanceRef struct {
	TaskID        string  `json:"task_id"`
	DagID         string  `json:"dag_id"`
	DagRunID      string  `json:"dag_run_id"`
	ExecutionDate *string `json:"execution_date"`
	MapIndex      int     `json:"map_index"`
}

// clearTaskInstances runs task instances of a run again, as `tasks clear`:
// running ones are stopped first (restarting). It answers the instances
// cleared, or with "dry_run": true those it would clear. Unlike Airflow,
// dry_run defaults to false (see docs/decisions.md).
func (s *server) clearTaskInstances(w http.ResponseWriter, r *http.Request) error {
	d, err := s.lookupDAG(r.PathValue("dag_id"))
	if err != nil {
		return err
	}
	var body clearBody
	if err := decodeBody(r, &body); err != nil {
		return err
	}
	taskIDs, indexes, err := taskRefsOf(body.TaskIDs)
	if err != nil {
		return err
	}
	if indexes != nil && body.MapIndex != nil {
		return badRequest("map_index", "give map_index or [task_id, map_index] pairs in task_ids, not both")
	}
	note := auth.NoteFrom(r.Context())
	note.SetTasks(taskIDs)
	if body.DagRunID == nil || *body.DagRunID == "" {
		return badRequest("dag_run_id", "dag_run_id is required: Sirocco clears task instances of one run")
	}
	note.SetRun(*body.DagRunID)
	run, err := store.DagRun{}, store.ErrNotFound
	if storable(*body.DagRunID) {
		run, err = s.o.Store.GetRun(r.Context(), d.ID, *body.DagRunID)
	}
	if isNotFound(err) {
		return notFound("DAGRun", "DAGRun with DAG ID %q and DagRun ID %q not found", d.ID, *body.DagRunID)
	}
	if err != nil {
		return err
	}
	res, err := actions.Clear(r.Context(), s.o.Store, d, actions.ClearRequest{RunID: run.RunID, TaskIDs: taskIDs,
		Downstream: body.IncludeDownstream, OnlyFailed: body.OnlyFailed, DryRun: body.DryRun, MapIndex: body.MapIndex,
		MapIndexes: indexes}, s.now())
	if err != nil {
		return err
	}
	if !body.DryRun {
		s.kick()
	}
	refs := make([]taskInstanceRef, len(res.TaskInstances))
	cleared := make([]string, len(res.TaskInstances))
	for i, ti := range res.TaskInstances {
		refs[i], cleared[i] = refOf(ti, run), ti.TaskID
	}
	note.SetTasks(cleared)
	if idx := mapIndexesOf(res.TaskInstances); idx != nil {
		note.SetMapIndexes(idx)
	}
	note.Set("dry_run", body.DryRun)
	return writeJSON(w, http.StatusOK, map[string]any{"task_instances": refs})
}

// mapIndexesOf is the map index of each instance (-1: not mapped), in
// their order, for the audit log beside their task ids; nil when none is
// an instance of a mapped task.
func mapIndexesOf(tis []store.TaskInstance) []int {
	if !slices.ContainsFunc(tis, func(ti store.TaskInstance) bool { return ti.Mapped() }) {
		return nil
	}
	out := make([]int, len(tis))
	for i, ti := range tis {
		out[i] = ti.MapIndex()
	}
	return out
}

func refOf(ti store.TaskInstance, run store.DagRun) taskInstanceRef {
	return taskInstanceRef{TaskID: ti.TaskID, DagID: ti.DagID, DagRunID: ti.RunID, ExecutionDate: ts(run.LogicalDate), MapIndex: ti.MapIndex()}
}

// taskRefsOf reads task_ids: each a task id, or a [task_id, map_index]
// pair naming one instance of a mapped task, as Airflow 3's API takes them.
// It returns the task ids, each once, and the map indexes of the tasks
// named only by pairs; a task also named plainly is cleared whole, as in
// Airflow.
func taskRefsOf(raw []json.RawMessage) ([]string, map[string][]int, error) {
	var ids []string
	var indexes map[string][]int
	whole := map[string]bool{}
	for i, msg := range raw {
		var id string
		if json.Unmarshal(msg, &id) == nil {
			whole[id] = true
			if !slices.Contains(ids, id) {
				ids = append(ids, id)
			}
			continue
		}
		id, mapIndex, err := pairOf(msg)
		if err != nil {
			return nil, nil, badRequest("task_ids", "entry %d: %v", i, err)
		}
		if !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
		if indexes == nil {
			indexes = map[string][]int{}
		}
		if !slices.Contains(indexes[id], mapIndex) {
			indexes[id] = append(indexes[id], mapIndex)
		}
	}
	for id := range whole {
		delete(indexes, id)
	}
	return ids, indexes, nil
}

// pairOf reads one [task_id, map_index] pair.
func pairOf(msg json.RawMessage) (string, int, error) {
	var pair []json.RawMessage
	if err := json.Unmarshal(msg, &pair); err != nil || len(pair) != 2 {
		return "", 0, errors.New("expected a task id or a [task_id, map_index] pair")
	}
	var id string
	if err := json.Unmarshal(pair[0], &id); err != nil {
		return "", 0, errors.New("a [task_id, map_index] pair starts with the task id, a string")
	}
	var mapIndex int
	if err := json.Unmarshal(pair[1], &mapIndex); err != nil || mapIndex < -1 {
		return "", 0, errors.New("a [task_id, map_index] pair ends with a map index, an integer from -1")
	}
	return id, mapIndex, nil
}

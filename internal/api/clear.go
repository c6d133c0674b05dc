package api

import (
	"net/http"

	"github.com/sirocco-dev/sirocco/internal/actions"
	"github.com/sirocco-dev/sirocco/internal/auth"
	"github.com/sirocco-dev/sirocco/internal/store"
)

// clearBody is Airflow's ClearTaskInstances, for the fields Sirocco has:
// one run, some tasks (none: all), their downstream, only the failed.
type clearBody struct {
	DagRunID          *string  `json:"dag_run_id"`
	TaskIDs           []string `json:"task_ids"`
	IncludeDownstream bool     `json:"include_downstream"`
	OnlyFailed        bool     `json:"only_failed"`
	DryRun            bool     `json:"dry_run"`
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
	note := auth.NoteFrom(r.Context())
	note.SetTasks(body.TaskIDs)
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
	res, err := actions.Clear(r.Context(), s.o.Store, d, actions.ClearRequest{RunID: run.RunID, TaskIDs: body.TaskIDs,
		Downstream: body.IncludeDownstream, OnlyFailed: body.OnlyFailed, DryRun: body.DryRun, MapIndex: body.MapIndex}, s.now())
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
	note.Set("dry_run", body.DryRun)
	return writeJSON(w, http.StatusOK, map[string]any{"task_instances": refs})
}

func refOf(ti store.TaskInstance, run store.DagRun) taskInstanceRef {
	return taskInstanceRef{TaskID: ti.TaskID, DagID: ti.DagID, DagRunID: ti.RunID, ExecutionDate: ts(run.LogicalDate), MapIndex: ti.MapIndex()}
}

package api

import (
	"fmt"
	"net/http"
	"slices"

	"github.com/sirocco-dev/sirocco/internal/store"
)

// listMapped is Airflow's getMappedTaskInstances (GET
// .../taskInstances/{task_id}/listMapped): the instances of one mapped
// task in a run, by map index, removed ones included, as a
// TaskInstanceCollection. ?state= (repeatable) filters, ?order_by=
// map_index or -map_index orders, ?limit= and ?offset= page; total_entries
// counts the instances the filter kept. A mapped task not expanded yet has
// none; a task that is not mapped is a 404, as in Airflow.
func (s *server) listMapped(w http.ResponseWriter, r *http.Request) error {
	p, err := pageOf(r)
	if err != nil {
		return err
	}
	desc, err := mappedOrder(r)
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
	taskID := r.PathValue("task_id")
	all, err := s.o.Store.ListTaskInstances(r.Context(), run.DagID, run.RunID)
	if err != nil {
		return fmt.Errorf("list task instances of %s/%s: %w", run.DagID, run.RunID, err)
	}
	tis, err := s.mappedInstances(all, run, taskID)
	if err != nil {
		return err
	}
	slices.SortFunc(tis, func(a, b store.TaskInstance) int { return a.MapIndex() - b.MapIndex() })
	if desc {
		slices.Reverse(tis)
	}
	tis = keepStates(tis, states)
	operator := s.operatorOf(run.DagID, taskID)
	out := make([]taskInstanceJSON, 0, min(p.limit, len(tis)))
	for _, ti := range paginate(tis, p) {
		out = append(out, taskInstanceOf(ti, run, operator))
	}
	return writeJSON(w, http.StatusOK, collection("task_instances", out, len(tis)))
}

// mappedInstances keeps the instances of taskID that have a map index, or
// answers a 404 when the run has no such task or the task is not mapped.
func (s *server) mappedInstances(all []store.TaskInstance, run store.DagRun, taskID string) ([]store.TaskInstance, error) {
	var mapped []store.TaskInstance
	unmapped := false
	for _, ti := range all {
		switch {
		case ti.TaskID != taskID:
		case ti.MapIndex() >= 0:
			mapped = append(mapped, ti)
		default:
			unmapped = true
		}
	}
	if len(mapped) > 0 {
		return mapped, nil
	}
	dags, _ := s.o.DAGs()
	if d := dags[run.DagID]; d != nil {
		if t := d.Task(taskID); t != nil && t.Mapped() {
			return nil, nil // not expanded yet
		}
	}
	if unmapped {
		return nil, notFound("TaskInstance", "task %q of DAG %s is not mapped; its instance is .../taskInstances/%s", taskID, run.DagID, taskID)
	}
	return nil, notFound("TaskInstance", "run %s of DAG %s has no task %q", run.RunID, run.DagID, taskID)
}

// mappedOrder reads listMapped's ?order_by=: map_index (the default) or
// -map_index, which reverses it.
func mappedOrder(r *http.Request) (desc bool, err error) {
	switch v := r.URL.Query().Get("order_by"); v {
	case "", "map_index":
		return false, nil
	case "-map_index":
		return true, nil
	default:
		return false, badRequest("order_by", "listMapped orders by map_index or -map_index, not %q", v)
	}
}

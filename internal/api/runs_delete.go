package api

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/sirocco-dev/sirocco/internal/store"
)

// deleteRun deletes a run with its task instances and XComs, as Airflow's
// DELETE dagRuns/{id}. A run with a task queued or running is refused
// (409): the work it started outside Sirocco would be orphaned; mark the
// task failed first. Its log files stay in the logs folder.
func (s *server) deleteRun(w http.ResponseWriter, r *http.Request) error {
	run, err := s.run(r)
	if err != nil {
		return err
	}
	err = s.o.Store.DeleteRun(r.Context(), run.DagID, run.RunID)
	switch {
	case isNotFound(err):
		return notFound("DAGRun", "DAGRun with DAG ID %q and DagRun ID %q not found", run.DagID, run.RunID)
	case errors.Is(err, store.ErrConflict):
		return &problem{Status: http.StatusConflict, Title: "Conflict", kind: "AlreadyExists",
			Detail: fmt.Sprintf("run %s of %s cannot be deleted: %v", run.RunID, run.DagID, errors.Unwrap(err))}
	case err != nil:
		return err
	}
	s.kick()
	return deleted(w)
}

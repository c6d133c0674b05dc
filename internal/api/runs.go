package api

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/sirocco-dev/sirocco/internal/actions"
	"github.com/sirocco-dev/sirocco/internal/auth"
	"github.com/sirocco-dev/sirocco/internal/store"
)

// runJSON is Airflow's DAGRun.
type runJSON struct {
	DagRunID               string         `json:"dag_run_id"`
	DagID                  string         `json:"dag_id"`
	LogicalDate            *string        `json:"logical_date"`
	ExecutionDate          *string        `json:"execution_date"`
	StartDate              *string        `json:"start_date"`
	EndDate                *string        `json:"end_date"`
	QueuedAt               *string        `json:"queued_at"`
	DataIntervalStart      *string        `json:"data_interval_start"`
	DataIntervalEnd        *string        `json:"data_interval_end"`
	LastSchedulingDecision *string        `json:"last_scheduling_decision"`
	RunType                string         `json:"run_type"`
	State                  string         `json:"state"`
	ExternalTrigger        bool           `json:"external_trigger"`
	Conf                   map[string]any `json:"conf"`
	Note                   *string        `json:"note"`
}

func runOf(r store.DagRun) runJSON {
	conf := r.Conf
	if conf == nil {
		conf = map[string]any{}
	}
	return runJSON{
		DagRunID: r.RunID, DagID: r.DagID, LogicalDate: ts(r.LogicalDate), ExecutionDate: ts(r.LogicalDate),
		StartDate: ts(r.StartDate), EndDate: ts(r.EndDate), QueuedAt: ts(r.QueuedAt),
		DataIntervalStart: ts(r.DataIntervalStart), DataIntervalEnd: ts(r.DataIntervalEnd),
		RunType: string(r.RunType), State: string(r.State), ExternalTrigger: r.RunType != store.RunScheduled, Conf: conf,
	}
}

// listRuns lists a DAG's runs, newest first; dag_id "~" lists every DAG's,
// as in Airflow. ?state= (repeatable) filters.
func (s *server) listRuns(w http.ResponseWriter, r *http.Request) error {
	p, err := pageOf(r)
	if err != nil {
		return err
	}
	f := store.RunFilter{}
	if id := r.PathValue("dag_id"); id != "~" {
		if err := s.knownDAG(r, id); err != nil {
			return err
		}
		f.DagID = id
	}
	for _, st := range r.URL.Query()["state"] {
		rs := store.RunState(st)
		if !slices.Contains([]store.RunState{store.RunQueued, store.RunRunning, store.RunSuccess, store.RunFailed}, rs) {
			return badRequest("state", "unknown DAG run state %q (expected queued, running, success or failed)", st)
		}
		f.States = append(f.States, rs)
	}
	runs, err := s.o.Store.ListRuns(r.Context(), f)
	if err != nil {
		return fmt.Errorf("list runs: %w", err)
	}
	out := make([]runJSON, 0, min(p.limit, len(runs)))
	for _, run := range paginate(runs, p) {
		out = append(out, runOf(run))
	}
	return writeJSON(w, http.StatusOK, collection("dag_runs", out, len(runs)))
}

func (s *server) getRun(w http.ResponseWriter, r *http.Request) error {
	run, err := s.run(r)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, runOf(run))
}

// run reads the run the path names, or a 404 naming it.
func (s *server) run(r *http.Request) (store.DagRun, error) {
	dagID, runID := r.PathValue("dag_id"), r.PathValue("dag_run_id")
	run, err := s.o.Store.GetRun(r.Context(), dagID, runID)
	if isNotFound(err) {
		return run, notFound("DAGRun", "DAGRun with DAG ID %q and DagRun ID %q not found", dagID, runID)
	}
	if err != nil {
		return run, fmt.Errorf("read run %s of %s: %w", runID, dagID, err)
	}
	return run, nil
}

// storable reports whether s can be an id in every store. PostgreSQL's
// text holds neither NUL nor invalid UTF-8, so no DAG, run or task has
// such an id, and looking one up would fail as an internal error instead
// of answering 404.
func storable(s string) bool { return utf8.ValidString(s) && !strings.ContainsRune(s, 0) }

// triggerBody is Airflow's DAGRun as a POST body: every field optional.
type triggerBody struct {
	DagRunID      *string        `json:"dag_run_id"`
	LogicalDate   *string        `json:"logical_date"`
	ExecutionDate *string        `json:"execution_date"`
	Conf          map[string]any `json:"conf"`
}

// triggerRun creates a manual run, its conf checked against the DAG's
// params (400 naming the param), and wakes the scheduler.
func (s *server) triggerRun(w http.ResponseWriter, r *http.Request) error {
	d, err := s.lookupDAG(r.PathValue("dag_id"))
	if err != nil {
		return err
	}
	var body triggerBody
	if err := decodeBody(r, &body); err != nil {
		return err
	}
	req := actions.RunRequest{Type: store.RunManual, Conf: body.Conf}
	if body.DagRunID != nil {
		if *body.DagRunID == "" {
			return badRequest("dag_run_id", "must not be empty (leave it out for manual__<logical date>)")
		}
		req.RunID = *body.DagRunID
	}
	note := auth.NoteFrom(r.Context())
	note.SetRun(req.RunID)
	switch {
	case body.LogicalDate != nil && body.ExecutionDate != nil:
		return badRequest("execution_date", "give logical_date or execution_date, not both")
	case body.LogicalDate != nil:
		req.LogicalDate = *body.LogicalDate
	case body.ExecutionDate != nil:
		req.LogicalDate = *body.ExecutionDate
	}
	if (body.LogicalDate != nil || body.ExecutionDate != nil) && req.LogicalDate == "" {
		return badRequest("logical_date", "must not be empty (leave it out for now)")
	}
	run, err := actions.CreateRun(r.Context(), s.o.Store, d, req, s.now())
	if err != nil {
		return err
	}
	note.SetRun(run.RunID)
	// The answer is the run as created (queued), not re-read: the
	// scheduler this wakes may already have started it.
	s.runCreated()
	return writeJSON(w, http.StatusOK, runOf(run))
}

package api_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/store"
)

// TestTaskInstanceNote: a task instance's note (why it ended without a
// try, such as a mapped task that could not expand) is Airflow's note
// field of the task instance; a task without one has note null.
func TestTaskInstanceNote(t *testing.T) {
	s := newSite(t, map[string]string{"etl.yaml": etlYAML})
	s.createRun("etl", "r", time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC), nil)
	why := "cannot expand: 5 elements is more than max_map_length (4)"
	if ok, err := s.st.UpdateTask(t.Context(), store.TaskUpdate{Key: store.TaskKey{DagID: "etl", RunID: "r", TaskID: "load"},
		To: store.StateFailed, Note: &why}); err != nil || !ok {
		t.Fatalf("fail load: %v, %v", ok, err)
	}
	const path = "/api/v1/dags/etl/dagRuns/r/taskInstances"
	if ti := s.get(path + "/load"); ti["note"] != why || ti["state"] != "failed" {
		t.Errorf("load = %v; want its note %q", ti, why)
	}
	// Its logs have no try to answer: the note says why (trial11 #9).
	wantProblem(t, "log of a task without a try", s.do("GET", path+"/load/logs/1", nil), http.StatusNotFound, "without running a try: "+why)
	if ti := s.get(path + "/extract"); ti["note"] != nil {
		t.Errorf("extract's note = %v; want null", ti["note"])
	}
}

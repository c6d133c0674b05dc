package ui_test

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/store"
)

// TestTaskPageShowsTheNote: the task page's data (/ui/api/ti) carries the
// note of an instance that ended without a try (a mapped task that could
// not expand), which the page shows next to its state.
func TestTaskPageShowsTheNote(t *testing.T) {
	s := newSite(t, map[string]string{"mapped.yaml": mappedYAML})
	s.createRun("mapped", "r", time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), nil, "start", "each")
	why := `cannot expand: task "start" pushed no XCom "nope" to expand over`
	if ok, err := s.st.UpdateTask(t.Context(), store.TaskUpdate{Key: store.TaskKey{DagID: "mapped", RunID: "r", TaskID: "each"},
		To: store.StateFailed, Note: &why}); err != nil || !ok {
		t.Fatalf("fail each: %v, %v", ok, err)
	}
	status, body, _ := s.get("/ui/api/ti?dag_id=mapped&run_id=r&task_id=each")
	var ti struct {
		State string `json:"state"`
		Note  string `json:"note"`
		Tries []any  `json:"tries"`
	}
	if status != http.StatusOK || json.Unmarshal([]byte(body), &ti) != nil {
		t.Fatalf("GET /ui/api/ti = %d %s", status, body)
	}
	if ti.State != "failed" || ti.Note != why || len(ti.Tries) != 0 {
		t.Errorf("each = %+v; want failed, no try, the note %q", ti, why)
	}
}

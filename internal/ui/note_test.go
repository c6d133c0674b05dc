package ui_test

import (
	"encoding/json"
	"net/http"
	"strings"
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

// TestMappedTaskPageSaysItWaitsForThePast (trial12 T3): the page data of a
// mapped task's placeholder that waits for the previous run carries the
// reason (waits), which its banner gives instead of saying its upstream
// tasks hold it; a note that is not such a reason is no wait.
func TestMappedTaskPageSaysItWaitsForThePast(t *testing.T) {
	s := newSite(t, map[string]string{"mapped.yaml": mappedYAML})
	s.createRun("mapped", "r", time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), nil, "start", "each")
	k := store.TaskKey{DagID: "mapped", RunID: "r", TaskID: "each"}
	waits := func() string {
		t.Helper()
		status, body, _ := s.get("/ui/api/ti?dag_id=mapped&run_id=r&task_id=each")
		var ti struct {
			Waits string `json:"waits"`
		}
		if status != http.StatusOK || json.Unmarshal([]byte(body), &ti) != nil {
			t.Fatalf("GET /ui/api/ti = %d %s", status, body)
		}
		return ti.Waits
	}
	for _, tt := range []struct{ note, want string }{
		{"depends_on_past: each [1] in the previous run p is failed, not success or skipped",
			"depends_on_past: each [1] in the previous run p is failed, not success or skipped"},
		{"a user's note", ""},
	} {
		if ok, err := s.st.UpdateTask(t.Context(), store.TaskUpdate{Key: k, From: []store.TaskState{store.StateNone},
			To: store.StateNone, Note: &tt.note}); err != nil || !ok {
			t.Fatalf("note each: %v, %v", ok, err)
		}
		if got := waits(); got != tt.want {
			t.Errorf("note %q: waits %q; want %q", tt.note, got, tt.want)
		}
	}
	if _, js, _ := s.get("/static/js/task.js"); !strings.Contains(js, "it waits for the previous run: ${t.waits}") {
		t.Errorf("task.js: the placeholder's banner does not give waits")
	}
}

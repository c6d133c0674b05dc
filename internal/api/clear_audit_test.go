package api_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/store"
)

// TestClearAuditOfManyInstances (rev11b): the audit entry of a clear of a
// mapped task's 150 instances keeps the first 100 task ids and as many
// map indexes, each beside its task id, with task_count 150: the map
// indexes were all written, unbounded and no longer one per task id.
func TestClearAuditOfManyInstances(t *testing.T) {
	s := mapSite(t, withToken)
	s.createRun("mp", "big", time.Date(2026, 1, 3, 0, 0, 0, 0, time.UTC), nil)
	k := store.TaskKey{DagID: "mp", RunID: "big", TaskID: "m"}
	if ok, err := s.st.ExpandTask(context.Background(), k, 0, 150, time.Now()); err != nil || !ok {
		t.Fatalf("expand m: %v, %v", ok, err)
	}
	r := s.do("POST", "/api/v1/dags/mp/clearTaskInstances", `{"dag_run_id": "big", "task_ids": ["m"], "dry_run": true}`)
	if r.status != http.StatusOK {
		t.Fatalf("clear: %d %s", r.status, r.body)
	}
	extra, _ := newestEntry(t, s)["extra"].(map[string]any)
	ids, _ := extra["task_ids"].([]any)
	idx, _ := extra["map_indexes"].([]any)
	if len(ids) != 100 || len(idx) != 100 || extra["task_count"] != float64(150) {
		t.Fatalf("audit of a clear of 150 instances: %d task_ids, %d map_indexes, task_count %v; want 100, 100, 150",
			len(ids), len(idx), extra["task_count"])
	}
	for i := range idx {
		if idx[i] != float64(i) || ids[i] != "m" {
			t.Fatalf("audit entry %d: task %v, map index %v; want m, %d", i, ids[i], idx[i], i)
		}
	}
}

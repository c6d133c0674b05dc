package api_test

import (
	"context"
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/store"
)

// TestTaskInstanceShowsTheNextPoke: a task instance waiting
// up_for_reschedule (or up_for_retry) answers when it pokes (or runs)
// next and its pokes so far; one in another state has no next_retry_at.
func TestTaskInstanceShowsTheNextPoke(t *testing.T) {
	s := newSite(t, map[string]string{"etl.yaml": etlYAML})
	s.createRun("etl", "r1", s.now(), map[string]store.TaskState{"extract": store.StateUpForReschedule, "load": store.StateSuccess})
	next := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	first, pokes := next.Add(-time.Hour), 3
	for _, id := range []string{"extract", "load"} {
		if _, err := s.st.UpdateTask(context.Background(), store.TaskUpdate{Key: store.TaskKey{DagID: "etl", RunID: "r1", TaskID: id},
			NextRetryAt: &next, FirstPokeAt: &first, Pokes: &pokes, To: map[string]store.TaskState{
				"extract": store.StateUpForReschedule, "load": store.StateSuccess}[id]}); err != nil {
			t.Fatal(err)
		}
	}
	ti := s.get("/api/v1/dags/etl/dagRuns/r1/taskInstances/extract")
	if ti["next_retry_at"] != "2030-01-02T03:04:05Z" || ti["pokes"] != float64(3) || ti["first_poke_at"] != "2030-01-02T02:04:05Z" {
		t.Errorf("waiting task instance: next_retry_at %v, pokes %v, first_poke_at %v", ti["next_retry_at"], ti["pokes"], ti["first_poke_at"])
	}
	if done := s.get("/api/v1/dags/etl/dagRuns/r1/taskInstances/load"); done["next_retry_at"] != nil {
		t.Errorf("a finished task instance shows next_retry_at %v", done["next_retry_at"])
	}
}

package ui_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/store"
	"github.com/sirocco-dev/sirocco/internal/ui"
)

// queryCounter counts the store's run reads.
type queryCounter struct {
	store.Store
	reads atomic.Int64
}

func (c *queryCounter) ListRuns(ctx context.Context, f store.RunFilter) ([]store.DagRun, error) {
	c.reads.Add(1)
	return c.Store.ListRuns(ctx, f)
}

func (c *queryCounter) LastScheduledRun(ctx context.Context, dagID string) (store.DagRun, error) {
	c.reads.Add(1)
	return c.Store.LastScheduledRun(ctx, dagID)
}

func (c *queryCounter) RecentRuns(ctx context.Context, n int) (map[string][]store.DagRun, map[string]store.DagRun, error) {
	c.reads.Add(1)
	return c.Store.RecentRuns(ctx, n)
}

// TestDAGListReadsRunsOnce: the DAG list of 20 DAGs reads the runs once,
// not twice per DAG (the UI review's finding 4: 2,000 queries for 1,000
// DAGs, again on every change).
func TestDAGListReadsRunsOnce(t *testing.T) {
	files := map[string]string{}
	for i := range 20 {
		files[fmt.Sprintf("d%02d.yaml", i)] = strings.Replace(etlYAML, "dag_id: etl", fmt.Sprintf("dag_id: d%02d", i), 1)
	}
	var counted *queryCounter
	s := newSite(t, files, func(o *ui.Options) {
		counted = &queryCounter{Store: o.Store}
		o.Store = counted
	})
	s.createRun("d03", "r1", time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), nil, "extract")
	counted.reads.Store(0)
	if status, body, _ := s.get("/ui/api/dags"); status != http.StatusOK || !strings.Contains(body, `"run_id":"r1"`) {
		t.Fatalf("/ui/api/dags: %d %s", status, body)
	}
	if n := counted.reads.Load(); n != 1 {
		t.Errorf("%d run reads for 20 DAGs, want 1", n)
	}
}

package api_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/store"
)

const (
	producerYAML = `dag_id: producer
tasks:
  - {id: write, operator: bash, command: echo, outlets: ["s3://b/x", "s3://b/y"], inlets: ["s3://b/raw"]}
`
	consumerYAML = `dag_id: consumer
schedule: {assets: {any: ["s3://b/x", "s3://b/z"]}}
tasks:
  - {id: read, operator: bash, command: echo, inlets: ["s3://b/x"]}
`
)

// TestAssets: GET /assets lists every asset the DAGs name with its
// producers, readers and consumers, and its events; GET /assets/events
// lists events newest first, by URI too; POST /assets/events records one
// by hand, queued for the DAGs scheduled on it, and refuses a bad URI.
func TestAssets(t *testing.T) {
	s := newSite(t, map[string]string{"producer.yaml": producerYAML, "consumer.yaml": consumerYAML})
	ctx := context.Background()
	s.createRun("producer", "r", time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC), map[string]store.TaskState{"write": store.StateSuccess})
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	ev := func(uri string) store.AssetEvent {
		return store.AssetEvent{URI: uri, SourceDagID: "producer", SourceRunID: "r", SourceTaskID: "write", SourceTry: 1, Timestamp: at}
	}
	if _, err := s.st.RecordAssetEvents(ctx, []store.AssetEvent{ev("s3://b/x"), ev("s3://b/y")}, nil); err != nil {
		t.Fatal(err)
	}

	assets, total := list(t, s.get("/api/v1/assets"), "assets")
	if total != 4 || ids(assets, "uri") != "s3://b/raw,s3://b/x,s3://b/y,s3://b/z" {
		t.Fatalf("assets: %d %v", total, assets)
	}
	x := assets[1]
	if x["total_events"] != float64(1) || x["last_event_at"] != "2026-01-02T03:04:05Z" ||
		len(x["producing_tasks"].([]any)) != 1 || len(x["consuming_dags"].([]any)) != 1 || len(x["reading_tasks"].([]any)) != 1 {
		t.Errorf("s3://b/x: %v", x)
	}
	if z := assets[3]; z["total_events"] != float64(0) || z["last_event_at"] != nil || len(z["producing_tasks"].([]any)) != 0 {
		t.Errorf("s3://b/z: %v", z)
	}

	r := s.do("POST", "/api/v1/assets/events", map[string]any{"uri": "S3://b/z/", "extra": map[string]any{"by": "hand"}})
	if r.status != http.StatusOK {
		t.Fatalf("POST: %d %s", r.status, r.body)
	}
	if got := r.json(t); got["uri"] != "s3://b/z" || got["source_dag_id"] != nil || got["source_try_number"] != nil || got["extra"].(map[string]any)["by"] != "hand" {
		t.Errorf("POST answered %v", got)
	}
	if s.kicks.Load() == 0 {
		t.Error("the scheduler was not kicked")
	}
	if q, err := s.st.AssetQueue(ctx); err != nil || len(q) != 1 || q[0].DagID != "consumer" || q[0].URI != "s3://b/z" {
		t.Errorf("queue: %+v, %v", q, err)
	}
	wantProblem(t, "no scheme", s.do("POST", "/api/v1/assets/events", map[string]any{"uri": "b/z"}), http.StatusBadRequest, "has no scheme")
	wantProblem(t, "credentials", s.do("POST", "/api/v1/assets/events", map[string]any{"uri": "s3://k:secret@b/z"}), http.StatusBadRequest, "credentials")
	wantProblem(t, "no uri", s.do("POST", "/api/v1/assets/events", map[string]any{}), http.StatusBadRequest, "uri is required")
	wantProblem(t, "unknown asset", s.do("POST", "/api/v1/assets/events", map[string]any{"uri": "s3://b/typo"}), http.StatusNotFound, "s3://b/typo")
	if all, _ := list(t, s.get("/api/v1/assets"), "assets"); len(all) != 4 {
		t.Errorf("the unknown asset was created: %v", all)
	}

	evs, total := list(t, s.get("/api/v1/assets/events"), "asset_events")
	if total != 3 || ids(evs, "uri") != "s3://b/z,s3://b/y,s3://b/x" || evs[2]["source_try_number"] != float64(1) || evs[2]["source_task_id"] != "write" {
		t.Errorf("events: %v", evs)
	}
	evs, total = list(t, s.get("/api/v1/assets/events?uri=s3://b/x&limit=1"), "asset_events")
	if total != 1 || len(evs) != 1 || evs[0]["source_run_id"] != "r" {
		t.Errorf("events of x: %v", evs)
	}
	wantProblem(t, "bad uri filter", s.do("GET", "/api/v1/assets/events?uri=nope", nil), http.StatusBadRequest, "uri")
}

package storetest

import (
	"testing"

	"github.com/sirocco-dev/sirocco/internal/store"
)

func init() {
	register("AssetEventsSkipPausedConsumers", testAssetEventsSkipPausedConsumers)
}

// testAssetEventsSkipPausedConsumers: an event is queued for its
// consumers that are not paused only (Airflow 3), a DAG the store does not
// know yet counting as not paused; the event itself is recorded.
func testAssetEventsSkipPausedConsumers(t *testing.T, s store.Store) {
	ctx := t.Context()
	for id, paused := range map[string]bool{"paused": true, "active": false} {
		if err := s.UpsertDAG(ctx, store.DAGRecord{DagID: id, Paused: paused}); err != nil {
			t.Fatal(err)
		}
		if err := s.SetPaused(ctx, id, paused); err != nil {
			t.Fatal(err)
		}
	}
	consumers := map[string][]string{"s3://b/k": {"paused", "active", "unknown"}}
	got, err := s.RecordAssetEvents(ctx, []store.AssetEvent{{URI: "s3://b/k", Timestamp: at(0)}}, consumers)
	if err != nil || len(got) != 1 {
		t.Fatalf("record = %+v, %v", got, err)
	}
	q, err := s.AssetQueue(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var dags []string
	for _, e := range q {
		dags = append(dags, e.DagID)
	}
	if len(dags) != 2 || dags[0] != "active" || dags[1] != "unknown" {
		t.Errorf("queued for %v, want [active unknown]", dags)
	}
}

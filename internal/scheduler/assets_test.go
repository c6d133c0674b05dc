package scheduler

import (
	"reflect"
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/dag"
	"github.com/sirocco-dev/sirocco/internal/store"
)

// TestDecideAssetRuns: a DAG scheduled on assets gets one run consuming
// every event queued for it once its condition holds over their URIs
// (all or any, nested), none while paused or before the condition holds;
// other DAGs never do.
func TestDecideAssetRuns(t *testing.T) {
	leaf := func(u string) *dag.AssetCondition { return &dag.AssetCondition{URI: u} }
	onAll := testDAG(t, "all", "none", "a")
	onAll.AssetSchedule = &dag.AssetCondition{Children: []*dag.AssetCondition{leaf("s3://x"), {Any: true, Children: []*dag.AssetCondition{leaf("s3://y"), leaf("s3://z")}}}}
	onAny := testDAG(t, "any", "none", "a")
	onAny.AssetSchedule = &dag.AssetCondition{Any: true, Children: []*dag.AssetCondition{leaf("s3://y"), leaf("s3://z")}}
	manual := testDAG(t, "manual", "none", "a")
	t0 := time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)
	q := func(dagID string, id int64, uri string) store.QueuedAssetEvent {
		return store.QueuedAssetEvent{DagID: dagID, EventID: id, URI: uri, QueuedAt: t0.Add(time.Duration(id) * time.Minute)}
	}
	tests := []struct {
		name   string
		queue  map[string][]store.QueuedAssetEvent
		paused map[string]bool
		want   []AssetRun
	}{
		{name: "nothing queued"},
		{name: "all waits for x", queue: map[string][]store.QueuedAssetEvent{"all": {q("all", 1, "s3://y"), q("all", 2, "s3://z")}}},
		{name: "all holds; every event consumed", queue: map[string][]store.QueuedAssetEvent{
			"all": {q("all", 1, "s3://x"), q("all", 2, "s3://x"), q("all", 5, "s3://z")},
			"any": {q("any", 5, "s3://z")}},
			want: []AssetRun{{DagID: "all", EventIDs: []int64{1, 2, 5}, First: t0.Add(time.Minute), Last: t0.Add(5 * time.Minute)},
				{DagID: "any", EventIDs: []int64{5}, First: t0.Add(5 * time.Minute), Last: t0.Add(5 * time.Minute)}}},
		{name: "paused keeps its queue", paused: map[string]bool{"any": true},
			queue: map[string][]store.QueuedAssetEvent{"any": {q("any", 3, "s3://y")}}},
		{name: "a DAG no longer on assets", queue: map[string][]store.QueuedAssetEvent{"manual": {q("manual", 3, "s3://y")}, "gone": {q("gone", 4, "s3://y")}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := Snapshot{Now: t0.Add(time.Hour), DAGs: map[string]*dag.DAG{"all": onAll, "any": onAny, "manual": manual},
				Paused: tt.paused, AssetQueue: tt.queue, FreeSlots: 8}
			if got := Decide(s).AssetRuns; !reflect.DeepEqual(got, tt.want) {
				t.Errorf("AssetRuns = %+v, want %+v", got, tt.want)
			}
		})
	}
}

// TestMergeExtra: asset_extra applies to every outlet, or per outlet when
// keyed by their URIs, over the outlet's static extra.
func TestMergeExtra(t *testing.T) {
	outs := []dag.Asset{{URI: "s3://a"}, {URI: "s3://b"}}
	static := map[string]any{"format": "csv", "rows": 0}
	tests := []struct {
		set  map[string]any
		uri  string
		want map[string]any
	}{
		{nil, "s3://a", static},
		{map[string]any{"rows": 3}, "s3://a", map[string]any{"format": "csv", "rows": 3}},
		{map[string]any{"s3://a": map[string]any{"rows": 1}, "s3://b": map[string]any{"rows": 2}}, "s3://b", map[string]any{"format": "csv", "rows": 2}},
		{map[string]any{"s3://a": map[string]any{"rows": 1}}, "s3://b", static},
		{map[string]any{"s3://a": 1}, "s3://a", map[string]any{"format": "csv", "rows": 0, "s3://a": 1}},
	}
	for _, tt := range tests {
		if got := mergeExtra(static, tt.set, tt.uri, outs); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("mergeExtra(%v, %s) = %v, want %v", tt.set, tt.uri, got, tt.want)
		}
	}
	if got := mergeExtra(nil, nil, "s3://a", outs); got != nil {
		t.Errorf("no extra: %v", got)
	}
}

package template

import (
	"testing"
	"time"
)

func TestTriggeringAssetEvents(t *testing.T) {
	ts := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	ctx := NewContext(Info{DagID: "c", TaskID: "t", TriggeringAssetEvents: map[string][]AssetEvent{
		"s3://a": {{URI: "s3://a", Extra: map[string]any{"rows": float64(7)}, SourceDagID: "p", SourceRunID: "r", SourceTaskID: "x", Timestamp: ts}},
	}})
	tests := []struct{ src, want string }{
		{"{{ triggering_asset_events['s3://a'][0].extra.rows }}", "7"},
		{"{{ triggering_asset_events['s3://a'][0].source_dag_id }}/{{ triggering_asset_events['s3://a'][0].source_task_id }}", "p/x"},
		{"{{ triggering_asset_events['s3://a'][0].timestamp.isoformat() }}", "2026-01-02T03:04:05+00:00"},
		{"{% for uri, evs in triggering_asset_events.items() %}{{ uri }}:{{ evs | length }}{% endfor %}", "s3://a:1"},
		{"{{ triggering_asset_events['s3://a'][0].asset.uri }}", "s3://a"},
	}
	for _, tt := range tests {
		got, err := Render(tt.src, ctx)
		if err != nil || got != tt.want {
			t.Errorf("Render(%q) = %q, %v; want %q", tt.src, got, err, tt.want)
		}
	}
	empty := NewContext(Info{DagID: "d"})
	if got, err := Render("{{ triggering_asset_events | length }}", empty); err != nil || got != "0" {
		t.Errorf("no events: %q, %v", got, err)
	}
}

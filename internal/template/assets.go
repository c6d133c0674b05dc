package template

import "time"

// AssetEvent is one asset event as templates see it in
// triggering_asset_events, with Airflow's attribute names.
type AssetEvent struct {
	URI                                    string
	Extra                                  map[string]any
	SourceDagID, SourceRunID, SourceTaskID string
	Timestamp                              time.Time
}

// assetEventsContext builds triggering_asset_events: a mapping from URI to
// the list of its events, each an object with uri, extra, source_dag_id,
// source_run_id, source_task_id, source_map_index and timestamp, as
// Airflow's {{ triggering_asset_events['s3://x'][0].extra }}.
func assetEventsContext(evs map[string][]AssetEvent) map[string]any {
	out := make(map[string]any, len(evs))
	for uri, list := range evs {
		objs := make([]any, len(list))
		for i, e := range list {
			objs[i] = &object{
				repr: "AssetEvent(uri=" + e.URI + ", source_dag_id=" + e.SourceDagID + ", source_run_id=" + e.SourceRunID + ")",
				attrs: map[string]any{
					"uri":              e.URI,
					"asset":            &object{repr: "Asset(uri=" + e.URI + ")", attrs: map[string]any{"uri": e.URI}},
					"extra":            normalizeMap(e.Extra),
					"source_dag_id":    e.SourceDagID,
					"source_run_id":    e.SourceRunID,
					"source_task_id":   e.SourceTaskID,
					"source_map_index": -1,
					"timestamp":        newDateTime(e.Timestamp),
				},
			}
		}
		out[uri] = objs
	}
	return out
}

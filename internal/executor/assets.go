package executor

import (
	"context"
	"fmt"

	"github.com/sirocco-dev/sirocco/internal/store"
	"github.com/sirocco-dev/sirocco/internal/template"
)

// triggeringAssetEvents reads the asset events that triggered run, by URI,
// for the templates' triggering_asset_events; nil for a run that assets
// did not trigger, without a read.
func triggeringAssetEvents(ctx context.Context, st store.Store, run store.DagRun) (map[string][]template.AssetEvent, error) {
	if run.RunType != store.RunAssetTriggered {
		return nil, nil
	}
	evs, err := st.RunAssetEvents(ctx, run.DagID, run.RunID)
	if err != nil {
		return nil, fmt.Errorf("triggering asset events: %w", err)
	}
	out := make(map[string][]template.AssetEvent)
	for _, e := range evs {
		out[e.URI] = append(out[e.URI], template.AssetEvent{URI: e.URI, Extra: e.Extra,
			SourceDagID: e.SourceDagID, SourceRunID: e.SourceRunID, SourceTaskID: e.SourceTaskID, Timestamp: e.Timestamp})
	}
	return out, nil
}

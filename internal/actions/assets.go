package actions

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/sirocco-dev/sirocco/internal/dag"
	"github.com/sirocco-dev/sirocco/internal/store"
)

// AssetSummary is one asset as `assets list` and GET /assets show it:
// who produces it (tasks with it as an outlet, "dag.task"), who reads it
// (inlets), which DAGs are scheduled on it, and its events.
type AssetSummary struct {
	URI         string
	Producers   []string
	Readers     []string
	Consumers   []string
	Events      int
	LastEventAt time.Time // zero when it had none
}

// ListAssets merges the assets the loaded DAGs name (outlets, inlets,
// schedules) with those that had events, sorted by URI.
func ListAssets(ctx context.Context, st store.Store, dags map[string]*dag.DAG) ([]AssetSummary, error) {
	byURI := map[string]*AssetSummary{}
	get := func(uri string) *AssetSummary {
		if a, ok := byURI[uri]; ok {
			return a
		}
		a := &AssetSummary{URI: uri, Producers: []string{}, Readers: []string{}, Consumers: []string{}}
		byURI[uri] = a
		return a
	}
	for id, d := range dags {
		for _, t := range d.Tasks {
			for _, o := range t.Outlets {
				a := get(o.URI)
				a.Producers = append(a.Producers, id+"."+t.ID)
			}
			for _, in := range t.Inlets {
				a := get(in.URI)
				a.Readers = append(a.Readers, id+"."+t.ID)
			}
		}
		if d.AssetSchedule != nil {
			for _, uri := range d.AssetSchedule.URIs() {
				a := get(uri)
				a.Consumers = append(a.Consumers, id)
			}
		}
	}
	stored, err := st.ListAssets(ctx)
	if err != nil {
		return nil, err
	}
	for _, s := range stored {
		a := get(s.URI)
		a.Events, a.LastEventAt = s.Events, s.LastEventAt
	}
	out := make([]AssetSummary, 0, len(byURI))
	for _, a := range byURI {
		slices.Sort(a.Producers)
		slices.Sort(a.Readers)
		slices.Sort(a.Consumers)
		out = append(out, *a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].URI < out[j].URI })
	return out, nil
}

// CreateAssetEvent records an asset event by hand (Airflow 3's POST
// /assets/events, `sirocco assets event`): the URI is normalised as in a
// DAG file, and the event is queued for every DAG scheduled on it, whose
// scheduler it wakes. As in Airflow 3 the asset must exist (a loaded DAG
// names it, or it had an event): an unknown URI, a typo most often, is
// ErrNotFound rather than a new asset nobody consumes.
func CreateAssetEvent(ctx context.Context, st store.Store, dags map[string]*dag.DAG, uri string, extra map[string]any, now time.Time) (store.AssetEvent, error) {
	norm, err := dag.NormalizeAssetURI(uri)
	if err != nil {
		return store.AssetEvent{}, invalid("uri", err)
	}
	known, err := ListAssets(ctx, st, dags)
	if err != nil {
		return store.AssetEvent{}, err
	}
	if !slices.ContainsFunc(known, func(a AssetSummary) bool { return a.URI == norm }) {
		return store.AssetEvent{}, kindf(store.ErrNotFound, "asset %s not found: no loaded DAG names it and it had no event", norm)
	}
	got, err := st.RecordAssetEvents(ctx, []store.AssetEvent{{URI: norm, Extra: extra, Timestamp: now}}, dag.AssetConsumers(dags))
	if err != nil {
		return store.AssetEvent{}, err
	}
	if len(got) != 1 {
		return store.AssetEvent{}, fmt.Errorf("asset event of %s not recorded", norm)
	}
	return got[0], nil
}

package scheduler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync/atomic"
	"time"

	"github.com/sirocco-dev/sirocco/internal/dag"
	"github.com/sirocco-dev/sirocco/internal/store"
)

// AssetExtraKey is the XCom key under which a task sets the extra of the
// asset events its success records (Airflow's outlet_events[...].extra):
// a JSON object, applied to every outlet, or an object keyed by outlet
// URIs whose values are each outlet's extra. It is merged over the
// outlet's static extra.
const AssetExtraKey = "asset_extra"

// AssetRun is an asset-triggered run the plan wants created: the DAG's
// asset condition holds over its queued events, which the run consumes.
type AssetRun struct {
	DagID    string
	EventIDs []int64
	// First and Last are the oldest and newest queued times of the
	// events: the run's data interval, as Airflow's
	// data_interval_for_events.
	First, Last time.Time
}

// assetRuns returns a run for each unpaused DAG scheduled on assets whose
// condition holds over the URIs of its queued events; the run consumes
// every event queued for the DAG. As in Airflow, max_active_runs does not
// hold the run back: it waits in queued like any other.
func assetRuns(s Snapshot) []AssetRun {
	ids := make([]string, 0, len(s.AssetQueue))
	for id := range s.AssetQueue {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	var out []AssetRun
	for _, id := range ids {
		d, q := s.DAGs[id], s.AssetQueue[id]
		if d == nil || d.AssetSchedule == nil || s.Paused[id] || len(q) == 0 {
			continue
		}
		updated := make(map[string]bool, len(q))
		for _, e := range q {
			updated[e.URI] = true
		}
		if !d.AssetSchedule.Holds(func(uri string) bool { return updated[uri] }) {
			continue
		}
		r := AssetRun{DagID: id, First: q[0].QueuedAt, Last: q[0].QueuedAt}
		for _, e := range q {
			r.EventIDs = append(r.EventIDs, e.EventID)
			if e.QueuedAt.Before(r.First) {
				r.First = e.QueuedAt
			}
			if e.QueuedAt.After(r.Last) {
				r.Last = e.QueuedAt
			}
		}
		out = append(out, r)
	}
	return out
}

// assetState is what the loop keeps for data-aware scheduling.
type assetState struct {
	queue map[string][]store.QueuedAssetEvent // by consuming DAG
	// stale says the queue must be read again now: events were recorded
	// (here or, as the store's notification says, elsewhere), or runs
	// consumed some.
	stale  atomic.Bool
	readAt time.Time
	// recorded holds the try of each active task instance whose events
	// this loop has recorded, so that each success is recorded once per
	// process; the store makes a second recording (another process, a
	// restart) a no-op.
	recorded map[store.TaskKey]int
	// outlets caches whether a DAG has a task with outlets.
	outlets map[*dag.DAG]bool
}

// hasAssetSchedules reports whether any DAG is scheduled on assets.
func hasAssetSchedules(dags map[string]*dag.DAG) bool {
	for _, d := range dags {
		if d.AssetSchedule != nil {
			return true
		}
	}
	return false
}

// assetQueue returns the queued asset events by consuming DAG, read again
// when stale or older than the poll interval; nil when no DAG is
// scheduled on assets.
func (l *Loop) assetQueue(ctx context.Context, dags map[string]*dag.DAG, now time.Time) (map[string][]store.QueuedAssetEvent, error) {
	a := &l.assets
	if !hasAssetSchedules(dags) {
		a.queue = nil
		return nil, nil
	}
	if !a.stale.Swap(false) && a.queue != nil && now.Sub(a.readAt) < l.opts.PollInterval {
		return a.queue, nil
	}
	rows, err := l.opts.Store.AssetQueue(ctx)
	if err != nil {
		a.stale.Store(true)
		return nil, fmt.Errorf("asset queue: %w", err)
	}
	q := make(map[string][]store.QueuedAssetEvent)
	for _, r := range rows {
		q[r.DagID] = append(q[r.DagID], r)
	}
	a.queue, a.readAt = q, now
	return q, nil
}

// createAssetRuns creates each asset-triggered run and consumes its
// events in one transaction; a run another scheduler created first
// (ErrConflict) or one with the same logical date (ErrExists) is left to
// the next tick, which reads the queue again.
func (l *Loop) createAssetRuns(ctx context.Context, snap Snapshot, ars []AssetRun) []error {
	if len(ars) == 0 {
		return nil
	}
	l.active.markRunsChanged()
	l.assets.stale.Store(true)
	var errs []error
	for _, ar := range ars {
		d := snap.DAGs[ar.DagID]
		logical := snap.Now.UTC().Truncate(time.Microsecond)
		run, tis := NewRunRecords(d, store.RunAssetTriggered, dag.Interval{Start: logical, End: logical}, nil, snap.Now)
		run.DataIntervalStart, run.DataIntervalEnd = ar.First, ar.Last
		err := l.opts.Store.CreateAssetRun(ctx, run, tis, ar.EventIDs)
		switch {
		case errors.Is(err, store.ErrConflict), errors.Is(err, store.ErrExists):
			l.opts.Logger.Debug("asset-triggered run not created", "dag_id", ar.DagID, "err", err)
		case err != nil:
			errs = append(errs, fmt.Errorf("create asset-triggered run of %s: %w", ar.DagID, err))
		default:
			l.opts.Logger.Info("created run", "dag_id", ar.DagID, "run_id", run.RunID, "asset_events", len(ar.EventIDs))
		}
	}
	return errs
}

// recordAssetEvents records the asset events of every successful try of
// a task with outlets in the active runs that this loop has not recorded
// yet: after the tick's task writes, before its run updates, so that a
// run never finishes before its events exist. A restart records again
// what it cannot know was recorded, which the store ignores.
func (l *Loop) recordAssetEvents(ctx context.Context, snap Snapshot) []error {
	a := &l.assets
	next := make(map[store.TaskKey]int, len(a.recorded))
	var evs []store.AssetEvent
	var keys []store.TaskKey
	var tries []int
	for _, run := range snap.Runs {
		d := snap.DAGs[run.DagID]
		if d == nil || !a.hasOutlets(d) {
			continue
		}
		for _, t := range d.Tasks {
			if len(t.Outlets) == 0 {
				continue
			}
			base := store.TaskKey{DagID: run.DagID, RunID: run.RunID, TaskID: t.ID}
			for m := 0; ; m++ { // a mapped task: the events of each instance (map index m)
				k := base
				if t.Mapped() {
					k.Map = m + 1
				} else if m > 0 {
					break
				}
				i, ok := l.active.index[k]
				if !ok {
					break
				}
				ti := l.active.tis[i]
				if ti.State != store.StateSuccess || ti.TryNumber < 1 {
					continue
				}
				if try, done := a.recorded[k]; done && try == ti.TryNumber {
					next[k] = try
					continue
				}
				extra, err := l.assetExtra(ctx, k)
				if err != nil {
					l.opts.Logger.Warn("asset_extra XCom ignored", "dag_id", k.DagID, "run_id", k.RunID, "task_id", k.TaskID, "err", err)
				}
				for _, o := range t.Outlets {
					evs = append(evs, store.AssetEvent{URI: o.URI, Extra: mergeExtra(o.Extra, extra, o.URI, t.Outlets),
						SourceDagID: k.DagID, SourceRunID: k.RunID, SourceTaskID: k.TaskID, SourceMap: k.Map, SourceTry: ti.TryNumber,
						Timestamp: snap.Now})
				}
				keys, tries = append(keys, k), append(tries, ti.TryNumber)
			}
		}
	}
	a.recorded = next
	if len(evs) == 0 {
		return nil
	}
	got, err := l.opts.Store.RecordAssetEvents(ctx, evs, dag.AssetConsumers(snap.DAGs))
	if err != nil {
		return []error{fmt.Errorf("record asset events: %w", err)}
	}
	for i, k := range keys {
		a.recorded[k] = tries[i]
	}
	if len(got) > 0 {
		l.opts.Logger.Info("recorded asset events", "count", len(got))
		a.stale.Store(true)
		l.Wake()
	}
	return nil
}

// hasOutlets reports whether a task of d has outlets.
func (a *assetState) hasOutlets(d *dag.DAG) bool {
	has, ok := a.outlets[d]
	if !ok {
		if a.outlets == nil || len(a.outlets) > 10000 {
			a.outlets = map[*dag.DAG]bool{}
		}
		has = slices.ContainsFunc(d.Tasks, func(t *dag.Task) bool { return len(t.Outlets) > 0 })
		a.outlets[d] = has
	}
	return has
}

// assetExtra reads the asset_extra XCom of a task instance (nil if none).
func (l *Loop) assetExtra(ctx context.Context, k store.TaskKey) (map[string]any, error) {
	x, err := l.opts.Store.GetXCom(ctx, k, AssetExtraKey)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(x.Value), &m); err != nil {
		return nil, fmt.Errorf("expected a JSON object, got %.80s", x.Value)
	}
	return m, nil
}

// mergeExtra is an outlet's static extra with the task's asset_extra
// over it: the entry for uri when asset_extra is keyed by outlet URIs,
// else all of it.
func mergeExtra(static, set map[string]any, uri string, outlets []dag.Asset) map[string]any {
	if len(set) > 0 && keyedByOutlets(set, outlets) {
		set, _ = set[uri].(map[string]any)
	}
	if len(static) == 0 && len(set) == 0 {
		return nil
	}
	out := make(map[string]any, len(static)+len(set))
	for k, v := range static {
		out[k] = v
	}
	for k, v := range set {
		out[k] = v
	}
	return out
}

// keyedByOutlets reports whether every key of m is an outlet's URI with
// an object value.
func keyedByOutlets(m map[string]any, outlets []dag.Asset) bool {
	for k, v := range m {
		if _, isMap := v.(map[string]any); !isMap ||
			!slices.ContainsFunc(outlets, func(a dag.Asset) bool { return a.URI == k }) {
			return false
		}
	}
	return true
}

package storetest

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/store"
)

func init() {
	register("RecordAssetEventsOncePerTry", testRecordAssetEventsOncePerTry)
	register("RecordAssetEventsNeedsSuccess", testRecordAssetEventsNeedsSuccess)
	register("ManualAssetEvents", testManualAssetEvents)
	register("CreateAssetRunConsumesQueue", testCreateAssetRunConsumesQueue)
	register("CreateAssetRunRacers", testCreateAssetRunRacers)
	register("DeleteRunKeepsAssetEvents", testDeleteRunKeepsAssetEvents)
}

// succeed creates run r of dag d with task a and puts a in success at try 1.
func succeed(t *testing.T, s store.Store, d, r string, logical time.Time) store.TaskKey {
	t.Helper()
	mustCreate(t, s, newRun(d, r, logical, store.RunRunning), "a")
	k := store.TaskKey{DagID: d, RunID: r, TaskID: "a"}
	mustUpdateTask(t, s, store.TaskUpdate{Key: k, To: store.StateRunning, IncTry: true}, true)
	mustUpdateTask(t, s, store.TaskUpdate{Key: k, To: store.StateSuccess}, true)
	return k
}

func eventOf(k store.TaskKey, try int, uri string, ts time.Time) store.AssetEvent {
	return store.AssetEvent{URI: uri, SourceDagID: k.DagID, SourceRunID: k.RunID, SourceTaskID: k.TaskID, SourceTry: try, Timestamp: ts}
}

func mustRecord(t *testing.T, s store.Store, evs []store.AssetEvent, consumers map[string][]string, want int) []store.AssetEvent {
	t.Helper()
	got, err := s.RecordAssetEvents(t.Context(), evs, consumers)
	if err != nil {
		t.Fatalf("RecordAssetEvents: %v", err)
	}
	if len(got) != want {
		t.Fatalf("RecordAssetEvents recorded %d events, want %d: %+v", len(got), want, got)
	}
	return got
}

func mustQueue(t *testing.T, s store.Store) []store.QueuedAssetEvent {
	t.Helper()
	q, err := s.AssetQueue(t.Context())
	if err != nil {
		t.Fatalf("AssetQueue: %v", err)
	}
	return q
}

// testRecordAssetEventsOncePerTry: a task's success records one event per
// URI and queues it for each consumer; recording it again (a retried
// write, a second scheduler) adds nothing; the next try records anew.
func testRecordAssetEventsOncePerTry(t *testing.T, s store.Store) {
	k := succeed(t, s, "p", "r", t0)
	cons := map[string][]string{"s3://a": {"c1", "c2"}, "s3://b": {"c2"}}
	evs := []store.AssetEvent{eventOf(k, 1, "s3://a", at(time.Minute)), eventOf(k, 1, "s3://b", at(time.Minute))}
	evs[0].Extra = map[string]any{"rows": float64(3)}
	got := mustRecord(t, s, evs, cons, 2)
	if got[0].ID == 0 || got[1].ID <= got[0].ID {
		t.Errorf("ids %d, %d", got[0].ID, got[1].ID)
	}
	mustRecord(t, s, evs, cons, 0)
	q := mustQueue(t, s)
	want := []store.QueuedAssetEvent{
		{DagID: "c1", EventID: got[0].ID, URI: "s3://a", QueuedAt: stored(at(time.Minute))},
		{DagID: "c2", EventID: got[0].ID, URI: "s3://a", QueuedAt: stored(at(time.Minute))},
		{DagID: "c2", EventID: got[1].ID, URI: "s3://b", QueuedAt: stored(at(time.Minute))},
	}
	same(t, "queue", q, want)
	list, err := s.ListAssetEvents(t.Context(), store.AssetEventFilter{URI: "s3://a"})
	if err != nil {
		t.Fatal(err)
	}
	wantEv := evs[0]
	wantEv.ID, wantEv.Timestamp = got[0].ID, stored(wantEv.Timestamp)
	same(t, "events of s3://a", list, []store.AssetEvent{wantEv})

	// The task cleared and run again: try 2 is a new event.
	mustUpdateTask(t, s, store.TaskUpdate{Key: k, To: store.StateRunning, IncTry: true}, true)
	mustUpdateTask(t, s, store.TaskUpdate{Key: k, To: store.StateSuccess}, true)
	mustRecord(t, s, []store.AssetEvent{eventOf(k, 2, "s3://a", at(2*time.Minute))}, cons, 1)
	all, err := s.ListAssetEvents(t.Context(), store.AssetEventFilter{Limit: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 2 || all[0].SourceTry != 2 || all[1].URI != "s3://b" {
		t.Errorf("newest two events: %+v", all)
	}
	assets, err := s.ListAssets(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	same(t, "assets", assets, []store.Asset{
		{URI: "s3://a", CreatedAt: stored(at(time.Minute)), LastEventAt: stored(at(2 * time.Minute)), Events: 2},
		{URI: "s3://b", CreatedAt: stored(at(time.Minute)), LastEventAt: stored(at(time.Minute)), Events: 1},
	})
}

// testRecordAssetEventsNeedsSuccess: no event for a task instance that is
// not in success at the event's try, nor for one that does not exist.
func testRecordAssetEventsNeedsSuccess(t *testing.T, s store.Store) {
	mustCreate(t, s, newRun("p", "r", t0, store.RunRunning), "a")
	k := store.TaskKey{DagID: "p", RunID: "r", TaskID: "a"}
	mustUpdateTask(t, s, store.TaskUpdate{Key: k, To: store.StateRunning, IncTry: true}, true)
	mustRecord(t, s, []store.AssetEvent{eventOf(k, 1, "s3://a", t0)}, nil, 0) // running
	mustUpdateTask(t, s, store.TaskUpdate{Key: k, To: store.StateFailed}, true)
	mustRecord(t, s, []store.AssetEvent{eventOf(k, 1, "s3://a", t0)}, nil, 0) // failed
	mustUpdateTask(t, s, store.TaskUpdate{Key: k, To: store.StateSuccess}, true)
	mustRecord(t, s, []store.AssetEvent{eventOf(k, 2, "s3://a", t0)}, nil, 0) // another try
	mustRecord(t, s, []store.AssetEvent{eventOf(store.TaskKey{DagID: "p", RunID: "x", TaskID: "a"}, 1, "s3://a", t0)}, nil, 0)
	mustRecord(t, s, []store.AssetEvent{eventOf(k, 1, "s3://a", t0)}, map[string][]string{"s3://a": {"c"}}, 1)
	if q := mustQueue(t, s); len(q) != 1 {
		t.Errorf("queue %+v", q)
	}
}

// testManualAssetEvents: events without a source are all recorded.
func testManualAssetEvents(t *testing.T, s store.Store) {
	ev := store.AssetEvent{URI: "s3://a", Timestamp: t0, Extra: map[string]any{"by": "hand"}}
	mustRecord(t, s, []store.AssetEvent{ev, ev}, map[string][]string{"s3://a": {"c"}}, 2)
	if q := mustQueue(t, s); len(q) != 2 {
		t.Errorf("queue %+v", q)
	}
}

// assetRun is an asset-triggered run of dagID.
func assetRun(dagID, runID string, logical time.Time) store.DagRun {
	r := newRun(dagID, runID, logical, store.RunQueued)
	r.RunType = store.RunAssetTriggered
	return r
}

// testCreateAssetRunConsumesQueue: the run is created and the events it
// names leave the consumer's queue (not another DAG's), and are linked to
// the run; consuming them again is a conflict that writes nothing.
func testCreateAssetRunConsumesQueue(t *testing.T, s store.Store) {
	ctx := t.Context()
	k := succeed(t, s, "p", "r", t0)
	evs := mustRecord(t, s, []store.AssetEvent{eventOf(k, 1, "s3://a", t0), eventOf(k, 1, "s3://b", t0)},
		map[string][]string{"s3://a": {"c", "other"}, "s3://b": {"c"}}, 2)
	run := assetRun("c", "asset_triggered__1", at(time.Hour))
	if err := s.CreateAssetRun(ctx, run, newTIs("x", "y"), []int64{evs[1].ID, evs[0].ID}); err != nil {
		t.Fatalf("CreateAssetRun: %v", err)
	}
	same(t, "queue", mustQueue(t, s), []store.QueuedAssetEvent{{DagID: "other", EventID: evs[0].ID, URI: "s3://a", QueuedAt: stored(t0)}})
	if tis, err := s.ListTaskInstances(ctx, "c", run.RunID); err != nil || len(tis) != 2 {
		t.Errorf("task instances %v, %v", tis, err)
	}
	linked, err := s.RunAssetEvents(ctx, "c", run.RunID)
	if err != nil {
		t.Fatal(err)
	}
	if len(linked) != 2 || linked[0].ID != evs[0].ID || linked[1].URI != "s3://b" {
		t.Errorf("RunAssetEvents = %+v", linked)
	}
	if got := mustGetRun(t, s, "c", run.RunID); got.RunType != store.RunAssetTriggered {
		t.Errorf("run type %q", got.RunType)
	}
	again := assetRun("c", "asset_triggered__2", at(2*time.Hour))
	wantErr(t, "consume again", s.CreateAssetRun(ctx, again, newTIs("x"), []int64{evs[0].ID}), store.ErrConflict)
	if _, err := s.GetRun(ctx, "c", again.RunID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the refused run exists: %v", err)
	}
	// A run that exists: ErrExists, and the queue is kept.
	wantErr(t, "a run consuming nothing", s.CreateAssetRun(ctx, assetRun("other", "r0", t0), nil, nil), nil)
	wantErr(t, "same logical date", s.CreateAssetRun(ctx, assetRun("other", "r1", t0), nil, []int64{evs[0].ID}), store.ErrExists)
	if q := mustQueue(t, s); len(q) != 1 {
		t.Errorf("queue after a failed create: %+v", q)
	}
	if linked, _ := s.RunAssetEvents(ctx, "p", "r"); len(linked) != 0 {
		t.Errorf("a scheduled run has triggering events %+v", linked)
	}
}

// testCreateAssetRunRacers: of several schedulers consuming the same
// queued events at once, exactly one creates a run.
func testCreateAssetRunRacers(t *testing.T, s store.Store) {
	k := succeed(t, s, "p", "r", t0)
	evs := mustRecord(t, s, []store.AssetEvent{eventOf(k, 1, "s3://a", t0)}, map[string][]string{"s3://a": {"c"}}, 1)
	const racers = 6
	var wg sync.WaitGroup
	errs := make([]error, racers)
	for i := range racers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			run := assetRun("c", "asset_triggered__"+string(rune('a'+i)), at(time.Duration(i+1)*time.Second))
			errs[i] = s.CreateAssetRun(t.Context(), run, newTIs("x"), []int64{evs[0].ID})
		}()
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, store.ErrConflict):
			t.Errorf("racer: %v", err)
		}
	}
	runs, err := s.ListRuns(t.Context(), store.RunFilter{DagID: "c"})
	if err != nil {
		t.Fatal(err)
	}
	if won != 1 || len(runs) != 1 {
		t.Errorf("%d racers won, %d runs", won, len(runs))
	}
}

// testDeleteRunKeepsAssetEvents: deleting a consumer's run removes its
// links, not the events; deleting the producer's run keeps its events.
func testDeleteRunKeepsAssetEvents(t *testing.T, s store.Store) {
	ctx := t.Context()
	k := succeed(t, s, "p", "r", t0)
	mustCreate(t, s, newRun("p", "r2", at(time.Hour), store.RunSuccess), "keep") // SQLite keeps its last run's rows
	evs := mustRecord(t, s, []store.AssetEvent{eventOf(k, 1, "s3://a", t0)}, map[string][]string{"s3://a": {"c"}}, 1)
	if err := s.CreateAssetRun(ctx, assetRun("c", "ar", t0), nil, []int64{evs[0].ID}); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteRun(ctx, "c", "ar"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteRun(ctx, "p", "r"); err != nil {
		t.Fatal(err)
	}
	if list, err := s.ListAssetEvents(ctx, store.AssetEventFilter{}); err != nil || len(list) != 1 {
		t.Errorf("events after deletes: %+v, %v", list, err)
	}
}

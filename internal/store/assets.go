package store

import (
	"context"
	"time"
)

// RunAssetTriggered is a run created because the asset events its DAG is
// scheduled on arrived (Airflow's asset_triggered).
const RunAssetTriggered RunType = "asset_triggered"

// AssetEvent records that an asset was updated, as Airflow's AssetEvent:
// by a task's success (Source* set, SourceTry its try) or by hand (Source*
// empty). ID orders events in the order they were recorded.
type AssetEvent struct {
	ID           int64
	URI          string
	Extra        map[string]any
	SourceDagID  string
	SourceRunID  string
	SourceTaskID string
	// SourceMap is the source task instance's map index + 1, as
	// TaskKey.Map (0: not mapped).
	SourceMap int
	SourceTry int
	Timestamp time.Time
}

// Asset is an asset that has had at least one event.
type Asset struct {
	URI       string
	CreatedAt time.Time // its first event
	// LastEventAt and Events describe its events: the newest one's time
	// and how many there are.
	LastEventAt time.Time
	Events      int
}

// QueuedAssetEvent is an event a DAG scheduled on its asset has not
// consumed yet: a row of Airflow's asset_dag_run_queue, one per event and
// consuming DAG, so each DAG sees each event once.
type QueuedAssetEvent struct {
	DagID    string // the consuming DAG
	EventID  int64
	URI      string
	QueuedAt time.Time
}

// AssetEventFilter selects asset events; zero fields match everything.
type AssetEventFilter struct {
	URI   string
	Limit int // 0 = no limit; newest first
}

// Assets is what the store keeps for data-aware scheduling.
type Assets interface {
	// RecordAssetEvents records each event and queues it for the DAGs
	// consumers names for its URI, in one transaction; a DAG paused then
	// is not queued (as in Airflow 3: unpaused, it does not run for events
	// it missed). An event from a
	// task is recorded only while that task instance is in success at
	// SourceTry, and at most once per (task instance, try, URI): a retried
	// write, or a second scheduler recording the same success, records
	// nothing more. A manual event (no SourceTaskID) is always recorded.
	// It returns the events recorded, with their ids.
	RecordAssetEvents(ctx context.Context, evs []AssetEvent, consumers map[string][]string) ([]AssetEvent, error)
	// ListAssets returns every asset that had an event, sorted by URI.
	ListAssets(ctx context.Context) ([]Asset, error)
	// ListAssetEvents returns the events f selects, newest first.
	ListAssetEvents(ctx context.Context, f AssetEventFilter) ([]AssetEvent, error)
	// AssetQueue returns every queued event, by DAG and event id.
	AssetQueue(ctx context.Context) ([]QueuedAssetEvent, error)
	// CreateAssetRun creates run (as CreateRun) and consumes the queued
	// events eventIDs of run.DagID, linking them to the run, in one
	// transaction. If any of them is no longer queued (another scheduler
	// consumed it) nothing is written and the error wraps ErrConflict; a
	// run that exists gives ErrExists.
	CreateAssetRun(ctx context.Context, run DagRun, tis []TaskInstance, eventIDs []int64) error
	// RunAssetEvents returns the events that triggered a run, oldest
	// first; none for a run not triggered by assets.
	RunAssetEvents(ctx context.Context, dagID, runID string) ([]AssetEvent, error)
}

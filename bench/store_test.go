package bench

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/sirocco-dev/sirocco/internal/store"
)

type runRef struct{ dagID, runID string }

type runEnd struct {
	state store.RunState
	at    time.Time
}

// span is one store call: when it started and ended.
type span struct{ start, end time.Time }

// opStats sums the calls of one kind.
type opStats struct {
	n     int
	total time.Duration
}

func (o *opStats) add(d time.Duration) { o.addN(1, d) }

func (o *opStats) addN(n int, d time.Duration) { o.n += n; o.total += d }

func (o opStats) mean() time.Duration {
	if o.n == 0 {
		return 0
	}
	return o.total / time.Duration(o.n)
}

// watchStore is the engine's store with instruments the benchmarks read:
// it signals the moment a run's final state is written, so the wall time
// has no polling error and the benchmark adds no load to the database, and
// it times the calls that explain where the time goes. The cost is two
// clock reads and a mutex per call.
type watchStore struct {
	store.Store

	mu      sync.Mutex
	waiters map[runRef]chan runEnd
	// snapshot is the scheduler loop's reads of task instances (the change
	// feed and full reads), loopWrites
	// its task writes (to scheduled, queued, skipped, upstream_failed),
	// runnerWrites the executor's (to running, success, ...), by their
	// target state below.
	snapshot, loopWrites, runnerWrites opStats
	// writes holds, when traceWrites, the last span of each task write by
	// task id and target state, for the hand-off breakdown of a chain.
	writes      map[taskWrite]span
	traceWrites bool
}

type taskWrite struct {
	taskID string
	to     store.TaskState
}

func newWatchStore(s store.Store) *watchStore {
	return &watchStore{Store: s, waiters: map[runRef]chan runEnd{}, writes: map[taskWrite]span{}}
}

// reset clears the instruments (not the waiters).
func (w *watchStore) reset() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.snapshot, w.loopWrites, w.runnerWrites = opStats{}, opStats{}, opStats{}
	clear(w.writes)
}

func (w *watchStore) watch(dagID, runID string) <-chan runEnd {
	ch := make(chan runEnd, 1)
	w.mu.Lock()
	w.waiters[runRef{dagID, runID}] = ch
	w.mu.Unlock()
	return ch
}

// UpdateRun forwards to the real store and reports a finished run.
func (w *watchStore) UpdateRun(ctx context.Context, u store.RunUpdate) (bool, error) {
	ok, err := w.Store.UpdateRun(ctx, u)
	if ok && err == nil && u.To.Finished() {
		at := time.Now()
		w.mu.Lock()
		ch := w.waiters[runRef{u.DagID, u.RunID}]
		delete(w.waiters, runRef{u.DagID, u.RunID})
		w.mu.Unlock()
		if ch != nil {
			ch <- runEnd{state: u.To, at: at}
		}
	}
	return ok, err
}

// stateHandle stands for the executor's write of a process handle (the
// running -> running update) in watchStore.writes.
const stateHandle store.TaskState = "handle"

// UpdateTask forwards to the real store and times the write.
func (w *watchStore) UpdateTask(ctx context.Context, u store.TaskUpdate) (bool, error) {
	start := time.Now()
	ok, err := w.Store.UpdateTask(ctx, u)
	w.timeWrite(u, start, time.Now())
	return ok, err
}

// UpdateTaskRow forwards to the real store and times the write.
func (w *watchStore) UpdateTaskRow(ctx context.Context, u store.TaskUpdate) (store.Written, error) {
	start := time.Now()
	wr, err := w.Store.UpdateTaskRow(ctx, u)
	w.timeWrite(u, start, time.Now())
	return wr, err
}

// timeWrite files one write under the loop's writes (transitions it
// decides, claims included) or the executor's (handles, outcomes).
func (w *watchStore) timeWrite(u store.TaskUpdate, start, end time.Time) {
	to := u.To
	if to == store.StateRunning && slices.Equal(u.From, []store.TaskState{store.StateRunning}) {
		to = stateHandle
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	switch to {
	case store.StateScheduled, store.StateQueued, store.StateRunning, store.StateSkipped, store.StateUpstreamFailed:
		w.loopWrites.add(end.Sub(start))
	default:
		w.runnerWrites.add(end.Sub(start))
	}
	if w.traceWrites {
		w.writes[taskWrite{u.Key.TaskID, to}] = span{start, end}
	}
}

// UpdateTasks forwards to the real store and times the loop's batched
// writes; each write counts as the batch's time over its size.
func (w *watchStore) UpdateTasks(ctx context.Context, us []store.TaskUpdate) ([]store.Written, error) {
	start := time.Now()
	ws, err := w.Store.UpdateTasks(ctx, us)
	end := time.Now()
	w.mu.Lock()
	w.loopWrites.addN(len(us), end.Sub(start))
	if w.traceWrites {
		for _, u := range us {
			w.writes[taskWrite{u.Key.TaskID, u.To}] = span{start, end}
		}
	}
	w.mu.Unlock()
	return ws, err
}

// TaskInstancesChangedSince forwards to the real store and times the read.
func (w *watchStore) TaskInstancesChangedSince(ctx context.Context, c store.ChangeCursor) ([]store.TaskInstance, store.ChangeCursor, error) {
	start := time.Now()
	tis, next, err := w.Store.TaskInstancesChangedSince(ctx, c)
	d := time.Since(start)
	w.mu.Lock()
	w.snapshot.add(d)
	w.mu.Unlock()
	return tis, next, err
}

// ActiveTaskInstances forwards to the real store and times the read.
func (w *watchStore) ActiveTaskInstances(ctx context.Context) ([]store.TaskInstance, error) {
	start := time.Now()
	tis, err := w.Store.ActiveTaskInstances(ctx)
	d := time.Since(start)
	w.mu.Lock()
	w.snapshot.add(d)
	w.mu.Unlock()
	return tis, err
}

// setTraceWrites turns the recording of write spans on or off.
func (w *watchStore) setTraceWrites(on bool) {
	w.mu.Lock()
	w.traceWrites = on
	w.mu.Unlock()
}

// write returns the span of the last write of taskID to state to.
func (w *watchStore) write(taskID string, to store.TaskState) (span, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	s, ok := w.writes[taskWrite{taskID, to}]
	return s, ok
}

// stats returns a copy of the counters.
func (w *watchStore) stats() (snapshot, loopWrites, runnerWrites opStats) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.snapshot, w.loopWrites, w.runnerWrites
}

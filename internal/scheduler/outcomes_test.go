package scheduler

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/dag"
	"github.com/sirocco-dev/sirocco/internal/store"
)

// These tests run the loop against a real SQLite store. The executor is a
// recorder of what the loop hands it (the loop's side of the interface is
// what is under test; the engine tests run the real local executor).

// handOffExecutor claims for itself, as the local executor does, and keeps
// what it was handed.
type handOffExecutor struct {
	mu        sync.Mutex
	submitted []store.TaskInstance
	held      map[store.TaskKey]bool
	got       chan store.TaskInstance
}

func newHandOffExecutor() *handOffExecutor {
	return &handOffExecutor{held: map[store.TaskKey]bool{}, got: make(chan store.TaskInstance, 16)}
}

func (e *handOffExecutor) ID() string     { return "me" }
func (e *handOffExecutor) FreeSlots() int { return 8 }
func (e *handOffExecutor) Claim(u store.TaskUpdate, now time.Time) store.TaskUpdate {
	me := "me"
	return store.TaskUpdate{Key: u.Key, From: u.From, To: store.StateRunning, IncTry: true, StartDate: &now,
		WorkerID: &me, HeartbeatAt: &now}
}
func (e *handOffExecutor) SubmitTask(ti store.TaskInstance, _ store.DagRun) {
	e.mu.Lock()
	e.submitted = append(e.submitted, ti)
	e.held[ti.TaskKey] = true
	e.mu.Unlock()
	e.got <- ti
}
func (e *handOffExecutor) Kill(store.TaskKey)   {}
func (e *handOffExecutor) Resume(store.TaskKey) {}
func (e *handOffExecutor) Holds(k store.TaskKey) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.held[k]
}

func (e *handOffExecutor) submittedIDs() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var ids []string
	for _, ti := range e.submitted {
		ids = append(ids, ti.TaskID)
	}
	return ids
}

type fixedDAGs map[string]*dag.DAG

func (f fixedDAGs) DAGs() map[string]*dag.DAG { return f }

type handOffFixture struct {
	t    *testing.T
	st   store.Store
	exec *handOffExecutor
	loop *Loop
	d    *dag.DAG
}

// newHandOffFixture creates the store, one run of d (running) and a loop
// whose poll interval is an hour, so only events make it look.
func newHandOffFixture(t *testing.T, d *dag.DAG) *handOffFixture {
	st := openTestStore(t)
	run, tis := NewRunRecords(d, store.RunManual, dag.Interval{Start: t0, End: t0}, nil, t0)
	run.State = store.RunRunning
	if err := st.CreateRun(t.Context(), run, tis); err != nil {
		t.Fatal(err)
	}
	e := newHandOffExecutor()
	l := NewLoop(Options{Store: st, DAGs: fixedDAGs{d.ID: d}, Executor: e, PollInterval: time.Hour,
		ResyncEvery: time.Hour})
	return &handOffFixture{t: t, st: st, exec: e, loop: l, d: d}
}

func (f *handOffFixture) key(task string) store.TaskKey {
	return store.TaskKey{DagID: f.d.ID, RunID: RunID(store.RunManual, t0), TaskID: task}
}

func (f *handOffFixture) state(task string) store.TaskState {
	f.t.Helper()
	ti, err := f.st.GetTaskInstance(f.t.Context(), f.key(task))
	if err != nil {
		f.t.Fatal(err)
	}
	return ti.State
}

// run starts the loop until the test ends.
func (f *handOffFixture) run() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = f.loop.Run(ctx)
	}()
	f.t.Cleanup(func() {
		cancel()
		<-done
	})
}

// next waits for the loop to hand over a task.
func (f *handOffFixture) next() store.TaskInstance {
	f.t.Helper()
	select {
	case ti := <-f.exec.got:
		return ti
	case <-time.After(10 * time.Second):
		f.t.Fatalf("nothing handed over; so far %v", f.exec.submittedIDs())
	}
	return store.TaskInstance{}
}

func success(k store.TaskKey, try int) store.TaskUpdate {
	me := "me"
	end := t0.Add(time.Minute)
	return store.TaskUpdate{Key: k, From: []store.TaskState{store.StateRunning}, FromWorker: &me, FromTry: &try,
		To: store.StateSuccess, EndDate: &end}
}

// TestRecordWritesTheOutcomeWithTheHandOff: a try's outcome and the claim of
// the task after it are written by the same tick, and the claimed row is
// what the executor gets.
func TestRecordWritesTheOutcomeWithTheHandOff(t *testing.T) {
	f := newHandOffFixture(t, testDAG(t, "chain", "none", "a", "b:a", "c:b"))
	f.run()
	a := f.next()
	if a.TaskID != "a" || a.State != store.StateRunning || a.TryNumber != 1 {
		t.Fatalf("handed %s %s try %d, want a running try 1", a.TaskID, a.State, a.TryNumber)
	}
	w, err := f.loop.Record(t.Context(), success(a.TaskKey, 1))
	if err != nil || !w.OK || w.Row.State != store.StateSuccess {
		t.Fatalf("record a: %+v %v", w, err)
	}
	b := f.next()
	if b.TaskID != "b" || b.State != store.StateRunning || b.TryNumber != 1 || b.Version != 1 {
		t.Fatalf("handed %+v, want b running try 1 as its claim wrote it", b)
	}
	got, err := f.st.GetTaskInstance(t.Context(), b.TaskKey)
	if err != nil {
		t.Fatal(err)
	}
	if got.Version != b.Version || got.State != b.State {
		t.Errorf("stored b %s v%d, handed %s v%d", got.State, got.Version, b.State, b.Version)
	}
	if s := f.state("c"); s != store.StateNone {
		t.Errorf("c is %s before b ended", s)
	}
}

// TestLostOutcomeHandsOffNothing: a task cleared while it ran (restarting)
// ends with a failure the loop has not yet heard of the clear. The loop
// decides on the failure (b upstream_failed, then c, all_done, ready), but
// the outcome's write loses, and nothing decided on it may be written,
// however far down the chain.
func TestLostOutcomeHandsOffNothing(t *testing.T) {
	d := testDAG(t, "lost", "none", "a", "b:a", "c:b")
	d.Task("c").TriggerRule = dag.AllDone
	f := newHandOffFixture(t, d)
	f.run()
	a := f.next()
	// The clear, by another process: the loop does not know.
	ok, err := f.st.UpdateTask(t.Context(), store.TaskUpdate{Key: a.TaskKey,
		From: []store.TaskState{store.StateRunning}, To: store.StateRestarting})
	if err != nil || !ok {
		t.Fatalf("clear a: %v %v", ok, err)
	}
	failed := success(a.TaskKey, 1)
	failed.To = store.StateFailed
	w, err := f.loop.Record(t.Context(), failed)
	if err != nil || w.OK {
		t.Fatalf("record a failed: %+v %v; want a lost write", w, err)
	}
	for task, want := range map[string]store.TaskState{"a": store.StateRestarting, "b": store.StateNone, "c": store.StateNone} {
		if got := f.state(task); got != want {
			t.Errorf("%s is %s, want %s", task, got, want)
		}
	}
	run, err := f.st.GetRun(t.Context(), d.ID, a.RunID)
	if err != nil {
		t.Fatal(err)
	}
	if run.State != store.RunRunning {
		t.Errorf("run is %s, want still running", run.State)
	}
	if ids := f.exec.submittedIDs(); len(ids) != 1 {
		t.Errorf("handed over %v, want only a", ids)
	}
}

// TestRecordWhileShuttingDownStartsNothing: an outcome that reaches a loop
// whose context has ended is written, and nothing is claimed after it.
func TestRecordWhileShuttingDownStartsNothing(t *testing.T) {
	f := newHandOffFixture(t, testDAG(t, "stop", "none", "a", "b:a"))
	if _, err := f.loop.Tick(t.Context()); err != nil {
		t.Fatal(err)
	}
	a := f.next()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	done := make(chan error, 1)
	go func() { done <- f.loop.Run(ctx) }()
	w, err := f.loop.Record(t.Context(), success(a.TaskKey, 1))
	if err != nil || !w.OK {
		t.Fatalf("record a: %+v %v", w, err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := f.state("b"); got != store.StateNone {
		t.Errorf("b is %s after shutdown, want none", got)
	}
}

// TestRecordWritesAloneWhenNoTickComes: an outcome no tick takes before
// its deadline is written directly, not lost.
func TestRecordWritesAloneWhenNoTickComes(t *testing.T) {
	f := newHandOffFixture(t, testDAG(t, "slow", "none", "a"))
	if _, err := f.loop.Tick(t.Context()); err != nil {
		t.Fatal(err)
	}
	a := f.next()
	// The loop is not running, so no tick will come.
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	w, err := f.loop.Record(ctx, success(a.TaskKey, 1))
	if err != nil || !w.OK {
		t.Fatalf("record a: %+v %v", w, err)
	}
	if got := f.state("a"); got != store.StateSuccess {
		t.Errorf("a is %s, want success", got)
	}
	if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Errorf("Record returned before its deadline without a tick")
	}
	if rows := f.loop.takeReported(); len(rows) != 1 || rows[0].State != store.StateSuccess {
		t.Errorf("reported %v, want the row written alone", rows)
	}
}

// lostAnswerStore commits a batch and then reports an error, as a batch
// whose connection broke before the answer came back would.
type lostAnswerStore struct {
	store.Store
	mu    sync.Mutex
	armed bool
}

// arm makes the next batch lose its answer.
func (s *lostAnswerStore) arm() {
	s.mu.Lock()
	s.armed = true
	s.mu.Unlock()
}

func (s *lostAnswerStore) UpdateTasks(ctx context.Context, us []store.TaskUpdate) ([]store.Written, error) {
	ws, err := s.Store.UpdateTasks(ctx, us)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err == nil && s.armed {
		s.armed = false
		return nil, errors.New("connection reset by peer (after the commit)")
	}
	return ws, err
}

// TestHandOffSurvivesALostAnswer: when the batch with an outcome and the
// claim it allows commits but its answer is lost, the row-by-row retry
// finds both rows already as the writes would have left them: the outcome
// is reported written and the claimed task is started, not failed later
// as a claim nobody holds.
func TestHandOffSurvivesALostAnswer(t *testing.T) {
	f := newHandOffFixture(t, testDAG(t, "lost_answer", "none", "a", "b:a"))
	lossy := &lostAnswerStore{Store: f.st}
	f.loop.opts.Store = lossy
	f.run()
	a := f.next()
	lossy.arm()
	w, err := f.loop.Record(t.Context(), success(a.TaskKey, 1))
	if err != nil || !w.OK || w.Row.State != store.StateSuccess {
		t.Fatalf("record a: %+v %v; want the outcome confirmed as written", w, err)
	}
	b := f.next()
	if b.TaskID != "b" || b.State != store.StateRunning {
		t.Fatalf("handed %+v, want b's claim", b)
	}
	lossy.mu.Lock()
	defer lossy.mu.Unlock()
	if lossy.armed {
		t.Fatal("the batch never ran: the test proved nothing")
	}
}

// TestRetryHandOffSurvivesALostAnswer: a failure with retries left and no
// delay puts the outcome (up_for_retry) and the retry's claim of the same
// row in one batch; when its answer is lost, the claim is confirmed and so
// is the outcome it rested on.
func TestRetryHandOffSurvivesALostAnswer(t *testing.T) {
	d := testDAG(t, "lost_retry", "none", "a")
	d.Task("a").Retries, d.Task("a").RetryDelay = 1, 0
	f := newHandOffFixture(t, d)
	lossy := &lostAnswerStore{Store: f.st}
	f.loop.opts.Store = lossy
	f.run()
	a := f.next()
	lossy.arm()
	failed := success(a.TaskKey, 1)
	failed.To = store.StateUpForRetry
	now := t0
	failed.NextRetryAt = &now
	w, err := f.loop.Record(t.Context(), failed)
	if err != nil || !w.OK || w.Row.State != store.StateUpForRetry {
		t.Fatalf("record a's failure: %+v %v; want it confirmed as written", w, err)
	}
	retry := f.next()
	if retry.TaskID != "a" || retry.TryNumber != 2 || retry.State != store.StateRunning {
		t.Fatalf("handed %+v, want a's second try", retry)
	}
}

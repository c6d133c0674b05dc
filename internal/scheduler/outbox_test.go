package scheduler

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/dag"
	"github.com/sirocco-dev/sirocco/internal/notify"
	"github.com/sirocco-dev/sirocco/internal/store"
	"github.com/sirocco-dev/sirocco/internal/store/sqlstore"
)

// manualClock is a clock the test moves.
type manualClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *manualClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *manualClock) add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// String is what was logged.
func (b *syncBuffer) String() string { b.mu.Lock(); defer b.mu.Unlock(); return b.buf.String() }

// outboxFixture is an outbox on a real SQLite store, a DAG whose task a
// has a webhook on_failure_callback to url, and one failed try enqueued.
func outboxFixture(t *testing.T, url string, attempts int) (*Outbox, store.Store, *manualClock, *syncBuffer) {
	t.Helper()
	st, err := sqlstore.OpenSQLite(filepath.Join(t.TempDir(), "sirocco.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	d := testDAG(t, "cb", "none", "a")
	d.Task("a").Callbacks.OnFailure = []dag.Notifier{{Webhook: &dag.Webhook{URL: url, Body: `{"text": "{{ ti.task_id }} try {{ try_number }}: {{ reason }}"}`}}}
	run, tis := NewRunRecords(d, store.RunManual, dag.Interval{Start: t0, End: t0}, nil, t0)
	if err := st.CreateRun(t.Context(), run, tis); err != nil {
		t.Fatal(err)
	}
	n := store.Notification{NotificationKey: store.NotificationKey{DagID: "cb", RunID: run.RunID, TaskID: "a", Try: 1, Event: "failure"},
		Reason: "task a failed", NextAt: t0, CreatedAt: t0}
	if _, err := st.EnqueueNotifications(t.Context(), []store.Notification{n}); err != nil {
		t.Fatal(err)
	}
	clock := &manualClock{now: t0}
	logs := &syncBuffer{}
	o := NewOutbox(OutboxOptions{Store: st, DAGs: fixedDAGs{"cb": d}, Sender: &notify.Sender{}, Clock: clock,
		Logger: slog.New(slog.NewTextHandler(logs, nil)), WorkerID: "w1", Attempts: attempts, Backoff: 10 * time.Second})
	return o, st, clock, logs
}

// deliverAt moves the clock by d and runs one delivery round.
func deliverAt(t *testing.T, o *Outbox, clock *manualClock, d time.Duration) int {
	t.Helper()
	clock.add(d)
	n, err := o.DeliverDue(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// onlyNote returns the run's one notification.
func onlyNote(t *testing.T, st store.Store) store.Notification {
	t.Helper()
	runID := RunID(store.RunManual, t0)
	list, err := st.ListNotifications(t.Context(), "cb", runID)
	if err != nil || len(list) != 1 {
		t.Fatalf("notifications = %+v, %v", list, err)
	}
	return list[0]
}

// TestOutboxRetriesAFlakyWebhook: the hook fails twice, then answers;
// each retry waits its backoff (10s, then 20s), and the notification is
// sent once, with its attempts and the last error recorded.
func TestOutboxRetriesAFlakyWebhook(t *testing.T) {
	var calls atomic.Int32
	var bodies []string
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var b bytes.Buffer
		_, _ = b.ReadFrom(r.Body)
		mu.Lock()
		bodies = append(bodies, b.String())
		mu.Unlock()
		if calls.Add(1) <= 2 {
			http.Error(w, "busy", http.StatusServiceUnavailable)
		}
	}))
	t.Cleanup(srv.Close)
	o, st, clock, logs := outboxFixture(t, srv.URL, 3)
	if n := deliverAt(t, o, clock, 0); n != 1 {
		t.Fatalf("first round claimed %d", n)
	}
	if got := onlyNote(t, st); got.State != store.NotePending || got.Attempts != 1 || !strings.Contains(got.LastError, "503") ||
		!got.NextAt.Equal(t0.Add(10*time.Second)) {
		t.Fatalf("after a 503: %+v", got)
	}
	if n := deliverAt(t, o, clock, 9*time.Second); n != 0 {
		t.Fatalf("retried before its backoff: %d", n)
	}
	deliverAt(t, o, clock, time.Second)
	if got := onlyNote(t, st); got.Attempts != 2 || !got.NextAt.Equal(t0.Add(30*time.Second)) {
		t.Fatalf("after the second 503: %+v", got)
	}
	deliverAt(t, o, clock, 20*time.Second)
	got := onlyNote(t, st)
	if got.State != store.NoteSent || got.Attempts != 3 || !got.SentAt.Equal(t0.Add(30*time.Second)) {
		t.Fatalf("after the answer: %+v", got)
	}
	if n := deliverAt(t, o, clock, time.Hour); n != 0 || calls.Load() != 3 {
		t.Errorf("sent again: round %d, calls %d", n, calls.Load())
	}
	mu.Lock()
	defer mu.Unlock()
	if want := `{"text": "a try 1: task a failed"}`; bodies[2] != want {
		t.Errorf("body = %s, want %s", bodies[2], want)
	}
	if !strings.Contains(logs.String(), "will retry") || !strings.Contains(logs.String(), "notification sent") {
		t.Errorf("log:\n%s", logs)
	}
}

// TestOutboxGivesUp: a hook that never answers well is tried Attempts
// times, then the notification is failed and the failure logged.
func TestOutboxGivesUp(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		http.Error(w, "gone", http.StatusGone)
	}))
	t.Cleanup(srv.Close)
	o, st, clock, logs := outboxFixture(t, srv.URL, 2)
	deliverAt(t, o, clock, 0)
	deliverAt(t, o, clock, 10*time.Second)
	got := onlyNote(t, st)
	if got.State != store.NoteFailed || got.Attempts != 2 || !strings.Contains(got.LastError, "410") {
		t.Fatalf("after two failures: %+v", got)
	}
	if _, ok, _ := st.NextNotificationAt(t.Context()); ok || deliverAt(t, o, clock, time.Hour) != 0 || calls.Load() != 2 {
		t.Errorf("a failed notification is still tried (calls %d)", calls.Load())
	}
	if !strings.Contains(logs.String(), "giving up") {
		t.Errorf("log:\n%s", logs)
	}
}

// TestOutboxRunWakesAtTheRetry: Run sleeps until the retry is due rather
// than polling, and Wake starts a round at once.
func TestOutboxRunWakesAtTheRetry(t *testing.T) {
	sent := make(chan struct{}, 4)
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		sent <- struct{}{}
	}))
	t.Cleanup(srv.Close)
	o, st, _, _ := outboxFixture(t, srv.URL, 3)
	o.opts.Clock, o.opts.Backoff, o.opts.Poll = SystemClock{}, 200*time.Millisecond, time.Hour
	// Due now on the wall clock.
	ctx := t.Context()
	done := make(chan error, 1)
	go func() { done <- o.Run(ctx) }()
	t.Cleanup(func() { <-done }) // t.Context ends before cleanups run
	select {
	case <-sent:
	case <-time.After(30 * time.Second):
		t.Fatalf("not sent after its retry: %+v", onlyNote(t, st))
	}
	if got := onlyNote(t, st); got.Attempts != 2 {
		t.Errorf("attempts = %d", got.Attempts)
	}
}

// TestOutboxSendsTaskCallbacksBeforeTheRuns: a task's failure callback
// and the DAG's, enqueued in the same tick, reach the hook in Airflow's
// order: the task's first. The hook holds the task's request until the
// run's arrives (or a while passes), so delivering both at once shows.
func TestOutboxSendsTaskCallbacksBeforeTheRuns(t *testing.T) {
	runArrived := make(chan struct{})
	var mu sync.Mutex
	var order []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var b bytes.Buffer
		_, _ = b.ReadFrom(r.Body)
		if strings.Contains(b.String(), `"run"`) {
			close(runArrived)
		} else {
			select {
			case <-runArrived:
			case <-time.After(500 * time.Millisecond):
			}
		}
		mu.Lock()
		order = append(order, b.String())
		mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	o, st, clock, _ := outboxFixture(t, srv.URL, 1)
	d := o.opts.DAGs.DAGs()["cb"]
	d.Callbacks.OnFailure = []dag.Notifier{{Webhook: &dag.Webhook{URL: srv.URL, Body: `{"run": "{{ reason }}"}`}}}
	runID := RunID(store.RunManual, t0)
	n := store.Notification{NotificationKey: store.NotificationKey{DagID: "cb", RunID: runID, Event: "failure"},
		Reason: "run failed", NextAt: t0, CreatedAt: t0}
	if _, err := st.EnqueueNotifications(t.Context(), []store.Notification{n}); err != nil {
		t.Fatal(err)
	}
	if got := deliverAt(t, o, clock, 0); got != 2 {
		t.Fatalf("claimed %d, want 2", got)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(order) != 2 || !strings.HasPrefix(order[0], `{"text": "a try 1`) || order[1] != `{"run": "run failed"}` {
		list, _ := st.ListNotifications(t.Context(), "cb", runID)
		t.Errorf("delivered in the order %q, want the task's, then the run's (%+v)", order, list)
	}
}

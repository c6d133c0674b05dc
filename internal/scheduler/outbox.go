package scheduler

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/sirocco-dev/sirocco/internal/dag"
	"github.com/sirocco-dev/sirocco/internal/notify"
	"github.com/sirocco-dev/sirocco/internal/store"
	"github.com/sirocco-dev/sirocco/internal/tasklog"
)

// Sender delivers one notifier once (notify.Sender).
type Sender interface {
	Send(ctx context.Context, n dag.Notifier, ev notify.Event) (string, error)
}

// OutboxOptions configure an Outbox.
type OutboxOptions struct {
	Store  store.Store
	DAGs   DAGSource
	Sender Sender
	Clock  Clock
	Logger *slog.Logger
	// WorkerID names this process in the rows it claims.
	WorkerID string
	// LogsDir is where the tries' logs are, whose last lines a failure's
	// notifiers see as exception ("" = none).
	LogsDir string
	// Attempts is how many times a notification is tried (default 3);
	// Backoff the wait after the first failed attempt, doubled after each
	// (default 5s); Lease how long a claimed notification is held before
	// another worker may take it over (default 5m, over Sender's timeout).
	Attempts int
	Backoff  time.Duration
	Lease    time.Duration
	// Poll is how often the outbox looks for notifications another
	// process enqueued, when nothing wakes it (default 30s).
	Poll time.Duration
}

// Outbox delivers the notifications the loop enqueues: it claims the due
// ones with a conditional write (one worker each, even with several
// schedulers), sends each once per attempt, and records sent, or failed
// after its last attempt, or a retry with backoff. A failure is logged; it
// never touches a task or a run. A worker that dies while sending leaves
// its claim to expire, and the notification is sent again: at least once,
// and once unless the process dies between the send and its record.
type Outbox struct {
	opts OutboxOptions
	wake chan struct{}
}

// NewOutbox returns an outbox; call Run to start it.
func NewOutbox(o OutboxOptions) *Outbox {
	if o.Clock == nil {
		o.Clock = SystemClock{}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Attempts <= 0 {
		o.Attempts = 3
	}
	if o.Backoff <= 0 {
		o.Backoff = 5 * time.Second
	}
	if o.Lease <= 0 {
		o.Lease = 5 * time.Minute
	}
	if o.Poll <= 0 {
		o.Poll = 30 * time.Second
	}
	return &Outbox{opts: o, wake: make(chan struct{}, 1)}
}

// Wake asks the outbox to look for due notifications now. It never blocks.
func (o *Outbox) Wake() {
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

// claimBatch is how many notifications one claim takes.
const claimBatch = 16

// Run delivers until ctx ends, sleeping until the next notification is
// due, it is woken, or Poll passes.
func (o *Outbox) Run(ctx context.Context) error {
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		n, err := o.DeliverDue(ctx)
		if err != nil && ctx.Err() == nil {
			o.opts.Logger.Error("notifications: delivery round failed", "err", err)
		}
		wait := o.opts.Poll
		if n < claimBatch {
			if at, ok, err := o.opts.Store.NextNotificationAt(ctx); err == nil && ok {
				wait = min(wait, max(at.Sub(o.opts.Clock.Now()), 0))
			}
		} else {
			wait = 0
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return nil
		case <-o.wake:
		case <-timer.C:
		}
	}
}

// DeliverDue claims the notifications due now and delivers them, each in
// its own goroutine, and returns how many it claimed once all are done.
// The tasks' notifications go first and the runs' once they are done, as
// in Airflow, where a task's callback runs when it fails and the DAG's
// when the run ends: the loop enqueues both in the same tick.
func (o *Outbox) DeliverDue(ctx context.Context) (int, error) {
	now := o.opts.Clock.Now()
	claimed, err := o.opts.Store.ClaimNotifications(ctx, o.opts.WorkerID, now, o.opts.Lease, claimBatch)
	var tasks, runs []store.Notification
	for _, n := range claimed {
		if n.TaskID == "" {
			runs = append(runs, n)
		} else {
			tasks = append(tasks, n)
		}
	}
	o.deliverAll(ctx, tasks)
	o.deliverAll(ctx, runs)
	return len(claimed), err
}

// deliverAll delivers ns concurrently and returns when all are done.
func (o *Outbox) deliverAll(ctx context.Context, ns []store.Notification) {
	var wg sync.WaitGroup
	for _, n := range ns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			o.deliver(context.WithoutCancel(ctx), n)
		}()
	}
	wg.Wait()
}

// deliver makes one attempt and records its outcome.
func (o *Outbox) deliver(ctx context.Context, n store.Notification) {
	log := o.opts.Logger.With("dag_id", n.DagID, "run_id", n.RunID, "task_id", n.TaskID, "try_number", n.Try,
		"event", n.Event, "notifier", n.Index, "attempt", n.Attempts)
	out, err := o.send(ctx, n)
	now := o.opts.Clock.Now()
	to, next, lastErr := store.NoteSent, time.Time{}, ""
	switch {
	case err == nil:
		log.Info("notification sent", "output", out)
	case errors.Is(err, errGone) || n.Attempts >= o.opts.Attempts:
		to, lastErr = store.NoteFailed, err.Error()
		log.Error("notification failed; giving up", "err", err, "output", out)
	default:
		delay := o.opts.Backoff << min(n.Attempts-1, 16)
		to, next, lastErr = store.NotePending, now.Add(delay), err.Error()
		log.Warn("notification failed; will retry", "err", err, "retry_in", delay, "output", out)
	}
	ok, ferr := o.opts.Store.FinishNotification(ctx, n, to, next, lastErr, now)
	switch {
	case ferr != nil:
		log.Error("notification: cannot record the attempt", "err", ferr)
	case !ok:
		log.Warn("notification: another worker took it over (this attempt outlived its lease)")
	}
}

// errGone is a notification whose DAG, task or notifier no longer exists:
// it is not retried.
var errGone = errors.New("no longer in the DAG")

// send finds what n is about and sends its notifier once.
func (o *Outbox) send(ctx context.Context, n store.Notification) (string, error) {
	d := o.opts.DAGs.DAGs()[n.DagID]
	if d == nil {
		return "", fmt.Errorf("DAG %s: %w", n.DagID, errGone)
	}
	ev := notify.Event{DAG: d, Kind: dag.Event(n.Event), Reason: n.Reason}
	run, err := o.opts.Store.GetRun(ctx, n.DagID, n.RunID)
	if err != nil {
		return "", fmt.Errorf("read run: %w", err)
	}
	ev.Run = run
	var list []dag.Notifier
	switch {
	case n.Event == string(dag.EventDeadline) && n.TaskID == "":
		if d.Deadline != nil {
			list = d.Deadline.Callback
			ev.Deadline, _ = DeadlineOf(d.Deadline, run)
		}
	case n.TaskID == "":
		list = d.Callbacks.For(ev.Kind)
	default:
		t := d.Task(n.TaskID)
		if t == nil {
			return "", fmt.Errorf("task %s: %w", n.TaskID, errGone)
		}
		ev.Task, list = t, t.Callbacks.For(ev.Kind)
		ev.TI = store.TaskInstance{TaskKey: store.TaskKey{DagID: n.DagID, RunID: n.RunID, TaskID: n.TaskID, Map: n.Map},
			TryNumber: n.Try, State: eventState[ev.Kind]}
		if ev.Kind == dag.EventDeadline && t.Deadline != nil {
			list = t.Deadline.Callback
			if ti, err := o.opts.Store.GetTaskInstance(ctx, ev.TI.TaskKey); err == nil {
				ev.TI.State = ti.State
				if ti.TryNumber == n.Try {
					ev.Deadline = ti.StartDate.Add(t.Deadline.Interval)
				}
			}
		}
		if ev.Kind == dag.EventFailure || ev.Kind == dag.EventRetry {
			ev.Exception = o.logTail(n)
		}
	}
	if ev.Task == nil && ev.Kind != dag.EventSuccess {
		ev.FailedTasks = o.failedTasks(ctx, n)
	}
	if n.Index >= len(list) {
		return "", fmt.Errorf("%s notifier %d: %w", n.Event, n.Index, errGone)
	}
	return o.opts.Sender.Send(ctx, list[n.Index], ev)
}

// eventState is the state a task event is about.
var eventState = map[dag.Event]store.TaskState{
	dag.EventSuccess: store.StateSuccess, dag.EventFailure: store.StateFailed,
	dag.EventRetry: store.StateUpForRetry, dag.EventExecute: store.StateRunning,
}

// failedTasks lists a run's failed and upstream_failed tasks.
func (o *Outbox) failedTasks(ctx context.Context, n store.Notification) []string {
	tis, err := o.opts.Store.ListTaskInstances(ctx, n.DagID, n.RunID)
	if err != nil {
		return nil
	}
	var out []string
	for _, ti := range tis {
		if ti.State == store.StateFailed || ti.State == store.StateUpstreamFailed {
			out = append(out, ti.TaskID)
		}
	}
	return out
}

// logTailBytes is how much of a failed try's log its notifiers see.
const logTailBytes = 2 << 10

// logTail returns the last lines of the try's log (already masked when
// written), the closest Sirocco has to Airflow's exception.
func (o *Outbox) logTail(n store.Notification) string {
	if o.opts.LogsDir == "" {
		return ""
	}
	f, err := os.Open(tasklog.MapPath(o.opts.LogsDir, n.DagID, n.RunID, n.TaskID, n.Map-1, n.Try))
	if err != nil {
		return ""
	}
	defer f.Close()
	if info, err := f.Stat(); err == nil && info.Size() > logTailBytes {
		_, _ = f.Seek(-logTailBytes, io.SeekEnd)
	}
	data, _ := io.ReadAll(io.LimitReader(f, logTailBytes))
	var lines []string
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		if !strings.Contains(line, "] sirocco: process handle ") { // bookkeeping, not the task's words
			lines = append(lines, line)
		}
	}
	if len(lines) > 5 {
		lines = lines[len(lines)-5:]
	}
	return strings.Join(lines, "\n")
}

// Drain delivers until no notification is waiting or within is spent,
// waiting for retries due by then: `dags test` calls it once its run has
// ended, so the run's callbacks are sent before the process exits.
func (o *Outbox) Drain(ctx context.Context, within time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	limit := o.opts.Clock.Now().Add(within)
	for {
		if _, err := o.DeliverDue(ctx); err != nil {
			return err
		}
		at, ok, err := o.opts.Store.NextNotificationAt(ctx)
		if err != nil || !ok || at.After(limit) {
			return err
		}
		if wait := at.Sub(o.opts.Clock.Now()); wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return nil
			case <-t.C:
			}
		}
	}
}

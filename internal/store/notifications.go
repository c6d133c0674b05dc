package store

import (
	"context"
	"time"
)

// NotificationState is where a due notification is in its delivery.
type NotificationState string

// Notification states: pending (waiting for its next attempt), sending
// (claimed by a worker until its lease ends), sent, failed (attempts
// exhausted).
const (
	NotePending NotificationState = "pending"
	NoteSending NotificationState = "sending"
	NoteSent    NotificationState = "sent"
	NoteFailed  NotificationState = "failed"
)

// NotificationKey names one notification so that it exists once: the task
// instance (TaskID "" for a DAG run's own callbacks and deadline), the try
// (for a run's own: its ClearNumber, so each end of a cleared run is
// notified), the event (success, failure, retry, execute, deadline) and
// the position of the notifier in the event's list.
type NotificationKey struct {
	DagID, RunID, TaskID string
	// Map is the task instance's map index + 1, as TaskKey.Map: each
	// instance of a mapped task has its own notifications.
	Map   int
	Try   int
	Event string
	Index int
}

// Notification is one callback due (the outbox row): written once when
// the state change that causes it is seen, then claimed and delivered by a
// worker, which records the attempts and the outcome.
type Notification struct {
	NotificationKey
	State     NotificationState
	Reason    string // what caused it, for the templates
	Attempts  int
	NextAt    time.Time // when a pending notification may be tried
	CreatedAt time.Time
	LeaseEnd  time.Time // while sending: when another worker may take it over
	ClaimedBy string
	LastError string
	SentAt    time.Time
	// UnlessEndedBy, on enqueue only, writes the notification only if
	// its run (TaskID "") or its task instance's try Try is unfinished or
	// ended after this time (a deadline alert: never for a run or try
	// finished in time). Zero: no condition.
	UnlessEndedBy time.Time
}

// NotificationStore is the outbox of callbacks. Every write is
// conditional, so a notification is enqueued once and delivered by one
// worker at a time, across restarts and schedulers.
type NotificationStore interface {
	// EnqueueNotifications inserts each notification as pending, due at
	// its NextAt, unless one with its key exists (then it is left alone):
	// enqueueing the same event again, after a restart, adds nothing. A
	// task's try has one end event (success, failure or retry): a
	// notification of another end of a try that has one is not inserted,
	// even by two schedulers at once (a unique key). A
	// notification whose run does not exist is skipped. It returns how many
	// it inserted.
	EnqueueNotifications(ctx context.Context, ns []Notification) (int, error)
	// ClaimNotifications takes up to limit notifications due at now (pending
	// with NextAt <= now, or sending with a lease ended before now, whose
	// worker died) for worker: each becomes sending with attempts + 1 and
	// a lease until now+lease, by a conditional write, so two workers never
	// both take one.
	ClaimNotifications(ctx context.Context, worker string, now time.Time, lease time.Duration, limit int) ([]Notification, error)
	// FinishNotification records the outcome of the attempt n (as claimed):
	// sent, failed, or pending again at nextAt. It applies only if n is
	// still sending under n.ClaimedBy at n.Attempts, and reports whether it did.
	FinishNotification(ctx context.Context, n Notification, to NotificationState, nextAt time.Time, lastErr string, now time.Time) (bool, error)
	// NextNotificationAt returns the earliest time a notification becomes
	// due (a pending one's NextAt, a sending one's lease end); ok is false
	// when none is waiting.
	NextNotificationAt(ctx context.Context) (at time.Time, ok bool, err error)
	// PruneNotifications deletes the sent and failed notifications
	// created before before, and returns how many: the outbox would grow
	// forever otherwise (a pending or sending one is never pruned; a
	// notification of a deleted run goes with it).
	PruneNotifications(ctx context.Context, before time.Time) (int, error)
	// ListNotifications returns the notifications of a run, by task, try,
	// event and index.
	ListNotifications(ctx context.Context, dagID, runID string) ([]Notification, error)
}

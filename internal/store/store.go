package store

import (
	"context"
	"errors"
	"slices"
	"time"
)

// TaskState is a task instance's place in Airflow's state machine (see doc.go).
type TaskState string

// Task instance states. StateNone is the empty string: created, not yet looked at.
const (
	StateNone            TaskState = ""
	StateScheduled       TaskState = "scheduled"
	StateQueued          TaskState = "queued"
	StateRunning         TaskState = "running"
	StateSuccess         TaskState = "success"
	StateFailed          TaskState = "failed"
	StateUpForRetry      TaskState = "up_for_retry"
	StateUpstreamFailed  TaskState = "upstream_failed"
	StateSkipped         TaskState = "skipped"
	StateUpForReschedule TaskState = "up_for_reschedule"
	// StateRestarting is a running try cleared by a user: its executor
	// stops it (remote work included) and hands the task back as none.
	StateRestarting TaskState = "restarting"
	StateRemoved    TaskState = "removed"
)

// Finished reports whether no further transition happens without a clear.
func (s TaskState) Finished() bool {
	switch s {
	case StateSuccess, StateFailed, StateUpstreamFailed, StateSkipped, StateRemoved:
		return true
	}
	return false
}

// RunState is a DAG run's state.
type RunState string

// DAG run states.
const (
	RunQueued  RunState = "queued"
	RunRunning RunState = "running"
	RunSuccess RunState = "success"
	RunFailed  RunState = "failed"
)

// Finished reports whether the run is over.
func (s RunState) Finished() bool { return s == RunSuccess || s == RunFailed }

// RunType says why a run exists; it prefixes the run id as in Airflow.
type RunType string

// Run types.
const (
	RunScheduled RunType = "scheduled"
	RunManual    RunType = "manual"
	RunBackfill  RunType = "backfill"
	// RunTest is a run `dags test` creates and runs in its own process:
	// every scheduler but that process's (Options.OnlyRun) leaves it alone,
	// so a scheduler sharing the database never runs its tasks.
	RunTest RunType = "test"
)

// Errors callers must tell apart.
var (
	ErrNotFound = errors.New("not found")
	ErrExists   = errors.New("already exists")
	// ErrConflict is a write refused because of the rows' state (deleting
	// a run whose tasks are still running).
	ErrConflict = errors.New("conflict")
)

// DAGRecord is what the store keeps about a DAG: the definition lives in
// files, only the pause flag and bookkeeping live here.
type DAGRecord struct {
	DagID      string
	Paused     bool
	FileLoc    string
	LastParsed time.Time
}

// ImportError is a DAG file that failed to load, kept so the CLI and API can
// show it while the other DAGs keep running.
type ImportError struct {
	FileLoc   string
	Message   string
	Timestamp time.Time
}

// DagRun is one execution of a DAG for one data interval.
type DagRun struct {
	DagID             string
	RunID             string
	RunType           RunType
	State             RunState
	LogicalDate       time.Time
	DataIntervalStart time.Time
	DataIntervalEnd   time.Time
	Conf              map[string]any
	QueuedAt          time.Time
	StartDate         time.Time // zero until running
	EndDate           time.Time // zero until finished
	// ClearNumber counts the clears that put the finished run back to
	// queued (Airflow 3's clear_number): each end of the run is its own,
	// and its callbacks and deadline alert are keyed by it.
	ClearNumber int
}

// TaskKey names one task instance. Map is the instance's map index plus
// one, so that the zero value (and every TaskKey literal written before
// dynamic task mapping) names a task that is not mapped, or a mapped
// task's placeholder before it expands: Airflow's map_index -1.
type TaskKey struct {
	DagID, RunID, TaskID string
	Map                  int
}

// MapIndex returns Airflow's map_index of the instance: -1 when the task is
// not mapped (or not expanded yet), else 0, 1, ...
func (k TaskKey) MapIndex() int { return k.Map - 1 }

// Mapped reports whether the key names one instance of an expanded mapped
// task.
func (k TaskKey) Mapped() bool { return k.Map > 0 }

// WithMapIndex returns k naming the instance of Airflow's map index i (-1:
// not mapped).
func (k TaskKey) WithMapIndex(i int) TaskKey {
	k.Map = i + 1
	return k
}

// TaskInstance is one task of one run. TryNumber counts the tries that have
// started; MaxTries is the task's retries, so a failed try with
// TryNumber <= MaxTries goes up_for_retry.
type TaskInstance struct {
	TaskKey
	State          TaskState
	TryNumber      int
	MaxTries       int
	Pool           string
	PoolSlots      int
	PriorityWeight int
	Queue          string
	QueuedAt       time.Time
	StartDate      time.Time
	EndDate        time.Time
	NextRetryAt    time.Time // when an up_for_retry task becomes runnable again
	Hostname       string
	WorkerID       string    // the executor job that owns the try
	HeartbeatAt    time.Time // last sign of life from that job
	Handle         []byte    // serialised handle of work outside the process (pid, driver id, ...)
	Rendered       []byte    // JSON of the rendered templated fields
	// Version counts the writes of the row (0 when inserted): of two copies
	// of a row, the one with the higher Version is the newer.
	Version int64
	// InfraReruns counts the tries Sirocco itself stopped (its shutdown)
	// and gave back since the last clear: each raised MaxTries by one, so
	// it spent no retry. It is what caps such free re-runs.
	InfraReruns int
	// FirstPokeAt and Pokes are a reschedule-mode sensor's progress across
	// its reschedules (Airflow's task_reschedule rows): when its first poke
	// of the try started, which its timeout counts from, and how many
	// pokes it has made. Zero outside a sensor's reschedule.
	FirstPokeAt time.Time
	Pokes       int
	// Note says why the instance ended without running a try, where
	// Sirocco knows more than its state: a mapped task that could not
	// expand (its list missing, not a list or too long); or why it waits
	// in state none for the previous run (depends_on_past, written and
	// emptied by the scheduler, never on a task that left none). It is
	// Airflow's TaskInstance note in the API; a clear empties it.
	Note string
}

// TaskStateRow is a task instance's state alone (Store.TaskStates).
type TaskStateRow struct {
	RunID, TaskID string
	Map           int // map index + 1, as TaskKey.Map
	State         TaskState
}

// TaskUpdate is one conditional transition of a task instance: it applies
// only if the row is still in one of From. Nil fields are left as they are.
type TaskUpdate struct {
	Key        TaskKey
	From       []TaskState
	FromWorker *string // also require this owner (adopting a dead worker's try)
	FromTry    *int    // also require this try (a stale try never writes over a newer one)
	// FromVersion also requires the row's Version: a decision on a row
	// that was written since (a mapped task's placeholder a clear reset)
	// is not applied.
	FromVersion *int64
	// DueBy also requires next_retry_at to be unset or at most DueBy: the
	// claim of an up_for_retry or up_for_reschedule task is written only
	// once it is due, whatever snapshot the scheduler decided on (another
	// process's older read cannot start a retry or a poke early).
	DueBy       *time.Time
	To          TaskState
	IncTry      bool // try_number = try_number + 1 (the start of a try; clears end_date unless EndDate is set); none for a sensor's next poke (Pokes > 0)
	QueuedAt    *time.Time
	StartDate   *time.Time
	EndDate     *time.Time
	NextRetryAt *time.Time
	Hostname    *string
	WorkerID    *string
	HeartbeatAt *time.Time
	Handle      *[]byte
	Rendered    *[]byte
	// Requires lists other task instances that must be in a given state
	// and try for the write to apply. The scheduler writes a try's outcome
	// and the hand-off it allows (the downstream task's claim) in one
	// transaction; the claim requires the outcome, so a lost outcome never
	// lets the claim through. Batches write the updates that require
	// nothing first.
	Requires []TaskCondition
	// InfraRerun gives back a try lost to Sirocco rather than to its task:
	// max_tries and infra_reruns + 1, so the next try spends no retry.
	InfraRerun bool
	// FirstPokeAt and Pokes set a sensor's progress (a pointer to the
	// zero time and to 0 clear it).
	FirstPokeAt *time.Time
	Pokes       *int
	// Note sets the instance's note (a pointer to "" empties it).
	Note *string
}

// TaskCondition is a state and try a task instance must be in.
type TaskCondition struct {
	Key   TaskKey
	State TaskState
	Try   int
}

// Apply returns the row u would write over ti, and whether u's conditions
// on ti itself (From, FromWorker, FromTry, FromVersion, DueBy) hold; Requires is not checked.
// The scheduler uses it to decide on an outcome it is about to write; the
// store's row replaces the result once written.
func (u TaskUpdate) Apply(ti TaskInstance) (TaskInstance, bool) {
	ok := (len(u.From) == 0 || slices.Contains(u.From, ti.State)) &&
		(u.FromWorker == nil || *u.FromWorker == ti.WorkerID) &&
		(u.FromTry == nil || *u.FromTry == ti.TryNumber) &&
		(u.FromVersion == nil || *u.FromVersion == ti.Version) &&
		(u.DueBy == nil || ti.NextRetryAt.IsZero() || !ti.NextRetryAt.After(u.DueBy.UTC().Truncate(time.Microsecond)))
	ti.State = u.To
	ti.Version++
	if u.IncTry {
		if ti.Pokes == 0 {
			ti.TryNumber++
		}
		ti.EndDate = time.Time{} // a new try has not ended (EndDate below may set it)
	}
	if u.InfraRerun {
		ti.MaxTries++
		ti.InfraReruns++
	}
	if u.Pokes != nil {
		ti.Pokes = *u.Pokes
	}
	if u.Note != nil {
		ti.Note = *u.Note
	}
	setTime := func(dst *time.Time, v *time.Time) {
		if v != nil {
			*dst = v.UTC().Truncate(time.Microsecond)
		}
	}
	setTime(&ti.QueuedAt, u.QueuedAt)
	setTime(&ti.StartDate, u.StartDate)
	setTime(&ti.EndDate, u.EndDate)
	setTime(&ti.NextRetryAt, u.NextRetryAt)
	setTime(&ti.HeartbeatAt, u.HeartbeatAt)
	setTime(&ti.FirstPokeAt, u.FirstPokeAt)
	if u.Hostname != nil {
		ti.Hostname = *u.Hostname
	}
	if u.WorkerID != nil {
		ti.WorkerID = *u.WorkerID
	}
	if u.Handle != nil {
		ti.Handle = *u.Handle
	}
	if u.Rendered != nil {
		ti.Rendered = *u.Rendered
	}
	return ti, ok
}

// Written is the answer to one conditional task update: OK says whether it
// applied, and then Row is the task instance as it was written.
type Written struct {
	Row TaskInstance
	OK  bool
}

// RunUpdate is one conditional transition of a DAG run.
type RunUpdate struct {
	DagID, RunID string
	From         []RunState
	To           RunState
	StartDate    *time.Time
	EndDate      *time.Time
	// Notify are notifications (the run's callbacks) enqueued as
	// EnqueueNotifications does, in the same transaction, if the update
	// applied: a run's end and its callbacks are written together.
	Notify []Notification
	// Tasks, when set, also requires the run's task instances to be the
	// ones the decision saw: a run's end judged from rows a clear or a
	// mark has changed since (a stale snapshot) must not apply.
	Tasks *TasksSeen
}

// TasksSeen identifies the task instance rows of a run as read: their
// number and the sum of their write counters (Version). Every write of a
// row adds to its counter, so any write since the read changes the sum.
type TasksSeen struct {
	Count    int
	Versions int64
}

// SeeTasks returns what identifies rows tis as read.
func SeeTasks(tis []*TaskInstance) *TasksSeen {
	seen := &TasksSeen{Count: len(tis)}
	for _, ti := range tis {
		seen.Versions += ti.Version
	}
	return seen
}

// ChangeCursor is a point in the history of task instance writes; its
// value means something only to the store that made it.
type ChangeCursor int64

// RunFilter selects runs; zero fields match everything.
type RunFilter struct {
	DagID  string
	States []RunState
	Limit  int // 0 = no limit; newest first
}

// Pool limits how many task slots may be queued or running at once.
type Pool struct {
	Name        string
	Slots       int
	Description string
}

// Variable is a key/value the templates read as var.value.KEY. When
// Encrypted, Value is ciphertext made by package connection, which owns
// the keys (as for ConnectionRecord): the store never sees it in clear.
// Rows written before encryption existed hold plaintext (Encrypted false)
// until `connections rotate-key` or `db migrate` seals them.
type Variable struct {
	Key, Value, Description string
	Encrypted               bool
}

// XCom is a value one task hands to another, as Airflow's XCom.
// Timestamp is when it was pushed: the zero time for values pushed before
// Sirocco recorded it.
type XCom struct {
	TaskKey
	Key       string
	Value     string // JSON
	Timestamp time.Time
}

// ConnectionRecord is a connection as the store keeps it. Password and Extra
// are opaque ciphertext made by package connection, which owns the keys: the
// store never sees a secret in clear, so a database dump, a backup or a
// replica leaks none. Both are "" when the connection has no such secret.
type ConnectionRecord struct {
	ConnID      string
	ConnType    string
	Description string
	Host        string
	Port        int
	Login       string
	Password    string // ciphertext
	Schema      string
	Extra       string // ciphertext of the JSON object of extras
}

// Worker is a process that runs tasks; its heartbeat tells the scheduler
// whether the tries it owns are still alive.
type Worker struct {
	ID          string
	Kind        string // standalone, scheduler, worker
	Hostname    string
	PID         int
	StartedAt   time.Time
	HeartbeatAt time.Time
}

// Store is everything Sirocco persists. Both implementations (SQLite and
// PostgreSQL) pass the same conformance suite in storetest. Every method that
// changes a state is a single conditional write and reports whether it won.
type Store interface {
	Migrate(ctx context.Context) error
	Close() error
	// Dialect names the backend ("sqlite" or "postgres").
	Dialect() string

	// Notify tells every other handle on this database (another process:
	// the CLI, an API server, another scheduler) that something a scheduler
	// acts on has changed, so it looks now rather than at its next poll.
	// CreateRun, UpdateRun, MarkTask, ClearTasks, SetPaused and SetPool
	// notify by themselves once they have written; the hand-off's task
	// writes do not, as their writer applies them itself, except a try's
	// end as up_for_retry or failed (UpdateTask, UpdateTaskRow and
	// UpdateTasks), which a watcher such as `dags trigger --wait` must see
	// while it lasts. It is best effort: the poll interval remains the
	// safety net.
	Notify(ctx context.Context) error
	// Watch returns a channel that receives soon after another handle on
	// this database notified, until ctx ends or the store is closed. The
	// handle's own notifications are not delivered, so a scheduler's own
	// writes never wake it. Signals are coalesced (one pending at most) and
	// the channel is never closed. A nil channel means nothing else can
	// notify (a private in-memory database, or no mechanism on this
	// platform): poll.
	Watch(ctx context.Context) (<-chan struct{}, error)

	UpsertDAG(ctx context.Context, d DAGRecord) error // keeps Paused of an existing row
	GetDAG(ctx context.Context, dagID string) (DAGRecord, error)
	ListDAGs(ctx context.Context) ([]DAGRecord, error)
	SetPaused(ctx context.Context, dagID string, paused bool) error
	ReplaceImportErrors(ctx context.Context, errs []ImportError) error
	ListImportErrors(ctx context.Context) ([]ImportError, error)

	// CreateRun inserts the run and its task instances in one transaction;
	// the instances take their DagID and RunID from the run. A run with the
	// same (dag, run id) or (dag, logical date) gives ErrExists.
	CreateRun(ctx context.Context, run DagRun, tis []TaskInstance) error
	GetRun(ctx context.Context, dagID, runID string) (DagRun, error)
	ListRuns(ctx context.Context, f RunFilter) ([]DagRun, error)
	// LastScheduledRun returns the scheduled run with the latest logical date.
	LastScheduledRun(ctx context.Context, dagID string) (DagRun, error)
	// PreviousRun returns the run of the DAG with the latest logical date
	// before the given one, of any type but test runs (`dags test`'s own):
	// the run depends_on_past looks back to. ErrNotFound when none.
	PreviousRun(ctx context.Context, dagID string, before time.Time) (DagRun, error)
	// RecentRuns returns the latest perDAG runs of every DAG that has runs,
	// each DAG's in ListRuns' order, and LastScheduledRun of every DAG that
	// has one: the UI's DAG list of thousands of DAGs in two statements
	// rather than two per DAG.
	RecentRuns(ctx context.Context, perDAG int) (recent map[string][]DagRun, lastScheduled map[string]DagRun, err error)
	UpdateRun(ctx context.Context, u RunUpdate) (bool, error)
	// DeleteRun removes a run with its task instances and their XComs, in
	// one transaction. A run with a task queued, running or restarting is
	// refused with an error wrapping ErrConflict: the work it started
	// outside Sirocco would be orphaned. A missing run gives ErrNotFound.
	// The change feed never goes back (TaskChangeCursor), so on SQLite the
	// last run holding task instances cannot be deleted (ErrConflict).
	DeleteRun(ctx context.Context, dagID, runID string) error

	// ActiveTaskInstances returns the task instances of every queued or
	// running DAG run: the scheduler's snapshot.
	ActiveTaskInstances(ctx context.Context) ([]TaskInstance, error)
	// TaskChangeCursor marks the present in the history of task instance
	// writes, for TaskInstancesChangedSince.
	TaskChangeCursor(ctx context.Context) (ChangeCursor, error)
	// TaskInstancesChangedSince returns every task instance (of any run)
	// written after the cursor was taken, in no particular order, and the
	// cursor for the next call. It may also return rows written a little
	// before; callers merge by key. The scheduler keeps its snapshot with it
	// instead of re-reading every active row on each tick.
	TaskInstancesChangedSince(ctx context.Context, c ChangeCursor) ([]TaskInstance, ChangeCursor, error)
	ListTaskInstances(ctx context.Context, dagID, runID string) ([]TaskInstance, error)
	// TaskStates returns the state of every task instance of the given
	// runs of dagID, in no particular order: the UI's grid of thousands of
	// tasks x runs reads only these three columns, in one statement.
	TaskStates(ctx context.Context, dagID string, runIDs []string) ([]TaskStateRow, error)
	GetTaskInstance(ctx context.Context, k TaskKey) (TaskInstance, error)
	UpdateTask(ctx context.Context, u TaskUpdate) (bool, error)
	// UpdateTaskRow is UpdateTask that also returns the row as written, so
	// a try's outcome reaches the scheduler without a read of the store.
	UpdateTaskRow(ctx context.Context, u TaskUpdate) (Written, error)
	// UpdateTasks applies each update as UpdateTask does, in one
	// transaction, and returns each one's answer with the row it wrote:
	// the scheduler keeps its snapshot with its own writes that way.
	UpdateTasks(ctx context.Context, us []TaskUpdate) ([]Written, error)
	// MarkTask applies u, a user's mark of a task instance, and if it
	// applied and the task's run had finished, puts the run back to running
	// so the scheduler judges it again: both in one transaction, so a mark
	// never leaves a finished run that its tasks contradict.
	MarkTask(ctx context.Context, u TaskUpdate) (bool, error)
	// ClearTasks puts the named tasks that are not queued, running or
	// restarting back to none, grants each its retries again (max_tries =
	// try_number + retries, as Airflow does, and infra_reruns = 0), deletes
	// their XComs, and puts a finished run back to queued (its ClearNumber
	// + 1), so the scheduler
	// runs them again: all in one transaction, so no downstream xcom_pull
	// and no branch marked success by hand reads a previous try's result.
	// A named restarting task (a running try being stopped: its executor
	// hands it back to none) loses its XComs but keeps its state; a queued
	// or running one keeps both. A mapped task whose instances all end up
	// none becomes its placeholder again (map index 0 becomes -1, the
	// others removed; removed ones are not cleared), so the scheduler
	// expands it over its list as it is then, reviving or adding
	// instances (ExpandTask), as Airflow revises map indexes. It returns
	// how many task instances changed (each instance of a mapped task
	// counts), and ErrNotFound for a missing run.
	ClearTasks(ctx context.Context, dagID, runID string, retries map[string]int, now time.Time) (int, error)
	// ClearMapIndex is ClearTasks of the one instance k of a mapped task
	// (k.Map > 0), granted retries again; its other instances are left
	// alone, as Airflow clears a single map index.
	ClearMapIndex(ctx context.Context, k TaskKey, retries int, now time.Time) (int, error)
	// Heartbeat marks every running try owned by worker as alive at now.
	Heartbeat(ctx context.Context, workerID string, now time.Time) error

	RegisterWorker(ctx context.Context, w Worker) error
	ListWorkers(ctx context.Context) ([]Worker, error)
	// PruneWorkers deletes the workers silent since before (or marked dead)
	// that own no live try: every process start registers one, and the
	// table would otherwise only grow.
	PruneWorkers(ctx context.Context, before time.Time) (int, error)

	SetPool(ctx context.Context, p Pool) error
	ListPools(ctx context.Context) ([]Pool, error)
	// CreatePool inserts a pool; an existing name gives ErrExists, so the
	// API's POST never silently resizes one.
	CreatePool(ctx context.Context, p Pool) error
	// UpdatePool sets the slots and description of an existing pool; a
	// missing one gives ErrNotFound, so a PATCH never creates one.
	UpdatePool(ctx context.Context, p Pool) error
	// DeletePool removes a pool; a missing one gives ErrNotFound.
	DeletePool(ctx context.Context, name string) error

	SetVariable(ctx context.Context, v Variable) error
	GetVariable(ctx context.Context, key string) (Variable, error)
	ListVariables(ctx context.Context) ([]Variable, error)
	DeleteVariable(ctx context.Context, key string) error
	// CreateVariable inserts a variable; an existing key gives ErrExists.
	CreateVariable(ctx context.Context, v Variable) error
	// UpdateVariable replaces value, description and flag of an existing
	// variable; a missing one gives ErrNotFound.
	UpdateVariable(ctx context.Context, v Variable) error
	// ReplaceVariableValue sets the value of old.Key (and whether it is
	// encrypted) only if value and flag still equal old's, and reports
	// whether it did: sealing or re-encrypting never overwrites a
	// concurrent change.
	ReplaceVariableValue(ctx context.Context, old Variable, value string, encrypted bool) (bool, error)

	// SetXCom stores (or replaces) x whatever the state of its task
	// instance, which must exist.
	SetXCom(ctx context.Context, x XCom) error
	// PushXCom is SetXCom for a try's own result: it stores x only while
	// x's task instance is running at try under workerID, the conditions
	// of the try's own success write, and reports whether it did. A try
	// that lost its row (cleared, marked, or taken from a zombie and run
	// again) never overwrites what the current try pushed, nor leaves a
	// value behind the clear that removed its XComs.
	PushXCom(ctx context.Context, x XCom, try int, workerID string) (bool, error)
	GetXCom(ctx context.Context, k TaskKey, key string) (XCom, error)
	// ListXComs returns the XComs a task instance pushed, sorted by key;
	// none (or no such task instance) is an empty list.
	ListXComs(ctx context.Context, k TaskKey) ([]XCom, error)
	// MappedXComs returns what every instance of the mapped task k names
	// (k.Map is ignored) pushed under key, in map index order: what a
	// downstream xcom_pull of a mapped task returns, as a list. Instances
	// that pushed nothing are absent.
	MappedXComs(ctx context.Context, k TaskKey, key string) ([]XCom, error)

	// ExpandTask expands the placeholder of a mapped task (k with Map 0,
	// in state none or scheduled, its row at version) into n instances,
	// map index 0..n-1, in state none, in one transaction; n = 0 skips the
	// placeholder (Airflow skips a task mapped over an empty list).
	// Instances a clear removed (see ClearTasks) come back in state none
	// with their tries if their index is below n and stay removed
	// otherwise. It reports whether it applied: of several schedulers
	// racing to expand one task, exactly one wins, and an expansion
	// decided on a placeholder that was written since (a clear of its
	// upstream, which may change the list) is refused, to be decided again.
	ExpandTask(ctx context.Context, k TaskKey, version int64, n int, now time.Time) (bool, error)

	// CreateConnection inserts a connection; an existing id gives ErrExists,
	// so `connections add` never silently replaces one.
	CreateConnection(ctx context.Context, c ConnectionRecord) error
	// SetConnection creates or replaces a connection.
	SetConnection(ctx context.Context, c ConnectionRecord) error
	GetConnection(ctx context.Context, connID string) (ConnectionRecord, error)
	// ListConnections returns every connection sorted by id.
	ListConnections(ctx context.Context) ([]ConnectionRecord, error)
	// UpdateConnection replaces an existing connection; a missing one gives
	// ErrNotFound, so a PATCH racing a delete does not bring it back.
	UpdateConnection(ctx context.Context, c ConnectionRecord) error
	// DeleteConnection removes a connection; a missing one gives ErrNotFound.
	DeleteConnection(ctx context.Context, connID string) error
	// ReplaceConnectionSecrets sets the password and extra ciphertexts of
	// old.ConnID only if both still equal old's, and reports whether it did:
	// re-encrypting under a new key never overwrites a concurrent change.
	ReplaceConnectionSecrets(ctx context.Context, old ConnectionRecord, password, extra string) (bool, error)

	// CountStates counts runs and task instances by state, and the queued
	// and running tries by pool and queue: what /metrics reports, read at
	// each scrape so that every process (a scheduler, an api-server)
	// reports the same figures without keeping counters of its own.
	CountStates(ctx context.Context) (StateCounts, error)

	Accounts
	NotificationStore
	Assets
}

// StateCounts is what CountStates returns. A state that no row has is
// absent from the maps.
type StateCounts struct {
	Runs  map[RunState]int
	Tasks map[TaskState]int
	// Slots lists, per pool and queue, the tries queued and running there.
	Slots []SlotCount
}

// SlotCount is the number of queued and running tries of one pool and
// queue (pool slots, as Airflow's pool.queued_slots / running_slots count
// them, weigh each try by its pool_slots).
type SlotCount struct {
	Pool, Queue           string
	Queued, Running       int
	QueuedSlots, RunSlots int
}

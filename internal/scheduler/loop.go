package scheduler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sirocco-dev/sirocco/internal/dag"
	"github.com/sirocco-dev/sirocco/internal/store"
)

// Executor is what the loop needs from whatever runs tasks.
type Executor interface {
	// ID is the worker id recorded on the tries it owns.
	ID() string
	// FreeSlots is how many more tasks it accepts now.
	FreeSlots() int
	// Claim returns the write that hands a ready task to this executor,
	// given Decide's queued transition u. An executor that starts a try
	// the moment it gets it (in this process) returns the claim itself
	// (→ running, try counted), which saves a write and its round trip on
	// every hand-off; one that queues work for others returns u.
	Claim(u store.TaskUpdate, now time.Time) store.TaskUpdate
	// SubmitTask hands over a task instance as Claim's write left it (queued
	// or running), with its run. It must not block.
	SubmitTask(ti store.TaskInstance, run store.DagRun)
	// Kill stops a running try (run timeout); the executor records its end.
	Kill(k store.TaskKey)
	// Resume tracks a running try adopted from a dead worker. It must not
	// block.
	Resume(k store.TaskKey)
	// Holds reports whether a try of k was handed over and has not ended.
	Holds(k store.TaskKey) bool
}

// LanedExecutor is an Executor made of several with slots of their own
// (local_kubernetes: the local executor and the Kubernetes one): Decide
// hands a task out only when its lane has a free slot, so a full local
// executor is not handed the Kubernetes one's slots.
type LanedExecutor interface {
	Executor
	// Lane names the executor a task's tries go to.
	Lane(k store.TaskKey) string
	// LaneSlots is the free slots of each lane.
	LaneSlots() map[string]int
}

// DAGSource gives the current DAG definitions (the loaded DAGs folder).
type DAGSource interface {
	DAGs() map[string]*dag.DAG
}

// Clock is the time source of every decision, replaceable in tests.
type Clock interface{ Now() time.Time }

// SystemClock is the wall clock.
type SystemClock struct{}

// Now returns the current time in UTC.
func (SystemClock) Now() time.Time { return time.Now().UTC() }

// Options configure a Loop.
type Options struct {
	Store        store.Store
	DAGs         DAGSource
	Executor     Executor
	Clock        Clock
	Logger       *slog.Logger
	PollInterval time.Duration // how often to look even when nothing kicked us
	ZombieAfter  time.Duration // running try with an older heartbeat is dead
	// OnlyRun, when set, limits the loop to one DAG run and creates no
	// scheduled runs (`dags test`).
	OnlyRun *store.TaskKey
	// Resumable says whether a dead worker's running try can be adopted
	// (its work outlives the worker) instead of being retried.
	Resumable func(store.TaskInstance) bool
	// ResyncEvery is how often the loop re-reads every active task
	// instance instead of only the changed ones; a safety net, as the
	// change feed misses no task instance write. (A run's own state is
	// re-read every PollInterval, on Kick, and after the loop changed one.)
	ResyncEvery time.Duration
	// Metrics, when set, is told each tick's duration and each try's end.
	Metrics Metrics
	// OnNotify, when set, is called after callbacks or deadline alerts
	// were enqueued (the Outbox's Wake).
	OnNotify func()
	// MaxMapLength caps the instances of one mapped task (Airflow's
	// [core] max_map_length); 0 means dag.DefaultMaxMapLength.
	MaxMapLength int
}

// Loop reads snapshots, asks Decide, and applies the plan. It is woken by
// Kick (a task ended, a run was triggered) and by the store's notification
// of a change another process made (Store.Watch), so hand-off takes a
// tick, not a poll interval.
type Loop struct {
	opts    Options
	kick    chan struct{}
	meta    metaCache
	metaAge time.Time
	active  activeSet
	// runsChanged is set by Kick: the next tick reads the active runs and
	// the change feed.
	runsChanged atomic.Bool
	// runsCreated is set by RunCreated: the next tick reads the active runs.
	runsCreated atomic.Bool
	warned      map[store.TaskKey]bool // unschedulable tasks already logged
	// metaStale is set when the workers changed (recovery marked dead
	// ones): the next tick reads them again.
	metaStale atomic.Bool
	held      leftoverHolds
	// choiceCache and branchyDAGs spare the store and the DAGs a read
	// per tick for branching tasks (choices.go).
	choiceCache choiceCache
	branchyDAGs map[*dag.DAG]bool
	// pastDAGs serves depends_on_past (pastdeps.go); the reason a task
	// waits is its note (pastnote.go).
	pastDAGs map[*dag.DAG]bool

	callbacks callbackState // callbacks.go
	assets    assetState

	reportMu sync.Mutex
	reported []store.TaskInstance // rows the executor wrote, for the next tick
	outcomes []*outcome           // outcomes to write in the next tick (Record)
	stopped  bool                 // Run has returned: Record writes directly
}

type metaCache struct {
	paused        map[string]bool
	pools         map[string]int
	lastScheduled map[string]dag.Interval
	liveWorkers   map[string]bool
}

// NewLoop returns a loop; call Run to start it.
func NewLoop(opts Options) *Loop {
	if opts.Clock == nil {
		opts.Clock = SystemClock{}
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = time.Second
	}
	if opts.ZombieAfter <= 0 {
		opts.ZombieAfter = 5 * time.Minute
	}
	if opts.ResyncEvery <= 0 {
		opts.ResyncEvery = time.Minute
	}
	l := &Loop{opts: opts, kick: make(chan struct{}, 1)}
	if opts.Metrics != nil {
		l.active.ended = opts.Metrics.ObserveTryEnd
	}
	return l
}

// Kick asks for a tick as soon as possible, with the active runs read
// again: something outside the loop (the API, a trigger) may have changed
// them. It never blocks.
func (l *Loop) Kick() {
	l.runsChanged.Store(true)
	l.assets.stale.Store(true) // an asset event recorded by hand (the API)
	l.Wake()
}

// RunCreated asks for a tick as soon as possible that reads the active
// runs: a run was created (a trigger in this process). Its task instances
// are all new, so the tick reads that run in full and needs no change
// feed, which Kick would read. It never blocks.
func (l *Loop) RunCreated() {
	l.runsCreated.Store(true)
	l.Wake()
}

// Report hands the loop task instances as the executor has just written
// them (a try's outcome) and asks for a tick. The tick applies them to its
// snapshot instead of reading the store, so a hand-off costs the outcome's
// write and the next task's claim, and nothing else. A row must be
// reported only after its write committed. It never blocks.
func (l *Loop) Report(rows ...store.TaskInstance) {
	if len(rows) > 0 {
		l.reportMu.Lock()
		l.reported = append(l.reported, rows...)
		l.reportMu.Unlock()
	}
	l.Wake()
}

// takeReported returns the rows reported since the last call.
func (l *Loop) takeReported() []store.TaskInstance {
	l.reportMu.Lock()
	defer l.reportMu.Unlock()
	rows := l.reported
	l.reported = nil
	return rows
}

// holds reports whether the executor holds a try of k, or has ended it
// and reported its outcome for a tick still to come: the executor lets go
// of a try only after reporting it, so a tick that has already taken the
// reports never mistakes that row for lost.
func (l *Loop) holds(k store.TaskKey) bool {
	if l.opts.Executor.Holds(k) {
		return true
	}
	l.reportMu.Lock()
	defer l.reportMu.Unlock()
	for _, ti := range l.reported {
		if ti.TaskKey == k {
			return true
		}
	}
	return false
}

// Wake asks for a tick as soon as possible. It never blocks.
func (l *Loop) Wake() {
	select {
	case l.kick <- struct{}{}:
	default:
	}
}

// Run ticks until ctx ends.
func (l *Loop) Run(ctx context.Context) error {
	defer l.stop()
	wakes := l.watch(ctx)
	timer := time.NewTimer(l.opts.PollInterval)
	defer timer.Stop()
	for {
		began := time.Now()
		changed, wake, err := l.tick(ctx)
		if l.opts.Metrics != nil {
			l.opts.Metrics.ObserveTick(time.Since(began))
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			l.opts.Logger.Error("scheduler tick failed", "err", err)
		}
		if changed {
			l.Wake() // apply has marked run changes itself
		}
		wait := l.opts.PollInterval
		if !wake.IsZero() {
			wait = min(wait, max(wake.Sub(l.opts.Clock.Now()), 0))
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return nil
		case <-l.kick:
		case <-wakes:
			l.changedElsewhere()
		case <-timer.C:
		}
	}
}

// watch asks the store to tell the loop when another process (the CLI, an
// API server, another scheduler) changed something, so that a run
// triggered there starts at once rather than at the next poll. The watch
// is in place before the first tick reads anything. Without it the loop
// polls.
func (l *Loop) watch(ctx context.Context) <-chan struct{} {
	wakes, err := l.opts.Store.Watch(ctx)
	if err != nil {
		l.opts.Logger.Warn("cannot watch the database for changes by other processes; polling only",
			"poll_interval", l.opts.PollInterval, "err", err)
	}
	return wakes
}

// changedElsewhere marks what another process may have changed: runs, task
// instances (the change feed) and what refreshMeta reads (a pause, a
// pool). The store does not deliver the loop's own writes, so they never
// bring it here. It is Kick without the wake-up: the loop is already awake.
func (l *Loop) changedElsewhere() {
	l.metaStale.Store(true)
	l.runsChanged.Store(true)
	l.assets.stale.Store(true)
}

// Tick performs one snapshot → decide → apply round and reports whether
// anything changed.
func (l *Loop) Tick(ctx context.Context) (bool, error) {
	changed, _, err := l.tick(ctx)
	return changed, err
}

func (l *Loop) tick(ctx context.Context) (bool, time.Time, error) {
	snap, err := l.snapshot(ctx)
	outs := l.takeOutcomes()
	if err == nil && ctx.Err() != nil {
		err = ctx.Err() // shutting down: record what ended, start nothing
	}
	if err != nil {
		l.writeAlone(outs)
		return false, time.Time{}, err
	}
	// The tries behind the outcomes have ended; their slots are free for
	// the tasks they hand off to, though their goroutines wait for this
	// tick to answer.
	snap.FreeSlots += len(outs)
	if snap.Lane != nil {
		for _, o := range outs {
			snap.LaneSlots[snap.Lane(o.u.Key)]++
		}
	}
	as := l.assume(outs)
	snap.Choices = l.choices(ctx, snap) // after assume: a branch's success this tick counts
	snap.PastDeps, snap.PastBlockers = l.pastDeps(ctx, snap)
	l.writePastNotes(ctx, snap.PastDeps) // snap.TIs is the active set's: Decide sees the notes' versions
	plan := Decide(snap)
	if l.opts.OnlyRun != nil {
		plan.CreateRuns, plan.AssetRuns = nil, nil
	}
	l.warnUnschedulable(plan.Unschedulable)
	if plan.Empty() && len(outs) == 0 {
		err := l.enqueueTaskNotes(ctx, snap.Now)
		next, derr := l.deadlines(ctx, snap.Now)
		errs := append([]error{err, derr}, l.recordAssetEvents(ctx, snap)...)
		return false, earliest(plan.WakeAt, next), errors.Join(errs...)
	}
	err = l.apply(ctx, snap, plan, outs, as)
	next, derr := l.deadlines(ctx, snap.Now)
	return plan.needsAnotherLook(), earliest(plan.WakeAt, next), errors.Join(err, derr)
}

func (l *Loop) snapshot(ctx context.Context) (Snapshot, error) {
	st := l.opts.Store
	now := l.opts.Clock.Now()
	if stale := l.metaStale.Swap(false); stale || now.Sub(l.metaAge) >= l.opts.PollInterval || l.meta.paused == nil {
		if err := l.refreshMeta(ctx, now); err != nil {
			return Snapshot{}, err
		}
	}
	if l.runsChanged.Swap(false) {
		l.active.markRunsChanged()
		l.active.markFeedStale()
	}
	if l.runsCreated.Swap(false) {
		l.active.markRunsChanged()
	}
	// Reported rows are taken before the store is read: each was committed
	// before it was reported, so whatever the read returns is as new.
	reported := l.takeReported()
	l.sawRows(reported)
	l.active.applyReported(reported)
	ro := refreshOptions{resyncEvery: l.opts.ResyncEvery, runsEvery: l.opts.PollInterval, feedEvery: l.opts.PollInterval,
		keep: l.ownsRun}
	runs, err := l.active.refresh(ctx, st, now, ro)
	if err != nil {
		return Snapshot{}, err
	}
	if l.workerNewerThanMeta(now) {
		if err := l.refreshMeta(ctx, now); err != nil {
			return Snapshot{}, err
		}
	}
	snap := Snapshot{
		Now:           now,
		DAGs:          l.opts.DAGs.DAGs(),
		Paused:        l.meta.paused,
		Runs:          runs,
		TIs:           l.active.tis, // read-only for Decide and apply
		LastScheduled: l.meta.lastScheduled,
		Pools:         l.meta.pools,
		FreeSlots:     l.opts.Executor.FreeSlots(),
		LiveWorkers:   l.meta.liveWorkers,
		ZombieAfter:   l.opts.ZombieAfter,
		WorkerID:      l.opts.Executor.ID(),
		Resumable:     l.opts.Resumable,
		Held:          l.holds,
		Leftovers:     l.held.has,
	}
	if lx, ok := l.opts.Executor.(LanedExecutor); ok {
		snap.Lane, snap.LaneSlots = lx.Lane, lx.LaneSlots()
	}
	if snap.AssetQueue, err = l.assetQueue(ctx, snap.DAGs, now); err != nil {
		return Snapshot{}, err
	}
	return snap, nil
}

// workerNewerThanMeta reports whether a running try names a worker the
// live set lacks though the row's own heartbeat is recent: a worker that
// registered after the set was read (a worker pod taking its try over
// between the set's read and the rows'). Its try is not a zombie's; the
// set must be read again before deciding so.
func (l *Loop) workerNewerThanMeta(now time.Time) bool {
	for i := range l.active.tis {
		ti := &l.active.tis[i]
		if ti.State != store.StateRunning || ti.WorkerID == "" || l.meta.liveWorkers[ti.WorkerID] {
			continue
		}
		if !ti.HeartbeatAt.IsZero() && now.Sub(ti.HeartbeatAt) <= l.opts.ZombieAfter {
			return true
		}
	}
	return false
}

// refreshMeta reloads what changes rarely: pauses, pools, workers and the
// last scheduled interval of each DAG.
func (l *Loop) refreshMeta(ctx context.Context, now time.Time) error {
	st := l.opts.Store
	m := metaCache{
		paused: map[string]bool{}, pools: map[string]int{},
		lastScheduled: map[string]dag.Interval{}, liveWorkers: map[string]bool{},
	}
	recs, err := st.ListDAGs(ctx)
	if err != nil {
		return fmt.Errorf("list dags: %w", err)
	}
	for _, r := range recs {
		m.paused[r.DagID] = r.Paused
	}
	pools, err := st.ListPools(ctx)
	if err != nil {
		return fmt.Errorf("list pools: %w", err)
	}
	for _, p := range pools {
		m.pools[p.Name] = p.Slots
	}
	workers, err := st.ListWorkers(ctx)
	if err != nil {
		return fmt.Errorf("list workers: %w", err)
	}
	for _, w := range workers {
		if now.Sub(w.HeartbeatAt) <= l.opts.ZombieAfter {
			m.liveWorkers[w.ID] = true
		}
	}
	for id, d := range l.opts.DAGs.DAGs() {
		if !dag.IsPeriodic(d.Schedule) {
			continue
		}
		last, err := st.LastScheduledRun(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return fmt.Errorf("last scheduled run of %s: %w", id, err)
		}
		m.lastScheduled[id] = dag.Interval{Start: last.DataIntervalStart, End: last.DataIntervalEnd}
	}
	l.meta, l.metaAge = m, now
	return nil
}

// apply performs the plan. Task writes go first, in one batch with the
// outcomes the tick decided on (outs); run updates follow, except for runs
// where an assumed outcome was not written. A write that fails is reported
// and skipped, so one bad row never stalls the hand-offs of every other DAG.
func (l *Loop) apply(ctx context.Context, snap Snapshot, plan Plan, outs []*outcome, as []assumed) error {
	st := l.opts.Store
	log := l.opts.Logger
	var errs []error
	errs = append(errs, l.createRuns(ctx, snap, plan.CreateRuns)...)
	errs = append(errs, l.createAssetRuns(ctx, snap, plan.AssetRuns)...)
	runs := make(map[runKey]*store.DagRun, len(snap.Runs))
	for i := range snap.Runs {
		runs[runKey{snap.Runs[i].DagID, snap.Runs[i].RunID}] = &snap.Runs[i]
	}
	// The outcomes first, then the plan's writes; a queued transition
	// becomes whatever hands the task to the executor, and whatever rests on
	// an assumed outcome requires it.
	writes := make([]store.TaskUpdate, 0, len(outs)+len(plan.TaskUpdates))
	befores := make([]*store.TaskInstance, 0, cap(writes)) // the row each write was decided on
	old := make(map[store.TaskKey]*store.TaskInstance, len(as))
	for i := range as {
		old[as[i].o.u.Key] = &as[i].old
	}
	for _, o := range outs {
		writes = append(writes, o.u)
		befores = append(befores, old[o.u.Key]) // an outcome not assumed is not confirmed
	}
	reqs := requirements(snap, as, plan.TaskUpdates)
	for i, u := range plan.TaskUpdates {
		if u.To == store.StateQueued {
			due := u.DueBy
			u = l.opts.Executor.Claim(u, snap.Now)
			u.DueBy = due
		}
		u.Requires = reqs[i]
		var before *store.TaskInstance
		if at, ok := l.active.index[u.Key]; ok {
			row := l.active.tis[at] // for an outcome's task, the outcome as assumed
			before = &row
		}
		writes = append(writes, l.dropPastNote(snap, u, before))
		befores = append(befores, before)
	}
	// Outcomes must be written even while Sirocco shuts down, as the
	// executor would have written them itself.
	wctx := ctx
	if len(outs) > 0 {
		var cancel context.CancelFunc
		wctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), outcomeTimeout)
		defer cancel()
	}
	ws, werrs := l.updateTasks(wctx, writes, befores)
	errs = append(errs, werrs...)
	tainted := l.settle(outs, as, ws[:len(outs)], werrs[:len(outs)])
	l.sawWritten(ws[:len(outs)])
	ws = ws[len(outs):]
	// The snapshot takes the rows as written before the executor gets
	// them; a row's version keeps any older copy from replacing it later.
	for _, w := range ws {
		if w.OK {
			l.active.set(w.Row)
		}
	}
	for i, u := range plan.TaskUpdates {
		if u.To != store.StateQueued || !ws[i].OK {
			continue
		}
		run := runs[runKey{u.Key.DagID, u.Key.RunID}]
		if run == nil {
			continue // not from this snapshot: cannot happen, Decide only queues what it saw
		}
		l.opts.Executor.SubmitTask(ws[i].Row, *run)
	}
	// Callbacks of the tasks this tick has seen are written before any
	// run ends (callbacks.go); if they cannot be, no run ends this tick.
	noteErr := l.enqueueTaskNotes(ctx, snap.Now)
	if _, err := l.deadlines(ctx, snap.Now); err != nil { // a deadline passed this tick alerts, though the run ends
		noteErr = errors.Join(noteErr, err)
	}
	errs = append(errs, noteErr)
	// Asset events too: a run that ended without them would leave the
	// loop's sight with its events never written.
	assetErrs := l.recordAssetEvents(ctx, snap)
	errs = append(errs, assetErrs...)
	holdEnds := noteErr != nil || len(assetErrs) > 0
	for _, u := range plan.RunUpdates {
		if tainted[runKey{u.DagID, u.RunID}] || (holdEnds && u.To.Finished()) {
			continue // decided on an outcome that was not written: the next tick decides again
		}
		clears := 0
		if r := runs[runKey{u.DagID, u.RunID}]; r != nil {
			clears = r.ClearNumber
		}
		u.Notify = l.runNotes(snap.DAGs[u.DagID], u, clears, snap.Now)
		ok, err := st.UpdateRun(ctx, u)
		if err != nil || !ok {
			l.active.markRunsChanged() // someone else changed it: read it again
			if u.Tasks != nil {
				l.active.rereadRun(runKey{u.DagID, u.RunID}) // or its tasks
			}
		} else {
			l.active.runUpdated(u)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("update run %s/%s to %s: %w", u.DagID, u.RunID, u.To, err))
			continue
		}
		if ok && u.To.Finished() {
			if to, ok := plan.TimedOut[runKey{u.DagID, u.RunID}]; ok {
				log.Info("run finished", "dag_id", u.DagID, "run_id", u.RunID, "state", u.To,
					"reason", fmt.Sprintf("dagrun_timeout %s exceeded", to))
			} else {
				log.Info("run finished", "dag_id", u.DagID, "run_id", u.RunID, "state", u.To)
			}
			if len(u.Notify) > 0 {
				l.notifyOutbox()
			}
		}
	}
	errs = append(errs, l.expand(ctx, snap, plan.Expand)...)
	for _, k := range plan.Kill {
		l.opts.Executor.Kill(k)
	}
	for _, a := range plan.Adopt {
		now := snap.Now
		me := l.opts.Executor.ID()
		w, err := st.UpdateTaskRow(ctx, store.TaskUpdate{
			Key: a.Key, From: []store.TaskState{store.StateRunning}, FromWorker: &a.FromWorker,
			To: store.StateRunning, WorkerID: &me, HeartbeatAt: &now,
		})
		if err != nil {
			errs = append(errs, fmt.Errorf("adopt task %s/%s/%s: %w", a.Key.DagID, a.Key.RunID, a.Key.TaskID, err))
			continue
		}
		if w.OK {
			l.active.set(w.Row)
			log.Info("adopted a running try from a dead worker", "dag_id", a.Key.DagID, "run_id", a.Key.RunID,
				"task_id", a.Key.TaskID, "from_worker", a.FromWorker)
			l.opts.Executor.Resume(a.Key)
		}
	}
	return errors.Join(errs...)
}

// warnUnschedulable logs, once per task instance, a ready task that its
// pool can never hold, so a pool set to 0 or too small is not a silent
// stall.
func (l *Loop) warnUnschedulable(us []Unschedulable) {
	for _, u := range us {
		if l.warned[u.Key] {
			continue
		}
		if l.warned == nil || len(l.warned) > 10000 {
			l.warned = map[store.TaskKey]bool{}
		}
		l.warned[u.Key] = true
		if u.Missing {
			l.opts.Logger.Warn("task uses a pool that does not exist; it will not run until the pool is created",
				"dag_id", u.Key.DagID, "run_id", u.Key.RunID, "task_id", u.Key.TaskID, "pool", u.Pool)
			continue
		}
		l.opts.Logger.Warn("task needs more slots than its pool has; it will not run until the pool grows",
			"dag_id", u.Key.DagID, "run_id", u.Key.RunID, "task_id", u.Key.TaskID, "pool", u.Pool,
			"pool_slots", u.Need, "pool_size", u.Size)
	}
}

// NewRunRecords builds a run and its task instances for d; the CLI uses it
// for manual triggers and backfills, the loop for scheduled runs.
func NewRunRecords(d *dag.DAG, typ store.RunType, iv dag.Interval, conf map[string]any, now time.Time) (store.DagRun, []store.TaskInstance) {
	run := store.DagRun{
		DagID: d.ID, RunID: RunID(typ, iv.Start), RunType: typ, State: store.RunQueued,
		LogicalDate: iv.Start, DataIntervalStart: iv.Start, DataIntervalEnd: iv.End,
		Conf: conf, QueuedAt: now,
	}
	tis := make([]store.TaskInstance, len(d.Tasks))
	for i, t := range d.Tasks {
		tis[i] = store.TaskInstance{
			TaskKey:  store.TaskKey{DagID: d.ID, RunID: run.RunID, TaskID: t.ID},
			MaxTries: t.Retries, Pool: t.Pool, PoolSlots: t.PoolSlots,
			PriorityWeight: t.PriorityWeight, Queue: t.Queue,
		}
	}
	return run, tis
}

// RunID is Airflow's run id format: "<type>__<logical date>".
func RunID(typ store.RunType, logical time.Time) string {
	return string(typ) + "__" + logical.UTC().Format("2006-01-02T15:04:05.999999Z07:00")
}

// ownsRun reports whether the loop decides on run r. A `dags test` loop
// (OnlyRun) owns its one run; every other loop owns every run but the
// test runs, which belong to the `dags test` process that created them:
// no scheduler starts, claims, times out or adopts their tries, even
// while that process runs beside it on the same database.
func (l *Loop) ownsRun(r store.DagRun) bool {
	if only := l.opts.OnlyRun; only != nil {
		return r.DagID == only.DagID && r.RunID == only.RunID
	}
	return r.RunType != store.RunTest
}

package scheduler

import (
	"maps"
	"sort"
	"time"

	"github.com/sirocco-dev/sirocco/internal/dag"
	"github.com/sirocco-dev/sirocco/internal/store"
)

// Snapshot is everything Decide looks at. The loop builds it from the store
// and the DAG bag; tests build it by hand.
type Snapshot struct {
	Now  time.Time
	DAGs map[string]*dag.DAG
	// Paused DAGs get no new scheduled runs; their active runs finish.
	Paused map[string]bool
	// Runs are the active (queued or running) runs, any order.
	Runs []store.DagRun
	// TIs holds the task instances of the active runs.
	TIs []store.TaskInstance
	// LastScheduled is the data interval of each DAG's latest scheduled run.
	LastScheduled map[string]dag.Interval
	// Pools gives each pool's size; a pool missing here has 0 slots, except
	// the default pool which falls back to 128.
	Pools map[string]int
	// FreeSlots is how many more tasks the executor accepts now.
	FreeSlots int
	// Lane, when set, names the executor of a task where the executor is
	// made of several with slots of their own (local_kubernetes): a task
	// is then handed out only if LaneSlots of its lane has one too.
	Lane      func(store.TaskKey) string
	LaneSlots map[string]int
	// LiveWorkers are the executors whose heartbeat is recent; a queued or
	// running try owned by any other worker is an orphan or a zombie.
	LiveWorkers map[string]bool
	// ZombieAfter is how old a running try's heartbeat may be.
	ZombieAfter time.Duration
	// WorkerID is the executor the queued tasks are handed to.
	WorkerID string
	// Resumable says whether a zombie's work outlives its worker (a
	// cluster-mode driver): such a try is adopted, not retried, so the
	// work is never submitted twice. Nil means nothing is resumable.
	Resumable func(store.TaskInstance) bool
	// Held says whether our executor holds a try of a task; our own queued
	// or running rows it does not hold were lost (a claim or final write
	// that failed) and are handled like a dead worker's. Nil means all.
	Held func(store.TaskKey) bool
	// Choices holds what the successful branch and short_circuit tries of
	// the active runs decided, read from the result each stored before its
	// success was written. The direct downstream tasks of one missing here
	// wait until it is read.
	Choices map[store.TaskKey]Choice
	// AssetQueue holds, by consuming DAG, the asset events not consumed
	// yet (nil when no DAG is scheduled on assets).
	AssetQueue map[string][]store.QueuedAssetEvent
	// Leftovers says whether a try of a dead worker may still have
	// processes that recovery is killing: such a try is not run again (a
	// zombie retried, a restarting try handed back) until they are gone,
	// so a task never runs beside what is left of its previous try. Nil
	// means none.
	Leftovers func(store.TaskKey) bool
	// PastDeps says, for each waiting instance of a depends_on_past task,
	// whether the previous run lets it start (pastdeps.go); one missing
	// here waits.
	PastDeps map[store.TaskKey]PastDep
	// PastBlockers are queued runs that a running run's depends_on_past
	// task waits for (a cleared or late-created earlier run): they start
	// even beyond max_active_runs, as the run holding the slot cannot
	// end before them.
	PastBlockers map[runKey]bool
}

// Adoption is a running try of a dead worker that this scheduler's executor
// takes over.
type Adoption struct {
	Key        store.TaskKey
	FromWorker string
}

// NewRun is a scheduled run the plan wants created.
type NewRun struct {
	DagID    string
	Interval dag.Interval
}

// Plan is Decide's answer. The applier performs each write conditionally; a
// write that loses a race is simply dropped and the next tick decides again.
type Plan struct {
	CreateRuns  []NewRun
	AssetRuns   []AssetRun
	RunUpdates  []store.RunUpdate
	TaskUpdates []store.TaskUpdate
	// Kill lists running tries to stop because their run timed out.
	Kill []store.TaskKey
	// Expand lists the placeholders of mapped tasks whose upstream tasks
	// are done: the loop reads their lists and expands them (mapping.go).
	Expand []Expansion
	// Adopt lists zombie tries whose remote work is still tracked.
	Adopt []Adoption
	// WakeAt is the earliest future moment a decision is due without any
	// event (a retry delay ending, a run timing out); zero if none.
	WakeAt time.Time
	// Unschedulable lists ready tasks that no free slot will ever let run:
	// their pool does not exist or is smaller than their pool_slots. The
	// loop warns about them, as Airflow's scheduler does.
	Unschedulable []Unschedulable
	// TimedOut lists the runs the plan fails for their dagrun_timeout, and
	// the timeout, which the loop's log line of the run's end gives.
	TimedOut map[runKey]time.Duration
}

// Unschedulable is a ready task its pool can never hold.
type Unschedulable struct {
	Key        store.TaskKey
	Pool       string
	Need, Size int
	Missing    bool // the pool does not exist (0 slots)
}

func (p *Plan) wakeAt(t time.Time) {
	if p.WakeAt.IsZero() || t.Before(p.WakeAt) {
		p.WakeAt = t
	}
}

// needsAnotherLook reports whether applying the plan can make more
// decisions due at once (a run created or finished, a task skipped). A plan
// that only queues tasks needs none: the executor wakes the loop when they end.
func (p *Plan) needsAnotherLook() bool {
	if len(p.CreateRuns) > 0 || len(p.AssetRuns) > 0 || len(p.RunUpdates) > 0 || len(p.Kill) > 0 || len(p.Adopt) > 0 || len(p.Expand) > 0 {
		return true
	}
	for _, u := range p.TaskUpdates {
		if u.To != store.StateQueued && u.To != store.StateScheduled {
			return true
		}
	}
	return false
}

// Empty reports whether the plan changes nothing.
func (p *Plan) Empty() bool {
	return len(p.CreateRuns) == 0 && len(p.AssetRuns) == 0 && len(p.RunUpdates) == 0 && len(p.TaskUpdates) == 0 && len(p.Kill) == 0 &&
		len(p.Adopt) == 0 && len(p.Expand) == 0
}

type runKey struct{ dagID, runID string }

// Decide is the scheduler: a pure function of the snapshot (and its clock).
func Decide(s Snapshot) Plan {
	var p Plan
	now := s.Now

	byRun := groupByRun(s.TIs, len(s.Runs))
	activeRuns := make(map[string]int)  // queued + running, per DAG
	runningRuns := make(map[string]int) // running, per DAG
	for _, r := range s.Runs {
		activeRuns[r.DagID]++
		if r.State == store.RunRunning {
			runningRuns[r.DagID]++
		}
	}

	p.CreateRuns = dueRuns(s, activeRuns)
	p.AssetRuns = assetRuns(s)

	// Slot accounting across every active run.
	poolUsed := make(map[string]int)
	dagTasksActive := make(map[string]int)
	var tisActive map[taskRef]int // per task, with max_active_tis_per_dag only
	for _, ti := range s.TIs {
		if ti.State == store.StateQueued || ti.State == store.StateRunning {
			poolUsed[ti.Pool] += ti.PoolSlots
			dagTasksActive[ti.DagID]++
			tisActive = countTIPerDAG(s, tisActive, &ti)
		}
	}

	// Start queued runs, oldest logical date first, within max_active_runs.
	runs := append([]store.DagRun(nil), s.Runs...)
	sort.SliceStable(runs, func(i, j int) bool { return runs[i].LogicalDate.Before(runs[j].LogicalDate) })
	var candidates []candidate
	for _, r := range runs {
		d := s.DAGs[r.DagID]
		if d == nil {
			continue // DAG file gone or broken: leave the run alone until it returns
		}
		tis := byRun[runKey{r.DagID, r.RunID}]
		switch r.State {
		case store.RunQueued:
			if runningRuns[r.DagID] >= d.MaxActiveRuns && !s.PastBlockers[runKey{r.DagID, r.RunID}] {
				continue
			}
			runningRuns[r.DagID]++
			start := now
			p.RunUpdates = append(p.RunUpdates, store.RunUpdate{
				DagID: r.DagID, RunID: r.RunID, From: []store.RunState{store.RunQueued},
				To: store.RunRunning, StartDate: &start,
			})
			r.StartDate = now
		case store.RunRunning:
		default:
			continue
		}
		// A run whose tasks have all finished is judged on them first: a
		// mark reopens a finished run with its start date kept, and the
		// timeout would otherwise fail it for the time since it started.
		if done, state := runOutcome(d, tis); done {
			end := now
			p.RunUpdates = append(p.RunUpdates, store.RunUpdate{
				DagID: r.DagID, RunID: r.RunID, From: []store.RunState{store.RunRunning, store.RunQueued},
				To: state, EndDate: &end, Tasks: store.SeeTasks(tis),
			})
			continue
		}
		if d.DagrunTimeout > 0 && !r.StartDate.IsZero() {
			if now.Sub(r.StartDate) > d.DagrunTimeout {
				p.timeoutRun(s, r, tis, now, d.DagrunTimeout)
				continue
			}
			p.wakeAt(r.StartDate.Add(d.DagrunTimeout + time.Millisecond))
		}
		candidates = append(candidates, p.evaluateRun(s, d, r, tis)...)
	}

	p.queue(s, candidates, poolUsed, dagTasksActive, tisActive)
	return p
}

// candidate is a task whose dependencies are met and that waits for a slot.
type candidate struct {
	ti      *store.TaskInstance
	task    *dag.Task
	logical time.Time
	order   int
}

// evaluateRun decides the waiting, orphaned and zombie tasks of one run and
// returns those ready to be queued.
func (p *Plan) evaluateRun(s Snapshot, d *dag.DAG, r store.DagRun, tis []*store.TaskInstance) []candidate {
	now := s.Now
	// The states as this tick sees them: a skip decided here cascades to the
	// tasks after it in the same tick.
	states := make([]store.TaskState, len(tis))
	for i, ti := range tis {
		states[i] = ti.State
	}
	// Rows are created in the DAG's task order, so upstream states are
	// found by position; only a run whose DAG changed since needs a map.
	aligned := len(tis) == len(d.Tasks)
	for i := 0; aligned && i < len(tis); i++ {
		aligned = tis[i].TaskID == d.Tasks[i].ID
	}
	var byID *taskRows // a mapped task has several instances
	if !aligned {
		byID = indexByTask(tis)
	}
	var lastID string // the instances of a mapped task come one after the other
	var lastTask *dag.Task
	task := func(i int) *dag.Task {
		if aligned {
			return d.Tasks[i]
		}
		if id := tis[i].TaskID; id != lastID || lastTask == nil {
			lastID, lastTask = id, d.Task(id)
		}
		return lastTask
	}
	// waiting counts the instances of the current mapped task that wait
	// for a slot and were made candidates: at most FreeSlots of them can
	// get one this tick, so the others are not even looked at.
	var waitingTask *dag.Task
	waiting := 0
	wait := func(ti *store.TaskInstance, t *dag.Task) bool {
		if !ti.Mapped() {
			return true
		}
		if t != waitingTask {
			waitingTask, waiting = t, 0
		}
		waiting++
		return waiting <= s.FreeSlots
	}
	gates := branchGates(s, d, tis, task, func(id string) []int {
		if byID == nil { // only runs with a successful branching task get here
			byID = indexByTask(tis)
		}
		return byID.list(id)
	})
	var out []candidate
	var ups []store.TaskState
	for order, ti := range tis {
		t := task(order)
		if t == nil {
			// Removed from the DAG since the run was created: a waiting
			// instance is marked removed (a running one ends on its own).
			if !ti.State.Finished() && ti.State != store.StateRunning {
				p.TaskUpdates = append(p.TaskUpdates, store.TaskUpdate{
					Key: ti.TaskKey, From: []store.TaskState{ti.State}, To: store.StateRemoved,
				})
			}
			continue
		}
		if g := gates[order]; g != open {
			if g == gateSkipped && p.skipByBranch(s, ti, now) {
				if ti.State == store.StateNone || ti.State == store.StateScheduled {
					// No try races this write: the tasks after it follow
					// it in this plan. A try under way may win over the
					// skip (its claim, its success); they wait to see.
					states[order] = store.StateSkipped
				}
				continue
			}
			if g == held && notStarted(ti.State) {
				continue // its upstream branch's choice is not read yet
			}
		}
		switch ti.State {
		case store.StateNone:
			ups = ups[:0]
			if aligned {
				for _, j := range d.UpstreamIndexes(order) {
					ups = append(ups, states[j])
				}
			} else {
				for _, up := range t.DependsOn {
					// Every instance of a mapped task; none for a task added since.
					byID.each(up, func(j int) { ups = append(ups, states[j]) })
				}
			}
			v := evaluate(t.TriggerRule, countUpstream(ups))
			if v == ready {
				v = s.crossRun(d, r, t, ti.TaskKey)
			}
			switch {
			case v == ready && t.Mapped() && !ti.Mapped():
				p.Expand = append(p.Expand, Expansion{ti.TaskKey, ti.Version}) // its lists can be read now
			case v == ready:
				out = append(out, candidate{ti, t, r.LogicalDate, order})
			case v == markSkipped:
				p.finish(ti, store.StateSkipped, now)
				states[order] = store.StateSkipped
			case v == markUpstreamFailed:
				p.finish(ti, store.StateUpstreamFailed, now)
				states[order] = store.StateUpstreamFailed
			}
		case store.StateScheduled:
			if wait(ti, t) {
				out = append(out, candidate{ti, t, r.LogicalDate, order})
			}
		case store.StateUpForRetry, store.StateUpForReschedule:
			if !now.Before(ti.NextRetryAt) && wait(ti, t) {
				out = append(out, candidate{ti, t, r.LogicalDate, order})
			} else {
				p.wakeAt(ti.NextRetryAt)
			}
		case store.StateQueued:
			if (!s.LiveWorkers[ti.WorkerID] && ti.WorkerID != s.WorkerID) || s.lost(ti) {
				// Queued for an executor that is gone: it never started, so
				// hand it out again without spending a try.
				p.TaskUpdates = append(p.TaskUpdates, store.TaskUpdate{
					Key: ti.TaskKey, From: []store.TaskState{store.StateQueued}, To: store.StateScheduled,
				})
			}
		case store.StateRestarting:
			// Normally the executor hands it back once the try is stopped;
			// if that executor is gone, nobody else will.
			if p.isZombie(s, ti) && !s.leftovers(ti) {
				u := store.TaskUpdate{Key: ti.TaskKey, From: []store.TaskState{store.StateRestarting}, To: store.StateNone}
				EndPokes(&u, *ti) // a cleared sensor starts again
				p.TaskUpdates = append(p.TaskUpdates, u)
			}
		case store.StateRunning:
			if p.isZombie(s, ti) {
				switch {
				case s.Resumable != nil && s.Resumable(*ti):
					p.Adopt = append(p.Adopt, Adoption{Key: ti.TaskKey, FromWorker: ti.WorkerID})
				case s.leftovers(ti):
					// Recovery is still killing its processes; it wakes
					// the loop when they are gone.
				default:
					p.failTry(t, ti, now)
				}
			}
		}
	}
	return out
}

// isZombie reports whether a running try has lost its executor.
func (p *Plan) isZombie(s Snapshot, ti *store.TaskInstance) bool {
	if ti.WorkerID == s.WorkerID {
		return s.lost(ti) // ours: the executor reports its end itself, unless it lost the try
	}
	if !s.LiveWorkers[ti.WorkerID] {
		return true
	}
	last := ti.HeartbeatAt
	if last.IsZero() {
		last = ti.StartDate
	}
	return s.ZombieAfter > 0 && s.Now.Sub(last) > s.ZombieAfter
}

// lost reports whether one of our own queued or running rows is no longer
// held by our executor.
func (s Snapshot) lost(ti *store.TaskInstance) bool {
	return ti.WorkerID == s.WorkerID && s.Held != nil && !s.Held(ti.TaskKey)
}

// leftovers reports whether recovery is still killing the processes of a
// dead worker's try.
func (s Snapshot) leftovers(ti *store.TaskInstance) bool {
	return s.Leftovers != nil && s.Leftovers(ti.TaskKey)
}

// failTry ends a running try that died: retry if tries remain, else failed.
func (p *Plan) failTry(t *dag.Task, ti *store.TaskInstance, now time.Time) {
	u := FailureUpdate(t, *ti, now)
	p.TaskUpdates = append(p.TaskUpdates, u)
}

// FailureUpdate is the transition for a try that failed: up_for_retry with
// the task's delay while tries remain, else failed. The executor uses it too,
// so the retry policy lives in one place.
func FailureUpdate(t *dag.Task, ti store.TaskInstance, now time.Time) store.TaskUpdate {
	end := now
	u := store.TaskUpdate{Key: ti.TaskKey, From: []store.TaskState{store.StateRunning}, EndDate: &end}
	if ti.TryNumber <= ti.MaxTries {
		next := now.Add(t.RetryDelayFor(ti.TryNumber))
		u.To = store.StateUpForRetry
		u.NextRetryAt = &next
	} else {
		u.To = store.StateFailed
	}
	EndPokes(&u, ti)
	return u
}

// finish ends a task that has not started (none or scheduled) without
// running it.
func (p *Plan) finish(ti *store.TaskInstance, to store.TaskState, now time.Time) {
	end := now
	p.TaskUpdates = append(p.TaskUpdates, store.TaskUpdate{
		Key: ti.TaskKey, From: []store.TaskState{ti.State}, To: to, StartDate: &end, EndDate: &end,
	})
}

// timeoutRun fails a run past its dagrun_timeout: running tries are killed,
// tasks that have not started are skipped, as Airflow does. A skipped
// task's note says the timeout skipped it, and why it was waiting if the
// previous run held it: the note is the only place that is kept, and
// `--wait`'s end and `tasks logs` give it. A user's note stays.
//
// A running try whose worker is gone has no executor to kill it: one with
// remote work (a cluster driver) is adopted, and the adopting executor
// stops that work because the run has ended; one without is failed.
func (p *Plan) timeoutRun(s Snapshot, r store.DagRun, tis []*store.TaskInstance, now time.Time, timeout time.Duration) {
	end := now
	p.RunUpdates = append(p.RunUpdates, store.RunUpdate{
		DagID: r.DagID, RunID: r.RunID, From: []store.RunState{store.RunRunning}, To: store.RunFailed, EndDate: &end,
	})
	if p.TimedOut == nil {
		p.TimedOut = map[runKey]time.Duration{}
	}
	p.TimedOut[runKey{r.DagID, r.RunID}] = timeout
	for _, ti := range tis {
		switch ti.State {
		case store.StateRunning:
			switch {
			case !p.isZombie(s, ti):
				p.Kill = append(p.Kill, ti.TaskKey)
			case s.Resumable != nil && s.Resumable(*ti):
				p.Adopt = append(p.Adopt, Adoption{Key: ti.TaskKey, FromWorker: ti.WorkerID})
			default:
				p.TaskUpdates = append(p.TaskUpdates, store.TaskUpdate{Key: ti.TaskKey,
					From: []store.TaskState{store.StateRunning}, FromWorker: &ti.WorkerID, To: store.StateFailed, EndDate: &end})
			}
		case store.StateNone, store.StateScheduled, store.StateQueued, store.StateUpForRetry, store.StateUpForReschedule:
			p.TaskUpdates = append(p.TaskUpdates, store.TaskUpdate{
				Key: ti.TaskKey, From: []store.TaskState{ti.State}, To: store.StateSkipped, EndDate: &end,
				Note: timeoutNote(ti, timeout),
			})
		case store.StateRestarting:
			// Cleared while it ran: it would run again, but the run is over.
			// A live executor is stopping the try anyway; its hand-back then
			// finds the task skipped and leaves it so.
			p.TaskUpdates = append(p.TaskUpdates, store.TaskUpdate{
				Key: ti.TaskKey, From: []store.TaskState{store.StateRestarting}, To: store.StateSkipped, EndDate: &end,
			})
		}
	}
}

// runOutcome says whether every task of the run has finished and, if so,
// the run's state: failed when a leaf task failed or was upstream_failed,
// success otherwise (Airflow's rule).
func runOutcome(d *dag.DAG, tis []*store.TaskInstance) (bool, store.RunState) {
	failed := false
	for _, ti := range tis {
		if !ti.State.Finished() {
			return false, ""
		}
		if len(d.Downstream(ti.TaskID)) == 0 && (ti.State == store.StateFailed || ti.State == store.StateUpstreamFailed) {
			failed = true
		}
	}
	if failed {
		return true, store.RunFailed
	}
	return true, store.RunSuccess
}

// queue hands ready tasks slots: highest priority_weight first, then oldest
// run, then file order; bounded by executor slots, pools and max_active_tasks.
func (p *Plan) queue(s Snapshot, cands []candidate, poolUsed, dagActive map[string]int, tisActive map[taskRef]int) {
	if tisActive == nil {
		tisActive = map[taskRef]int{}
	}
	free := s.FreeSlots
	laneFree := maps.Clone(s.LaneSlots) // Decide's own count: the snapshot is read-only
	fits := func(c candidate, size int) bool {
		return free > 0 && (s.Lane == nil || laneFree[s.Lane(c.ti.TaskKey)] > 0) &&
			poolUsed[c.ti.Pool]+c.ti.PoolSlots <= size && dagActive[c.ti.DagID] < s.DAGs[c.ti.DagID].MaxActiveTasks &&
			(c.task.MaxActiveTIsPerDAG == 0 || tisActive[taskRef{c.ti.DagID, c.ti.TaskID}] < c.task.MaxActiveTIsPerDAG)
	}
	// Candidates that cannot get a slot now and already wait (scheduled,
	// or up for retry) are set aside before the sort: slots are only taken
	// below, never given back, so they cannot get one later in this tick
	// either, and nothing is written for them. A mapped task of 10,000
	// instances waiting for a DAG's 32 slots costs a pass, not a sort,
	// per tick.
	open := cands[:0]
	sizes := make([]int, 0, min(len(cands), 256))
	var sibling *store.TaskInstance // the previous waiting instance of the same mapped task
	siblings := 0
	for _, c := range cands {
		// The instances of one mapped task in one run come one after the
		// other, in map index order, alike in all that decides a slot: at
		// most free of those already waiting can get one this tick.
		if c.ti.Mapped() && c.ti.State != store.StateNone {
			if sibling != nil && sibling.TaskID == c.ti.TaskID && sibling.RunID == c.ti.RunID && sibling.DagID == c.ti.DagID {
				siblings++
			} else {
				siblings = 1
			}
			sibling = c.ti
			if siblings > free {
				continue
			}
		}
		size, ok := s.Pools[c.ti.Pool]
		if !ok && c.ti.Pool == dag.DefaultPool {
			size, ok = 128, true
		}
		if c.ti.PoolSlots > size {
			p.Unschedulable = append(p.Unschedulable, Unschedulable{Key: c.ti.TaskKey, Pool: c.ti.Pool,
				Need: c.ti.PoolSlots, Size: size, Missing: !ok})
		}
		if c.ti.State != store.StateNone && !fits(c, size) {
			continue // waits as it is: nothing to write
		}
		open = append(open, c)
		sizes = append(sizes, size)
	}
	idx := make([]int, len(open))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(i, j int) bool {
		a, b := open[idx[i]], open[idx[j]]
		if a.task.PriorityWeight != b.task.PriorityWeight {
			return a.task.PriorityWeight > b.task.PriorityWeight
		}
		if !a.logical.Equal(b.logical) {
			return a.logical.Before(b.logical)
		}
		return a.order < b.order
	})
	now := s.Now
	for _, i := range idx {
		c := open[i]
		if !fits(c, sizes[i]) {
			p.scheduled(c)
			continue
		}
		free--
		if s.Lane != nil {
			laneFree[s.Lane(c.ti.TaskKey)]--
		}
		poolUsed[c.ti.Pool] += c.ti.PoolSlots
		dagActive[c.ti.DagID]++
		if c.task.MaxActiveTIsPerDAG > 0 {
			tisActive[taskRef{c.ti.DagID, c.ti.TaskID}]++
		}
		queued := now
		worker := s.WorkerID
		u := store.TaskUpdate{
			Key: c.ti.TaskKey, From: []store.TaskState{c.ti.State}, To: store.StateQueued,
			QueuedAt: &queued, WorkerID: &worker,
		}
		if c.ti.State == store.StateUpForRetry || c.ti.State == store.StateUpForReschedule {
			u.DueBy = &queued // the row must be due when written, not only in this snapshot
		}
		p.TaskUpdates = append(p.TaskUpdates, u)
	}
}

// scheduled notes a ready task that gets no slot this tick: one that has
// not been looked at yet goes to scheduled.
func (p *Plan) scheduled(c candidate) {
	if c.ti.State == store.StateNone {
		p.TaskUpdates = append(p.TaskUpdates, store.TaskUpdate{
			Key: c.ti.TaskKey, From: []store.TaskState{store.StateNone}, To: store.StateScheduled,
		})
	}
}

// MaxRunsPerTick caps the scheduled runs one tick creates for one DAG. A
// backlog (catchup over a long gap) is created a page per tick, oldest
// first: the loop ticks again at once after a page, so nothing waits a poll
// interval, but one tick's work, writes and log lines stay bounded however
// long the backlog is, and other DAGs' hand-offs are not held up behind it.
// Airflow's scheduler is stricter: one run per DAG per loop, for at most
// max_dagruns_to_create_per_loop DAGs.
const MaxRunsPerTick = 16

// dueRuns returns the scheduled runs to create now, honouring catchup,
// start/end dates, pauses, max_active_runs and MaxRunsPerTick. It asks the
// schedule only for the intervals it returns (and one more), so a backlog
// of any length costs a page's worth of work.
func dueRuns(s Snapshot, active map[string]int) []NewRun {
	ids := make([]string, 0, len(s.DAGs))
	for id := range s.DAGs {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	var out []NewRun
	for _, id := range ids {
		d := s.DAGs[id]
		if s.Paused[id] || !dag.IsPeriodic(d.Schedule) || d.StartDate.IsZero() {
			continue
		}
		room := min(d.MaxActiveRuns-active[id], MaxRunsPerTick)
		last, has := s.LastScheduled[id]
		for ; room > 0; room-- {
			var iv dag.Interval
			var ok bool
			if has {
				iv, ok = d.Schedule.Next(last)
			} else {
				iv, ok = d.Schedule.First(d.StartDate)
			}
			if !ok {
				break
			}
			if !d.Catchup {
				if latest, ok := d.Schedule.Latest(d.StartDate, s.Now); ok && latest.Start.After(iv.Start) {
					iv = latest
				}
			}
			if iv.End.After(s.Now) || (!d.EndDate.IsZero() && iv.Start.After(d.EndDate)) {
				break
			}
			out = append(out, NewRun{DagID: id, Interval: iv})
			last, has = iv, true
		}
	}
	return out
}

package scheduler

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/dag"
	"github.com/sirocco-dev/sirocco/internal/store"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// testDAG builds a DAG from "task:dep1,dep2" specs.
func testDAG(t testing.TB, id, schedule string, specs ...string) *dag.DAG {
	t.Helper()
	s, err := dag.ParseSchedule(schedule, time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	d := &dag.DAG{ID: id, Schedule: s, ScheduleSpec: schedule, Timezone: time.UTC, MaxActiveRuns: 16, MaxActiveTasks: 16,
		StartDate: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	for _, spec := range specs {
		name, deps, _ := cut(spec, ':')
		task := &dag.Task{ID: name, Operator: "empty", TriggerRule: dag.AllSuccess, Pool: dag.DefaultPool, PoolSlots: 1,
			PriorityWeight: 1, RetryDelay: time.Minute}
		if deps != "" {
			task.DependsOn = append(task.DependsOn, splitComma(deps)...)
		}
		d.Tasks = append(d.Tasks, task)
	}
	d.Index()
	return d
}

func cut(s string, sep byte) (string, string, bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == sep {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

func splitComma(s string) []string {
	var out []string
	for s != "" {
		var part string
		part, s, _ = cut(s, ',')
		out = append(out, part)
	}
	return out
}

// world is an in-memory store for driving Decide in tests.
type world struct {
	snap Snapshot
}

func newWorld(dags ...*dag.DAG) *world {
	m := map[string]*dag.DAG{}
	for _, d := range dags {
		m[d.ID] = d
	}
	return &world{snap: Snapshot{
		Now: t0, DAGs: m, Paused: map[string]bool{}, LastScheduled: map[string]dag.Interval{},
		Pools: map[string]int{dag.DefaultPool: 128}, FreeSlots: 32, LiveWorkers: map[string]bool{"me": true},
		ZombieAfter: time.Minute, WorkerID: "me",
	}}
}

func (w *world) addRun(d *dag.DAG, runID string, state store.RunState, taskStates map[string]store.TaskState) {
	iv := dag.Interval{Start: t0, End: t0}
	run, tis := NewRunRecords(d, store.RunManual, iv, nil, t0)
	run.RunID, run.State = runID, state
	if state == store.RunRunning {
		run.StartDate = t0
	}
	for i := range tis {
		tis[i].RunID = runID
		tis[i].State = taskStates[tis[i].TaskID]
	}
	w.snap.Runs = append(w.snap.Runs, run)
	w.snap.TIs = append(w.snap.TIs, tis...)
}

func (w *world) ti(runID, taskID string) *store.TaskInstance {
	for i := range w.snap.TIs {
		if w.snap.TIs[i].RunID == runID && w.snap.TIs[i].TaskID == taskID {
			return &w.snap.TIs[i]
		}
	}
	return nil
}

// apply performs the plan's writes with the same conditional semantics as
// the store, and reports which tasks were queued.
func (w *world) apply(p Plan) []store.TaskKey {
	var queued []store.TaskKey
	for _, u := range p.TaskUpdates {
		ti := w.ti(u.Key.RunID, u.Key.TaskID)
		if ti == nil || (len(u.From) > 0 && !slices.Contains(u.From, ti.State)) {
			continue
		}
		ti.State = u.To
		if u.WorkerID != nil {
			ti.WorkerID = *u.WorkerID
		}
		if u.NextRetryAt != nil {
			ti.NextRetryAt = *u.NextRetryAt
		}
		if u.To == store.StateQueued {
			queued = append(queued, u.Key)
		}
	}
	for _, u := range p.RunUpdates {
		for i := range w.snap.Runs {
			r := &w.snap.Runs[i]
			if r.DagID == u.DagID && r.RunID == u.RunID && slices.Contains(u.From, r.State) {
				r.State = u.To
				if u.StartDate != nil {
					r.StartDate = *u.StartDate
				}
			}
		}
	}
	return queued
}

func updatesTo(p Plan, to store.TaskState) []string {
	var out []string
	for _, u := range p.TaskUpdates {
		if u.To == to {
			out = append(out, u.Key.TaskID)
		}
	}
	return out
}

func TestDecideQueuesReadyTasksOnly(t *testing.T) {
	d := testDAG(t, "chain", "none", "a", "b:a", "c:b")
	w := newWorld(d)
	w.addRun(d, "r1", store.RunRunning, map[string]store.TaskState{"a": store.StateSuccess})
	p := Decide(w.snap)
	if got := updatesTo(p, store.StateQueued); !slices.Equal(got, []string{"b"}) {
		t.Fatalf("queued %v, want [b]", got)
	}
	for _, u := range p.TaskUpdates {
		if *u.WorkerID != "me" {
			t.Errorf("queued for worker %q, want me", *u.WorkerID)
		}
	}
}

func TestDecideFailurePropagatesAndFailsRun(t *testing.T) {
	d := testDAG(t, "chain", "none", "a", "b:a", "c:b")
	w := newWorld(d)
	w.addRun(d, "r1", store.RunRunning, map[string]store.TaskState{"a": store.StateFailed})
	w.apply(Decide(w.snap))
	if s := w.ti("r1", "b").State; s != store.StateUpstreamFailed {
		t.Fatalf("b is %q, want upstream_failed", s)
	}
	w.apply(Decide(w.snap))
	w.apply(Decide(w.snap))
	if s := w.snap.Runs[0].State; s != store.RunFailed {
		t.Fatalf("run is %q, want failed", s)
	}
}

func TestRunOutcomeLooksAtLeaves(t *testing.T) {
	d := testDAG(t, "cleanup", "none", "a", "cleanup:a")
	d.Task("cleanup").TriggerRule = dag.AllDone
	w := newWorld(d)
	w.addRun(d, "r1", store.RunRunning, map[string]store.TaskState{"a": store.StateFailed, "cleanup": store.StateSuccess})
	p := Decide(w.snap)
	if len(p.RunUpdates) != 1 || p.RunUpdates[0].To != store.RunSuccess {
		t.Fatalf("run updates %+v, want one to success (only leaves decide)", p.RunUpdates)
	}
}

func TestDecideRespectsSlotsPoolsAndPriority(t *testing.T) {
	d := testDAG(t, "fan", "none", "a", "b", "c", "d")
	d.Task("c").PriorityWeight = 10
	d.Task("d").Pool = "small"
	w := newWorld(d)
	w.snap.Pools["small"] = 0
	w.snap.FreeSlots = 2
	w.addRun(d, "r1", store.RunRunning, nil)
	p := Decide(w.snap)
	if got := updatesTo(p, store.StateQueued); !slices.Equal(got, []string{"c", "a"}) {
		t.Fatalf("queued %v, want [c a] (priority first, then file order)", got)
	}
	if got := updatesTo(p, store.StateScheduled); !slices.Equal(got, []string{"b", "d"}) {
		t.Fatalf("scheduled %v, want [b d]", got)
	}
}

func TestDecideMaxActiveTasks(t *testing.T) {
	d := testDAG(t, "fan", "none", "a", "b", "c")
	d.MaxActiveTasks = 2
	w := newWorld(d)
	w.addRun(d, "r1", store.RunRunning, map[string]store.TaskState{"a": store.StateRunning})
	w.ti("r1", "a").WorkerID = "me"
	p := Decide(w.snap)
	if got := updatesTo(p, store.StateQueued); len(got) != 1 {
		t.Fatalf("queued %v, want exactly one (max_active_tasks=2, one running)", got)
	}
}

func TestDecideZombieRetriesThenFails(t *testing.T) {
	d := testDAG(t, "z", "none", "a")
	d.Task("a").Retries = 1
	w := newWorld(d)
	w.addRun(d, "r1", store.RunRunning, map[string]store.TaskState{"a": store.StateRunning})
	ti := w.ti("r1", "a")
	ti.WorkerID, ti.TryNumber, ti.MaxTries = "dead-worker", 1, 1
	p := Decide(w.snap)
	if len(p.TaskUpdates) != 1 || p.TaskUpdates[0].To != store.StateUpForRetry {
		t.Fatalf("updates %+v, want up_for_retry", p.TaskUpdates)
	}
	if want := t0.Add(time.Minute); !p.TaskUpdates[0].NextRetryAt.Equal(want) {
		t.Fatalf("next retry at %v, want %v", p.TaskUpdates[0].NextRetryAt, want)
	}
	ti.TryNumber = 2
	p = Decide(w.snap)
	if len(p.TaskUpdates) != 1 || p.TaskUpdates[0].To != store.StateFailed {
		t.Fatalf("updates %+v, want failed after last try", p.TaskUpdates)
	}
}

func TestDecideRequeuesOrphanedQueuedTask(t *testing.T) {
	d := testDAG(t, "o", "none", "a")
	w := newWorld(d)
	w.addRun(d, "r1", store.RunRunning, map[string]store.TaskState{"a": store.StateQueued})
	w.ti("r1", "a").WorkerID = "gone"
	w.apply(Decide(w.snap))
	if s := w.ti("r1", "a").State; s != store.StateScheduled {
		t.Fatalf("a is %q, want scheduled again", s)
	}
	if q := w.apply(Decide(w.snap)); len(q) != 1 {
		t.Fatalf("queued %v, want a queued for the live executor", q)
	}
}

// TestDecideDagrunTimeoutWithDeadWorkers: a timed-out run's running tries
// whose worker is gone have nobody to kill them. One with remote work is
// adopted (its new executor stops the work, the run being over); one
// without is failed.
func TestDecideDagrunTimeoutWithDeadWorkers(t *testing.T) {
	d := testDAG(t, "slow", "none", "remote", "local", "cleared")
	d.DagrunTimeout = time.Minute
	w := newWorld(d)
	w.addRun(d, "r1", store.RunRunning, map[string]store.TaskState{"remote": store.StateRunning, "local": store.StateRunning,
		"cleared": store.StateRestarting})
	w.ti("r1", "remote").WorkerID = "gone"
	w.ti("r1", "local").WorkerID = "gone"
	w.ti("r1", "cleared").WorkerID = "gone"
	w.snap.Resumable = func(ti store.TaskInstance) bool { return ti.TaskID == "remote" }
	w.snap.Now = t0.Add(2 * time.Minute)
	p := Decide(w.snap)
	if len(p.Kill) != 0 {
		t.Errorf("kill %v: nothing of ours runs", p.Kill)
	}
	if len(p.Adopt) != 1 || p.Adopt[0].Key.TaskID != "remote" || p.Adopt[0].FromWorker != "gone" {
		t.Errorf("adopt %+v, want remote from gone", p.Adopt)
	}
	if got := updatesTo(p, store.StateFailed); !slices.Equal(got, []string{"local"}) {
		t.Errorf("failed %v, want [local]", got)
	}
	// A try cleared while it ran would run again, but its run is over.
	if got := updatesTo(p, store.StateSkipped); !slices.Equal(got, []string{"cleared"}) {
		t.Errorf("skipped %v, want [cleared]", got)
	}
	if len(p.RunUpdates) != 1 || p.RunUpdates[0].To != store.RunFailed {
		t.Errorf("run updates %+v, want failed", p.RunUpdates)
	}
}

// TestDecideReportsTasksNoPoolCanHold: a ready task whose pool is missing
// or smaller than its pool_slots is reported (and not queued); one that
// only waits for slots to free up is not.
func TestDecideReportsTasksNoPoolCanHold(t *testing.T) {
	d := testDAG(t, "pools", "none", "big", "ghost", "fits")
	d.Task("big").Pool, d.Task("big").PoolSlots = "small", 3
	d.Task("ghost").Pool = "nowhere"
	d.Task("fits").Pool, d.Task("fits").PoolSlots = "small", 2
	w := newWorld(d)
	w.snap.Pools["small"] = 2
	w.addRun(d, "r1", store.RunRunning, nil)
	w.addRun(d, "r2", store.RunRunning, map[string]store.TaskState{"fits": store.StateRunning})
	w.ti("r2", "fits").WorkerID = "me"
	p := Decide(w.snap)
	var got []string
	for _, u := range p.Unschedulable {
		got = append(got, fmt.Sprintf("%s/%s %s need=%d size=%d missing=%v", u.Key.RunID, u.Key.TaskID, u.Pool, u.Need, u.Size, u.Missing))
	}
	slices.Sort(got)
	want := []string{
		"r1/big small need=3 size=2 missing=false", "r1/ghost nowhere need=1 size=0 missing=true",
		"r2/big small need=3 size=2 missing=false", "r2/ghost nowhere need=1 size=0 missing=true",
	}
	if !slices.Equal(got, want) {
		t.Errorf("unschedulable:\n got %q\nwant %q", got, want)
	}
	for _, u := range updatesTo(p, store.StateQueued) {
		if u != "fits" {
			t.Errorf("queued %s, which its pool cannot hold", u)
		}
	}
}

func TestDecideRetryWaitsForDelay(t *testing.T) {
	d := testDAG(t, "r", "none", "a")
	w := newWorld(d)
	w.addRun(d, "r1", store.RunRunning, map[string]store.TaskState{"a": store.StateUpForRetry})
	w.ti("r1", "a").NextRetryAt = t0.Add(time.Second)
	if p := Decide(w.snap); !p.Empty() {
		t.Fatalf("plan %+v, want nothing before the retry delay", p)
	}
	w.snap.Now = t0.Add(time.Second)
	if got := updatesTo(Decide(w.snap), store.StateQueued); len(got) != 1 {
		t.Fatalf("queued %v, want the retry", got)
	}
}

func TestDecideDagrunTimeout(t *testing.T) {
	d := testDAG(t, "slow", "none", "a", "b:a")
	d.DagrunTimeout = time.Minute
	w := newWorld(d)
	w.addRun(d, "r1", store.RunRunning, map[string]store.TaskState{"a": store.StateRunning})
	w.ti("r1", "a").WorkerID = "me"
	w.snap.Now = t0.Add(2 * time.Minute)
	p := Decide(w.snap)
	if len(p.Kill) != 1 || p.Kill[0].TaskID != "a" {
		t.Fatalf("kill %v, want a", p.Kill)
	}
	if got := updatesTo(p, store.StateSkipped); !slices.Equal(got, []string{"b"}) {
		t.Fatalf("skipped %v, want [b]", got)
	}
	if len(p.RunUpdates) != 1 || p.RunUpdates[0].To != store.RunFailed {
		t.Fatalf("run updates %+v, want failed", p.RunUpdates)
	}
}

func TestDecideStartsQueuedRunsWithinMaxActiveRuns(t *testing.T) {
	d := testDAG(t, "m", "none", "a")
	d.MaxActiveRuns = 1
	w := newWorld(d)
	w.addRun(d, "r1", store.RunQueued, nil)
	w.addRun(d, "r2", store.RunQueued, nil)
	w.snap.Runs[1].LogicalDate = t0.Add(-time.Hour) // r2 is older: it goes first
	p := Decide(w.snap)
	if len(p.RunUpdates) != 1 || p.RunUpdates[0].RunID != "r2" {
		t.Fatalf("run updates %+v, want only r2 started", p.RunUpdates)
	}
}

// TestDecideProperties drives random DAGs to completion with a simulated
// executor and checks the scheduler's invariants at every step.
func TestDecideProperties(t *testing.T) {
	rules := dag.TriggerRules
	for seed := range 200 {
		rng := rand.New(rand.NewPCG(uint64(seed), 7))
		n := 2 + rng.IntN(12)
		var specs []string
		for i := range n {
			spec := fmt.Sprintf("t%d", i)
			var deps []string
			for j := range i {
				if rng.IntN(3) == 0 {
					deps = append(deps, fmt.Sprintf("t%d", j))
				}
			}
			if len(deps) > 0 {
				spec += ":" + joinComma(deps)
			}
			specs = append(specs, spec)
		}
		d := testDAG(t, "p", "none", specs...)
		for _, task := range d.Tasks {
			task.TriggerRule = rules[rng.IntN(len(rules))]
			task.Retries = rng.IntN(2)
			task.RetryDelay = 0
		}
		w := newWorld(d)
		w.snap.FreeSlots = 1 + rng.IntN(3)
		w.addRun(d, "r", store.RunRunning, nil)
		for i := range w.snap.TIs {
			w.snap.TIs[i].MaxTries = d.Task(w.snap.TIs[i].TaskID).Retries
		}
		var running []store.TaskKey
		for step := 0; ; step++ {
			if step > 500 {
				t.Fatalf("seed %d: run did not finish in 500 steps", seed)
			}
			w.snap.FreeSlots = max(0, 3-len(running))
			p := Decide(w.snap)
			queued := w.apply(p)
			for _, k := range queued {
				ti := w.ti(k.RunID, k.TaskID)
				task := d.Task(k.TaskID)
				// Invariant: a task starts only when its trigger rule allows.
				ups := make([]store.TaskState, len(task.DependsOn))
				for i, up := range task.DependsOn {
					ups[i] = w.ti("r", up).State
				}
				if ti.TryNumber == 0 && evaluate(task.TriggerRule, countUpstream(ups)) != ready {
					t.Fatalf("seed %d: %s queued although its rule %s says wait (%v)", seed, k.TaskID, task.TriggerRule, ups)
				}
				ti.State = store.StateRunning
				ti.TryNumber++
				running = append(running, k)
			}
			if len(running) > 3 {
				t.Fatalf("seed %d: %d running with 3 slots", seed, len(running))
			}
			if w.snap.Runs[0].State.Finished() {
				break
			}
			if len(running) > 0 && (p.Empty() || rng.IntN(2) == 0) {
				k := running[0]
				running = running[1:]
				ti := w.ti(k.RunID, k.TaskID)
				if rng.IntN(3) == 0 {
					u := FailureUpdate(d.Task(k.TaskID), *ti, w.snap.Now)
					ti.State = u.To
					if u.NextRetryAt != nil {
						ti.NextRetryAt = *u.NextRetryAt
					}
				} else {
					ti.State = store.StateSuccess
				}
			} else if p.Empty() && len(running) == 0 {
				t.Fatalf("seed %d: stuck: nothing running, nothing decided, run %s", seed, w.snap.Runs[0].State)
			}
		}
		for _, ti := range w.snap.TIs {
			if !ti.State.Finished() {
				t.Fatalf("seed %d: run finished with %s in %q", seed, ti.TaskID, ti.State)
			}
		}
	}
}

func joinComma(s []string) string {
	out := ""
	for i, x := range s {
		if i > 0 {
			out += ","
		}
		out += x
	}
	return out
}

func BenchmarkDecide1000Tasks(b *testing.B) {
	specs := []string{"start"}
	for i := range 1000 {
		specs = append(specs, fmt.Sprintf("t%d:start", i))
	}
	specs = append(specs, "end:"+joinComma(specs[1:]))
	d := testDAG(b, "fan", "none", specs...)
	w := newWorld(d)
	w.addRun(d, "r", store.RunRunning, map[string]store.TaskState{"start": store.StateSuccess})
	b.ReportAllocs()
	for b.Loop() {
		Decide(w.snap)
	}
}

func TestDecideAdoptsResumableZombie(t *testing.T) {
	d := testDAG(t, "spark", "none", "submit")
	w := newWorld(d)
	w.addRun(d, "r1", store.RunRunning, map[string]store.TaskState{"submit": store.StateRunning})
	ti := w.ti("r1", "submit")
	ti.WorkerID, ti.TryNumber, ti.Handle = "dead-worker", 1, []byte(`{"kind":"spark_driver"}`)
	w.snap.Resumable = func(ti store.TaskInstance) bool { return string(ti.Handle) == `{"kind":"spark_driver"}` }
	p := Decide(w.snap)
	if len(p.TaskUpdates) != 0 || len(p.Adopt) != 1 || p.Adopt[0].FromWorker != "dead-worker" {
		t.Fatalf("plan %+v, want only an adoption from dead-worker (never a second submission)", p)
	}
	ti.Handle = []byte(`{"kind":"process"}`)
	p = Decide(w.snap)
	if len(p.Adopt) != 0 || len(p.TaskUpdates) != 1 || p.TaskUpdates[0].To != store.StateFailed {
		t.Fatalf("plan %+v, want a non-resumable zombie failed by its retry policy", p)
	}
}

func TestDecideHandlesTasksRemovedAndAddedSinceTheRunBegan(t *testing.T) {
	old := testDAG(t, "evolving", "none", "a", "gone:a", "b:a")
	w := newWorld(old)
	w.addRun(old, "r1", store.RunRunning, map[string]store.TaskState{"a": store.StateSuccess})
	// The file now drops "gone" and adds "new" as an upstream of b.
	w.snap.DAGs["evolving"] = testDAG(t, "evolving", "none", "a", "new", "b:a,new")
	p := Decide(w.snap)
	if got := updatesTo(p, store.StateRemoved); !slices.Equal(got, []string{"gone"}) {
		t.Errorf("removed %v, want [gone]", got)
	}
	if got := updatesTo(p, store.StateQueued); !slices.Equal(got, []string{"b"}) {
		t.Errorf("queued %v, want [b]: an upstream without an instance in this run must not block it", got)
	}
}

func TestDecideRecoversTriesOurExecutorLost(t *testing.T) {
	d := testDAG(t, "lost", "none", "q", "r")
	w := newWorld(d)
	w.addRun(d, "r1", store.RunRunning, map[string]store.TaskState{"q": store.StateQueued, "r": store.StateRunning})
	for _, id := range []string{"q", "r"} {
		ti := w.ti("r1", id)
		ti.WorkerID, ti.HeartbeatAt = "me", t0
	}
	w.ti("r1", "r").TryNumber = 1
	w.snap.Held = func(store.TaskKey) bool { return true }
	if p := Decide(w.snap); !p.Empty() {
		t.Fatalf("plan %+v: tries our executor holds are left alone", p)
	}
	w.snap.Held = func(store.TaskKey) bool { return false }
	p := Decide(w.snap)
	if got := updatesTo(p, store.StateScheduled); !slices.Equal(got, []string{"q"}) {
		t.Errorf("scheduled %v, want the lost queued task handed out again", got)
	}
	if got := updatesTo(p, store.StateFailed); !slices.Equal(got, []string{"r"}) {
		t.Errorf("failed %v, want the lost running try failed by its retry policy", got)
	}
}

func TestDecideHandsBackRestartingTaskOfDeadWorker(t *testing.T) {
	d := testDAG(t, "rs", "none", "a")
	w := newWorld(d)
	w.addRun(d, "r1", store.RunRunning, map[string]store.TaskState{"a": store.StateRestarting})
	w.ti("r1", "a").WorkerID = "me"
	w.snap.Held = func(store.TaskKey) bool { return true }
	if p := Decide(w.snap); !p.Empty() {
		t.Fatalf("plan %+v: our executor is stopping the try, wait for it", p)
	}
	w.ti("r1", "a").WorkerID = "dead-worker"
	p := Decide(w.snap)
	if len(p.TaskUpdates) != 1 || p.TaskUpdates[0].To != store.StateNone {
		t.Fatalf("plan %+v, want the task handed back as none", p)
	}
}

// TestDecideWaitsForLeftoversOfDeadWorker: while recovery is still killing
// the processes of a dead worker's try, the try is neither retried nor
// handed back; once they are gone, it is.
func TestDecideWaitsForLeftoversOfDeadWorker(t *testing.T) {
	d := testDAG(t, "lo", "none", "run", "rs")
	w := newWorld(d)
	w.addRun(d, "r1", store.RunRunning, map[string]store.TaskState{"run": store.StateRunning, "rs": store.StateRestarting})
	for _, id := range []string{"run", "rs"} {
		ti := w.ti("r1", id)
		ti.WorkerID, ti.TryNumber, ti.MaxTries = "dead-worker", 1, 1
	}
	killing := true
	w.snap.Leftovers = func(k store.TaskKey) bool { return killing && k.DagID == "lo" }
	if p := Decide(w.snap); !p.Empty() {
		t.Fatalf("plan %+v: tries whose processes are still being killed must wait", p)
	}
	killing = false
	p := Decide(w.snap)
	if got := updatesTo(p, store.StateUpForRetry); !slices.Equal(got, []string{"run"}) {
		t.Errorf("up_for_retry %v, want the zombie retried once its leftovers are gone", got)
	}
	if got := updatesTo(p, store.StateNone); !slices.Equal(got, []string{"rs"}) {
		t.Errorf("handed back %v, want the restarting try handed back once its leftovers are gone", got)
	}
}

// TestRunEndNamesTheRowsItWasDecidedFrom: a run's end carries what
// identifies the task rows it was judged from, so the store refuses it
// when a clear or a mark has changed them since the snapshot.
func TestRunEndNamesTheRowsItWasDecidedFrom(t *testing.T) {
	d := testDAG(t, "pair", "none", "a", "b")
	w := newWorld(d)
	w.addRun(d, "r1", store.RunRunning, map[string]store.TaskState{"a": store.StateSuccess, "b": store.StateFailed})
	var tis []*store.TaskInstance
	for i := range w.snap.TIs {
		w.snap.TIs[i].Version = 3
		tis = append(tis, &w.snap.TIs[i])
	}
	p := Decide(w.snap)
	if len(p.RunUpdates) != 1 || p.RunUpdates[0].To != store.RunFailed {
		t.Fatalf("run updates %+v, want one to failed", p.RunUpdates)
	}
	got, want := p.RunUpdates[0].Tasks, store.SeeTasks(tis)
	if got == nil || *got != *want || want.Versions != 6 {
		t.Fatalf("the run's end requires %+v, want the rows seen: %+v (2 rows, versions 6)", got, want)
	}
}

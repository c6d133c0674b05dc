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

func TestDueRuns(t *testing.T) {
	day := func(n int) time.Time { return time.Date(2026, 1, n, 0, 0, 0, 0, time.UTC) }
	days := func(from, to int) []time.Time {
		var out []time.Time
		for n := from; n <= to; n++ {
			out = append(out, day(n))
		}
		return out
	}
	cases := []struct {
		name      string
		catchup   bool
		maxActive int
		active    int // queued or running runs already there
		last      *dag.Interval
		paused    bool
		endDate   time.Time
		now       time.Time
		want      []time.Time // logical dates
	}{
		{name: "catchup creates the backlog up to max_active_runs", catchup: true, maxActive: 3, now: day(10), want: days(1, 3)},
		{name: "active runs count against max_active_runs", catchup: true, maxActive: 3, active: 2, now: day(10), want: days(1, 1)},
		{name: "no room under max_active_runs", catchup: true, maxActive: 3, active: 3, now: day(10)},
		{name: "a backlog is created a page per tick", catchup: true, maxActive: 100, now: day(31), want: days(1, MaxRunsPerTick)},
		{name: "the next page follows the last run", catchup: true, maxActive: 100, now: day(31),
			last: &dag.Interval{Start: day(MaxRunsPerTick), End: day(MaxRunsPerTick + 1)}, want: days(MaxRunsPerTick+1, 30)},
		{name: "no catchup jumps to the latest interval", maxActive: 3, now: day(10).Add(time.Hour), want: days(9, 9)},
		{name: "continues after the last run", catchup: true, maxActive: 16, last: &dag.Interval{Start: day(7), End: day(8)}, now: day(9).Add(time.Minute), want: days(8, 8)},
		{name: "interval not over yet", catchup: true, maxActive: 16, last: &dag.Interval{Start: day(8), End: day(9)}, now: day(9).Add(23 * time.Hour)},
		{name: "paused", catchup: true, maxActive: 16, paused: true, now: day(10)},
		{name: "end date", catchup: true, maxActive: 16, endDate: day(2), now: day(10), want: days(1, 2)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := testDAG(t, "daily", "@daily", "a")
			d.Catchup, d.MaxActiveRuns, d.EndDate = tc.catchup, tc.maxActive, tc.endDate
			w := newWorld(d)
			w.snap.Now = tc.now
			w.snap.Paused["daily"] = tc.paused
			if tc.last != nil {
				w.snap.LastScheduled["daily"] = *tc.last
			}
			for i := range tc.active {
				w.addRun(d, fmt.Sprintf("r%d", i), store.RunQueued, nil)
			}
			var got []time.Time
			for _, nr := range Decide(w.snap).CreateRuns {
				got = append(got, nr.Interval.Start)
			}
			if !slices.EqualFunc(got, tc.want, time.Time.Equal) {
				t.Fatalf("created %v, want %v", got, tc.want)
			}
		})
	}
}

// countingSchedule counts what Decide asks of a schedule.
type countingSchedule struct {
	dag.Schedule
	calls *int
}

func (c countingSchedule) First(t time.Time) (dag.Interval, bool) {
	*c.calls++
	return c.Schedule.First(t)
}
func (c countingSchedule) Next(p dag.Interval) (dag.Interval, bool) {
	*c.calls++
	return c.Schedule.Next(p)
}
func (c countingSchedule) Latest(start, now time.Time) (dag.Interval, bool) {
	*c.calls++
	return c.Schedule.Latest(start, now)
}

// TestDueRunsWalksOnlyAPage: a day of one-second intervals behind, and
// max_active_runs too high to bound anything: a tick creates one page and
// asks the schedule about that page only, not about the whole backlog.
func TestDueRunsWalksOnlyAPage(t *testing.T) {
	for _, catchup := range []bool{true, false} {
		t.Run(fmt.Sprint("catchup=", catchup), func(t *testing.T) {
			d := testDAG(t, "fast", "every 1s", "a")
			calls := 0
			d.Schedule = countingSchedule{d.Schedule, &calls}
			d.Catchup, d.MaxActiveRuns, d.StartDate = catchup, 1<<30, t0.Add(-24*time.Hour)
			w := newWorld(d)
			w.snap.LastScheduled["fast"] = dag.Interval{Start: d.StartDate.Add(-time.Second), End: d.StartDate}
			p := Decide(w.snap)
			want := MaxRunsPerTick
			if !catchup {
				want = 1
			}
			if len(p.CreateRuns) != want {
				t.Fatalf("created %d runs in one tick, want %d", len(p.CreateRuns), want)
			}
			// A Next per created run and one that ends the page, and for
			// catchup=false a Latest per step.
			if calls > 2*(want+1) {
				t.Errorf("asked the schedule %d times for a page of %d runs", calls, want)
			}
		})
	}
}

// TestDecideCreatesABacklogInPages drives Decide over a catchup backlog
// of one-second intervals (a day of them for one DAG of seed 0) with a simulated
// executor, and checks at every tick that no DAG gets more than a page of
// new runs nor more active runs than max_active_runs allows, and at the end
// that every interval up to now has exactly one run, created in order.
func TestDecideCreatesABacklogInPages(t *testing.T) {
	for seed := range 16 {
		rng := rand.New(rand.NewPCG(uint64(seed), 8))
		var dags []*dag.DAG
		for i := range 2 {
			d := testDAG(t, fmt.Sprintf("d%d", i), "every 1s", "a")
			d.Catchup, d.MaxActiveTasks = true, 1024
			d.MaxActiveRuns = []int{1, 2, 5, 16, 100, 1 << 30}[rng.IntN(6)]
			d.StartDate = t0.Add(-time.Duration(1+rng.IntN(1200)) * time.Second)
			if seed == 0 && i == 0 {
				d.MaxActiveRuns, d.StartDate = 1<<30, t0.Add(-24*time.Hour)
			}
			dags = append(dags, d)
		}
		s := newBacklogSim(t, seed, rng, dags...)
		s.run()
	}
}

// backlogSim is the world of TestDecideCreatesABacklogInPages.
type backlogSim struct {
	t       *testing.T
	seed    int
	rng     *rand.Rand
	w       *world
	created map[string][]dag.Interval
}

func newBacklogSim(t *testing.T, seed int, rng *rand.Rand, dags ...*dag.DAG) *backlogSim {
	return &backlogSim{t: t, seed: seed, rng: rng, w: newWorld(dags...), created: map[string][]dag.Interval{}}
}

func (s *backlogSim) run() {
	t, w := s.t, s.w
	for tick := 0; ; tick++ {
		if tick > 1_000_000 {
			t.Fatalf("seed %d: backlog not done after %d ticks", s.seed, tick)
		}
		// The clock moves now and then for a while, then stops so the
		// backlog can end.
		if tick < 2000 && s.rng.IntN(50) == 0 {
			w.snap.Now = w.snap.Now.Add(time.Second)
		}
		w.snap.FreeSlots = 1024
		p := Decide(w.snap)
		s.create(p.CreateRuns)
		for _, k := range w.apply(p) {
			ti := w.ti(k.RunID, k.TaskID)
			ti.State, ti.TryNumber = store.StateRunning, ti.TryNumber+1
		}
		s.checkActive()
		s.finishSome()
		if p.Empty() && s.done() {
			break
		}
	}
	s.checkEveryIntervalOnce()
}

// create adds the plan's new runs to the world, as the loop's apply does.
func (s *backlogSim) create(nrs []NewRun) {
	per := map[string]int{}
	for _, nr := range nrs {
		per[nr.DagID]++
		if per[nr.DagID] > MaxRunsPerTick {
			s.t.Fatalf("seed %d: %d runs of %s created in one tick, cap %d", s.seed, per[nr.DagID], nr.DagID, MaxRunsPerTick)
		}
		d := s.w.snap.DAGs[nr.DagID]
		run, tis := NewRunRecords(d, store.RunScheduled, nr.Interval, nil, s.w.snap.Now)
		s.w.snap.Runs = append(s.w.snap.Runs, run)
		s.w.snap.TIs = append(s.w.snap.TIs, tis...)
		s.w.snap.LastScheduled[nr.DagID] = nr.Interval
		s.created[nr.DagID] = append(s.created[nr.DagID], nr.Interval)
	}
}

func (s *backlogSim) checkActive() {
	active, running := map[string]int{}, map[string]int{}
	for _, r := range s.w.snap.Runs {
		active[r.DagID]++
		if r.State == store.RunRunning {
			running[r.DagID]++
		}
	}
	for id, d := range s.w.snap.DAGs {
		if active[id] > d.MaxActiveRuns || running[id] > d.MaxActiveRuns {
			s.t.Fatalf("seed %d: %s has %d active runs (%d running), max_active_runs %d",
				s.seed, id, active[id], running[id], d.MaxActiveRuns)
		}
	}
}

// finishSome ends most running tries, and drops the finished
// runs from the snapshot as the store's active runs would.
func (s *backlogSim) finishSome() {
	w := s.w
	for i := range w.snap.TIs {
		if ti := &w.snap.TIs[i]; ti.State == store.StateRunning && s.rng.IntN(4) != 0 {
			ti.State = store.StateSuccess
		}
	}
	gone := map[runKey]bool{}
	runs := w.snap.Runs[:0]
	for _, r := range w.snap.Runs {
		if r.State.Finished() {
			gone[runKey{r.DagID, r.RunID}] = true
			continue
		}
		runs = append(runs, r)
	}
	w.snap.Runs = runs
	tis := w.snap.TIs[:0]
	for _, ti := range w.snap.TIs {
		if !gone[runKey{ti.DagID, ti.RunID}] {
			tis = append(tis, ti)
		}
	}
	w.snap.TIs = tis
}

// done reports whether every interval that has ended has its run.
func (s *backlogSim) done() bool {
	for id := range s.w.snap.DAGs {
		ivs := s.created[id]
		if len(ivs) == 0 || !ivs[len(ivs)-1].End.Add(time.Second).After(s.w.snap.Now) {
			return false
		}
	}
	return true
}

func (s *backlogSim) checkEveryIntervalOnce() {
	for id, d := range s.w.snap.DAGs {
		ivs := s.created[id]
		want := int(s.w.snap.Now.Sub(d.StartDate) / time.Second)
		if len(ivs) != want {
			s.t.Fatalf("seed %d: %s has %d runs, want %d (one per ended interval)", s.seed, id, len(ivs), want)
		}
		for i, iv := range ivs {
			if start := d.StartDate.Add(time.Duration(i) * time.Second); !iv.Start.Equal(start) || iv.End.Sub(iv.Start) != time.Second {
				s.t.Fatalf("seed %d: %s's run %d has interval %v, want one starting %v", s.seed, id, i, iv, start)
			}
		}
	}
}

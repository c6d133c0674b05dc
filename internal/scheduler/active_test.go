package scheduler

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"sort"
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/store"
	"github.com/sirocco-dev/sirocco/internal/store/sqlstore"
)

// activeFixture is a real SQLite store and the loop's view of it.
type activeFixture struct {
	t    *testing.T
	st   store.Store
	set  activeSet
	now  time.Time
	runs int
}

// openTestStore opens a migrated SQLite store in a temporary folder.
func openTestStore(t *testing.T) store.Store {
	t.Helper()
	st, err := sqlstore.OpenSQLite(filepath.Join(t.TempDir(), "sirocco.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	return st
}

func newActiveFixture(t *testing.T) *activeFixture {
	st := openTestStore(t)
	return &activeFixture{t: t, st: st, now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
}

func (f *activeFixture) createRun(runID string, state store.RunState, taskIDs ...string) {
	f.t.Helper()
	run := store.DagRun{DagID: "d", RunID: runID, RunType: store.RunManual, State: state,
		LogicalDate: f.now.Add(time.Duration(f.runs) * time.Hour), QueuedAt: f.now}
	f.runs++
	tis := make([]store.TaskInstance, len(taskIDs))
	for i, id := range taskIDs {
		tis[i] = store.TaskInstance{TaskKey: store.TaskKey{TaskID: id}, PoolSlots: 1}
	}
	if err := f.st.CreateRun(f.t.Context(), run, tis); err != nil {
		f.t.Fatal(err)
	}
}

func (f *activeFixture) update(runID, taskID string, to store.TaskState) {
	f.t.Helper()
	_, err := f.st.UpdateTask(f.t.Context(), store.TaskUpdate{
		Key: store.TaskKey{DagID: "d", RunID: runID, TaskID: taskID}, To: to})
	if err != nil {
		f.t.Fatal(err)
	}
}

// setRun changes a run's state as the loop does, telling the set.
func (f *activeFixture) setRun(runID string, to store.RunState) {
	f.t.Helper()
	if _, err := f.st.UpdateRun(f.t.Context(), store.RunUpdate{DagID: "d", RunID: runID, To: to}); err != nil {
		f.t.Fatal(err)
	}
	f.set.markRunsChanged()
}

// refresh brings the set up to date as the loop does, a second later each
// time (never reaching the full resync).
func (f *activeFixture) refresh() {
	f.t.Helper()
	f.now = f.now.Add(time.Second)
	if _, err := f.set.refresh(f.t.Context(), f.st, f.now, refreshOptions{resyncEvery: time.Hour, runsEvery: time.Hour}); err != nil {
		f.t.Fatal(err)
	}
}

// check compares the set with a full read of the store: same rows, same
// values, each run's rows in creation order.
func (f *activeFixture) check(what string) {
	f.t.Helper()
	want, err := f.st.ActiveTaskInstances(f.t.Context())
	if err != nil {
		f.t.Fatal(err)
	}
	got := append([]store.TaskInstance(nil), f.set.tis...)
	// The set keeps runs in the order they became active; the store sorts
	// them by id. Within a run the order must match.
	sort.SliceStable(got, func(i, j int) bool {
		if got[i].DagID != got[j].DagID {
			return got[i].DagID < got[j].DagID
		}
		return got[i].RunID < got[j].RunID
	})
	if (len(got) > 0 || len(want) > 0) && !reflect.DeepEqual(got, want) {
		f.t.Fatalf("%s:\n got %s\nwant %s", what, summary(got), summary(want))
	}
	for k, i := range f.set.index {
		if f.set.tis[i].TaskKey != k {
			f.t.Fatalf("%s: index of %v points at %v", what, k, f.set.tis[i].TaskKey)
		}
	}
	runs, err := f.st.ListRuns(f.t.Context(), store.RunFilter{States: []store.RunState{store.RunQueued, store.RunRunning}})
	if err != nil {
		f.t.Fatal(err)
	}
	ids := func(rs []store.DagRun) []string {
		var out []string
		for _, r := range rs {
			out = append(out, r.RunID+"="+string(r.State))
		}
		sort.Strings(out)
		return out
	}
	if got, want := ids(f.set.runList), ids(runs); !reflect.DeepEqual(got, want) {
		f.t.Fatalf("%s: active runs %v, want %v", what, got, want)
	}
	if len(f.set.index) != len(f.set.tis) {
		f.t.Fatalf("%s: %d index entries for %d rows", what, len(f.set.index), len(f.set.tis))
	}
}

func summary(tis []store.TaskInstance) string {
	s := ""
	for _, ti := range tis {
		s += fmt.Sprintf(" %s/%s=%q", ti.RunID, ti.TaskID, ti.State)
	}
	return s
}

// TestActiveSetFollowsTheStore walks the set through every way a run's rows
// change: an update, a new run, a run finishing, and a finished run coming
// back through a clear (whose untouched rows never appear in the feed).
func TestActiveSetFollowsTheStore(t *testing.T) {
	f := newActiveFixture(t)
	f.createRun("r1", store.RunRunning, "a", "b", "c")
	f.createRun("old", store.RunSuccess, "a", "b")
	f.refresh()
	f.check("first full read")

	f.update("r1", "a", store.StateSuccess)
	f.update("old", "b", store.StateFailed) // a finished run's row: not held
	f.refresh()
	f.check("after updates")

	f.createRun("r2", store.RunQueued, "z", "y")
	f.refresh()
	f.check("after a new run")

	f.setRun("r1", store.RunSuccess)
	f.refresh()
	f.check("after r1 finished")

	if _, err := f.st.ClearTasks(t.Context(), "d", "old", map[string]int{"b": 0}, f.now); err != nil {
		t.Fatal(err)
	}
	f.refresh()
	f.check("after clearing one task of a finished run")
	if len(f.set.tis) != 4 {
		t.Fatalf("want r2's 2 rows and all 2 rows of the cleared run, have %s", summary(f.set.tis))
	}
}

// TestActiveSetRandomHistory drives random writes, run changes and clears
// and checks after each refresh that the set equals a full read.
func TestActiveSetRandomHistory(t *testing.T) {
	f := newActiveFixture(t)
	rng := rand.New(rand.NewPCG(1, 2))
	states := []store.TaskState{store.StateNone, store.StateScheduled, store.StateQueued, store.StateRunning,
		store.StateSuccess, store.StateFailed, store.StateUpForRetry}
	tasks := []string{"a", "b", "c", "d"}
	var runs []string
	for step := range 300 {
		switch n := rng.IntN(10); {
		case n == 0 || len(runs) == 0:
			id := fmt.Sprintf("r%03d", step)
			f.createRun(id, []store.RunState{store.RunQueued, store.RunRunning, store.RunSuccess}[rng.IntN(3)], tasks...)
			runs = append(runs, id)
		case n == 1:
			f.setRun(runs[rng.IntN(len(runs))],
				[]store.RunState{store.RunQueued, store.RunRunning, store.RunSuccess, store.RunFailed}[rng.IntN(4)])
		case n == 2:
			id := runs[rng.IntN(len(runs))]
			if _, err := f.st.ClearTasks(t.Context(), "d", id, map[string]int{tasks[rng.IntN(4)]: 1}, f.now); err != nil {
				t.Fatal(err)
			}
		default:
			f.update(runs[rng.IntN(len(runs))], tasks[rng.IntN(4)], states[rng.IntN(len(states))])
		}
		if rng.IntN(3) == 0 {
			f.refresh()
			f.check(fmt.Sprintf("step %d", step))
		}
	}
	f.refresh()
	f.check("end")
}

// TestActiveSetMergesCopiesInAnyOrder: the loop gets copies of a row from
// its own writes, the executor's reports and the change feed, in any order;
// whatever the order, the set ends with the newest copy of every row.
func TestActiveSetMergesCopiesInAnyOrder(t *testing.T) {
	f := newActiveFixture(t)
	tasks := []string{"a", "b", "c"}
	f.createRun("r", store.RunRunning, tasks...)
	f.refresh()
	rng := rand.New(rand.NewPCG(3, 4))
	states := []store.TaskState{store.StateScheduled, store.StateRunning, store.StateSuccess, store.StateFailed}
	for round := range 20 {
		var copies []store.TaskInstance
		for range 10 {
			w, err := f.st.UpdateTaskRow(t.Context(), store.TaskUpdate{
				Key: store.TaskKey{DagID: "d", RunID: "r", TaskID: tasks[rng.IntN(len(tasks))]},
				To:  states[rng.IntN(len(states))], IncTry: rng.IntN(2) == 0,
			})
			if err != nil || !w.OK {
				t.Fatalf("write: %+v %v", w, err)
			}
			copies = append(copies, w.Row)
		}
		rng.Shuffle(len(copies), func(i, j int) { copies[i], copies[j] = copies[j], copies[i] })
		half := len(copies) / 2
		f.set.applyReported(copies[:half])
		if round%2 == 0 {
			f.refresh() // the feed, between two late reports
		}
		f.set.applyReported(copies[half:])
		f.check(fmt.Sprintf("round %d", round))
	}
}

// TestActiveSetReadsTheFeedOnlyWhenStale: between poll intervals the set
// reads nothing unless told something it cannot know has changed.
func TestActiveSetReadsTheFeedOnlyWhenStale(t *testing.T) {
	f := newActiveFixture(t)
	f.createRun("r", store.RunRunning, "a")
	ro := refreshOptions{resyncEvery: time.Hour, runsEvery: time.Hour, feedEvery: time.Hour}
	refresh := func() {
		t.Helper()
		f.now = f.now.Add(time.Second)
		if _, err := f.set.refresh(t.Context(), f.st, f.now, ro); err != nil {
			t.Fatal(err)
		}
	}
	refresh()
	f.update("r", "a", store.StateSuccess) // another process's write
	refresh()
	if got := f.set.tis[0].State; got != store.StateNone {
		t.Fatalf("state %q before the feed was due, want the old none", got)
	}
	f.set.markFeedStale() // what Kick does
	refresh()
	f.check("after the feed was marked stale")
}

// TestActiveSetAppliesItsOwnRunUpdates: a run update the loop wrote changes
// the list of active runs without a read; a finished run leaves it, and its
// rows leave the set.
func TestActiveSetAppliesItsOwnRunUpdates(t *testing.T) {
	f := newActiveFixture(t)
	f.createRun("r1", store.RunQueued, "a")
	f.createRun("r2", store.RunRunning, "b")
	f.refresh()
	start := f.now.Add(500 * time.Millisecond)
	for _, u := range []store.RunUpdate{
		{DagID: "d", RunID: "r1", From: []store.RunState{store.RunQueued}, To: store.RunRunning, StartDate: &start},
		{DagID: "d", RunID: "r2", From: []store.RunState{store.RunRunning}, To: store.RunSuccess, EndDate: &start},
	} {
		if ok, err := f.st.UpdateRun(t.Context(), u); err != nil || !ok {
			t.Fatalf("update run: %v %v", ok, err)
		}
		f.set.runUpdated(u)
	}
	f.refresh()
	f.check("after the loop's own run updates")
	if got := f.set.runList[0].StartDate; !got.Equal(start.Truncate(time.Microsecond)) {
		t.Errorf("r1 start date %v, want %v", got, start)
	}
}

package scheduler

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/sirocco-dev/sirocco/internal/store"
)

// activeSet is the loop's copy of the active runs and their task
// instances. Reading every active row on each tick costs time in proportion
// to the runs' size (30 ms for 10,000 rows), most of it for rows that did
// not change; the set instead applies the store's change feed, reads a run
// in full only when it becomes active, and re-reads everything every
// resyncEvery as a safety net.
//
// The list of active runs is re-read only when it may have changed: every
// poll interval, after the loop changed a run (markRunsChanged), and when
// the feed shows a row of a run the set does not hold (a run was created,
// or a finished one was cleared or marked).
//
// A hand-off reads nothing: the loop applies the rows its own writes
// returned (set) and the rows the executor reports (applyReported), and
// reads the feed only for what neither shows: writes by other processes,
// the API (Kick), or a row it does not hold. Those are read at least every
// feedEvery. Copies of a row may come in any order (a late report, a feed
// read that started before the loop's own write returned); the set keeps
// the one with the highest Version.
type activeSet struct {
	tis      []store.TaskInstance // grouped by run, each run in creation order
	index    map[store.TaskKey]int
	runs     map[runKey]bool
	cursor   store.ChangeCursor
	syncedAt time.Time
	valid    bool

	feedAt    time.Time // last read of the change feed
	feedStale bool      // something the set cannot know changed: read the feed

	runList []store.DagRun // the active runs, as last read
	// ignored are the active runs the last read left out (keep): another
	// process's test runs, or every run but the one `dags test` runs.
	ignored   map[runKey]bool
	runsAt    time.Time
	runsStale bool
	// reread are runs whose rows the set reads again in full at the next
	// refresh: an end decided from them lost its race, so they may differ
	// from the store's in a way the feed does not show.
	reread map[runKey]bool

	// ended, when set, is told of each try the set sees end (a held row
	// replaced by a newer one that left queued or running): /metrics'
	// try durations, whoever wrote the end.
	ended func(store.TaskInstance)
}

// refreshOptions say how often the set re-reads what the feed cannot show.
type refreshOptions struct {
	resyncEvery time.Duration // full read of every active row
	runsEvery   time.Duration // re-read of the active runs
	feedEvery   time.Duration // read of the change feed, when nothing asks sooner
	// keep says which active runs the loop decides on (ownsRun); nil
	// keeps them all.
	keep func(store.DagRun) bool
}

// markRunsChanged makes the next refresh re-read the active runs.
func (a *activeSet) markRunsChanged() { a.runsStale = true }

// runUpdated applies a run update the loop has just written, instead of
// reading the runs again: a finished run leaves the list, and its rows the
// set at the next refresh.
func (a *activeSet) runUpdated(u store.RunUpdate) {
	for i := range a.runList {
		r := &a.runList[i]
		if r.DagID != u.DagID || r.RunID != u.RunID {
			continue
		}
		r.State = u.To
		if u.StartDate != nil {
			r.StartDate = u.StartDate.UTC().Truncate(time.Microsecond)
		}
		if u.EndDate != nil {
			r.EndDate = u.EndDate.UTC().Truncate(time.Microsecond)
		}
		if u.To.Finished() {
			a.runList = slices.Delete(a.runList, i, i+1)
		}
		return
	}
}

// rereadRun makes the next refresh read run k's rows again in full.
func (a *activeSet) rereadRun(k runKey) {
	if a.reread == nil {
		a.reread = map[runKey]bool{}
	}
	a.reread[k] = true
	a.feedStale = true
}

// markFeedStale makes the next refresh read the change feed.
func (a *activeSet) markFeedStale() { a.feedStale = true }

// set replaces a held row with ti unless the set's copy is newer (a higher
// Version), so copies may arrive in any order. A row the set does not hold
// is left to the feed.
func (a *activeSet) set(ti store.TaskInstance) {
	i, ok := a.index[ti.TaskKey]
	if !ok {
		a.feedStale = true
		return
	}
	a.replace(i, ti)
}

// replace puts ti in place of the held row i unless that row is newer.
func (a *activeSet) replace(i int, ti store.TaskInstance) {
	if ti.Version < a.tis[i].Version {
		return
	}
	if a.ended != nil && tryEnded(a.tis[i], ti) {
		a.ended(ti)
	}
	a.tis[i] = ti
}

// applyReported takes rows the executor wrote, each committed before it was
// reported.
func (a *activeSet) applyReported(rows []store.TaskInstance) {
	for _, ti := range rows {
		a.set(ti)
	}
}

// refresh brings the set up to date and returns the active runs. A row of
// a run no longer active is dropped; a run that became active is read in
// full after the change feed, so its rows are never older than the feed.
func (a *activeSet) refresh(ctx context.Context, st store.Store, now time.Time, o refreshOptions) ([]store.DagRun, error) {
	if !a.valid || now.Sub(a.syncedAt) >= o.resyncEvery {
		return a.runList, a.resync(ctx, st, now, o)
	}
	var changed []store.TaskInstance
	if a.feedStale || now.Sub(a.feedAt) >= o.feedEvery {
		rows, next, err := st.TaskInstancesChangedSince(ctx, a.cursor)
		if err != nil {
			return nil, err
		}
		changed, a.cursor, a.feedAt, a.feedStale = rows, next, now, false
	}
	reload := map[runKey]bool{}
	for k := range a.reread {
		if a.runs[k] {
			reload[k] = true
		}
	}
	clear(a.reread)
	unknownRun := false
	for _, ti := range changed {
		if i, ok := a.index[ti.TaskKey]; ok {
			a.replace(i, ti)
			continue
		}
		switch k := (runKey{ti.DagID, ti.RunID}); {
		case a.runs[k]:
			reload[k] = true // a row the set never saw in a run it holds
		case !a.ignored[k]: // an ignored run's rows need no new read of the runs
			unknownRun = true
		}
	}
	if unknownRun || a.runsStale || now.Sub(a.runsAt) >= o.runsEvery {
		if err := a.readRuns(ctx, st, now, o); err != nil {
			return nil, err
		}
	}
	active := a.activeRuns()
	for k := range a.runs {
		if !active[k] || reload[k] {
			a.drop(active, reload)
			break
		}
	}
	return a.runList, a.addMissingRuns(ctx, st)
}

// readRuns re-reads the active runs.
func (a *activeSet) readRuns(ctx context.Context, st store.Store, now time.Time, o refreshOptions) error {
	runs, err := st.ListRuns(ctx, store.RunFilter{States: []store.RunState{store.RunQueued, store.RunRunning}})
	if err != nil {
		return fmt.Errorf("list active runs: %w", err)
	}
	if a.ignored == nil {
		a.ignored = map[runKey]bool{}
	}
	clear(a.ignored)
	if o.keep != nil {
		runs = slices.DeleteFunc(runs, func(r store.DagRun) bool {
			if o.keep(r) {
				return false
			}
			a.ignored[runKey{r.DagID, r.RunID}] = true
			return true
		})
	}
	a.runList, a.runsAt, a.runsStale = runs, now, false
	return nil
}

func (a *activeSet) activeRuns() map[runKey]bool {
	active := make(map[runKey]bool, len(a.runList))
	for _, r := range a.runList {
		active[runKey{r.DagID, r.RunID}] = true
	}
	return active
}

// resync replaces the set with a full read of the active runs. The cursor
// is taken first, so a run or a row written during the reads is read again
// next time rather than missed.
func (a *activeSet) resync(ctx context.Context, st store.Store, now time.Time, o refreshOptions) error {
	c, err := st.TaskChangeCursor(ctx)
	if err != nil {
		return err
	}
	if err := a.readRuns(ctx, st, now, o); err != nil {
		return err
	}
	active := a.activeRuns()
	tis, err := st.ActiveTaskInstances(ctx)
	if err != nil {
		return fmt.Errorf("list active task instances: %w", err)
	}
	a.tis = a.tis[:0]
	a.index = make(map[store.TaskKey]int, len(tis))
	a.runs = make(map[runKey]bool, len(active))
	for _, ti := range tis {
		k := runKey{ti.DagID, ti.RunID}
		if !active[k] {
			continue // a run that started or ended between the two reads
		}
		a.runs[k] = true
		a.index[ti.TaskKey] = len(a.tis)
		a.tis = append(a.tis, ti)
	}
	a.cursor, a.syncedAt, a.valid = c, now, true
	a.feedAt, a.feedStale = now, false
	// A run listed active whose rows the read did not return (it changed
	// state between the two reads) is read on its own, so Decide never sees
	// an active run without its tasks.
	return a.addMissingRuns(ctx, st)
}

// addMissingRuns reads in full every active run the set does not hold.
func (a *activeSet) addMissingRuns(ctx context.Context, st store.Store) error {
	for _, r := range a.runList {
		k := runKey{r.DagID, r.RunID}
		if a.runs[k] {
			continue
		}
		tis, err := st.ListTaskInstances(ctx, r.DagID, r.RunID)
		if err != nil {
			return fmt.Errorf("read run %s/%s: %w", r.DagID, r.RunID, err)
		}
		a.add(k, tis)
	}
	return nil
}

// drop removes the rows of runs no longer active or due for a reload.
func (a *activeSet) drop(active, reload map[runKey]bool) {
	a.tis = slices.DeleteFunc(a.tis, func(ti store.TaskInstance) bool {
		k := runKey{ti.DagID, ti.RunID}
		return !active[k] || reload[k]
	})
	for k := range a.runs {
		if !active[k] || reload[k] {
			delete(a.runs, k)
		}
	}
	clear(a.index)
	for i, ti := range a.tis {
		a.index[ti.TaskKey] = i
	}
}

// add appends the rows of a run that became active.
func (a *activeSet) add(k runKey, tis []store.TaskInstance) {
	a.runs[k] = true
	for _, ti := range tis {
		a.index[ti.TaskKey] = len(a.tis)
		a.tis = append(a.tis, ti)
	}
}

package actions

import (
	"context"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/sirocco-dev/sirocco/internal/dag"
	"github.com/sirocco-dev/sirocco/internal/store"
)

// ClearRequest selects the task instances of one run to run again, as
// `tasks clear` and POST clearTaskInstances do.
type ClearRequest struct {
	RunID string
	// TaskIDs are the tasks to clear; none means every task of the DAG.
	TaskIDs []string
	// Downstream adds everything that depends on TaskIDs.
	Downstream bool
	// OnlyFailed keeps only failed and upstream_failed instances.
	OnlyFailed bool
	// DryRun computes the selection and writes nothing.
	DryRun bool
	// MapIndex, when set, clears only that instance of the tasks named in
	// TaskIDs (`--map-index`, ?map_index=); those that are not mapped are
	// left alone then. The tasks Downstream adds are cleared in full, every
	// instance, as Airflow's clear of a mapped instance does.
	MapIndex *int
	// MapIndexes, for a task of TaskIDs, clears only those of its
	// instances (Airflow's [task_id, map_index] pairs in task_ids); a task
	// absent from it is cleared whole, as without MapIndex.
	MapIndexes map[string][]int
}

// only returns the map indexes the request limits task id to, or nil
// when it clears every instance of it.
func (req ClearRequest) only(id string) []int {
	if req.MapIndex != nil && (len(req.TaskIDs) == 0 || slices.Contains(req.TaskIDs, id)) {
		return []int{*req.MapIndex}
	}
	return req.MapIndexes[id]
}

// ClearResult says what a clear did (or, in a dry run, would do).
type ClearResult struct {
	// Cleared counts the instances put back to none (0 in a dry run).
	Cleared int
	// Restarting counts running instances moved to restarting: their
	// executor stops the try, remote work included, and they run again.
	Restarting int
	// TaskInstances are the instances selected, as read before the clear:
	// those to put back to none and those to restart. Queued ones are
	// left alone, as the store does.
	TaskInstances []store.TaskInstance
}

// Clear puts the selected task instances of a run back to none with their
// retries granted again and their XComs deleted, and a finished run back
// to queued, so the scheduler runs them again. A running instance becomes
// restarting (Airflow's word): its executor stops the try first, then
// hands it back; its XComs are deleted too.
func Clear(ctx context.Context, st store.Store, d *dag.DAG, req ClearRequest, now time.Time) (ClearResult, error) {
	var res ClearResult
	tis, err := st.ListTaskInstances(ctx, d.ID, req.RunID)
	if err != nil {
		return res, err
	}
	if len(tis) == 0 {
		return res, kindf(store.ErrNotFound, "run %s of %s not found", req.RunID, d.ID)
	}
	selected, err := selectTasks(d, req.TaskIDs, req.Downstream)
	if err != nil {
		return res, err
	}
	// alone: the instances cleared one by one, those of a mapped task
	// of which only some are selected (a map index, only failed ones);
	// the tasks Downstream adds to a map index are cleared in full, as
	// Airflow does (a task named is also its own downstream).
	alone := func(ti store.TaskInstance) bool {
		return ti.Mapped() && (req.OnlyFailed || req.only(ti.TaskID) != nil)
	}
	if err := checkMapIndexes(req, tis); err != nil {
		return res, err
	}
	var set clearSet
	for _, ti := range tis {
		if !selected[ti.TaskID] || d.Task(ti.TaskID) == nil {
			continue
		}
		if only := req.only(ti.TaskID); only != nil && !slices.Contains(only, ti.MapIndex()) {
			continue
		}
		if req.OnlyFailed && ti.State != store.StateFailed && ti.State != store.StateUpstreamFailed {
			continue
		}
		if ti.State == store.StateRunning {
			if req.DryRun {
				res.TaskInstances = append(res.TaskInstances, ti)
				continue
			}
			// Airflow's "restarting": the executor stops the try (and
			// its remote work) first, then hands the task back.
			ok, err := st.UpdateTask(ctx, store.TaskUpdate{Key: ti.TaskKey,
				From: []store.TaskState{store.StateRunning}, FromTry: &ti.TryNumber, To: store.StateRestarting})
			if err != nil {
				return res, err
			}
			if ok {
				res.Restarting++
				res.TaskInstances = append(res.TaskInstances, ti)
				// Named so that the clear deletes the XComs the try may
				// have pushed just before; it leaves a restarting task's
				// state to the executor stopping it.
				set.add(ti, alone(ti), d.Task(ti.TaskID).Retries)
			}
			continue
		}
		set.add(ti, alone(ti), d.Task(ti.TaskID).Retries)
		if ti.State != store.StateQueued { // the store leaves queued instances alone
			res.TaskInstances = append(res.TaskInstances, ti)
		}
	}
	if req.DryRun {
		return res, nil
	}
	n, err := set.write(ctx, st, d.ID, req.RunID, now)
	res.Cleared = n
	return res, err
}

// checkMapIndexes makes a map index that no named task has (out of range,
// or a task that is not mapped) a not-found error, not "cleared 0" that
// hides a typo; and refuses one whose instances are all removed (beyond
// their task's list): a clear never revives one, and its mark is refused
// the same way (CheckMarkable).
func checkMapIndexes(req ClearRequest, tis []store.TaskInstance) error {
	check := func(task func(string) bool, i int, names string) error {
		var at []store.TaskInstance
		for _, ti := range tis {
			if task(ti.TaskID) && ti.MapIndex() == i {
				at = append(at, ti)
			}
		}
		if len(at) == 0 {
			return kindf(store.ErrNotFound, "run %s has no instance with map_index %d of %s (is the task mapped, and the index in range?)",
				req.RunID, i, names)
		}
		if slices.ContainsFunc(at, func(ti store.TaskInstance) bool { return ti.State != store.StateRemoved }) {
			return nil
		}
		return CheckMarkable(at[0])
	}
	if req.MapIndex != nil {
		named := func(id string) bool { return len(req.TaskIDs) == 0 || slices.Contains(req.TaskIDs, id) }
		if err := check(named, *req.MapIndex, strings.Join(req.TaskIDs, ", ")); err != nil {
			return err
		}
	}
	for _, id := range slices.Sorted(maps.Keys(req.MapIndexes)) {
		for _, i := range req.MapIndexes[id] {
			if err := check(func(t string) bool { return t == id }, i, id); err != nil {
				return err
			}
		}
	}
	return nil
}

// clearSet is what a clear writes: instances of mapped tasks cleared one
// by one, and tasks cleared whole (every instance), with their retries.
type clearSet struct {
	one     []store.TaskKey
	retries map[store.TaskKey]int
	whole   map[string]int
}

func (c *clearSet) add(ti store.TaskInstance, alone bool, retries int) {
	if !alone {
		if c.whole == nil {
			c.whole = map[string]int{}
		}
		c.whole[ti.TaskID] = retries
		return
	}
	if c.retries == nil {
		c.retries = map[store.TaskKey]int{}
	}
	c.one = append(c.one, ti.TaskKey)
	c.retries[ti.TaskKey] = retries
}

// write clears the instances first, then the whole tasks: those are
// downstream of the instances when both are there, and the other way a
// tick between the two could run a downstream task again from the
// instance's old state. It returns how many instances it put back to none.
func (c *clearSet) write(ctx context.Context, st store.Store, dagID, runID string, now time.Time) (int, error) {
	var cleared int
	for _, k := range c.one {
		n, err := st.ClearMapIndex(ctx, k, c.retries[k], now)
		if err != nil {
			return cleared, err
		}
		cleared += n
	}
	if len(c.whole) == 0 {
		return cleared, nil
	}
	n, err := st.ClearTasks(ctx, dagID, runID, c.whole, now)
	return cleared + n, err
}

// selectTasks returns the task ids a clear covers: all of d's without
// ids, else ids and, with downstream, what depends on them.
func selectTasks(d *dag.DAG, ids []string, downstream bool) (map[string]bool, error) {
	selected := map[string]bool{}
	if len(ids) == 0 {
		for _, t := range d.Tasks {
			selected[t.ID] = true
		}
	}
	for _, id := range ids {
		if d.Task(id) == nil {
			return nil, invalidf("task_ids", "DAG %s has no task %q", d.ID, id)
		}
		closure := []string{id}
		if downstream {
			closure = d.DownstreamClosure(id)
		}
		for _, x := range closure {
			selected[x] = true
		}
	}
	return selected, nil
}

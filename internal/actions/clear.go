package actions

import (
	"context"
	"maps"
	"slices"
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
	// inFull: the tasks cleared in every instance; with a map index, only
	// those Downstream added (a task named is also its own downstream).
	inFull := func(id string) bool {
		return req.MapIndex == nil || (len(req.TaskIDs) > 0 && !slices.Contains(req.TaskIDs, id))
	}
	retries := map[string]int{}
	for _, ti := range tis {
		if !selected[ti.TaskID] || d.Task(ti.TaskID) == nil {
			continue
		}
		if !inFull(ti.TaskID) && ti.MapIndex() != *req.MapIndex {
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
				// Named so that ClearTasks deletes the XComs the try may
				// have pushed just before; it leaves a restarting task's
				// state to the executor stopping it.
				retries[ti.TaskID] = d.Task(ti.TaskID).Retries
			}
			continue
		}
		retries[ti.TaskID] = d.Task(ti.TaskID).Retries
		if ti.State != store.StateQueued { // ClearTasks leaves queued instances alone
			res.TaskInstances = append(res.TaskInstances, ti)
		}
	}
	if req.DryRun {
		return res, nil
	}
	if req.MapIndex != nil && *req.MapIndex >= 0 {
		n, err := clearMapIndex(ctx, st, store.TaskKey{DagID: d.ID, RunID: req.RunID}, *req.MapIndex, retries, inFull, now)
		res.Cleared = n
		if err != nil {
			return res, err
		}
		// What is cleared in full is cleared after the instances it
		// depends on: the other way, a tick between the two could run a
		// downstream task again from the instance's old state.
		for id := range retries {
			if !inFull(id) {
				delete(retries, id)
			}
		}
		if len(retries) == 0 {
			return res, nil
		}
	}
	n, err := st.ClearTasks(ctx, d.ID, req.RunID, retries, now)
	if err != nil {
		return res, err
	}
	res.Cleared += n
	return res, nil
}

// clearMapIndex clears instance i of the tasks of retries not cleared in
// full, in task order, and returns how many it put back to none.
func clearMapIndex(ctx context.Context, st store.Store, run store.TaskKey, i int, retries map[string]int, inFull func(string) bool, now time.Time) (int, error) {
	var cleared int
	for _, id := range slices.Sorted(maps.Keys(retries)) {
		if inFull(id) {
			continue
		}
		k := run
		k.TaskID = id
		n, err := st.ClearMapIndex(ctx, k.WithMapIndex(i), retries[id], now)
		if err != nil {
			return cleared, err
		}
		cleared += n
	}
	return cleared, nil
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

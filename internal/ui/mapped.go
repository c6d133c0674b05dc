package ui

import (
	"errors"
	"fmt"
	"net/http"
	"slices"

	"github.com/sirocco-dev/sirocco/internal/dag"
	"github.com/sirocco-dev/sirocco/internal/store"
)

// A mapped task (dynamic task mapping) is one row per run in the store
// until it expands (its placeholder, map_index -1), then one row per
// element (map_index 0..n-1); an empty list skips the placeholder. The
// grid and the graph show it as one cell per run, as Airflow does: the
// most severe state of its instances (summarize) and their count, both
// leaving out removed instances (liveStates).

// notExpanded is a mapped task's count in a run where it has not expanded
// (its placeholder only, or no row at all).
const notExpanded = -1

// cellKey names a grid cell: run column and task row.
type cellKey struct{ run, task int }

// maxInstanceRows bounds the rows of one expanded mapped task in the
// grid: its map indexes beyond are on its task page.
const maxInstanceRows = 1000

// mappedCells folds the instances of mapped tasks into one cell each:
// it returns, per cell that has instances (Map > 0), their rows. A
// placeholder row (Map 0) is left to the caller, as a task's own row.
func mappedCells(rows []store.TaskStateRow, col, row map[string]int) map[cellKey][]store.TaskStateRow {
	out := map[cellKey][]store.TaskStateRow{}
	for _, c := range rows {
		if c.Map > 0 {
			k := cellKey{col[c.RunID], row[c.TaskID]}
			out[k] = append(out[k], c)
		}
	}
	return out
}

// setMapped writes the summary state of each mapped cell into g.Cells and
// fills the Counts of the mapped tasks of g: those d maps, and those with
// instances in the runs shown (mapped when they ran). The tasks named in
// expand (their grid rows expanded) also get the state of each instance.
// A cell whose instances are all removed and that has a placeholder
// again (a clear over a list that became empty skipped it) is the
// placeholder's, without a count, as a task mapped over an empty list
// from the start.
func setMapped(g *gridJSON, d *dag.DAG, cells map[cellKey][]store.TaskStateRow, placeholders map[cellKey]bool, expand []string) {
	index := make(map[store.TaskState]int, len(gridStates))
	for i, s := range gridStates {
		index[s] = i
	}
	for i := range g.Tasks {
		if t := dagTask(d, g.Tasks[i].ID); t != nil && t.Mapped() {
			g.Tasks[i].Counts = counts(len(g.Runs))
		}
	}
	for k, rows := range cells {
		t := &g.Tasks[k.task]
		if t.Counts == nil {
			t.Counts = counts(len(g.Runs))
		}
		states := make([]store.TaskState, len(rows))
		for i, c := range rows {
			states[i] = c.State
		}
		live := liveStates(states)
		if len(live) > 0 || !placeholders[k] {
			t.Counts[k.run] = len(live)
			g.Cells[k.run][k.task] = index[summarizeLive(live, states)]
		}
		if slices.Contains(expand, t.ID) {
			setInstances(t, len(g.Runs), k.run, rows, index)
		}
	}
}

// setInstances writes the states of a run's instances of t into
// t.Instances[run] by map index (-1 where it has none), up to
// maxInstanceRows of them.
func setInstances(t *gridTask, runs, run int, rows []store.TaskStateRow, index map[store.TaskState]int) {
	if t.Instances == nil {
		t.Instances = make([][]int, runs)
		for i := range t.Instances {
			t.Instances[i] = []int{}
		}
	}
	for _, c := range rows {
		i := c.Map - 1
		if i >= maxInstanceRows {
			continue
		}
		for len(t.Instances[run]) <= i {
			t.Instances[run] = append(t.Instances[run], -1)
		}
		t.Instances[run][i] = index[c.State]
	}
}

// liveStates leaves out the removed instances (those a clear over a
// shorter list dropped, which count in no trigger rule): a mapped task's
// count and summary state are its live instances', nil when it has none.
func liveStates(states []store.TaskState) []store.TaskState {
	var live []store.TaskState
	for _, s := range states {
		if s != store.StateRemoved {
			live = append(live, s)
		}
	}
	return live
}

// summarizeLive is the most severe state of the live instances, removed
// when every instance is.
func summarizeLive(live, all []store.TaskState) store.TaskState {
	if len(live) == 0 {
		return summarize(all)
	}
	return summarize(live)
}

// counts is a mapped task's Counts before any run is looked at.
func counts(runs int) []int {
	c := make([]int, runs)
	for i := range c {
		c[i] = notExpanded
	}
	return c
}

// dagTask is the task id of d, nil when d or the task is missing.
func dagTask(d *dag.DAG, id string) *dag.Task {
	if d == nil {
		return nil
	}
	return d.Task(id)
}

// instanceJSON is one instance of a mapped task in its task's list.
type instanceJSON struct {
	MapIndex  int      `json:"map_index"`
	State     string   `json:"state"`
	TryNumber int      `json:"try_number"`
	Start     *string  `json:"start_date"`
	End       *string  `json:"end_date"`
	Duration  *float64 `json:"duration"`
}

// instancesOf lists the expanded instances of task k.TaskID in run
// k.RunID, in map index order (none before it expands).
func (h *handler) instancesOf(r *http.Request, k store.TaskKey) ([]instanceJSON, error) {
	tis, err := h.o.Store.ListTaskInstances(r.Context(), k.DagID, k.RunID)
	if err != nil {
		return nil, fmt.Errorf("list task instances of run %s of %s: %w", k.RunID, k.DagID, err)
	}
	out := []instanceJSON{}
	for _, ti := range tis {
		if ti.TaskID != k.TaskID || !ti.Mapped() {
			continue
		}
		in := instanceJSON{MapIndex: ti.MapIndex(), State: string(ti.State), TryNumber: ti.TryNumber,
			Start: stamp(ti.StartDate), End: stamp(ti.EndDate)}
		if !ti.StartDate.IsZero() && !ti.EndDate.IsZero() && !ti.EndDate.Before(ti.StartDate) {
			d := ti.EndDate.Sub(ti.StartDate).Seconds()
			in.Duration = &d
		}
		out = append(out, in)
	}
	slices.SortFunc(out, func(a, b instanceJSON) int { return a.MapIndex - b.MapIndex })
	return out, nil
}

// mappedTI is the task page's answer for a mapped task named without a
// map index once it has expanded (its placeholder is gone): its
// instances, and as its state their most severe one.
func (h *handler) mappedTI(r *http.Request, k store.TaskKey) (tiJSON, error) {
	list, err := h.instancesOf(r, k)
	if err != nil {
		return tiJSON{}, err
	}
	if len(list) == 0 {
		return tiJSON{}, &httpError{http.StatusNotFound, fmt.Sprintf("run %s of DAG %s has no task %s", k.RunID, k.DagID, k.TaskID)}
	}
	states := make([]store.TaskState, len(list))
	for i, in := range list {
		states[i] = store.TaskState(in.State)
	}
	out := tiJSON{DagID: k.DagID, RunID: k.RunID, TaskID: k.TaskID, MapIndex: notExpanded, Mapped: true,
		State: string(summarizeLive(liveStates(states), states)), Instances: list, Tries: []tryJSON{}, Rendered: []byte("{}")}
	out.Finished = store.TaskState(out.State).Finished()
	return out, nil
}

// getTI reads the task instance k names for its page: an expanded mapped
// task named without a map index answers its list (mappedTI).
func (h *handler) getTI(r *http.Request, k store.TaskKey) (store.TaskInstance, *tiJSON, error) {
	ti, err := h.o.Store.GetTaskInstance(r.Context(), k)
	if errors.Is(err, store.ErrNotFound) && !k.Mapped() {
		out, err := h.mappedTI(r, k)
		return ti, &out, err
	}
	if errors.Is(err, store.ErrNotFound) {
		return ti, nil, &httpError{http.StatusNotFound, fmt.Sprintf("run %s of DAG %s has no instance %d of task %s",
			k.RunID, k.DagID, k.MapIndex(), k.TaskID)}
	}
	if err != nil {
		return ti, nil, fmt.Errorf("read task instance: %w", err)
	}
	return ti, nil, nil
}

// mapIndexParam reads ?map_index=: the instance of a mapped task a
// request names, -1 (not mapped, or the whole mapped task) when absent.
func mapIndexParam(r *http.Request) (int, error) {
	return intParam(r, "map_index", notExpanded, notExpanded, 1<<30)
}

package ui

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"

	"github.com/sirocco-dev/sirocco/internal/dag"
	"github.com/sirocco-dev/sirocco/internal/scheduler"
	"github.com/sirocco-dev/sirocco/internal/store"
)

// runBrief is a run as the DAG list and the grid show it.
type runBrief struct {
	RunID       string  `json:"run_id"`
	State       string  `json:"state"`
	RunType     string  `json:"run_type"`
	LogicalDate *string `json:"logical_date"`
	StartDate   *string `json:"start_date"`
	EndDate     *string `json:"end_date"`
}

func briefOf(r store.DagRun) runBrief {
	return runBrief{RunID: r.RunID, State: string(r.State), RunType: string(r.RunType),
		LogicalDate: stamp(r.LogicalDate), StartDate: stamp(r.StartDate), EndDate: stamp(r.EndDate)}
}

// dagRow is the DAG list's extra per DAG: what the REST API has no cheap
// answer for (recent runs of every DAG, the next scheduled run).
type dagRow struct {
	DagID      string     `json:"dag_id"`
	RecentRuns []runBrief `json:"recent_runs"` // newest first
	NextRun    *string    `json:"next_run"`    // logical date of the next scheduled run
	NextRunAt  *string    `json:"next_run_at"` // when it is due (its interval's end)
}

// recentRuns is how many runs the DAG list shows per DAG.
const recentRuns = 8

// apiDAGs answers every loaded DAG's recent runs and next run, from two
// statements whatever the number of DAGs (Store.RecentRuns).
func (h *handler) apiDAGs(w http.ResponseWriter, r *http.Request) {
	dags, _ := h.o.DAGs()
	recent, last, err := h.o.Store.RecentRuns(r.Context(), recentRuns)
	if err != nil {
		h.fail(w, fmt.Errorf("recent runs: %w", err))
		return
	}
	out := make([]dagRow, 0, len(dags))
	for _, id := range sortedIDs(dags) {
		d := dags[id]
		row := dagRow{DagID: d.ID, RecentRuns: make([]runBrief, len(recent[d.ID]))}
		for i, run := range recent[d.ID] {
			row.RecentRuns[i] = briefOf(run)
		}
		lastRun, hasLast := last[d.ID]
		if iv, ok := h.nextRun(d, lastRun, hasLast); ok {
			row.NextRun, row.NextRunAt = stamp(iv.Start), stamp(iv.End)
		}
		out = append(out, row)
	}
	writeJSON(w, map[string]any{"dags": out})
}

// nextRun is the data interval of d's next scheduled run, as the scheduler
// would create it: after the last scheduled run (when hasLast), else the
// first from the start date (the latest due one when catchup is off).
func (h *handler) nextRun(d *dag.DAG, last store.DagRun, hasLast bool) (dag.Interval, bool) {
	if d.Schedule == nil || !dag.IsPeriodic(d.Schedule) {
		return dag.Interval{}, false
	}
	var iv dag.Interval
	var ok bool
	if hasLast {
		iv, ok = d.Schedule.Next(dag.Interval{Start: last.DataIntervalStart, End: last.DataIntervalEnd})
	} else {
		if !d.Catchup {
			iv, ok = d.Schedule.Latest(d.StartDate, h.o.Now())
		}
		if !ok {
			iv, ok = d.Schedule.First(d.StartDate.In(d.Timezone))
		}
	}
	if ok && !d.EndDate.IsZero() && iv.Start.After(d.EndDate) {
		ok = false
	}
	return iv, ok
}

// gridJSON is the grid of one DAG: Cells[r][t] indexes States for run r
// (oldest first) and task t, so 6,000 tasks x 10 runs stay a small answer.
// Groups are its task groups, Rows the order the grid shows groups and
// tasks in (left out without groups: the tasks' order, so a big DAG's
// answer does not grow), and GroupCells[r][g] the summarised state of
// group g in run r (see groups.go).
type gridJSON struct {
	DagID      string      `json:"dag_id"`
	Tasks      []gridTask  `json:"tasks"`
	Groups     []gridGroup `json:"groups"`
	Rows       []gridRow   `json:"rows,omitempty"`
	Runs       []runBrief  `json:"runs"`
	States     []string    `json:"states"`
	Cells      [][]int     `json:"cells"`
	GroupCells [][]int     `json:"group_cells"`
}

// gridTask is a row of the grid: a task of the DAG, or one only its runs
// still have (removed from the file since).
type gridTask struct {
	ID        string   `json:"id"`
	Operator  string   `json:"operator,omitempty"`
	DependsOn []string `json:"depends_on,omitempty"`
	Group     string   `json:"group,omitempty"` // the innermost group's full id
	// Counts is, for a mapped task only, how many instances it has in
	// each run (as Runs): -1 where it has not expanded (its placeholder,
	// or no row). Its cell in Cells is their most severe state.
	Counts []int `json:"counts,omitempty"`
	// Instances is, for a mapped task named by the grid's ?expand=,
	// Instances[r][i] the index in States of map index i's state in run
	// r (-1: no such instance there), for its first 1,000 map indexes.
	Instances [][]int `json:"instances,omitempty"`
}

// gridStates lists the states in the order cells index them ("" first:
// no task instance in that run, or not yet scheduled).
var gridStates = []store.TaskState{store.StateNone, store.StateScheduled, store.StateQueued, store.StateRunning,
	store.StateSuccess, store.StateFailed, store.StateUpForRetry, store.StateUpstreamFailed, store.StateSkipped,
	store.StateUpForReschedule, store.StateRestarting, store.StateRemoved}

// maxGridRuns bounds ?limit= of the grid.
const maxGridRuns = 100

// apiGrid answers the grid of ?dag_id= over its latest ?limit= runs (10
// by default), with the instances of each mapped task named by ?expand=
// (repeated).
func (h *handler) apiGrid(w http.ResponseWriter, r *http.Request) {
	id := r.URL.Query().Get("dag_id")
	limit, err := intParam(r, "limit", 10, 1, maxGridRuns)
	if err != nil {
		h.fail(w, err)
		return
	}
	if !h.knownDAG(r, id) {
		h.fail(w, &httpError{http.StatusNotFound, "no DAG " + strconv.Quote(id)})
		return
	}
	g, err := h.grid(r, id, r.URL.Query().Get("run_id"), limit)
	if err != nil {
		h.fail(w, err)
		return
	}
	writeJSON(w, g)
}

// grid reads the grid of DAG id over its latest limit runs, or over run
// runID alone when given (the graph's states).
func (h *handler) grid(r *http.Request, id, runID string, limit int) (gridJSON, error) {
	g := gridJSON{DagID: id, States: make([]string, len(gridStates))}
	for i, s := range gridStates {
		g.States[i] = string(s)
	}
	row := map[string]int{}
	dags, _ := h.o.DAGs()
	d := dags[id]
	if d != nil {
		for _, t := range d.Tasks {
			row[t.ID] = len(g.Tasks)
			g.Tasks = append(g.Tasks, gridTask{ID: t.ID, Operator: t.Operator, DependsOn: t.DependsOn, Group: t.Group})
		}
	}
	runs, err := h.gridRuns(r, id, runID, limit)
	if err != nil {
		return g, err
	}
	index := make(map[store.TaskState]int, len(gridStates))
	for i, s := range gridStates {
		index[s] = i
	}
	col := make(map[string]int, len(runs))
	ids := make([]string, len(runs))
	for i := range runs {
		run := runs[len(runs)-1-i] // oldest first
		g.Runs = append(g.Runs, briefOf(run))
		col[run.RunID], ids[i] = i, run.RunID
	}
	cells, err := h.o.Store.TaskStates(r.Context(), id, ids)
	if err != nil {
		return g, fmt.Errorf("task states of %s: %w", id, err)
	}
	var removed []string // tasks only the runs have, in id order
	for _, c := range cells {
		if _, ok := row[c.TaskID]; !ok {
			row[c.TaskID] = -1
			removed = append(removed, c.TaskID)
		}
	}
	slices.Sort(removed)
	for _, id := range removed {
		row[id] = len(g.Tasks)
		g.Tasks = append(g.Tasks, gridTask{ID: id})
	}
	g.Cells = make([][]int, len(runs))
	for i := range runs {
		g.Cells[i] = make([]int, len(g.Tasks))
	}
	placeholders := map[cellKey]bool{}
	for _, c := range cells {
		if c.Map == 0 {
			g.Cells[col[c.RunID]][row[c.TaskID]] = index[c.State]
			placeholders[cellKey{col[c.RunID], row[c.TaskID]}] = true
		}
	}
	setMapped(&g, d, mappedCells(cells, col, row), placeholders, r.URL.Query()["expand"])
	if g.Tasks == nil {
		g.Tasks = []gridTask{}
	}
	if g.Runs == nil {
		g.Runs = []runBrief{}
	}
	g.Groups, g.Rows = groupLayout(d, g.Tasks)
	if len(g.Groups) == 0 {
		g.Rows = nil
	}
	g.GroupCells = groupCells(g)
	return g, nil
}

// gridRuns lists the runs of a grid, newest first.
func (h *handler) gridRuns(r *http.Request, id, runID string, limit int) ([]store.DagRun, error) {
	if runID == "" {
		runs, err := h.o.Store.ListRuns(r.Context(), store.RunFilter{DagID: id, Limit: limit})
		if err != nil {
			return nil, fmt.Errorf("list runs of %s: %w", id, err)
		}
		return runs, nil
	}
	run, err := h.o.Store.GetRun(r.Context(), id, runID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, &httpError{http.StatusNotFound, fmt.Sprintf("DAG %s has no run %s", id, runID)}
	}
	if err != nil {
		return nil, fmt.Errorf("read run %s of %s: %w", runID, id, err)
	}
	return []store.DagRun{run}, nil
}

// tiJSON is what the task instance page needs beyond the REST API's
// task instance: rendered fields, every try, the handle made readable.
type tiJSON struct {
	DagID     string     `json:"dag_id"`
	RunID     string     `json:"dag_run_id"`
	TaskID    string     `json:"task_id"`
	Operator  string     `json:"operator"`
	State     string     `json:"state"`
	TryNumber int        `json:"try_number"`
	MaxTries  int        `json:"max_tries"`
	Start     *string    `json:"start_date"`
	End       *string    `json:"end_date"`
	Hostname  string     `json:"hostname"`
	Pool      string     `json:"pool"`
	Queue     string     `json:"queue"`
	Finished  bool       `json:"finished"`
	Handle    handleView `json:"handle"`
	// HandleSource says where Handle was read: "store", "log" (noted in
	// the latest try's log: the try ended before its handle was saved),
	// or "" (none).
	HandleSource string          `json:"handle_source"`
	Rendered     json.RawMessage `json:"rendered"`
	Tries        []tryJSON       `json:"tries"`
	DependsOn    []string        `json:"depends_on"`
	// MapIndex is the instance's map index (-1: not mapped, a mapped
	// task's placeholder, or its list). Mapped says the task is mapped;
	// Instances lists its instances when the page names none of them.
	MapIndex  int            `json:"map_index"`
	Mapped    bool           `json:"mapped"`
	Instances []instanceJSON `json:"instances,omitempty"`
	// Note says why the instance ended without a try (store.TaskInstance.Note).
	Note string `json:"note,omitempty"`
	// Waits is why the instance has not started when the previous run
	// holds it (its note, a depends_on_past reason): a mapped task's
	// banner then says so rather than that its upstream tasks hold it.
	Waits string `json:"waits,omitempty"`
}

// apiTaskInstance answers one task instance for its page: ?map_index=
// names an instance of a mapped task; without it, a mapped task that has
// expanded answers the list of its instances.
func (h *handler) apiTaskInstance(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	mapIndex, err := mapIndexParam(r)
	if err != nil {
		h.fail(w, err)
		return
	}
	key := store.TaskKey{DagID: q.Get("dag_id"), RunID: q.Get("run_id"), TaskID: q.Get("task_id")}.WithMapIndex(mapIndex)
	ti, list, err := h.getTI(r, key)
	if err != nil {
		h.fail(w, err)
		return
	}
	if list != nil {
		h.addTask(list)
		writeJSON(w, list)
		return
	}
	out := tiJSON{DagID: ti.DagID, RunID: ti.RunID, TaskID: ti.TaskID, State: string(ti.State), TryNumber: ti.TryNumber,
		MaxTries: ti.MaxTries, Start: stamp(ti.StartDate), End: stamp(ti.EndDate), Hostname: ti.Hostname, Pool: ti.Pool,
		Queue: ti.Queue, Finished: ti.State.Finished(), MapIndex: ti.MapIndex(), Mapped: ti.Mapped(), Note: ti.Note}
	if ti.State == store.StateNone && scheduler.IsPastNote(ti.Note) {
		out.Waits = ti.Note
	}
	out.Handle, out.HandleSource = handleOf(h.o.Config.LogsDir(), ti)
	if out.Rendered, err = h.maskRendered(r, ti.Rendered); err != nil {
		h.fail(w, err)
		return
	}
	h.addTask(&out)
	if out.Mapped && out.MapIndex < 0 {
		// A mapped task's placeholder runs no try: one skipped by a clear
		// over a list that became empty is the old instance 0, whose
		// tries (and logs, under map_index=0/) come back with it if the
		// list grows again.
		out.TryNumber, out.Tries = 0, []tryJSON{}
		writeJSON(w, out)
		return
	}
	if out.Tries, err = h.tries.tries(h.o.Config.LogsDir(), ti); err != nil {
		h.fail(w, err)
		return
	}
	writeJSON(w, out)
}

// addTask fills in what out's task says in its DAG: operator, upstream
// tasks, whether it is mapped.
func (h *handler) addTask(out *tiJSON) {
	dags, _ := h.o.DAGs()
	if t := dagTask(dags[out.DagID], out.TaskID); t != nil {
		out.Operator, out.DependsOn = t.Operator, t.DependsOn
		out.Mapped = out.Mapped || t.Mapped()
	}
}

// httpError is an answer of the caller's making, with its status.
type httpError struct {
	status int
	msg    string
}

func (e *httpError) Error() string { return e.msg }

// fail answers err as problem JSON, as the REST API does: a 4xx says what
// is wrong, anything else is logged and answered 500 without its text.
func (h *handler) fail(w http.ResponseWriter, err error) {
	status, detail := http.StatusInternalServerError, "the server could not answer; the reason is in its log"
	var he *httpError
	if errors.As(err, &he) {
		status, detail = he.status, he.msg
	} else {
		h.log.Error("ui request failed", "err", err)
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"status": status, "title": http.StatusText(status), "detail": detail})
}

// writeJSON answers v compactly (the grid can be large).
func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(v)
}

// intParam reads an optional integer query parameter within [lo, hi].
func intParam(r *http.Request, name string, def, lo, hi int) (int, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, &httpError{http.StatusBadRequest, fmt.Sprintf("%s: expected an integer from %d to %d, got %q", name, lo, hi, v)}
	}
	return n, nil
}

func sortedIDs(dags map[string]*dag.DAG) []string {
	ids := make([]string, 0, len(dags))
	for id := range dags {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

func pathEscape(s string) string { return url.PathEscape(s) }

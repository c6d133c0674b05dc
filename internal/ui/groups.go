package ui

import (
	"cmp"
	"slices"

	"github.com/sirocco-dev/sirocco/internal/dag"
	"github.com/sirocco-dev/sirocco/internal/store"
)

// gridGroup is a task group of the grid and the graph: its full id, the
// id as written (what a row shows), its tooltip and its enclosing group's
// full id ("" at the top level).
type gridGroup struct {
	ID      string `json:"id"`
	Label   string `json:"label"`
	Tooltip string `json:"tooltip,omitempty"`
	Parent  string `json:"parent,omitempty"`
}

// gridRow is one row of the grid, in display order: a group (Group is an
// index into gridJSON.Groups) or a task (Task indexes gridJSON.Tasks),
// Depth groups deep. A group's rows are the rows after it that are deeper,
// so collapsing it hides exactly those. A mapped task's instances can
// later be rows of their own under their task's row.
type gridRow struct {
	Group *int `json:"group,omitempty"`
	Task  *int `json:"task,omitempty"`
	Depth int  `json:"depth"`
}

// severity ranks the states a group's cell summarises, most severe
// first, as Airflow's State.state_priority: a group shows the most
// severe state of its tasks, so one failure in it shows however many
// succeeded, and a group with a task yet to run is not shown done.
var severity = []store.TaskState{store.StateFailed, store.StateUpstreamFailed, store.StateUpForRetry,
	store.StateUpForReschedule, store.StateQueued, store.StateScheduled, store.StateRunning, store.StateRestarting,
	store.StateNone, store.StateRemoved, store.StateSkipped, store.StateSuccess}

// summarize is the most severe of states (StateNone for none at all).
func summarize(states []store.TaskState) store.TaskState {
	best, rank := store.StateNone, len(severity)
	for _, s := range states {
		if i := slices.Index(severity, s); i >= 0 && i < rank {
			best, rank = s, i
		}
	}
	return best
}

// groupLayout is the groups of a grid and its rows in display order: at
// each level the tasks and groups written there in file order, each
// group followed by its own; tasks the DAG no longer has (only its runs
// do) come last, at the top level.
func groupLayout(d *dag.DAG, tasks []gridTask) ([]gridGroup, []gridRow) {
	index := make(map[string]int, len(tasks))
	for i, t := range tasks {
		index[t.ID] = i
	}
	groups := []gridGroup{}
	rows := []gridRow{}
	if d == nil {
		for i := range tasks {
			rows = append(rows, gridRow{Task: &i, Depth: 0})
		}
		return groups, rows
	}
	type item struct {
		line  int
		task  *dag.Task
		group *dag.TaskGroup
	}
	var walk func(parent string, taskIDs []string, gs []*dag.TaskGroup, depth int)
	walk = func(parent string, taskIDs []string, gs []*dag.TaskGroup, depth int) {
		var items []item
		for _, id := range taskIDs {
			if t := d.Task(id); t != nil {
				items = append(items, item{line: t.Line, task: t})
			}
		}
		for _, g := range gs {
			items = append(items, item{line: g.Line, group: g})
		}
		slices.SortStableFunc(items, func(a, b item) int { return cmp.Compare(a.line, b.line) })
		for _, it := range items {
			if it.task != nil {
				if i, ok := index[it.task.ID]; ok {
					rows = append(rows, gridRow{Task: &i, Depth: depth})
				}
				continue
			}
			gi := len(groups)
			groups = append(groups, gridGroup{ID: it.group.ID, Label: it.group.Label, Tooltip: it.group.Tooltip, Parent: parent})
			rows = append(rows, gridRow{Group: &gi, Depth: depth})
			walk(it.group.ID, it.group.TaskIDs, it.group.Groups, depth+1)
		}
	}
	var top []string
	for _, t := range d.Tasks {
		if t.Group == "" {
			top = append(top, t.ID)
		}
	}
	walk("", top, d.Groups, 0)
	for i, t := range tasks {
		if d.Task(t.ID) == nil {
			rows = append(rows, gridRow{Task: &i, Depth: 0})
		}
	}
	return groups, rows
}

// groupCells summarises each run's task cells per group: GroupCells[r][g]
// indexes States with the most severe state of every task in group g or
// in a group nested in it.
func groupCells(g gridJSON) [][]int {
	members := make([][]int, len(g.Groups)) // task indexes in each group, nested ones included
	at := make(map[string]int, len(g.Groups))
	for i, gr := range g.Groups {
		at[gr.ID] = i
	}
	for ti, t := range g.Tasks {
		for gi, ok := at[t.Group]; ok; gi, ok = at[g.Groups[gi].Parent] {
			members[gi] = append(members[gi], ti)
		}
	}
	index := make(map[store.TaskState]int, len(gridStates))
	for i, s := range gridStates {
		index[s] = i
	}
	out := make([][]int, len(g.Cells))
	for r, cells := range g.Cells {
		out[r] = make([]int, len(g.Groups))
		for gi, tasks := range members {
			states := make([]store.TaskState, len(tasks))
			for k, ti := range tasks {
				states[k] = gridStates[cells[ti]]
			}
			out[r][gi] = index[summarize(states)]
		}
	}
	return out
}

// groupPath is the groups task is in, outermost first: the task page's
// breadcrumb.
func groupPath(d *dag.DAG, taskID string) []*dag.TaskGroup {
	if d == nil {
		return nil
	}
	t := d.Task(taskID)
	if t == nil || t.Group == "" {
		return nil
	}
	var path []*dag.TaskGroup
	var find func(gs []*dag.TaskGroup) bool
	find = func(gs []*dag.TaskGroup) bool {
		for _, g := range gs {
			path = append(path, g)
			if g.ID == t.Group || find(g.Groups) {
				return true
			}
			path = path[:len(path)-1]
		}
		return false
	}
	find(d.Groups)
	return path
}

package scheduler

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/sirocco-dev/sirocco/internal/dag"
	"github.com/sirocco-dev/sirocco/internal/store"
)

// Dynamic task mapping. A mapped task's run starts with one placeholder
// instance (map index -1). Decide hands it to the loop (Plan.Expand) once
// its upstream tasks are done, as it would queue a task; the loop reads
// the lengths of its lists (literal, or an upstream task's XCom) and
// expands it in one conditional transaction (Store.ExpandTask) into map
// indexes 0..n-1, which Decide then schedules as any task. An empty list
// skips the task and a list longer than the cap fails it, as Airflow does.
// Only the length is stored: each instance's values are read again by
// the executor when it renders the instance, from the same lists.

// taskRef names a task of a DAG, all its runs and map indexes together.
type taskRef struct{ dagID, taskID string }

// countTIPerDAG counts ti, queued or running, against its task's
// max_active_tis_per_dag, for the tasks that set one.
func countTIPerDAG(s Snapshot, m map[taskRef]int, ti *store.TaskInstance) map[taskRef]int {
	d := s.DAGs[ti.DagID]
	if d == nil {
		return m
	}
	if t := d.Task(ti.TaskID); t == nil || t.MaxActiveTIsPerDAG == 0 {
		return m
	}
	if m == nil {
		m = map[taskRef]int{}
	}
	m[taskRef{ti.DagID, ti.TaskID}]++
	return m
}

// taskRows locates each task's instances among a run's rows: one for a
// task that is not mapped, one per map index for a mapped one. They are
// usually next to each other (rows are in creation order, a mapped
// task's by map index), so a task has a span; one whose rows are split
// has a list.
type taskRows struct {
	span  map[string][2]int // [first, end)
	split map[string][]int
}

// indexByTask indexes a run's rows by task id. A run of rows of one task
// costs one map write, not one per row.
func indexByTask(tis []*store.TaskInstance) *taskRows {
	x := &taskRows{span: make(map[string][2]int)}
	for i := 0; i < len(tis); {
		id := tis[i].TaskID
		end := i + 1
		for end < len(tis) && tis[end].TaskID == id {
			end++
		}
		x.add(id, i, end)
		i = end
	}
	return x
}

// add records rows [start, end) of task id.
func (x *taskRows) add(id string, start, end int) {
	if l, ok := x.split[id]; ok {
		for j := start; j < end; j++ {
			l = append(l, j)
		}
		x.split[id] = l
		return
	}
	sp, ok := x.span[id]
	if !ok {
		x.span[id] = [2]int{start, end}
		return
	}
	// Not next to its task's other rows: a list of positions.
	l := make([]int, 0, sp[1]-sp[0]+end-start)
	for j := sp[0]; j < sp[1]; j++ {
		l = append(l, j)
	}
	for j := start; j < end; j++ {
		l = append(l, j)
	}
	if x.split == nil {
		x.split = map[string][]int{}
	}
	x.split[id] = l
	delete(x.span, id)
}

// list returns the positions of task id's rows (none if it has none).
func (x *taskRows) list(id string) []int {
	if l, ok := x.split[id]; ok {
		return l
	}
	sp, ok := x.span[id]
	if !ok {
		return nil
	}
	l := make([]int, 0, sp[1]-sp[0])
	for j := sp[0]; j < sp[1]; j++ {
		l = append(l, j)
	}
	return l
}

// each calls fn with the position of each of task id's rows.
func (x *taskRows) each(id string, fn func(int)) {
	if l, ok := x.split[id]; ok {
		for _, j := range l {
			fn(j)
		}
		return
	}
	if sp, ok := x.span[id]; ok {
		for j := sp[0]; j < sp[1]; j++ {
			fn(j)
		}
	}
}

// Expansion is a placeholder Decide found ready to expand, with the
// version of its row then: the expansion is written only over that row,
// so a clear of its upstream in between (a new list to read) makes the
// store refuse it and the next tick decide again.
type Expansion struct {
	store.TaskKey
	Version int64
}

// errMapping is a mapped task that cannot expand: its list is missing or
// not a list, or too long. The task fails.
var errMapping = errors.New("cannot expand")

// errNoUpstreamList is a mapped task whose list would come from an
// upstream task that ended without success (a trigger rule such as
// all_done let it through) and pushed nothing: Airflow's
// NotFullyPopulated, which makes the task upstream_failed. It wraps
// errMapping.
var errNoUpstreamList = fmt.Errorf("%w: missing upstream values", errMapping)

// errUpstreamNotDone is a list read from an upstream task that is not
// finished any more (cleared alone between the decision and the read, so
// the placeholder's version did not change): nothing to decide yet, the
// next tick sees the upstream's new try.
var errUpstreamNotDone = errors.New("upstream task not finished")

// expand expands the placeholders of the plan.
func (l *Loop) expand(ctx context.Context, snap Snapshot, todo []Expansion) []error {
	var errs []error
	for _, x := range todo {
		k := x.TaskKey
		d := snap.DAGs[k.DagID]
		t := d.Task(k.TaskID)
		if t == nil || t.Expand == nil {
			continue
		}
		n, err := MapLength(ctx, l.opts.Store, k, t.Expand, l.maxMapLength())
		if errors.Is(err, errUpstreamNotDone) {
			l.active.markFeedStale() // read the upstream's new state
			continue
		}
		if errors.Is(err, errMapping) {
			if werr := l.failExpansion(ctx, x, err, snap.Now); werr != nil {
				errs = append(errs, werr)
			}
			continue
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		ok, err := l.opts.Store.ExpandTask(ctx, k, x.Version, n, snap.Now)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if ok {
			l.opts.Logger.Info("mapped task expanded", "dag_id", k.DagID, "run_id", k.RunID, "task_id", k.TaskID, "instances", n)
		}
		l.active.markFeedStale() // the new rows are read with the run
	}
	return errs
}

// failExpansion ends the placeholder x that cannot expand, as Airflow
// does: upstream_failed when an upstream task ended without pushing its
// list, else failed. The reason becomes the task's note, which the CLI,
// the API and the UI show, as no try ran to log it. The write is
// conditional on the placeholder Decide read, as the expansion would be.
func (l *Loop) failExpansion(ctx context.Context, x Expansion, why error, now time.Time) error {
	k := x.TaskKey
	to := store.StateFailed
	if errors.Is(why, errNoUpstreamList) {
		to = store.StateUpstreamFailed
	}
	l.opts.Logger.Error("mapped task "+string(to)+": "+why.Error(), "dag_id", k.DagID, "run_id", k.RunID, "task_id", k.TaskID)
	note := why.Error()
	_, err := l.opts.Store.UpdateTask(ctx, store.TaskUpdate{Key: k, FromVersion: &x.Version,
		From: []store.TaskState{store.StateNone, store.StateScheduled}, To: to,
		StartDate: &now, EndDate: &now, Note: &note})
	l.active.markFeedStale()
	if err != nil {
		return fmt.Errorf("end mapped task %s/%s/%s %s: %w", k.DagID, k.RunID, k.TaskID, to, err)
	}
	return nil
}

func (l *Loop) maxMapLength() int {
	if l.opts.MaxMapLength > 0 {
		return l.opts.MaxMapLength
	}
	return dag.DefaultMaxMapLength
}

// MapLength returns how many instances the mapped task of placeholder k
// expands into, reading the XCom lists its expand names. An error wrapping
// errMapping means the task cannot expand (and fails); errUpstreamNotDone
// that its upstream runs again (it waits); others are the store's.
func MapLength(ctx context.Context, st store.Store, k store.TaskKey, e *dag.Expand, maxLen int) (int, error) {
	lists, err := MapLists(ctx, st, k, e)
	if err != nil {
		return 0, err
	}
	lens := make([]int, len(lists))
	for i, l := range lists {
		lens[i] = len(l)
	}
	n := e.MapLength(lens)
	if n > maxLen {
		return 0, fmt.Errorf("%w: %d elements is more than max_map_length (%d)", errMapping, n, maxLen)
	}
	return n, nil
}

// MapLists returns the lists a mapped task expands over, in the order of
// its expand fields (one list for expand_kwargs), the XCom ones read from
// the upstream instance in k's run.
func MapLists(ctx context.Context, st store.Store, k store.TaskKey, e *dag.Expand) ([][]any, error) {
	srcs := make([]dag.MapSource, 0, len(e.Fields)+1)
	for _, f := range e.Fields {
		srcs = append(srcs, f.MapSource)
	}
	if e.Kwargs != nil {
		srcs = append(srcs, *e.Kwargs)
	}
	lists := make([][]any, len(srcs))
	for i, src := range srcs {
		if !src.IsXCom() {
			lists[i] = src.Literal
			continue
		}
		up := store.TaskKey{DagID: k.DagID, RunID: k.RunID, TaskID: src.XComTask}
		x, err := st.GetXCom(ctx, up, src.XComKey)
		if errors.Is(err, store.ErrNotFound) {
			return nil, noList(ctx, st, up, src.XComKey)
		}
		if err != nil {
			return nil, err
		}
		l, err := XComList(x.Value)
		if err != nil {
			return nil, fmt.Errorf("%w: XCom %q of task %q: %w", errMapping, src.XComKey, src.XComTask, err)
		}
		lists[i] = l
	}
	return lists, nil
}

// noList is the error of a missing XCom list: errNoUpstreamList when its
// task ended without success, errUpstreamNotDone when it is not finished
// (any more), else errMapping (a successful task that did not push it).
func noList(ctx context.Context, st store.Store, up store.TaskKey, key string) error {
	ti, err := st.GetTaskInstance(ctx, up)
	if err == nil && !ti.State.Finished() {
		return fmt.Errorf("%w: task %q is %s, XCom %q not pushed yet", errUpstreamNotDone, up.TaskID, stateOrNone(ti.State), key)
	}
	if err == nil && ti.State != store.StateSuccess {
		return fmt.Errorf("%w: task %q ended %s without pushing XCom %q to expand over", errNoUpstreamList, up.TaskID, ti.State, key)
	}
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("read upstream task %s: %w", up.TaskID, err)
	}
	return fmt.Errorf("%w: task %q pushed no XCom %q to expand over", errMapping, up.TaskID, key)
}

// XComList decodes an XCom to expand over: a JSON list, or a JSON string
// holding one (what a bash task's last line of output is when it prints
// a list).
func XComList(value string) ([]any, error) {
	v, err := decodeJSON(value)
	if err != nil {
		return nil, err
	}
	if s, ok := v.(string); ok && strings.HasPrefix(strings.TrimSpace(s), "[") {
		if inner, err := decodeJSON(s); err == nil {
			v = inner
		}
	}
	if l, ok := v.([]any); ok {
		return l, nil
	}
	if m, ok := v.(map[string]any); ok {
		// Airflow expands a dict over its items: [key, value] pairs.
		out := make([]any, 0, len(m))
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			out = append(out, []any{k, m[k]})
		}
		return out, nil
	}
	// The value stays out of the error: it becomes the task's note, which
	// the API, the UI and the CLI show as it is, and a task may return a
	// secret (the API masks XCom values; the XCom itself is there to read).
	return nil, fmt.Errorf("it is %s, not a list", jsonKind(v))
}

// groupByRun returns the rows of each run. A run's rows are usually next
// to each other: they are cut from one slice of pointers made at once
// (a run of 10,000 mapped instances would otherwise regrow its group on
// every tick), hashing only where the run changes; a run whose rows are
// split gets a group of its own.
func groupByRun(tis []store.TaskInstance, runs int) map[runKey][]*store.TaskInstance {
	byRun := make(map[runKey][]*store.TaskInstance, runs)
	ptrs := make([]*store.TaskInstance, len(tis))
	start := 0
	flush := func(end int) {
		if end == start {
			return
		}
		k := runKey{tis[start].DagID, tis[start].RunID}
		if prev, ok := byRun[k]; ok {
			byRun[k] = append(slices.Clip(prev), ptrs[start:end]...) // split: a copy of its own
		} else {
			byRun[k] = ptrs[start:end:end]
		}
		start = end
	}
	for i := range tis {
		ptrs[i] = &tis[i]
		if i > start && (tis[i].RunID != tis[start].RunID || tis[i].DagID != tis[start].DagID) {
			flush(i)
		}
	}
	flush(len(tis))
	return byRun
}

// stateOrNone names a state in messages, "none" for StateNone.
func stateOrNone(s store.TaskState) string {
	if s == store.StateNone {
		return "none"
	}
	return string(s)
}

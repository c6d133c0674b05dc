package dag

import (
	"time"
)

// DAG is a parsed, validated pipeline definition. It is immutable once the
// loader returns it, so the scheduler and executors may share it freely.
type DAG struct {
	ID          string
	Description string
	Schedule    Schedule // never nil; NoSchedule when `schedule: none` or assets
	// AssetSchedule is set when the DAG is scheduled on assets (Airflow's
	// data-aware scheduling): runs come from asset events, not the clock.
	AssetSchedule  *AssetCondition
	ScheduleSpec   string // as written, for display
	Timezone       *time.Location
	StartDate      time.Time // zero when absent (only allowed for unscheduled DAGs)
	EndDate        time.Time // zero = open-ended
	Catchup        bool
	MaxActiveRuns  int // > 0
	MaxActiveTasks int // > 0
	DagrunTimeout  time.Duration
	Params         map[string]Param
	Tags           []string
	Tasks          []*Task // in file order, groups flattened
	FileLoc        string

	// Groups are the DAG's top-level task groups, in file order (nil when
	// it has none). They are for display only: each task's DependsOn
	// already holds what depending on a group means, so the scheduler and
	// executors never look at them.
	Groups []*TaskGroup

	// Preflight lists connections checked before each try of the run's
	// first tasks (those without upstream tasks); a failed check fails
	// the try at once with the report in its log.
	Preflight []string

	// Callbacks are the DAG's on_success_callback and on_failure_callback,
	// called once when a run finishes; Deadline, when set, alerts once on
	// a run not finished in time.
	Callbacks Callbacks
	Deadline  *Deadline

	byID        map[string]*Task
	downstream  map[string][]string
	upstreamIdx [][]int // per task position, the positions of its upstream tasks
}

// Param is a DAG parameter: its default is used unless the trigger's conf
// overrides it, and the override is checked against Type and Enum.
type Param struct {
	Type        string // string | integer | number | boolean | array | object | "" (any)
	Default     any
	Enum        []any
	Description string
}

// TriggerRule decides when a task may run given its upstream tasks' states;
// the names and meanings are Airflow's.
type TriggerRule string

// Airflow's trigger rules.
const (
	AllSuccess              TriggerRule = "all_success"
	AllFailed               TriggerRule = "all_failed"
	AllDone                 TriggerRule = "all_done"
	AllDoneMinOneSuccess    TriggerRule = "all_done_min_one_success"
	OneSuccess              TriggerRule = "one_success"
	OneFailed               TriggerRule = "one_failed"
	OneDone                 TriggerRule = "one_done"
	NoneFailed              TriggerRule = "none_failed"
	NoneFailedMinOneSuccess TriggerRule = "none_failed_min_one_success"
	NoneSkipped             TriggerRule = "none_skipped"
	AllSkipped              TriggerRule = "all_skipped"
	Always                  TriggerRule = "always"
)

// TriggerRules lists every accepted rule, for validation and the JSON Schema.
var TriggerRules = []TriggerRule{
	AllSuccess, AllFailed, AllDone, AllDoneMinOneSuccess, OneSuccess, OneFailed, OneDone,
	NoneFailed, NoneFailedMinOneSuccess, NoneSkipped, AllSkipped, Always,
}

// Task is one node of a DAG. Scheduling fields are typed; the operator's own
// fields stay in Args (decoded YAML values) because only the operator knows
// their meaning — the loader has already checked them against the operator's
// field specs.
type Task struct {
	ID                      string
	Operator                string
	DependsOn               []string
	TriggerRule             TriggerRule
	Retries                 int
	RetryDelay              time.Duration
	RetryExponentialBackoff bool
	MaxRetryDelay           time.Duration // 0 = no cap beyond the default 24h
	ExecutionTimeout        time.Duration // 0 = none
	Pool                    string
	PoolSlots               int
	PriorityWeight          int
	Queue                   string
	Env                     map[string]string
	Args                    map[string]any
	// ExecutorConfig is the task's executor_config: what its worker pod
	// changes under the Kubernetes executor (checked by
	// LoadOptions.CheckExecutorConfig).
	ExecutorConfig map[string]any
	Line           int // line of the task in its file, for error messages

	// Group is the full id of the innermost task group the task is
	// written in ("extract.clean"), "" for a task at the top level.
	Group string

	// Outlets are the assets a success of the task updates (one asset
	// event each); Inlets the assets it reads, shown only.
	Outlets, Inlets []Asset

	// Preflight checks the connections the task uses (its conn_id,
	// ssh_conn_id, ... fields) before each try; a failed check fails the
	// try at once, with the report in its log.
	Preflight bool

	// Cross-run dependencies (crossrun.go): Airflow's depends_on_past,
	// wait_for_downstream and ignore_first_depends_on_past, and
	// latest_only, which skips the task in runs that are not the latest.
	DependsOnPast            bool
	WaitForDownstream        bool
	IgnoreFirstDependsOnPast bool
	LatestOnly               bool

	// Callbacks are the task's on_*_callback notifiers, run outside its
	// tries once per try and event; Deadline, when set, alerts once on a
	// try not finished Interval after it started.
	Callbacks Callbacks
	Deadline  *Deadline

	// Expand makes the task mapped (mapping.go): one task instance per
	// element of its lists. Nil for a task that is not mapped.
	Expand *Expand
	// MaxActiveTIsPerDAG bounds the instances of the task queued or
	// running at once across all runs of the DAG (Airflow's
	// max_active_tis_per_dag); 0 means no bound.
	MaxActiveTIsPerDAG int
}

// TaskGroup is a set of tasks shown as one box, as Airflow's TaskGroup:
// it gives its tasks (and nested groups) a prefixed id and default_args,
// and lets a task depend on the group as a whole (on its leaves) or the
// group on a task (its roots do). The loader has already turned all that
// into plain task dependencies; the tree is kept for `dags show` and the
// API.
type TaskGroup struct {
	ID            string // full id: "extract.clean" (parents' ids prefixed unless prefix_group_id is false)
	Label         string // the id as written in the group: "clean"
	Tooltip       string
	PrefixGroupID bool     // the group's id prefixes its children's ids (default true)
	DependsOn     []string // full ids of the tasks and groups its roots depend on, as written
	TaskIDs       []string // full ids of the tasks written directly in the group, in file order
	Groups        []*TaskGroup
	Line          int
}

// Group returns the task group with the given full id, or nil.
func (d *DAG) Group(id string) *TaskGroup {
	var find func([]*TaskGroup) *TaskGroup
	find = func(gs []*TaskGroup) *TaskGroup {
		for _, g := range gs {
			if g.ID == id {
				return g
			}
			if f := find(g.Groups); f != nil {
				return f
			}
		}
		return nil
	}
	return find(d.Groups)
}

// DefaultPool is the pool every task uses unless it names another, as in Airflow.
const DefaultPool = "default_pool"

// Task returns the task with the given id, or nil.
func (d *DAG) Task(id string) *Task { return d.byID[id] }

// Downstream returns the ids of the tasks that depend directly on id.
func (d *DAG) Downstream(id string) []string { return d.downstream[id] }

// UpstreamIndexes returns the positions in Tasks of the upstream tasks of
// Tasks[i]. The scheduler evaluates every waiting task on each tick; going
// by position spares it a map lookup per dependency.
func (d *DAG) UpstreamIndexes(i int) []int { return d.upstreamIdx[i] }

// Index builds the lookup tables. The loader calls it; tests that build DAGs
// by hand must call it too.
func (d *DAG) Index() {
	d.byID = make(map[string]*Task, len(d.Tasks))
	d.downstream = make(map[string][]string, len(d.Tasks))
	pos := make(map[string]int, len(d.Tasks))
	for i, t := range d.Tasks {
		d.byID[t.ID] = t
		pos[t.ID] = i
	}
	d.upstreamIdx = make([][]int, len(d.Tasks))
	for i, t := range d.Tasks {
		for _, up := range t.DependsOn {
			d.downstream[up] = append(d.downstream[up], t.ID)
			if j, ok := pos[up]; ok {
				d.upstreamIdx[i] = append(d.upstreamIdx[i], j)
			}
		}
	}
}

// DownstreamClosure returns id and every task that transitively depends on it,
// in file order; `tasks clear --downstream` uses it.
func (d *DAG) DownstreamClosure(id string) []string {
	seen := map[string]bool{id: true}
	queue := []string{id}
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		for _, down := range d.downstream[cur] {
			if !seen[down] {
				seen[down] = true
				queue = append(queue, down)
			}
		}
	}
	out := make([]string, 0, len(seen))
	for _, t := range d.Tasks {
		if seen[t.ID] {
			out = append(out, t.ID)
		}
	}
	return out
}

// RetryDelayFor returns how long to wait before the next try after try
// number `try` (1-based) failed, with Airflow's exponential backoff and cap.
func (t *Task) RetryDelayFor(try int) time.Duration {
	delay := t.RetryDelay
	if t.RetryExponentialBackoff && try > 1 {
		for i := 1; i < try && delay < 24*time.Hour; i++ {
			delay *= 2
		}
	}
	limit := t.MaxRetryDelay
	if limit <= 0 {
		limit = 24 * time.Hour
	}
	if delay > limit {
		delay = limit
	}
	return delay
}

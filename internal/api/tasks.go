package api

import (
	"net/http"

	"github.com/sirocco-dev/sirocco/internal/dag"
)

// taskJSON is Airflow's Task, with Sirocco's operator name and the
// upstream ids (depends_on) next to Airflow's downstream_task_ids.
type taskJSON struct {
	TaskID                  string     `json:"task_id"`
	TaskDisplayName         string     `json:"task_display_name"`
	Operator                string     `json:"operator"`
	DownstreamTaskIDs       []string   `json:"downstream_task_ids"`
	UpstreamTaskIDs         []string   `json:"upstream_task_ids"`
	TriggerRule             string     `json:"trigger_rule"`
	Retries                 int        `json:"retries"`
	RetryDelay              *timeDelta `json:"retry_delay"`
	RetryExponentialBackoff bool       `json:"retry_exponential_backoff"`
	MaxRetryDelay           *timeDelta `json:"max_retry_delay"`
	ExecutionTimeout        *timeDelta `json:"execution_timeout"`
	Pool                    string     `json:"pool"`
	PoolSlots               int        `json:"pool_slots"`
	PriorityWeight          int        `json:"priority_weight"`
	WeightRule              string     `json:"weight_rule"`
	Queue                   string     `json:"queue"`
	IsMapped                bool       `json:"is_mapped"`
	// TaskGroupID is the full id of the task group the task is written
	// in (its innermost), null at the top level; the tree is in the DAG's
	// details.
	TaskGroupID *string `json:"task_group_id"`
}

// listTasks lists a DAG's tasks in file order. As Airflow's, the answer
// is not paginated: a DAG's tasks come whole.
func (s *server) listTasks(w http.ResponseWriter, r *http.Request) error {
	d, err := s.lookupDAG(r.PathValue("dag_id"))
	if err != nil {
		return err
	}
	out := make([]taskJSON, len(d.Tasks))
	for i, t := range d.Tasks {
		out[i] = taskOf(d, t)
	}
	return writeJSON(w, http.StatusOK, collection("tasks", out, len(out)))
}

func (s *server) getTask(w http.ResponseWriter, r *http.Request) error {
	d, err := s.lookupDAG(r.PathValue("dag_id"))
	if err != nil {
		return err
	}
	t := d.Task(r.PathValue("task_id"))
	if t == nil {
		return notFound("Task", "DAG %s has no task %q", d.ID, r.PathValue("task_id"))
	}
	return writeJSON(w, http.StatusOK, taskOf(d, t))
}

func taskOf(d *dag.DAG, t *dag.Task) taskJSON {
	down := append([]string{}, d.Downstream(t.ID)...)
	up := append([]string{}, t.DependsOn...)
	return taskJSON{
		TaskID: t.ID, TaskDisplayName: t.ID, Operator: t.Operator, DownstreamTaskIDs: down, UpstreamTaskIDs: up,
		TriggerRule: string(t.TriggerRule), Retries: t.Retries, RetryDelay: span(t.RetryDelay),
		RetryExponentialBackoff: t.RetryExponentialBackoff, MaxRetryDelay: delta(t.MaxRetryDelay),
		ExecutionTimeout: delta(t.ExecutionTimeout), Pool: t.Pool, PoolSlots: t.PoolSlots,
		PriorityWeight: t.PriorityWeight, WeightRule: "absolute", Queue: t.Queue, TaskGroupID: strOrNil(t.Group),
	}
}

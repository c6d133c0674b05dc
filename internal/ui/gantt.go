package ui

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/sirocco-dev/sirocco/internal/store"
)

// ganttJSON is the Gantt of one run: every task instance with every try,
// the earlier ones read back from their logs (tries), so a retried task
// shows each try as its own bar. Run is null when the DAG has no run yet.
type ganttJSON struct {
	DagID string      `json:"dag_id"`
	Run   *runBrief   `json:"run"`
	Now   *string     `json:"now"` // the server's clock: where a running bar ends
	Tasks []ganttTask `json:"tasks"`
}

// ganttTask is one row of the Gantt: a task instance and its tries (none
// when it never ran: skipped or upstream_failed by the scheduler, or not
// started yet).
type ganttTask struct {
	TaskID    string    `json:"task_id"`
	State     string    `json:"state"`
	TryNumber int       `json:"try_number"`
	Tries     []tryJSON `json:"tries"`
	MapIndex  int       `json:"map_index"` // an instance of a mapped task: a row each; -1 otherwise
}

// apiGantt answers the Gantt of ?dag_id='s run ?run_id= (its latest run
// when empty).
func (h *handler) apiGantt(w http.ResponseWriter, r *http.Request) {
	id, runID := r.URL.Query().Get("dag_id"), r.URL.Query().Get("run_id")
	if !h.knownDAG(r, id) {
		h.fail(w, &httpError{http.StatusNotFound, "no DAG " + strconv.Quote(id)})
		return
	}
	runs, err := h.gridRuns(r, id, runID, 1)
	if err != nil {
		h.fail(w, err)
		return
	}
	g := ganttJSON{DagID: id, Now: stamp(h.o.Now()), Tasks: []ganttTask{}}
	if len(runs) > 0 {
		if g.Tasks, err = h.ganttTasks(r, runs[0]); err != nil {
			h.fail(w, err)
			return
		}
		b := briefOf(runs[0])
		g.Run = &b
	}
	writeJSON(w, g)
}

// ganttTasks lists run's task instances in the DAG file's order (tasks
// only the run has, removed from the file since, last), each with its
// tries.
func (h *handler) ganttTasks(r *http.Request, run store.DagRun) ([]ganttTask, error) {
	tis, err := h.o.Store.ListTaskInstances(r.Context(), run.DagID, run.RunID)
	if err != nil {
		return nil, fmt.Errorf("task instances of run %s of %s: %w", run.RunID, run.DagID, err)
	}
	order := map[string]int{}
	if dags, _ := h.o.DAGs(); dags[run.DagID] != nil {
		for i, t := range dags[run.DagID].Tasks {
			order[t.ID] = i
		}
	}
	rank := func(ti store.TaskInstance) int {
		if i, ok := order[ti.TaskID]; ok {
			return i
		}
		return len(order)
	}
	slices.SortStableFunc(tis, func(a, b store.TaskInstance) int {
		if ra, rb := rank(a), rank(b); ra != rb {
			return ra - rb
		}
		if c := strings.Compare(a.TaskID, b.TaskID); c != 0 {
			return c
		}
		return a.Map - b.Map
	})
	out := make([]ganttTask, 0, len(tis))
	for _, ti := range tis {
		ts, err := h.tries.tries(h.o.Config.LogsDir(), ti)
		if err != nil {
			return nil, err
		}
		out = append(out, ganttTask{TaskID: ti.TaskID, State: string(ti.State), TryNumber: ti.TryNumber, Tries: ts, MapIndex: ti.MapIndex()})
	}
	return out, nil
}

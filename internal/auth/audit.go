package auth

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/sirocco-dev/sirocco/internal/store"
)

// Route is what the audit log records of the endpoint a request calls,
// known before it is served so that a refusal (403, 415, 404...) is
// recorded under the same route as a success: the route pattern, with
// its method ("POST /api/v1/dags/{dag_id}/dagRuns"), and the DAG, run and
// task its path names.
type Route struct {
	Pattern              string
	DagID, RunID, TaskID string
	// IDs are the path's other wildcards (connection_id, pool_name,
	// variable_key), recorded in extra under their names.
	IDs map[string]string
}

// OtherRoute is the route of a request no endpoint matches, in the audit
// log and the HTTP metrics: a single name, so that stray paths neither
// hide among real routes nor multiply labels.
const OtherRoute = "other"

// AuditNote is what the handler of an audited request adds to its entry
// beyond what the path says: the run a trigger created, the tasks a clear
// reached, the id of the object a body created. Handlers get it with
// NoteFrom; all its methods do nothing on nil (a request not audited).
// It is written and read on the request's goroutine only.
type AuditNote struct {
	runID     string
	taskIDs   []string
	taskCount int
	extra     map[string]any
}

type noteKey struct{}

// NoteFrom returns the audit note of the request ctx belongs to, nil when
// the request is not audited (a read, or an anonymous caller).
func NoteFrom(ctx context.Context) *AuditNote {
	n, _ := ctx.Value(noteKey{}).(*AuditNote)
	return n
}

// SetRun records the run the request concerns when its path does not name
// it (a trigger's created run, a clear's run).
func (n *AuditNote) SetRun(runID string) {
	if n != nil {
		n.runID = runID
	}
}

// maxNoteTasks bounds the task ids an entry lists: a body may name any
// number, the audit log keeps the first ones and their count.
const maxNoteTasks = 100

// SetTasks records the tasks the request concerns when its path does not
// name one: the entry's task_id is the first, extra's task_ids all of them
// (the first maxNoteTasks, with task_count when there are more).
func (n *AuditNote) SetTasks(ids []string) {
	if n == nil {
		return
	}
	n.taskIDs = append([]string(nil), ids[:min(len(ids), maxNoteTasks)]...)
	n.taskCount = len(ids)
}

// SetMapIndexes records, as extra's map_indexes, the map index of each
// task instance SetTasks named (-1: not mapped), bounded as task_ids are,
// so that map_indexes[i] stays the index of task_ids[i] and a clear of a
// mapped task's thousand instances does not write a thousand of them.
func (n *AuditNote) SetMapIndexes(idx []int) {
	n.Set("map_indexes", append([]int(nil), idx[:min(len(idx), maxNoteTasks)]...))
}

// Set adds key to the entry's extra (the id of a connection, variable or
// pool a body names). The middleware's own keys (method, path, status,
// auth, query, remote_addr) cannot be replaced.
func (n *AuditNote) Set(key string, v any) {
	if n == nil {
		return
	}
	if n.extra == nil {
		n.extra = map[string]any{}
	}
	n.extra[key] = v
}

// route names r for the audit: by Options.Routes when it knows r, else
// by the pattern with a method that a ServeMux below set on r once served,
// else OtherRoute.
func (a *Auth) route(r *http.Request) Route {
	if a.o.Routes != nil {
		if rt := a.o.Routes(r); rt.Pattern != "" {
			return rt
		}
	}
	if strings.Contains(r.Pattern, " ") {
		return Route{Pattern: r.Pattern, DagID: r.PathValue("dag_id"), RunID: r.PathValue("dag_run_id"), TaskID: r.PathValue("task_id")}
	}
	return Route{Pattern: r.Method + " " + OtherRoute}
}

// audit records a state-changing request in the event log once answered:
// who, when, what (the route and the DAG, run and task it concerns) and
// from where. rt is the route known before serving; when it is unknown the
// pattern a ServeMux set on r while serving is used. A failure to record
// is logged, not answered: the change was made.
func (a *Auth) audit(r *http.Request, id Identity, status int, note *AuditNote) {
	rt := a.route(r)
	e := store.EventLog{Owner: id.Username, Event: rt.Pattern, DagID: rt.DagID, RunID: rt.RunID, TaskID: rt.TaskID}
	extra := map[string]any{}
	for k, v := range rt.IDs {
		extra[k] = v
	}
	if note != nil {
		for k, v := range note.extra {
			extra[k] = v
		}
		if note.runID != "" && e.RunID == "" {
			e.RunID = note.runID
		}
		if note.taskCount > len(note.taskIDs) {
			extra["task_count"] = note.taskCount
		}
		if len(note.taskIDs) > 0 {
			extra["task_ids"] = note.taskIDs
			if e.TaskID == "" {
				e.TaskID = note.taskIDs[0]
			}
		}
	}
	extra["method"], extra["path"], extra["status"], extra["auth"] = r.Method, r.URL.Path, status, id.Auth
	if r.URL.RawQuery != "" {
		extra["query"] = r.URL.RawQuery
	}
	a.record(r.Context(), e, r, extra)
}

// record appends an entry with the time, the remote address and extra.
func (a *Auth) record(ctx context.Context, e store.EventLog, r *http.Request, extra map[string]any) {
	extra["remote_addr"] = remoteHost(r)
	b, _ := json.Marshal(extra)
	e.When, e.Extra = a.now(), string(b)
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := a.o.Store.AddEventLog(ctx, e); err != nil {
		a.log.Error("audit log: entry not recorded", "event", e.Event, "owner", e.Owner, "err", err)
	}
}

// remoteHost is the client's address without the port. Forwarding headers
// are not trusted: a proxy in front should log on its side.
func remoteHost(r *http.Request) string {
	if h, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return h
	}
	return r.RemoteAddr
}

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

// audit records a state-changing request in the event log once answered:
// who, when, what (the route pattern, and the DAG, run and task its path
// names) and from where. The route pattern is read from the request after
// serving: http.ServeMux sets it on the request it routes, which is the
// one passed down from here. A failure to record is logged, not answered:
// the change was made.
func (a *Auth) audit(r *http.Request, id Identity, status int) {
	event := r.Method + " " + r.URL.Path
	if p := r.Pattern; p != "" && strings.Contains(p, " ") {
		_, path, _ := strings.Cut(p, " ")
		event = r.Method + " " + strings.TrimPrefix(path, "/api/v1")
	}
	extra := map[string]any{"method": r.Method, "path": r.URL.Path, "status": status, "auth": id.Auth}
	if r.URL.RawQuery != "" {
		extra["query"] = r.URL.RawQuery
	}
	a.record(r.Context(), store.EventLog{Owner: id.Username, Event: event,
		DagID: r.PathValue("dag_id"), RunID: r.PathValue("dag_run_id"), TaskID: r.PathValue("task_id")}, r, extra)
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

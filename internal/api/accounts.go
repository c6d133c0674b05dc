package api

import (
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/sirocco-dev/sirocco/internal/auth"
	"github.com/sirocco-dev/sirocco/internal/store"
)

// This file serves who the caller is (auth/me), the audit log
// (eventLogs, Airflow's shape) and the users (read-only: the CLI manages
// them). No answer ever carries a password hash or a token.

// me answers the caller's identity, for the UI to show the user and hide
// what their role may not do.
func (s *server) me(w http.ResponseWriter, r *http.Request) error {
	id, _ := auth.FromContext(r.Context())
	return writeJSON(w, http.StatusOK, map[string]any{"username": id.Username, "role": id.Role.String(), "auth": id.Auth})
}

// eventLogJSON is Airflow's EventLog, with Sirocco's extra as an object.
func eventLogJSON(e store.EventLog) map[string]any {
	var extra any = e.Extra
	var obj map[string]any
	if json.Unmarshal([]byte(e.Extra), &obj) == nil {
		extra = obj
	}
	return map[string]any{
		"event_log_id": e.ID, "when": ts(e.When), "owner": e.Owner, "event": e.Event,
		"dag_id": nullIfEmpty(e.DagID), "run_id": nullIfEmpty(e.RunID), "task_id": nullIfEmpty(e.TaskID),
		"extra": extra,
	}
}

func nullIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// listEventLogs answers the audit log, oldest first as Airflow's, or
// newest first with order_by=-event_log_id; filtered by dag_id, owner,
// event.
func (s *server) listEventLogs(w http.ResponseWriter, r *http.Request) error {
	p, err := pageOf(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	f := store.EventLogFilter{Owner: q.Get("owner"), Event: q.Get("event"), DagID: q.Get("dag_id"), Limit: p.limit, Offset: p.offset}
	switch q.Get("order_by") {
	case "", "event_log_id", "when":
	case "-event_log_id", "-when":
		f.Desc = true
	default:
		return badRequest("order_by", "order_by must be event_log_id or -event_log_id, got %q", q.Get("order_by"))
	}
	list, total, err := s.o.Store.ListEventLogs(r.Context(), f)
	if err != nil {
		return err
	}
	out := make([]map[string]any, len(list))
	for i, e := range list {
		out[i] = eventLogJSON(e)
	}
	return writeJSON(w, http.StatusOK, map[string]any{"event_logs": out, "total_entries": total})
}

// getEventLog answers one audit entry.
func (s *server) getEventLog(w http.ResponseWriter, r *http.Request) error {
	id, err := strconv.ParseInt(r.PathValue("event_log_id"), 10, 64)
	if err != nil || id <= 0 {
		return notFound("Event log", "no event log %q: ids are positive integers", r.PathValue("event_log_id"))
	}
	list, _, err := s.o.Store.ListEventLogs(r.Context(), store.EventLogFilter{ID: id})
	if err != nil {
		return err
	}
	if len(list) == 0 {
		return notFound("Event log", "no event log %d", id)
	}
	return writeJSON(w, http.StatusOK, eventLogJSON(list[0]))
}

// userJSON is Airflow's User, without what Sirocco does not keep (names,
// email) and never with the password hash.
func userJSON(u store.User) map[string]any {
	return map[string]any{"username": u.Username, "roles": []map[string]string{{"name": u.Role}},
		"created_on": ts(u.CreatedAt), "changed_on": ts(u.UpdatedAt)}
}

func (s *server) listUsers(w http.ResponseWriter, r *http.Request) error {
	p, err := pageOf(r)
	if err != nil {
		return err
	}
	users, err := s.o.Store.ListUsers(r.Context())
	if err != nil {
		return err
	}
	total := len(users)
	users = paginate(users, p)
	out := make([]map[string]any, len(users))
	for i, u := range users {
		out[i] = userJSON(u)
	}
	return writeJSON(w, http.StatusOK, map[string]any{"users": out, "total_entries": total})
}

func (s *server) getUser(w http.ResponseWriter, r *http.Request) error {
	u, err := s.o.Store.GetUser(r.Context(), r.PathValue("username"))
	if isNotFound(err) {
		return notFound("User", "no user %q", r.PathValue("username"))
	}
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, userJSON(u))
}

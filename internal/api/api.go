package api

import (
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/sirocco-dev/sirocco/internal/auth"
	"github.com/sirocco-dev/sirocco/internal/config"
	"github.com/sirocco-dev/sirocco/internal/connection"
	"github.com/sirocco-dev/sirocco/internal/dag"
	"github.com/sirocco-dev/sirocco/internal/metrics"
	"github.com/sirocco-dev/sirocco/internal/preflight"
	"github.com/sirocco-dev/sirocco/internal/store"
)

// Prefix is where the API lives, as Airflow's.
const Prefix = "/api/v1"

// Options are what the API serves from. The caller owns every part: the API
// never closes the store nor reloads DAGs itself.
type Options struct {
	Store store.Store
	// DAGs returns the DAGs loaded now and the import errors by file
	// (engine.Bag's DAGs and Errors), read on every request so a reload
	// shows at once.
	DAGs func() (map[string]*dag.DAG, map[string]error)
	// Config gives the logs folder, the API token (api_token) and the
	// zombie threshold used to judge a scheduler's heartbeat.
	Config config.Config
	// Keys decrypts stored connections so they can be listed, redacted.
	Keys *connection.Keyring
	// Kick, when set, is called after a write so an in-process scheduler
	// acts on it at once instead of at its next poll.
	Kick func()
	// RunCreated, when set, is called instead of Kick after a run was
	// created: the scheduler then reads the new run without the change feed.
	RunCreated func()
	// SchedulerInProcess says a scheduler runs in this process
	// (standalone): health reports it healthy since Started. Otherwise
	// health judges the freshest executor heartbeat in the store.
	SchedulerInProcess bool
	Started            time.Time
	Logger             *slog.Logger
	// Environ lists the environment for SIROCCO_CONN_* lookups
	// (os.Environ when nil); tests set it.
	Environ func() []string
	// Checker runs POST /connections/{id}/test (its Lookup is set per
	// request); nil means the defaults with the configured kinit.
	Checker *preflight.Checker
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// Metrics, when set, is served at /metrics (behind the same guard as
	// the API); Site and HealthOnly record each answer's latency in it.
	Metrics *metrics.Metrics
}

// server is the API over one Options.
type server struct {
	o   Options
	mux *http.ServeMux
	log *slog.Logger
}

// route is one endpoint: method and path under Prefix, in the ServeMux
// pattern syntax, the least role that may call it, and its handler.
type route struct {
	method, path string
	role         auth.Role
	handle       func(w http.ResponseWriter, r *http.Request) error
}

// New returns the API handler. It serves /health, and everything under
// /api/v1, behind the guard described in the package doc; /metrics too
// when o.Metrics is set. It counts no request itself: Site, which puts it
// behind authentication, counts every answer.
func New(o Options) http.Handler {
	return newServer(o)
}

// HealthOnly returns a handler answering /health and /api/v1/health and
// nothing else (and /metrics when o.Metrics is set), for processes that
// serve no API (the scheduler); its answers are counted in o.Metrics.
func HealthOnly(o Options) http.Handler {
	s := newServer(o)
	mux := http.NewServeMux()
	mux.Handle("GET /health", s.adapt(s.health))
	mux.Handle("GET "+Prefix+"/health", s.adapt(s.health))
	if o.Metrics != nil {
		mux.Handle("GET /metrics", o.Metrics.Handler())
	}
	return o.Metrics.Instrument(mux, nil)
}

func newServer(o Options) *server {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.DAGs == nil {
		o.DAGs = func() (map[string]*dag.DAG, map[string]error) { return nil, nil }
	}
	if o.Started.IsZero() {
		o.Started = o.Now()
	}
	s := &server{o: o, mux: http.NewServeMux(), log: o.Logger}
	for _, rt := range s.routes() {
		s.mux.Handle(rt.method+" "+Prefix+rt.path, s.adapt(authorize(rt.role, rt.handle)))
	}
	return s
}

// routes lists every endpoint with the least role that may call it (the
// README's role table); openapi.yaml documents exactly these, each with
// its role (x-sirocco-role), which a test checks against this table and
// against the answers.
func (s *server) routes() []route {
	const run = "/dags/{dag_id}/dagRuns/{dag_run_id}"
	const ti = run + "/taskInstances/{task_id}"
	return []route{
		{"GET", "/health", auth.Public, s.health},
		{"GET", "/openapi.json", auth.Public, s.openAPIJSON},
		{"GET", "/openapi.yaml", auth.Public, s.openAPIYAML},

		{"GET", "/dags", auth.Viewer, s.listDAGs},
		{"GET", "/dags/{dag_id}", auth.Viewer, s.getDAG},
		{"PATCH", "/dags/{dag_id}", auth.User, s.patchDAG},
		{"GET", "/dags/{dag_id}/tasks", auth.Viewer, s.listTasks},
		{"GET", "/dags/{dag_id}/tasks/{task_id}", auth.Viewer, s.getTask},
		{"POST", "/dags/{dag_id}/clearTaskInstances", auth.User, s.clearTaskInstances},

		{"GET", "/dags/{dag_id}/dagRuns", auth.Viewer, s.listRuns},
		{"POST", "/dags/{dag_id}/dagRuns", auth.User, s.triggerRun},
		{"GET", run, auth.Viewer, s.getRun},
		{"DELETE", run, auth.User, s.deleteRun},

		{"GET", run + "/taskInstances", auth.Viewer, s.listTaskInstances},
		{"GET", ti, auth.Viewer, s.getTaskInstance},
		{"PATCH", ti, auth.User, s.patchTaskInstance},
		{"GET", ti + "/logs/{task_try_number}", auth.Viewer, s.getLog},
		{"GET", ti + "/xcomEntries", auth.Viewer, s.listXComs},
		{"GET", ti + "/xcomEntries/{xcom_key}", auth.Viewer, s.getXCom},
		{"GET", ti + "/listMapped", auth.Viewer, s.listMapped},
		{"GET", ti + "/{map_index}", auth.Viewer, s.getTaskInstance},
		{"PATCH", ti + "/{map_index}", auth.User, s.patchTaskInstance},

		{"GET", "/connections", auth.Op, s.listConnections},
		{"POST", "/connections", auth.Op, s.postConnection},
		{"GET", "/connections/{connection_id}", auth.Op, s.getConnection},
		{"PATCH", "/connections/{connection_id}", auth.Op, s.patchConnection},
		{"DELETE", "/connections/{connection_id}", auth.Op, s.deleteConnection},
		{"POST", "/connections/{connection_id}/test", auth.Op, s.testConnection},
		{"GET", "/pools", auth.Viewer, s.listPools},
		{"POST", "/pools", auth.Op, s.postPool},
		{"GET", "/pools/{pool_name}", auth.Viewer, s.getPool},
		{"PATCH", "/pools/{pool_name}", auth.Op, s.patchPool},
		{"DELETE", "/pools/{pool_name}", auth.Op, s.deletePool},
		{"GET", "/variables", auth.Op, s.listVariables},
		{"POST", "/variables", auth.Op, s.postVariable},
		{"GET", "/variables/{variable_key}", auth.Op, s.getVariable},
		{"PATCH", "/variables/{variable_key}", auth.Op, s.patchVariable},
		{"DELETE", "/variables/{variable_key}", auth.Op, s.deleteVariable},
		{"GET", "/assets", auth.Viewer, s.listAssets},
		{"GET", "/assets/events", auth.Viewer, s.listAssetEvents},
		{"POST", "/assets/events", auth.User, s.postAssetEvent},
		{"GET", "/importErrors", auth.Viewer, s.listImportErrors},
		{"GET", "/importErrors/{import_error_id}", auth.Viewer, s.getImportError},

		{"GET", "/auth/me", auth.Viewer, s.me},
		{"GET", "/eventLogs", auth.Admin, s.listEventLogs},
		{"GET", "/eventLogs/{event_log_id}", auth.Admin, s.getEventLog},
		{"GET", "/users", auth.Admin, s.listUsers},
		{"GET", "/users/{username}", auth.Admin, s.getUser},
	}
}

// ServeHTTP answers /health openly and everything else through the guard.
func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	if r.URL.Path == "/health" || r.URL.Path == Prefix+"/health" {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			s.fail(w, r, &problem{Status: http.StatusMethodNotAllowed, Title: "Method not allowed",
				Detail: r.Method + " is not allowed on " + r.URL.Path + "; use GET", kind: "MethodNotAllowed"})
			return
		}
		_ = s.health(w, r)
		return
	}
	if err := s.guard(w, r); err != nil {
		s.fail(w, r, err)
		return
	}
	if r.URL.Path == "/metrics" && s.o.Metrics != nil && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
		s.o.Metrics.Handler().ServeHTTP(w, r)
		return
	}
	if _, pattern := s.mux.Handler(r); pattern == "" {
		s.fail(w, r, s.unrouted(r))
		return
	}
	if !storable(r.URL.Path) {
		s.fail(w, r, &problem{Status: http.StatusNotFound, Title: "Not found", kind: "NotFound",
			Detail: "no DAG, run, task or other object has an id holding NUL or bytes that are not UTF-8"})
		return
	}
	s.mux.ServeHTTP(w, r)
}

// unrouted tells a path no route has (404) from a method the path does
// not accept (405, with Allow), both as problem JSON.
func (s *server) unrouted(r *http.Request) error {
	var allowed []string
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPatch, http.MethodPut, http.MethodDelete} {
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := s.mux.Handler(probe); pattern != "" {
			allowed = append(allowed, m)
		}
	}
	if len(allowed) == 0 {
		return &problem{Status: http.StatusNotFound, Title: "Not found",
			Detail: "no API endpoint at " + r.URL.Path + " (see " + Prefix + "/openapi.json)", kind: "NotFound"}
	}
	return &problem{Status: http.StatusMethodNotAllowed, Title: "Method not allowed",
		Detail: r.Method + " is not allowed on " + r.URL.Path, kind: "MethodNotAllowed", allow: allowed}
}

// authorize lets through only callers whose identity (put in the context
// by auth's middleware) has at least role min: 401 without one, 403 below
// it. A route without a role (auth.NoRole) is refused to everyone.
func authorize(min auth.Role, h func(http.ResponseWriter, *http.Request) error) func(http.ResponseWriter, *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		if err := auth.Check(r, min); err != nil {
			status := auth.CheckStatus(err)
			kind := map[int]string{http.StatusUnauthorized: "Unauthenticated", http.StatusForbidden: "PermissionDenied"}[status]
			title := map[int]string{http.StatusUnauthorized: "Unauthorized", http.StatusForbidden: "Forbidden"}[status]
			return &problem{Status: status, Title: title, Detail: strings.TrimPrefix(err.Error(), title+": "), kind: kind}
		}
		return h(w, r)
	}
}

// adapt turns a handler returning an error into an http.Handler that
// answers the error as problem JSON.
func (s *server) adapt(h func(http.ResponseWriter, *http.Request) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			s.fail(w, r, err)
		}
	})
}

func (s *server) now() time.Time { return s.o.Now().UTC() }

// kick wakes the in-process scheduler after a write.
func (s *server) kick() {
	if s.o.Kick != nil {
		s.o.Kick()
	}
}

// runCreated wakes the in-process scheduler after a run was created.
func (s *server) runCreated() {
	if s.o.RunCreated != nil {
		s.o.RunCreated()
		return
	}
	s.kick()
}

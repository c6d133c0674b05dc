package api

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/sirocco-dev/sirocco/internal/config"
	"github.com/sirocco-dev/sirocco/internal/connection"
	"github.com/sirocco-dev/sirocco/internal/dag"
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
}

// server is the API over one Options.
type server struct {
	o   Options
	mux *http.ServeMux
	log *slog.Logger
}

// route is one endpoint: method and path under Prefix, in the ServeMux
// pattern syntax, and its handler.
type route struct {
	method, path string
	handle       func(w http.ResponseWriter, r *http.Request) error
}

// New returns the API handler. It serves /health, and everything under
// /api/v1, behind the guard described in the package doc.
func New(o Options) http.Handler {
	return newServer(o)
}

// HealthOnly returns a handler answering /health and /api/v1/health and
// nothing else, for processes that serve no API (the scheduler).
func HealthOnly(o Options) http.Handler {
	s := newServer(o)
	mux := http.NewServeMux()
	mux.Handle("GET /health", s.adapt(s.health))
	mux.Handle("GET "+Prefix+"/health", s.adapt(s.health))
	return mux
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
		s.mux.Handle(rt.method+" "+Prefix+rt.path, s.adapt(rt.handle))
	}
	return s
}

// routes lists every endpoint; openapi.yaml documents exactly these.
func (s *server) routes() []route {
	const run = "/dags/{dag_id}/dagRuns/{dag_run_id}"
	const ti = run + "/taskInstances/{task_id}"
	return []route{
		{"GET", "/health", s.health},
		{"GET", "/openapi.json", s.openAPIJSON},
		{"GET", "/openapi.yaml", s.openAPIYAML},

		{"GET", "/dags", s.listDAGs},
		{"GET", "/dags/{dag_id}", s.getDAG},
		{"PATCH", "/dags/{dag_id}", s.patchDAG},
		{"GET", "/dags/{dag_id}/tasks", s.listTasks},
		{"GET", "/dags/{dag_id}/tasks/{task_id}", s.getTask},
		{"POST", "/dags/{dag_id}/clearTaskInstances", s.clearTaskInstances},

		{"GET", "/dags/{dag_id}/dagRuns", s.listRuns},
		{"POST", "/dags/{dag_id}/dagRuns", s.triggerRun},
		{"GET", run, s.getRun},
		{"DELETE", run, s.deleteRun},

		{"GET", run + "/taskInstances", s.listTaskInstances},
		{"GET", ti, s.getTaskInstance},
		{"PATCH", ti, s.patchTaskInstance},
		{"GET", ti + "/logs/{task_try_number}", s.getLog},
		{"GET", ti + "/xcomEntries", s.listXComs},
		{"GET", ti + "/xcomEntries/{xcom_key}", s.getXCom},

		{"GET", "/connections", s.listConnections},
		{"POST", "/connections", s.postConnection},
		{"GET", "/connections/{connection_id}", s.getConnection},
		{"PATCH", "/connections/{connection_id}", s.patchConnection},
		{"DELETE", "/connections/{connection_id}", s.deleteConnection},
		{"POST", "/connections/{connection_id}/test", s.testConnection},
		{"GET", "/pools", s.listPools},
		{"POST", "/pools", s.postPool},
		{"GET", "/pools/{pool_name}", s.getPool},
		{"PATCH", "/pools/{pool_name}", s.patchPool},
		{"DELETE", "/pools/{pool_name}", s.deletePool},
		{"GET", "/variables", s.listVariables},
		{"POST", "/variables", s.postVariable},
		{"GET", "/variables/{variable_key}", s.getVariable},
		{"PATCH", "/variables/{variable_key}", s.patchVariable},
		{"DELETE", "/variables/{variable_key}", s.deleteVariable},
		{"GET", "/importErrors", s.listImportErrors},
		{"GET", "/importErrors/{import_error_id}", s.getImportError},
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

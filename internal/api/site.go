package api

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/sirocco-dev/sirocco/internal/auth"
	"github.com/sirocco-dev/sirocco/internal/metrics"
)

// Site is everything served on the port, as standalone and api-server
// serve it: auth's /login, /logout and /auth/token, the API under
// /api/v1, /health and /metrics, and the handler ui builds at every other
// path (nil: the API's 404; ui gets the auth.Auth so that its streams can
// check their caller again while they last), all behind an auth.Auth made of ao, which records writes in
// the audit log under the route patterns this package names (ao.Routes is
// set here). Every answer is counted in o.Metrics, auth's refusals (401,
// 403) included.
func Site(o Options, ao auth.Options, ui func(*auth.Auth) http.Handler) http.Handler {
	s := newServer(o)
	ao.Routes = s.auditRoute
	authn := auth.New(ao)
	mux := http.NewServeMux()
	mux.Handle(Prefix+"/", s)
	mux.Handle("/health", s)
	mux.Handle("/metrics", s)
	if ui == nil {
		mux.Handle("/", s)
	} else {
		mux.Handle("/", metrics.LabelRoute(ui(authn)))
	}
	return o.Metrics.Instrument(authn.Handler(mux), s.routeLabel)
}

// match returns the pattern of the API route r calls, with its method
// ("POST /api/v1/dags/{dag_id}/dagRuns"), or "" when none does.
func (s *server) match(r *http.Request) string {
	if !strings.HasPrefix(r.URL.Path, Prefix+"/") {
		return ""
	}
	_, pattern := s.mux.Handler(r)
	if !strings.Contains(pattern, " ") {
		return "" // every route has a method: anything else is no route
	}
	return pattern
}

// auditRoute names r's route and the DAG, run and task its path gives,
// for the audit log (auth.Options.Routes).
func (s *server) auditRoute(r *http.Request) auth.Route {
	pattern := s.match(r)
	if pattern == "" {
		return auth.Route{}
	}
	v := pathValues(pattern, r.URL.EscapedPath())
	rt := auth.Route{Pattern: pattern, DagID: v["dag_id"], RunID: v["dag_run_id"], TaskID: v["task_id"]}
	delete(v, "dag_id")
	delete(v, "dag_run_id")
	delete(v, "task_id")
	if len(v) > 0 {
		rt.IDs = v
	}
	return rt
}

// routeLabel is the route label of r's request metrics: the path pattern
// of the API route it calls, without its method (the method is a label of
// its own); the path itself for the fixed paths outside /api/v1; "" for
// any other, which the UI's own pattern or "other" then names.
func (s *server) routeLabel(r *http.Request) string {
	switch r.URL.Path {
	case "/health", "/metrics", "/login", "/logout", "/auth/token":
		return r.URL.Path
	}
	_, path, _ := strings.Cut(s.match(r), " ")
	return path
}

// pathValues reads the wildcards of pattern ("POST /api/v1/dags/{dag_id}")
// from escapedPath: each {name} segment, unescaped, as http.ServeMux gives
// them to the handler. The routes have no multi-segment wildcard, so
// segments align one to one; a path that does not (one the ServeMux
// redirects to its clean form) gives none.
func pathValues(pattern, escapedPath string) map[string]string {
	_, pat, _ := strings.Cut(pattern, " ")
	ps, segs := strings.Split(pat, "/"), strings.Split(escapedPath, "/")
	if len(ps) != len(segs) {
		return nil
	}
	v := map[string]string{}
	for i, p := range ps {
		name, wild := strings.CutPrefix(p, "{")
		val, err := url.PathUnescape(segs[i])
		switch {
		case err != nil || !wild && val != p:
			return nil
		case wild:
			v[strings.TrimSuffix(name, "}")] = val
		}
	}
	return v
}

package ui

import (
	"embed"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/sirocco-dev/sirocco/internal/config"
	"github.com/sirocco-dev/sirocco/internal/connection"
	"github.com/sirocco-dev/sirocco/internal/dag"
	"github.com/sirocco-dev/sirocco/internal/store"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Options are what the UI serves from; the caller owns every part, as for
// api.Options (the same store and DAG bag).
type Options struct {
	Store store.Store
	// DAGs returns the DAGs loaded now and the import errors by file.
	DAGs func() (map[string]*dag.DAG, map[string]error)
	// Config gives the logs folder (task logs are tailed from it).
	Config config.Config
	Logger *slog.Logger
	// Now is the clock (time.Now when nil): next runs are computed from it.
	Now func() time.Time
	// PollInterval is how often the change feed (/ui/api/events) and a
	// tailed log are looked at; 500ms when zero.
	PollInterval time.Duration
	// Guard admits a request to the UI's data (/ui/api/); an error is
	// answered 401 (or 403 for a forbidden Host). Nil means the REST API's
	// rule without users: with no api_token only requests to a loopback
	// name, with one only requests bearing it. The auth middleware, which
	// authenticates every request before the UI sees it, sets one that
	// admits all.
	Guard func(r *http.Request) error
	// Stop, when closed, ends the open event streams (the change feed and
	// log tails), which would otherwise hold up the server's graceful
	// shutdown until its timeout. The CLI passes its context's Done.
	Stop <-chan struct{}
	// KeepAlive is how often an idle event stream sends a comment, so
	// proxies keep it open; 15s when zero.
	KeepAlive time.Duration
	// Keys decrypt the stored variables and connections whose secrets the
	// rendered fields are masked with (as api.Options.Keys); Environ lists
	// the environment for SIROCCO_VAR_* and SIROCCO_CONN_* (os.Environ
	// when nil).
	Keys    *connection.Keyring
	Environ func() []string
	// Recheck, when set, says whether the credentials a request came with
	// are still good and until when (zero: no end). An open event stream
	// or log tail calls it every RecheckInterval (30s when zero) and ends
	// with an "end" event once it fails (logout, user deleted, token
	// revoked) or the returned time passes (the session expired): the auth
	// middleware only checks a request when it starts.
	Recheck         func(r *http.Request) (time.Time, error)
	RecheckInterval time.Duration
	// MaxStreamsPerUser and MaxStreams bound the open event streams and
	// log tails of one caller and of the server (16 and 256 when zero);
	// beyond them a stream is answered 429.
	MaxStreamsPerUser, MaxStreams int
}

// handler is the UI over one Options.
type handler struct {
	o       Options
	log     *slog.Logger
	mux     *http.ServeMux
	pages   map[string]*template.Template
	feed    *feed       // the change feed's one poller
	streams streamCount // open streams, capped
	tries   *tryCache   // summaries of finished tries' logs
}

// New returns the UI handler: every page, /static/ and /ui/api/. It must be
// mounted at the root, beside the REST API (which owns /api/v1 and /health).
func New(o Options) http.Handler {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.DAGs == nil {
		o.DAGs = func() (map[string]*dag.DAG, map[string]error) { return nil, nil }
	}
	if o.PollInterval <= 0 {
		o.PollInterval = 500 * time.Millisecond
	}
	if o.KeepAlive <= 0 {
		o.KeepAlive = 15 * time.Second
	}
	if o.RecheckInterval <= 0 {
		o.RecheckInterval = 30 * time.Second
	}
	if o.MaxStreamsPerUser <= 0 {
		o.MaxStreamsPerUser = 16
	}
	if o.MaxStreams <= 0 {
		o.MaxStreams = 256
	}
	h := &handler{o: o, log: o.Logger, mux: http.NewServeMux(), pages: parsePages(),
		streams: streamCount{per: map[string]int{}}, tries: &tryCache{m: map[string]cachedTry{}}}
	h.feed = &feed{h: h, subs: map[chan struct{}]struct{}{}}
	h.routes()
	return h
}

func (h *handler) routes() {
	static, _ := fs.Sub(staticFS, "static") // the embedded folder exists
	h.mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	h.mux.HandleFunc("GET /favicon.ico", favicon)
	page := func(pattern, name string) {
		h.mux.HandleFunc("GET "+pattern, func(w http.ResponseWriter, r *http.Request) { h.page(w, r, name) })
	}
	page("/{$}", "dags")
	page("/dags/{dag_id}", "grid")
	page("/dags/{dag_id}/graph", "graph")
	page("/dags/{dag_id}/gantt", "gantt")
	page("/dags/{dag_id}/trigger", "trigger")
	page("/dags/{dag_id}/runs/{run_id}/tasks/{task_id}", "task")
	for _, name := range adminPages {
		page("/admin/"+name, name)
	}
	h.mux.HandleFunc("GET /ui/api/dags", h.apiDAGs)
	h.mux.HandleFunc("GET /ui/api/grid", h.apiGrid)
	h.mux.HandleFunc("GET /ui/api/ti", h.apiTaskInstance)
	h.mux.HandleFunc("GET /ui/api/gantt", h.apiGantt)
	h.mux.HandleFunc("GET /ui/api/events", h.events)
	h.mux.HandleFunc("GET /ui/api/log", h.logTail)
}

// favicon answers /favicon.ico, which browsers ask for on pages that link
// no icon (the login page, a JSON answer): the embedded SVG icon.
func favicon(w http.ResponseWriter, _ *http.Request) {
	icon, err := staticFS.ReadFile("static/favicon.svg")
	if err != nil {
		http.Error(w, "no icon", http.StatusNotFound) // embedded: cannot happen
		return
	}
	w.Header().Set("Content-Type", "image/svg+xml")
	w.Header().Set("Cache-Control", "public, max-age=86400")
	_, _ = w.Write(icon)
}

// contentPolicy allows only the UI's own scripts, styles and requests: no
// inline script, nothing from another origin, no framing.
const contentPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// ServeHTTP answers with the security headers every UI answer carries.
func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Content-Security-Policy", contentPolicy)
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Referrer-Policy", "same-origin")
	if strings.HasPrefix(r.URL.Path, "/ui/api/") {
		if err := h.guard(r); err != nil {
			h.fail(w, err)
			return
		}
	}
	if _, pattern := h.mux.Handler(r); pattern == "" && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
		h.notFound(w, r, "There is no page at "+r.URL.Path+".")
		return
	}
	h.mux.ServeHTTP(w, r)
}

package auth

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"path"
	"runtime"
	"strings"
	"sync/atomic"
	"time"

	"github.com/sirocco-dev/sirocco/internal/store"
)

// Cookie and header names, fixed by the contract with the UI.
const (
	SessionCookie = "sirocco_session"
	CSRFCookie    = "sirocco_csrf"
	CSRFHeader    = "X-CSRF-Token"
	CSRFField     = "csrf_token"
)

// Defaults of Options.
const (
	DefaultSessionTTL = 12 * time.Hour
	DefaultAccessTTL  = time.Hour
	DefaultMaxFails   = 5
	DefaultFailWindow = time.Minute
)

// Options configure an Auth; only Store is required.
type Options struct {
	Store store.Accounts
	// ServiceToken, when set, is accepted as a bearer token with the Admin
	// role (api_token, SIROCCO_API_TOKEN): for scripts and workers.
	ServiceToken string
	// Secure marks the cookies Secure: set it when serving TLS.
	Secure bool
	// SessionTTL is how long a login lasts; AccessTTL how long a token
	// from POST /auth/token does.
	SessionTTL, AccessTTL time.Duration
	// MaxFails failed logins within FailWindow, per username and per
	// remote address, make further attempts answer 429.
	MaxFails   int
	FailWindow time.Duration
	// MaxPasswordChecks bounds the password checks running at once (each
	// takes 19 MiB); more logins wait. Default: GOMAXPROCS, at most 4.
	MaxPasswordChecks int
	Logger            *slog.Logger
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// Routes names the route a request calls, before it is served, for
	// the audit log (package api knows its routes); when nil or when it
	// returns no pattern, the one a ServeMux below set while serving is
	// used, else OtherRoute.
	Routes func(*http.Request) Route
}

// Auth authenticates requests (Middleware), serves /login, /logout and
// /auth/token (Handler) and records state-changing calls in the audit log.
type Auth struct {
	o        Options
	log      *slog.Logger
	limit    *limiter
	users    atomic.Bool   // a user existed once: never trust loopback again
	pruned   atomic.Int64  // unix seconds of the last prune of expired tokens
	dummyPwd string        // a hash checked when the user is unknown, so timing tells nothing
	hashing  chan struct{} // one token per password check running (MaxPasswordChecks)
	cross    *http.CrossOriginProtection
}

// New returns an Auth over o.
func New(o Options) *Auth {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.SessionTTL <= 0 {
		o.SessionTTL = DefaultSessionTTL
	}
	if o.AccessTTL <= 0 {
		o.AccessTTL = DefaultAccessTTL
	}
	if o.MaxFails <= 0 {
		o.MaxFails = DefaultMaxFails
	}
	if o.FailWindow <= 0 {
		o.FailWindow = DefaultFailWindow
	}
	if o.MaxPasswordChecks <= 0 {
		o.MaxPasswordChecks = min(runtime.GOMAXPROCS(0), 4)
	}
	dummy, _ := HashPassword(GeneratePassword())
	return &Auth{o: o, log: o.Logger, limit: newLimiter(o.MaxFails, o.FailWindow, o.Now), dummyPwd: dummy,
		hashing: make(chan struct{}, o.MaxPasswordChecks), cross: http.NewCrossOriginProtection()}
}

func (a *Auth) now() time.Time { return a.o.Now().UTC() }

// Handler is the whole site behind authentication: /login, /logout and
// /auth/token are served here, everything else by next (the API and the
// UI), all through Middleware.
func (a *Auth) Handler(next http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /login", a.loginPage)
	mux.HandleFunc(eventLogin, a.login)
	mux.HandleFunc(eventLogout, a.logout)
	mux.HandleFunc(eventToken, a.token)
	mux.Handle("/", next)
	return a.Middleware(mux)
}

// publicPaths answer without authentication; everything else needs an
// identity (the route then checks its role).
var publicPaths = map[string]bool{
	"/health": true, "/api/v1/health": true, "/api/v1/openapi.json": true, "/api/v1/openapi.yaml": true,
	"/login": true, "/logout": true, "/auth/token": true, "/favicon.ico": true,
}

// IsPublic reports whether path answers without authentication: health,
// the OpenAPI document, the login endpoints and the UI's static assets.
func IsPublic(p string) bool {
	return publicPaths[p] || strings.HasPrefix(p, "/static/") && path.Clean(p) == p
}

// Middleware finds who makes each request and puts it in the request's
// context (FromContext). A request to a path that is not public without
// valid credentials is refused: 303 to /login for a browser's page, 401
// problem JSON otherwise. A state-changing request authenticated by the
// session cookie must carry the CSRF token. State-changing requests of
// an identified caller are recorded in the audit log once answered,
// refused or not, under their route pattern (Options.Routes).
func (a *Auth) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		public := IsPublic(r.URL.Path)
		id, session, f := a.identify(r)
		if f != nil && !public {
			refuse(w, r, f)
			return
		}
		if id == nil {
			if !public {
				refuse(w, r, unauthenticated("this endpoint needs a login: a session cookie or an Authorization: Bearer <token> header"))
				return
			}
			next.ServeHTTP(w, r)
			return
		}
		if !unsafeMethod(r.Method) || public {
			next.ServeHTTP(w, r.WithContext(NewContext(r.Context(), *id)))
			return
		}
		note := &AuditNote{}
		r = r.WithContext(context.WithValue(NewContext(r.Context(), *id), noteKey{}, note))
		if f := a.crossSite(r, id.Auth, session); f != nil {
			writeProblem(w, f)
			a.audit(r, *id, f.status, note)
			return
		}
		rec := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		a.audit(r, *id, rec.status, note)
	})
}

// crossSite refuses a state-changing request that another site may have
// sent: one authenticated by the session cookie without its CSRF token,
// and one of the anonymous Admin that a browser says came from another
// site.
func (a *Auth) crossSite(r *http.Request, via, session string) *failure {
	switch via {
	case ViaSession:
		return checkCSRF(r, session)
	case ViaNone:
		return a.sameOrigin(r)
	}
	return nil
}

// sameOrigin refuses a state-changing request of the anonymous Admin (no
// user yet) that a browser says another site sent (Sec-Fetch-Site, or
// Origin naming another host): without a session there is no CSRF token,
// and any page the local user opens could otherwise post to localhost.
func (a *Auth) sameOrigin(r *http.Request) *failure {
	if err := a.cross.Check(r); err != nil {
		return forbidden("a state-changing request from another site's page is refused (" + err.Error() +
			"); with no user yet only this machine's own tools and pages may write")
	}
	return nil
}

// unsafeMethod reports whether method may change state.
func unsafeMethod(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return false
	}
	return true
}

// identify returns the request's identity (nil: anonymous), the session
// secret when a cookie authenticated it, or why its credentials are
// refused.
func (a *Auth) identify(r *http.Request) (*Identity, string, *failure) {
	ctx := r.Context()
	if h := r.Header.Get("Authorization"); h != "" {
		id, f := a.bearer(ctx, h)
		return id, "", f
	}
	if c, err := r.Cookie(SessionCookie); err == nil && c.Value != "" {
		id, err := a.lookup(ctx, c.Value, store.TokenSession)
		if err != nil {
			return nil, "", a.storeFailure(err)
		}
		if id != nil {
			return id, c.Value, nil
		}
	}
	if a.o.ServiceToken != "" {
		return nil, "", nil
	}
	open, err := a.open(ctx)
	if err != nil {
		return nil, "", a.storeFailure(err)
	}
	if !open {
		return nil, "", nil
	}
	if !loopbackHost(r.Host) {
		return nil, "", forbidden("host " + quote(r.Host) + " is not a loopback name; with no user and no api_token " +
			"the API only answers requests to localhost (create a user: sirocco users create)")
	}
	if !localCaller(r) {
		return nil, "", forbidden("with no user and no api_token the API only answers callers on this machine, " +
			"not from " + quote(remoteHost(r)) + " nor relayed by a proxy (create a user: sirocco users create)")
	}
	return &Identity{Username: "anonymous", Role: Admin, Auth: ViaNone}, "", nil
}

// bearer checks an Authorization header: the service token, or a user's
// token from /auth/token or the CLI.
func (a *Auth) bearer(ctx context.Context, header string) (*Identity, *failure) {
	scheme, tok, ok := strings.Cut(header, " ")
	tok = strings.TrimSpace(tok)
	if !ok || !strings.EqualFold(scheme, "Bearer") || tok == "" {
		return nil, unauthenticated("the Authorization header must be Bearer <token>")
	}
	if a.o.ServiceToken != "" && sameSecret(tok, a.o.ServiceToken) {
		return &Identity{Username: "service", Role: Admin, Auth: ViaService}, nil
	}
	for _, kind := range []store.TokenKind{store.TokenAccess, store.TokenAPI} {
		id, err := a.lookup(ctx, tok, kind)
		if err != nil {
			return nil, a.storeFailure(err)
		}
		if id != nil {
			return id, nil
		}
	}
	return nil, unauthenticated("the bearer token is unknown, revoked or expired")
}

// lookup finds the user of a secret of kind; nil when there is none, it
// expired or its user is gone.
func (a *Auth) lookup(ctx context.Context, secret string, kind store.TokenKind) (*Identity, error) {
	if len(secret) > 256 {
		return nil, nil
	}
	t, err := a.o.Store.GetAuthToken(ctx, digest(secret))
	if errors.Is(err, store.ErrNotFound) || (err == nil && t.Kind != kind) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if !t.ExpiresAt.IsZero() && !a.now().Before(t.ExpiresAt) {
		return nil, nil
	}
	u, err := a.o.Store.GetUser(ctx, t.Username)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	a.users.Store(true) // a user exists: the open mode is over for this process
	role, known := knownRole(u.Role)
	if !known { // a row written by hand: the user is refused, not the server failed
		a.log.Warn("user has an unknown role: refused", "user", u.Username, "role", u.Role)
		return nil, nil
	}
	via := ViaToken
	if kind == store.TokenSession {
		via = ViaSession
	}
	return &Identity{Username: u.Username, Role: role, Auth: via}, nil
}

// open reports whether no user exists yet (and so local callers are
// trusted).
// Once a user was seen the answer stays false for the process's life.
func (a *Auth) open(ctx context.Context) (bool, error) {
	if a.users.Load() {
		return false, nil
	}
	has, err := a.o.Store.HasUsers(ctx)
	if err != nil {
		return false, err
	}
	if has {
		a.users.Store(true)
	}
	return !has, nil
}

func (a *Auth) storeFailure(err error) *failure {
	a.log.Error("auth: cannot read credentials", "err", err)
	return &failure{status: http.StatusServiceUnavailable, title: "Service unavailable",
		detail: "credentials cannot be checked now; the reason is in the server's log", kind: "Unknown"}
}

// Require returns middleware that lets through only identities with at
// least role min: 401 (or the login page) without one, 403 below it.
func Require(min Role) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if err := Check(r, min); err != nil {
				var f *failure
				if !errors.As(err, &f) {
					f = forbidden(err.Error())
				}
				refuse(w, r, f)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// Check returns nil when r's identity has at least role min, else an
// error whose text says why (for 401 or 403): package api answers it as
// problem JSON with CheckStatus.
func Check(r *http.Request, min Role) error {
	if min == Public {
		return nil
	}
	id, ok := FromContext(r.Context())
	if !ok {
		return unauthenticated("this endpoint needs a login: a session cookie or an Authorization: Bearer <token> header")
	}
	if !id.Role.Allows(min) {
		return forbidden("role " + id.Role.String() + " of " + quote(id.Username) + " may not do this: it needs " + min.String() + " or above")
	}
	return nil
}

// CheckStatus is the HTTP status of an error from Check.
func CheckStatus(err error) int {
	var f *failure
	if errors.As(err, &f) {
		return f.status
	}
	return http.StatusInternalServerError
}

// localCaller reports whether r comes straight from this machine: its
// peer is a loopback address and no proxy says it relays someone else
// (a proxy on this machine connects from loopback). The Host header alone
// is the caller's word: anyone may send Host: localhost.
func localCaller(r *http.Request) bool {
	for _, h := range []string{"Forwarded", "X-Forwarded-For", "X-Real-IP", "X-Forwarded-Host"} {
		if r.Header.Get(h) != "" {
			return false
		}
	}
	ip := net.ParseIP(strings.Trim(remoteHost(r), "[]"))
	return ip != nil && ip.IsLoopback()
}

// loopbackHost reports whether a Host header names this machine's
// loopback: localhost or a loopback IP, with or without a port.
func loopbackHost(host string) bool {
	if host == "" {
		return true // HTTP/1.0 without Host: not a browser
	}
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.Trim(host, "[]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func quote(s string) string {
	if len(s) > 100 {
		s = s[:100] + "…"
	}
	return `"` + strings.ToValidUTF8(s, "?") + `"`
}

// statusWriter remembers the status a handler answered, for the audit.
type statusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (s *statusWriter) WriteHeader(code int) {
	if !s.wrote {
		s.status, s.wrote = code, true
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	s.wrote = true
	return s.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection (flushes of
// streamed answers).
func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

package auth_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/auth"
	"github.com/sirocco-dev/sirocco/internal/store"
	"github.com/sirocco-dev/sirocco/internal/store/sqlstore"
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// bed is an Auth in front of a small site over a real SQLite store: GET
// /whoami answers the identity, POST /api/v1/dags/{dag_id} a write.
type bed struct {
	t     testing.TB
	auth  *auth.Auth
	st    store.Store
	clock *clock
	srv   *httptest.Server
	users auth.Users
}

func newBed(t testing.TB, opts ...func(*auth.Options)) *bed {
	t.Helper()
	st, err := sqlstore.OpenSQLite(filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	c := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	o := auth.Options{Store: st, Now: c.now}
	for _, f := range opts {
		f(&o)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /whoami", func(w http.ResponseWriter, r *http.Request) {
		id, _ := auth.FromContext(r.Context())
		_ = json.NewEncoder(w).Encode(map[string]any{"username": id.Username, "role": id.Role.String(), "auth": id.Auth})
	})
	mux.HandleFunc("POST /api/v1/dags/{dag_id}", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusAccepted)
	})
	mux.Handle("GET /admin", auth.Require(auth.Admin)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})))
	b := &bed{t: t, st: st, clock: c, users: auth.Users{Store: st, Now: c.now}, auth: auth.New(o)}
	b.srv = httptest.NewServer(b.auth.Handler(mux))
	t.Cleanup(b.srv.Close)
	return b
}

func (b *bed) addUser(name string, role auth.Role, password string) {
	b.t.Helper()
	if err := b.users.Create(b.t.Context(), name, role, password); err != nil {
		b.t.Fatal(err)
	}
}

// browser is a cookie-keeping client that does not follow redirects.
func (b *bed) browser() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

type answer struct {
	status int
	header http.Header
	body   string
}

func (b *bed) send(c *http.Client, method, path string, body io.Reader, headers ...string) answer {
	b.t.Helper()
	req, err := http.NewRequest(method, b.srv.URL+path, body)
	if err != nil {
		b.t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, resp.Header, string(raw)}
}

var csrfField = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// login signs in through the form as a browser does and returns the client.
func (b *bed) login(user, password string) (*http.Client, answer) {
	b.t.Helper()
	c := b.browser()
	page := b.send(c, "GET", "/login?next=/whoami", nil)
	m := csrfField.FindStringSubmatch(page.body)
	if page.status != http.StatusOK || m == nil {
		b.t.Fatalf("login page: %d %s", page.status, page.body)
	}
	form := url.Values{"username": {user}, "password": {password}, "csrf_token": {m[1]}, "next": {"/whoami"}}
	a := b.send(c, "POST", "/login", strings.NewReader(form.Encode()), "Content-Type", "application/x-www-form-urlencoded")
	return c, a
}

func (b *bed) cookie(c *http.Client, name string) string {
	u, _ := url.Parse(b.srv.URL)
	for _, ck := range c.Jar.Cookies(u) {
		if ck.Name == name {
			return ck.Value
		}
	}
	return ""
}

func TestLoginSessionAndLogout(t *testing.T) {
	b := newBed(t)
	b.addUser("ann", auth.Op, "correct horse")
	c, a := b.login("ann", "correct horse")
	if a.status != http.StatusSeeOther || a.header.Get("Location") != "/whoami" {
		t.Fatalf("login: %d %v %s", a.status, a.header, a.body)
	}
	set := strings.Join(a.header.Values("Set-Cookie"), "\n")
	for _, want := range []string{"sirocco_session=", "HttpOnly", "SameSite=Lax", "Path=/", "sirocco_csrf="} {
		if !strings.Contains(set, want) {
			t.Errorf("login cookies lack %q:\n%s", want, set)
		}
	}
	if strings.Contains(set, "Secure") {
		t.Errorf("cookies are Secure without TLS:\n%s", set)
	}
	who := b.send(c, "GET", "/whoami", nil)
	if who.status != http.StatusOK || !strings.Contains(who.body, `"username":"ann"`) || !strings.Contains(who.body, `"auth":"session"`) {
		t.Fatalf("whoami with the session: %d %s", who.status, who.body)
	}
	if r := b.send(c, "GET", "/admin", nil); r.status != http.StatusForbidden {
		t.Errorf("an Op on an Admin page: %d", r.status)
	}

	session := b.cookie(c, auth.SessionCookie)
	csrf := b.cookie(c, auth.CSRFCookie)
	form := url.Values{"csrf_token": {csrf}}
	out := b.send(c, "POST", "/logout", strings.NewReader(form.Encode()), "Content-Type", "application/x-www-form-urlencoded")
	if out.status != http.StatusSeeOther || out.header.Get("Location") != "/login" {
		t.Fatalf("logout: %d %s", out.status, out.body)
	}
	// The old cookie, replayed by someone who kept it, opens nothing.
	replay := &http.Client{}
	r := b.send(replay, "GET", "/whoami", nil, "Cookie", auth.SessionCookie+"="+session, "Accept", "application/json")
	if r.status != http.StatusUnauthorized {
		t.Errorf("the session after logout: %d %s", r.status, r.body)
	}
	if toks, _ := b.st.ListAuthTokens(t.Context(), "ann", store.TokenSession); len(toks) != 0 {
		t.Errorf("sessions left after logout: %+v", toks)
	}
	events, _, _ := b.st.ListEventLogs(t.Context(), store.EventLogFilter{Owner: "ann"})
	if len(events) != 2 || events[0].Event != "POST /login" || events[1].Event != "POST /logout" {
		t.Errorf("audit of login and logout: %+v", events)
	}
}

func TestLogoutNeedsCSRF(t *testing.T) {
	b := newBed(t)
	b.addUser("ann", auth.User, "correct horse")
	c, _ := b.login("ann", "correct horse")
	r := b.send(c, "POST", "/logout", strings.NewReader("csrf_token=forged"), "Content-Type", "application/x-www-form-urlencoded")
	if r.status != http.StatusForbidden {
		t.Errorf("logout with a forged CSRF token: %d", r.status)
	}
	if who := b.send(c, "GET", "/whoami", nil); !strings.Contains(who.body, `"ann"`) {
		t.Errorf("a forged logout ended the session: %s", who.body)
	}
}

func TestSessionExpires(t *testing.T) {
	b := newBed(t, func(o *auth.Options) { o.SessionTTL = time.Hour })
	b.addUser("ann", auth.Viewer, "correct horse")
	c, _ := b.login("ann", "correct horse")
	b.clock.add(59 * time.Minute)
	if r := b.send(c, "GET", "/whoami", nil); r.status != http.StatusOK {
		t.Fatalf("before expiry: %d", r.status)
	}
	b.clock.add(time.Minute)
	r := b.send(c, "GET", "/whoami", nil, "Accept", "text/html")
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/login?next=%2Fwhoami" {
		t.Errorf("a page after expiry: %d %v", r.status, r.header.Get("Location"))
	}
	r = b.send(c, "POST", "/api/v1/dags/x", strings.NewReader("{}"), "Content-Type", "application/json",
		auth.CSRFHeader, b.cookie(c, auth.CSRFCookie))
	if r.status != http.StatusUnauthorized || !strings.Contains(r.body, `"status":401`) {
		t.Errorf("an API write after expiry: %d %s", r.status, r.body)
	}
}

// TestCSRF: a state-changing call authenticated by the session cookie
// needs the session's CSRF token in the header (or the form field) and
// the cookie; a bearer token needs none.
func TestCSRF(t *testing.T) {
	b := newBed(t)
	b.addUser("ann", auth.Admin, "correct horse")
	c, _ := b.login("ann", "correct horse")
	good := b.cookie(c, auth.CSRFCookie)
	json := []string{"Content-Type", "application/json"}
	for name, hdr := range map[string][]string{
		"no header":          json,
		"wrong value":        append([]string{auth.CSRFHeader, "x" + good}, json...),
		"empty value":        append([]string{auth.CSRFHeader, ""}, json...),
		"other session's":    append([]string{auth.CSRFHeader, "Zm9yZ2VkLWZvcmdlZC1mb3JnZWQtZm9yZ2VkLWZvcmdlZA"}, json...),
		"form field missing": {"Content-Type", "application/x-www-form-urlencoded"},
	} {
		r := b.send(c, "POST", "/api/v1/dags/x", strings.NewReader("{}"), hdr...)
		if r.status != http.StatusForbidden || !strings.Contains(r.body, "CSRF") {
			t.Errorf("%s: %d %s", name, r.status, r.body)
		}
	}
	if r := b.send(c, "POST", "/api/v1/dags/x", strings.NewReader("{}"), append([]string{auth.CSRFHeader, good}, json...)...); r.status != http.StatusAccepted {
		t.Errorf("with the header: %d %s", r.status, r.body)
	}
	form := url.Values{"csrf_token": {good}}.Encode()
	if r := b.send(c, "POST", "/api/v1/dags/x", strings.NewReader(form), "Content-Type", "application/x-www-form-urlencoded"); r.status != http.StatusAccepted {
		t.Errorf("with the form field: %d %s", r.status, r.body)
	}
	// A cookie planted by another site for its own session does not help:
	// the token must be this session's.
	other, _ := b.login("ann", "correct horse")
	planted := b.cookie(other, auth.CSRFCookie)
	r := b.send(&http.Client{}, "POST", "/api/v1/dags/x", strings.NewReader("{}"), "Content-Type", "application/json",
		"Cookie", auth.SessionCookie+"="+b.cookie(c, auth.SessionCookie)+"; "+auth.CSRFCookie+"="+planted, auth.CSRFHeader, planted)
	if r.status != http.StatusForbidden {
		t.Errorf("another session's CSRF token: %d", r.status)
	}
	// The login form itself is protected: no token, no login.
	r = b.send(b.browser(), "POST", "/login", strings.NewReader("username=ann&password=correct+horse"), "Content-Type", "application/x-www-form-urlencoded")
	if r.status != http.StatusForbidden {
		t.Errorf("login without the form's CSRF token: %d", r.status)
	}
	// A bearer token needs no CSRF token.
	tok := b.token("ann", "correct horse")
	if r := b.send(&http.Client{}, "POST", "/api/v1/dags/x", strings.NewReader("{}"), "Authorization", "Bearer "+tok); r.status != http.StatusAccepted {
		t.Errorf("bearer write: %d %s", r.status, r.body)
	}
}

// token gets a bearer token from POST /auth/token.
func (b *bed) token(user, password string) string {
	b.t.Helper()
	body, _ := json.Marshal(map[string]string{"username": user, "password": password})
	r := b.send(&http.Client{}, "POST", "/auth/token", strings.NewReader(string(body)), "Content-Type", "application/json")
	var m map[string]any
	if err := json.Unmarshal([]byte(r.body), &m); err != nil || r.status != http.StatusOK {
		b.t.Fatalf("auth/token: %d %s", r.status, r.body)
	}
	if m["token_type"] != "Bearer" || m["expires_in"] != float64(3600) || !strings.HasPrefix(m["access_token"].(string), auth.TokenPrefix) {
		b.t.Fatalf("auth/token answer: %v", m)
	}
	return m["access_token"].(string)
}

func TestAccessTokenExpires(t *testing.T) {
	b := newBed(t)
	b.addUser("bob", auth.User, "correct horse")
	tok := b.token("bob", "correct horse")
	c := &http.Client{}
	if r := b.send(c, "GET", "/whoami", nil, "Authorization", "Bearer "+tok); !strings.Contains(r.body, `"auth":"token"`) {
		t.Fatalf("whoami with the token: %d %s", r.status, r.body)
	}
	b.clock.add(time.Hour)
	if r := b.send(c, "GET", "/whoami", nil, "Authorization", "Bearer "+tok); r.status != http.StatusUnauthorized {
		t.Errorf("token after an hour: %d", r.status)
	}
	api, _, err := b.users.CreateToken(t.Context(), "bob", "ci", 0)
	if err != nil {
		t.Fatal(err)
	}
	b.clock.add(1000 * time.Hour)
	if r := b.send(c, "GET", "/whoami", nil, "Authorization", "Bearer "+api); r.status != http.StatusOK {
		t.Errorf("an API token without expiry: %d", r.status)
	}
	if err := b.users.Store.DeleteUser(t.Context(), "bob"); err != nil {
		t.Fatal(err)
	}
	if r := b.send(c, "GET", "/whoami", nil, "Authorization", "Bearer "+api); r.status != http.StatusUnauthorized {
		t.Errorf("the token of a deleted user: %d", r.status)
	}
}

// TestLoginRateLimit: five failures a minute for a username (or from an
// address) and the sixth attempt is 429 with Retry-After, even with the
// right password; a minute later it works.
func TestLoginRateLimit(t *testing.T) {
	b := newBed(t)
	b.addUser("ann", auth.Viewer, "correct horse")
	body := func(pw string) io.Reader {
		js, _ := json.Marshal(map[string]string{"username": "ann", "password": pw})
		return strings.NewReader(string(js))
	}
	c := &http.Client{}
	for i := range 5 {
		if r := b.send(c, "POST", "/auth/token", body("wrong"), "Content-Type", "application/json"); r.status != http.StatusUnauthorized {
			t.Fatalf("failure %d: %d %s", i+1, r.status, r.body)
		}
		b.clock.add(time.Second)
	}
	r := b.send(c, "POST", "/auth/token", body("correct horse"), "Content-Type", "application/json")
	if r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") != "55" {
		t.Fatalf("sixth attempt: %d Retry-After %q %s", r.status, r.header.Get("Retry-After"), r.body)
	}
	_, page := b.login("ann", "correct horse")
	if page.status != http.StatusTooManyRequests || page.header.Get("Retry-After") == "" || !strings.Contains(page.body, "too many failed logins") {
		t.Errorf("the login form while limited: %d %v", page.status, page.header)
	}
	b.clock.add(time.Minute)
	if r := b.send(c, "POST", "/auth/token", body("correct horse"), "Content-Type", "application/json"); r.status != http.StatusOK {
		t.Errorf("a minute later: %d %s", r.status, r.body)
	}
	// Per address: failures spread over many usernames also stop.
	for i := range 5 {
		js, _ := json.Marshal(map[string]string{"username": "u" + string(rune('a'+i)), "password": "x"})
		b.send(c, "POST", "/auth/token", strings.NewReader(string(js)), "Content-Type", "application/json")
	}
	js, _ := json.Marshal(map[string]string{"username": "zed", "password": "x"})
	if r := b.send(c, "POST", "/auth/token", strings.NewReader(string(js)), "Content-Type", "application/json"); r.status != http.StatusTooManyRequests {
		t.Errorf("sixth failure from one address: %d", r.status)
	}
	events, _, _ := b.st.ListEventLogs(t.Context(), store.EventLogFilter{Event: "POST /auth/token"})
	failed := 0
	for _, e := range events {
		if strings.Contains(e.Extra, `"status":401`) {
			failed++
		}
	}
	if failed < 10 {
		t.Errorf("failed logins audited: %d of %+v", failed, events)
	}
}

// TestOpenUntilAUserExists: with no user and no service token loopback
// callers are trusted as an anonymous Admin, others refused; the first
// user ends that for good.
func TestOpenUntilAUserExists(t *testing.T) {
	b := newBed(t)
	c := &http.Client{}
	if r := b.send(c, "GET", "/whoami", nil); !strings.Contains(r.body, `"auth":"none"`) || !strings.Contains(r.body, `"Admin"`) {
		t.Fatalf("open mode: %d %s", r.status, r.body)
	}
	req, _ := http.NewRequest("GET", b.srv.URL+"/whoami", nil)
	req.Host = "evil.example"
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("open mode, another Host: %d", resp.StatusCode)
	}
	b.addUser("ann", auth.Admin, "correct horse")
	if r := b.send(c, "GET", "/whoami", nil); r.status != http.StatusUnauthorized {
		t.Errorf("after the first user: %d %s", r.status, r.body)
	}
	if err := b.st.DeleteUser(t.Context(), "ann"); err != nil {
		t.Fatal(err)
	}
	if r := b.send(c, "GET", "/whoami", nil); r.status != http.StatusUnauthorized {
		t.Errorf("after the last user went: %d (must stay closed)", r.status)
	}
	if r := b.send(c, "GET", "/health", nil); r.status == http.StatusUnauthorized {
		t.Errorf("public path refused: %d", r.status)
	}
}

func TestServiceToken(t *testing.T) {
	b := newBed(t, func(o *auth.Options) { o.ServiceToken = "svc-Token-1234567890" })
	c := &http.Client{}
	if r := b.send(c, "GET", "/whoami", nil); r.status != http.StatusUnauthorized {
		t.Errorf("no user but a service token: anonymous gets %d", r.status)
	}
	for _, h := range []string{"Bearer svc-Token-1234567890", "bearer svc-Token-1234567890"} {
		if r := b.send(c, "GET", "/whoami", nil, "Authorization", h); !strings.Contains(r.body, `"auth":"service"`) || !strings.Contains(r.body, `"Admin"`) {
			t.Errorf("%s: %d %s", h, r.status, r.body)
		}
	}
	for _, h := range []string{"Bearer svc-Token-12345678901", "Basic svc-Token-1234567890", "svc-Token-1234567890", "Bearer "} {
		if r := b.send(c, "GET", "/whoami", nil, "Authorization", h); r.status != http.StatusUnauthorized || r.header.Get("WWW-Authenticate") == "" {
			t.Errorf("%q: %d %v", h, r.status, r.header)
		}
	}
}

func TestLoginRedirectStaysOnSite(t *testing.T) {
	b := newBed(t)
	b.addUser("ann", auth.Viewer, "correct horse")
	for next, want := range map[string]string{"/dags/x?tab=grid": "/dags/x?tab=grid", "//evil.example": "/", "https://evil.example": "/",
		"/\\evil.example": "/", "": "/", "/logout": "/"} {
		c := b.browser()
		page := b.send(c, "GET", "/login", nil)
		m := csrfField.FindStringSubmatch(page.body)
		form := url.Values{"username": {"ann"}, "password": {"correct horse"}, "csrf_token": {m[1]}, "next": {next}}
		r := b.send(c, "POST", "/login", strings.NewReader(form.Encode()), "Content-Type", "application/x-www-form-urlencoded")
		if r.status != http.StatusSeeOther || r.header.Get("Location") != want {
			t.Errorf("next %q: %d -> %q, want %q", next, r.status, r.header.Get("Location"), want)
		}
	}
	_, bad := b.login("ann", "wrong horse")
	if bad.status != http.StatusUnauthorized || !strings.Contains(bad.body, "invalid username or password") || strings.Contains(bad.body, "wrong horse") {
		t.Errorf("a wrong password: %d %s", bad.status, bad.body)
	}
}

func TestEnsureAdmin(t *testing.T) {
	b := newBed(t)
	ctx := context.Background()
	pw, err := b.users.EnsureAdmin(ctx)
	if err != nil || len(pw) != 20 {
		t.Fatalf("EnsureAdmin = %q, %v", pw, err)
	}
	u, err := b.st.GetUser(ctx, "admin")
	if err != nil || u.Role != "Admin" || strings.Contains(u.PasswordHash, pw) || !strings.HasPrefix(u.PasswordHash, "$argon2id$") {
		t.Fatalf("admin = %+v, %v", u, err)
	}
	if ok, err := auth.CheckPassword(u.PasswordHash, pw); !ok || err != nil {
		t.Errorf("the printed password does not match: %v", err)
	}
	if again, err := b.users.EnsureAdmin(ctx); again != "" || err != nil {
		t.Errorf("second start: %q, %v", again, err)
	}
	if _, a := b.login("admin", pw); a.status != http.StatusSeeOther {
		t.Errorf("login with the generated password: %d", a.status)
	}
}

func TestResetPasswordEndsSessions(t *testing.T) {
	b := newBed(t)
	b.addUser("ann", auth.Viewer, "correct horse")
	c, _ := b.login("ann", "correct horse")
	tok := b.token("ann", "correct horse")
	api, _, _ := b.users.CreateToken(t.Context(), "ann", "ci", 0)
	if n, err := b.users.ResetPassword(t.Context(), "ann", "battery staple"); err != nil || n != 2 {
		t.Fatalf("ResetPassword = %d, %v", n, err)
	}
	if r := b.send(c, "GET", "/whoami", nil); r.status != http.StatusUnauthorized {
		t.Errorf("session after reset: %d", r.status)
	}
	if r := b.send(&http.Client{}, "GET", "/whoami", nil, "Authorization", "Bearer "+tok); r.status != http.StatusUnauthorized {
		t.Errorf("access token after reset: %d", r.status)
	}
	if r := b.send(&http.Client{}, "GET", "/whoami", nil, "Authorization", "Bearer "+api); r.status != http.StatusOK {
		t.Errorf("API token after reset: %d (kept until revoked)", r.status)
	}
	if _, err := b.users.ResetPassword(t.Context(), "ann", "short"); err == nil {
		t.Error("a 5-character password was accepted")
	}
}

// TestIsPublic: only health, the OpenAPI document, the login endpoints and
// clean /static/ paths answer without a login; "/static/../api" is not
// public even though the router would clean it.
func TestIsPublic(t *testing.T) {
	for p, want := range map[string]bool{"/health": true, "/api/v1/openapi.json": true, "/login": true, "/static/app.css": true,
		"/static/../api/v1/dags": false, "/static//x": false, "/api/v1/dags": false, "/": false, "/healthz": false, "/api/v1/auth/me": false} {
		if auth.IsPublic(p) != want {
			t.Errorf("IsPublic(%q) = %v", p, !want)
		}
	}
}

// TestAuditRoutes: a write refused by the CSRF check, before any route
// serves it, is recorded under the route Options.Routes names (with the
// DAG its path gives), as a served write is; without Routes, a served
// write is recorded under the pattern its ServeMux matched, and a path
// no pattern matches as "<method> other", never as the raw path.
func TestAuditRoutes(t *testing.T) {
	routes := func(r *http.Request) auth.Route {
		if dag, ok := strings.CutPrefix(r.URL.Path, "/api/v1/dags/"); ok && r.Method == http.MethodPost {
			return auth.Route{Pattern: "POST /api/v1/dags/{dag_id}", DagID: dag}
		}
		return auth.Route{}
	}
	json := []string{"Content-Type", "application/json"}
	for name, opts := range map[string][]func(*auth.Options){
		"with Routes":    {func(o *auth.Options) { o.Routes = routes }},
		"without Routes": nil,
	} {
		t.Run(name, func(t *testing.T) {
			b := newBed(t, opts...)
			b.addUser("ann", auth.User, "correct horse")
			c, _ := b.login("ann", "correct horse")
			good := b.cookie(c, auth.CSRFCookie)
			b.send(c, "POST", "/api/v1/dags/etl", strings.NewReader("{}"), append([]string{auth.CSRFHeader, good}, json...)...)
			b.send(c, "POST", "/api/v1/dags/etl", strings.NewReader("{}"), json...) // no CSRF token: 403
			b.send(c, "POST", "/nowhere/etl", strings.NewReader("{}"), append([]string{auth.CSRFHeader, good}, json...)...)
			events, _, err := b.st.ListEventLogs(t.Context(), store.EventLogFilter{Owner: "ann"})
			if err != nil {
				t.Fatal(err)
			}
			want := []struct{ event, dag, status string }{
				{"POST /login", "", "303"},
				{"POST /api/v1/dags/{dag_id}", "etl", "202"},
				{"POST /api/v1/dags/{dag_id}", "etl", "403"},
				{"POST other", "", "404"},
			}
			if name == "without Routes" {
				want[2] = struct{ event, dag, status string }{"POST other", "", "403"} // refused before any mux saw it
			}
			if len(events) != len(want) {
				t.Fatalf("%d entries, want %d: %+v", len(events), len(want), events)
			}
			for i, w := range want {
				e := events[i]
				if e.Event != w.event || e.DagID != w.dag || !strings.Contains(e.Extra, `"status":`+w.status) {
					t.Errorf("entry %d = %+v, want %+v", i, e, w)
				}
			}
		})
	}
}

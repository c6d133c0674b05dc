package auth

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/sirocco-dev/sirocco/internal/store"
)

//go:embed login.html
var loginHTML string

var loginTmpl = template.Must(template.New("login").Parse(loginHTML))

// The audit log's events of the login endpoints: their route patterns, as
// every other entry's (the status in extra tells a failed login).
const (
	eventLogin  = "POST /login"
	eventLogout = "POST /logout"
	eventToken  = "POST /auth/token"
)

// loginForm is what the login page shows.
type loginForm struct {
	Error, Username, CSRF, Next string
}

// loginPage serves the form. A browser already logged in goes on to next.
func (a *Auth) loginPage(w http.ResponseWriter, r *http.Request) {
	next := safeNext(r.URL.Query().Get("next"))
	if id, ok := FromContext(r.Context()); ok && id.Auth == ViaSession {
		http.Redirect(w, r, next, http.StatusSeeOther)
		return
	}
	a.renderLogin(w, r, http.StatusOK, loginForm{Next: next})
}

// renderLogin writes the form with a CSRF token: the one of the
// sirocco_csrf cookie the browser holds, or a new one it is given.
func (a *Auth) renderLogin(w http.ResponseWriter, r *http.Request, status int, f loginForm) {
	if c, err := r.Cookie(CSRFCookie); err == nil && len(c.Value) >= 32 && len(c.Value) <= 64 {
		f.CSRF = c.Value
	} else {
		secret, _, err := newSecret("")
		if err != nil {
			http.Error(w, "cannot make a CSRF token", http.StatusInternalServerError)
			return
		}
		f.CSRF = secret
		a.setCSRFCookie(w, f.CSRF, 0)
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Content-Security-Policy", "default-src 'self'; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; form-action 'self'")
	w.WriteHeader(status)
	_ = loginTmpl.Execute(w, f)
}

// login checks the form's CSRF token, the rate limit and the password,
// then starts a session: the sirocco_session cookie (HttpOnly) and the
// session's CSRF token in sirocco_csrf.
func (a *Auth) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBody)
	if err := r.ParseForm(); err != nil || !isForm(r) {
		http.Error(w, "the login form must be posted as application/x-www-form-urlencoded", http.StatusBadRequest)
		return
	}
	form := loginForm{Username: r.PostFormValue("username"), Next: safeNext(r.PostFormValue("next"))}
	c, err := r.Cookie(CSRFCookie)
	if err != nil || c.Value == "" || !sameSecret(c.Value, r.PostFormValue(CSRFField)) {
		form.Error = "The form expired or came from another site: please sign in again."
		a.renderLogin(w, r, http.StatusForbidden, form)
		return
	}
	u, f := a.authenticate(r, form.Username, r.PostFormValue("password"))
	if f != nil {
		if f.retryAfter > 0 {
			w.Header().Set("Retry-After", fmt.Sprint(retrySeconds(f.retryAfter)))
		}
		form.Error = f.detail
		a.renderLogin(w, r, f.status, form)
		return
	}
	secret, err := a.issue(r.Context(), u.Username, store.TokenSession, "", a.o.SessionTTL)
	if err != nil {
		a.log.Error("login: cannot start a session", "user", u.Username, "err", err)
		http.Error(w, "cannot start a session now; the reason is in the server's log", http.StatusServiceUnavailable)
		return
	}
	maxAge := int(a.o.SessionTTL / time.Second)
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: secret, Path: "/", MaxAge: maxAge,
		Secure: a.o.Secure, HttpOnly: true, SameSite: http.SameSiteLaxMode})
	a.setCSRFCookie(w, csrfFor(secret), maxAge)
	a.record(r.Context(), store.EventLog{Owner: u.Username, Event: eventLogin}, r,
		map[string]any{"auth": ViaSession, "status": http.StatusSeeOther})
	http.Redirect(w, r, form.Next, http.StatusSeeOther)
}

// logout ends the session the cookie names (after the CSRF check, so
// another site cannot log a user out) and clears the cookies.
func (a *Auth) logout(w http.ResponseWriter, r *http.Request) {
	c, err := r.Cookie(SessionCookie)
	if err == nil && c.Value != "" {
		if f := checkCSRF(r, c.Value); f != nil {
			writeProblem(w, f)
			return
		}
		t, err := a.o.Store.GetAuthToken(r.Context(), digest(c.Value))
		if err == nil && t.Kind == store.TokenSession {
			if err := a.o.Store.DeleteAuthToken(r.Context(), t.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
				a.log.Error("logout: session not ended", "user", t.Username, "err", err)
				writeProblem(w, a.storeFailure(err))
				return
			}
			a.record(r.Context(), store.EventLog{Owner: t.Username, Event: eventLogout}, r,
				map[string]any{"auth": ViaSession, "status": http.StatusSeeOther})
		}
	}
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: "", Path: "/", MaxAge: -1,
		Secure: a.o.Secure, HttpOnly: true, SameSite: http.SameSiteLaxMode})
	a.setCSRFCookie(w, "", -1)
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// tokenRequest is the body of POST /auth/token.
type tokenRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

// token exchanges a username and password for a short-lived bearer token.
func (a *Auth) token(w http.ResponseWriter, r *http.Request) {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt != "application/json" {
		writeProblem(w, &failure{status: http.StatusUnsupportedMediaType, title: "Unsupported media type",
			detail: "POST /auth/token needs Content-Type: application/json and a body {\"username\": ..., \"password\": ...}", kind: "BadRequest"})
		return
	}
	var req tokenRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxFormBody))
	if err := dec.Decode(&req); err != nil || req.Username == "" {
		writeProblem(w, &failure{status: http.StatusBadRequest, title: "Bad request",
			detail: "the body must be a JSON object {\"username\": ..., \"password\": ...}", kind: "BadRequest"})
		return
	}
	u, f := a.authenticate(r, req.Username, req.Password)
	if f != nil {
		writeProblem(w, f)
		return
	}
	secret, err := a.issue(r.Context(), u.Username, store.TokenAccess, "", a.o.AccessTTL)
	if err != nil {
		a.log.Error("auth/token: cannot issue a token", "user", u.Username, "err", err)
		writeProblem(w, a.storeFailure(err))
		return
	}
	a.record(r.Context(), store.EventLog{Owner: u.Username, Event: eventToken}, r,
		map[string]any{"auth": ViaToken, "status": http.StatusOK})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"access_token": secret, "token_type": "Bearer", "expires_in": int(a.o.AccessTTL / time.Second),
	})
}

// authenticate checks a username and password under the rate limit: too
// many recent failures for the name or the address answer 429 before the
// password is even looked at.
func (a *Auth) authenticate(r *http.Request, username, password string) (store.User, *failure) {
	keys := []string{"user:" + strings.ToLower(username), "addr:" + remoteHost(r)}
	if wait := a.limit.take(keys...); wait > 0 {
		return store.User{}, &failure{status: http.StatusTooManyRequests, title: "Too many requests", kind: "TooManyRequests",
			detail: fmt.Sprintf("too many failed logins: try again in %d s", retrySeconds(wait)), retryAfter: wait}
	}
	u, err := a.o.Store.GetUser(r.Context(), username)
	hash := u.PasswordHash
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			a.limit.refund(keys...)
			return store.User{}, a.storeFailure(err)
		}
		hash = a.dummyPwd // as slow as a real check: timing does not tell who exists
	}
	release, f := a.hashSlot(r.Context())
	if f != nil {
		a.limit.refund(keys...)
		return store.User{}, f
	}
	ok, herr := CheckPassword(hash, password)
	release()
	if herr != nil {
		a.log.Error("login: stored password hash unreadable", "user", username, "err", herr)
	}
	if err != nil || !ok {
		a.record(r.Context(), store.EventLog{Owner: truncate(username, 64), Event: r.Method + " " + r.URL.Path}, r,
			map[string]any{"status": http.StatusUnauthorized})
		return store.User{}, unauthenticated("invalid username or password")
	}
	a.limit.reset(keys[0])
	a.limit.refund(keys[1:]...)
	return u, nil
}

// hashSlot waits for one of the MaxPasswordChecks slots of password
// checking, or until ctx ends (503): each argon2id check takes 19 MiB, so
// a flood of logins, even from many addresses, must queue rather than
// take the memory of thousands at once.
func (a *Auth) hashSlot(ctx context.Context) (release func(), f *failure) {
	select {
	case a.hashing <- struct{}{}:
		return func() { <-a.hashing }, nil
	case <-ctx.Done():
		return nil, &failure{status: http.StatusServiceUnavailable, title: "Service unavailable", kind: "Unknown",
			detail: "too many logins at once: try again"}
	}
}

// issue stores a new secret of kind for username and returns it.
func (a *Auth) issue(ctx context.Context, username string, kind store.TokenKind, name string, ttl time.Duration) (string, error) {
	a.prune(ctx)
	prefix := TokenPrefix
	if kind == store.TokenSession {
		prefix = ""
	}
	secret, id, err := newSecret(prefix)
	if err != nil {
		return "", err
	}
	now := a.now()
	t := store.AuthToken{ID: id, Hash: digest(secret), Username: username, Kind: kind, Name: name, CreatedAt: now}
	if ttl > 0 {
		t.ExpiresAt = now.Add(ttl)
	}
	if err := a.o.Store.CreateAuthToken(ctx, t); err != nil {
		return "", err
	}
	return secret, nil
}

// prune removes expired sessions and tokens, at most once a minute.
func (a *Auth) prune(ctx context.Context) {
	now := a.now().Unix()
	last := a.pruned.Load()
	if now-last < 60 || !a.pruned.CompareAndSwap(last, now) {
		return
	}
	if _, err := a.o.Store.PruneAuthTokens(ctx, a.now()); err != nil {
		a.log.Warn("auth: expired tokens not pruned", "err", err)
	}
}

// safeNext keeps a redirect target on this site: a path, never a scheme,
// a host (//evil) or a backslash trick.
func safeNext(next string) string {
	if next == "" || next[0] != '/' || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n\t") ||
		strings.HasPrefix(next, "/login") || strings.HasPrefix(next, "/logout") {
		return "/"
	}
	return next
}

func truncate(s string, n int) string {
	s = strings.ToValidUTF8(s, "?")
	if len(s) > n {
		return s[:n]
	}
	return s
}

package auth

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// errorDocs is where Airflow documents its error types, as package api's
// problems point there too.
const errorDocs = "https://airflow.apache.org/docs/apache-airflow/stable/stable-rest-api-ref.html#section/Errors/"

// failure is a refusal: its status, title and detail become problem JSON
// (RFC 7807, the API's error shape) or, for a page, a redirect or text.
type failure struct {
	status        int
	title, detail string
	kind          string        // Airflow's error name
	retryAfter    time.Duration // 429
}

func (f *failure) Error() string { return f.title + ": " + f.detail }

func unauthenticated(detail string) *failure {
	return &failure{status: http.StatusUnauthorized, title: "Unauthorized", detail: detail, kind: "Unauthenticated"}
}

func forbidden(detail string) *failure {
	return &failure{status: http.StatusForbidden, title: "Forbidden", detail: detail, kind: "PermissionDenied"}
}

// WriteProblem answers status as the API's problem JSON; package api and
// the UI may use it for refusals of their own.
func WriteProblem(w http.ResponseWriter, status int, title, detail string) {
	kind := map[int]string{401: "Unauthenticated", 403: "PermissionDenied", 429: "TooManyRequests"}[status]
	if kind == "" {
		kind = "BadRequest"
	}
	writeProblem(w, &failure{status: status, title: title, detail: detail, kind: kind})
}

func writeProblem(w http.ResponseWriter, f *failure) {
	h := w.Header()
	if f.status == http.StatusUnauthorized {
		h.Set("WWW-Authenticate", `Bearer realm="sirocco"`)
	}
	if f.retryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(retrySeconds(f.retryAfter)))
	}
	h.Set("Content-Type", "application/problem+json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(f.status)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"status": f.status, "title": f.title, "detail": f.detail, "type": errorDocs + f.kind,
	})
}

// retrySeconds rounds a wait up to whole seconds, at least one.
func retrySeconds(d time.Duration) int {
	return max(1, int((d+time.Second-1)/time.Second))
}

// refuse answers f: a browser asking for a page without credentials is sent
// to the login page; anything else gets problem JSON.
func refuse(w http.ResponseWriter, r *http.Request, f *failure) {
	if f.status == http.StatusUnauthorized && wantsPage(r) {
		http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
		return
	}
	writeProblem(w, f)
}

// wantsPage reports whether r is a browser's navigation to a UI page: a
// GET outside the API whose Accept names HTML.
func wantsPage(r *http.Request) bool {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return false
	}
	if strings.HasPrefix(r.URL.Path, "/api/") || strings.HasPrefix(r.URL.Path, "/auth/") {
		return false
	}
	return strings.Contains(r.Header.Get("Accept"), "text/html")
}

package auth_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/sirocco-dev/sirocco/internal/auth"
)

// FuzzCredentials sends arbitrary Authorization headers, cookies, CSRF
// headers, methods and paths through the middleware of a server with one
// user. It never panics or answers 5xx, and it lets a request reach a
// protected handler only with the user's real session or token.
func FuzzCredentials(f *testing.F) {
	for _, seed := range []struct{ method, path, authz, cookie, csrf string }{
		{"GET", "/whoami", "Bearer sirocco_x", "", ""},
		{"GET", "/whoami", "", "sirocco_session=abc; sirocco_csrf=abc", ""},
		{"POST", "/api/v1/dags/x", "", "sirocco_session=abc", "abc"},
		{"GET", "/whoami", "bearer    ", "", ""},
		{"GET", "/whoami", "Basic YWRtaW46YWRtaW4=", "", ""},
		{"POST", "/logout", "", "sirocco_session=" + strings.Repeat("a", 300), "x"},
		{"GET", "/login?next=//evil", "", "sirocco_csrf=\x00", ""},
		{"DELETE", "/static/../api/v1/dags", "", "", ""},
		{"POST", "/auth/token", "Bearer \xff\xfe", "", ""},
		{"GET", "/health", "Bearer sirocco_" + strings.Repeat("A", 43), "", ""},
	} {
		f.Add(seed.method, seed.path, seed.authz, seed.cookie, seed.csrf)
	}
	b := newBed(f)
	b.addUser("ann", auth.Admin, "correct horse")
	handler := b.auth.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := auth.FromContext(r.Context()); ok {
			w.Header().Set("X-Reached", "with an identity")
		}
	}))
	f.Fuzz(func(t *testing.T, method, path, authz, cookie, csrf string) {
		if !validMethod(method) || !strings.HasPrefix(path, "/") || strings.ContainsAny(path, " \r\n\t#") {
			return
		}
		req, err := http.NewRequest(method, "http://127.0.0.1"+path, strings.NewReader("{}"))
		if err != nil {
			return
		}
		req.Header.Set("Content-Type", "application/json")
		for name, v := range map[string]string{"Authorization": authz, "Cookie": cookie, auth.CSRFHeader: csrf} {
			if v != "" {
				req.Header.Set(name, v)
			}
		}
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%s %s: %d %s", method, path, rec.Code, rec.Body)
		}
		if rec.Header().Get("X-Reached") != "" {
			t.Fatalf("%s %s got an identity with Authorization %q, Cookie %q", method, path, authz, cookie)
		}
	})
}

func validMethod(m string) bool {
	switch m {
	case "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS":
		return true
	}
	return false
}

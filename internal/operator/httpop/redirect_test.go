package httpop_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestCrossHostRedirectSendsNothingOfTheRequest: with
// allow_cross_host_redirects a redirect to another origin (127.0.0.1 and
// localhost are different hosts, https to http a downgrade) reaches it
// with no Authorization, none of the connection's or the task's headers,
// and no body: a 307/308 that would resend the body is refused before
// anything is sent, a 303 arrives as a bare GET. A redirect back to the
// origin after leaving it is treated as a stranger's too.
func TestCrossHostRedirectSendsNothingOfTheRequest(t *testing.T) {
	t.Parallel()
	var elsewhere string // the same kind of server, named localhost
	other := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/back" {
			http.Redirect(w, r, r.URL.Query().Get("to"), http.StatusFound)
			return
		}
		io.WriteString(w, `{"ok": true}`)
	})
	elsewhere = strings.Replace(other.URL, "127.0.0.1", "localhost", 1)
	redirector := func(w http.ResponseWriter, r *http.Request) {
		code := map[string]int{"/307": http.StatusTemporaryRedirect, "/308": http.StatusPermanentRedirect,
			"/303": http.StatusSeeOther, "/302": http.StatusFound}[r.URL.Path]
		switch {
		case code != 0:
			http.Redirect(w, r, elsewhere+"/landing", code)
		case r.URL.Path == "/self":
			// the same server under another name: another host
			http.Redirect(w, r, "http://localhost:"+r.Host[strings.LastIndex(r.Host, ":")+1:]+"/landing", http.StatusFound)
		case r.URL.Path == "/roundtrip":
			http.Redirect(w, r, elsewhere+"/back?to="+url.QueryEscape("http://"+r.Host+"/landing"), http.StatusFound)
		default:
			io.WriteString(w, `{"at": "`+r.URL.Path+`"}`)
		}
	}
	srv := newServer(t, redirector)
	tlsSrv := newTLSServer(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+"/landing", http.StatusFound) // https → http
	})
	secret := map[string]any{
		"allow_cross_host_redirects": true,
		"headers":                    map[string]any{"X-Signature": "hmac-abc", "Cookie": "session=c00kie", "Accept": "application/json"},
	}
	withBody := func(method, endpoint string) map[string]any {
		a := map[string]any{"method": method, "endpoint": endpoint, "json": map[string]any{"password": "s3cret"}}
		for k, v := range secret {
			a[k] = v
		}
		return a
	}
	uri := func(base string) string {
		return strings.Replace(base, "://", "://etl:pw-redirect@", 1) + `/?X-Api-Key=key-redirect&X-Tenant=acme`
	}
	tests := []struct {
		name     string
		base     string
		args     map[string]any
		wantErr  string
		target   *server
		wantPath string
	}{
		{name: "307 with a body", base: srv.URL, args: withBody("POST", "307"),
			wantErr: "redirect refused: the 307 redirect to " + elsewhere + " would send the request's body to another host"},
		{name: "308 with a body", base: srv.URL, args: withBody("PUT", "308"), wantErr: "would send the request's body"},
		{name: "303 becomes a bare GET", base: srv.URL, args: withBody("POST", "303"), target: other, wantPath: "/landing"},
		{name: "302 GET", base: srv.URL, args: merge(secret, map[string]any{"endpoint": "302"}), target: other, wantPath: "/landing"},
		{name: "307 GET without a body", base: srv.URL, args: merge(secret, map[string]any{"endpoint": "307"}), target: other, wantPath: "/landing"},
		{name: "127.0.0.1 to localhost on the same port", base: srv.URL, args: merge(secret, map[string]any{"endpoint": "self"}), target: srv, wantPath: "/landing"},
		{name: "back to the origin after leaving it", base: srv.URL, args: merge(secret, map[string]any{"endpoint": "roundtrip"}), target: srv, wantPath: "/landing"},
		{name: "https to http", base: tlsSrv.URL, args: merge(secret, map[string]any{"tls_verify": false}), target: other, wantPath: "/landing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(other.requests())
			r := execute(context.Background(), t, tt.args, map[string]string{"http_default": uri(tt.base)})
			if tt.wantErr != "" {
				if r.err == nil || !strings.Contains(r.err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want %q\n%s", r.err, tt.wantErr, r.log)
				}
				if n := len(other.requests()); n != before {
					t.Errorf("the other host got %d requests", n-before)
				}
				return
			}
			if r.err != nil {
				t.Fatalf("execute: %v\n%s", r.err, r.log)
			}
			got := tt.target.last(t)
			if got.Path != tt.wantPath || got.Body != "" || (got.Method != http.MethodGet) {
				t.Errorf("the other host got %s %s with body %q", got.Method, got.Path, got.Body)
			}
			for _, h := range []string{"Authorization", "X-Signature", "Cookie", "X-Api-Key", "X-Tenant", "Content-Type"} {
				if v := got.Header.Get(h); v != "" {
					t.Errorf("the other host got %s: %s", h, v)
				}
			}
			if got.Header.Get("Accept") != "application/json" {
				t.Errorf("Accept was not kept: %v", got.Header)
			}
		})
	}
}

// merge returns a's entries with b's over them.
func merge(a, b map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

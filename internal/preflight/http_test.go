package preflight_test

import (
	"context"
	"encoding/pem"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/sirocco-dev/sirocco/internal/connection"
	"github.com/sirocco-dev/sirocco/internal/preflight"
)

// TestHTTPConnection: an http connection is checked where the http
// operator sends its requests: dns and tcp to the base URL's host and
// port, then a GET of the base URL with the connection's credentials; an
// answer below 400 passes (a redirect, not followed, too), one of 400 or
// above fails naming its status, as Airflow's HttpHook.test_connection; a
// certificate not trusted fails.
func TestHTTPConnection(t *testing.T) {
	t.Parallel()
	var gotAuth atomic.Value
	gotAuth.Store("")
	// answering starts a server that answers every request with code.
	answering := func(code int) string {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if a := r.Header.Get("Authorization"); a != "" {
				gotAuth.Store(a)
			}
			if code == http.StatusFound {
				http.Redirect(w, r, "/elsewhere", code)
				return
			}
			w.WriteHeader(code)
		}))
		t.Cleanup(srv.Close)
		return strings.TrimPrefix(srv.URL, "http://")
	}
	secure := httptest.NewUnstartedServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	secure.Config.ErrorLog = log.New(io.Discard, "", 0)
	secure.StartTLS()
	t.Cleanup(secure.Close)
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: secure.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	secureHost := strings.TrimPrefix(secure.URL, "https://")
	tests := []struct {
		name, uri, want, detail string
	}{
		{"http answers 200", "http://u:pw@" + answering(http.StatusOK), "dns=ok tcp=ok http=ok", "answers HTTP/1.1 200 OK"},
		{"http redirect not followed", "http://" + answering(http.StatusFound), "dns=ok tcp=ok http=ok", "answers HTTP/1.1 302 Found"},
		{"http 401", "http://u:wrong@" + answering(http.StatusUnauthorized), "dns=ok tcp=ok http=failed",
			"answers HTTP/1.1 401 Unauthorized; an answer of 400 or above fails, as Airflow's HttpHook.test_connection (check the connection's login"},
		{"http 404", "http://" + answering(http.StatusNotFound), "dns=ok tcp=ok http=failed", "404 Not Found"},
		{"http 503", "http://" + answering(http.StatusServiceUnavailable), "dns=ok tcp=ok http=failed", "503 Service Unavailable"},
		{"https untrusted", "https://" + secureHost, "dns=ok tcp=ok http=failed", "certificate"},
		{"https with ca_bundle", "https://" + secureHost + "?ca_bundle=" + url.QueryEscape(ca), "dns=ok tcp=ok http=ok", "over TLS, certificate verified"},
		{"https verify=false", "http://" + secureHost + "/https?verify=false", "dns=ok tcp=ok http=ok", "certificate not verified"},
		{"bad schema", "http://" + secureHost + "/v1", "settings=failed", `schema "v1"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := connection.Parse(tt.uri)
			if err != nil {
				t.Fatal(err)
			}
			c.ID = "api"
			r := (&preflight.Checker{}).Check(context.Background(), c)
			if got := steps(r); got != tt.want {
				t.Fatalf("steps %s, want %s: %+v", got, tt.want, r.Steps)
			}
			last := r.Steps[len(r.Steps)-1]
			if !strings.Contains(last.Detail, tt.detail) {
				t.Errorf("%s: %q, want %q", last.Name, last.Detail, tt.detail)
			}
		})
	}
	if gotAuth.Load() == "" {
		t.Error("the check sent no credentials")
	}
}

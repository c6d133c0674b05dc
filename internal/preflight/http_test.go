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
// port, then a GET of the base URL with the connection's credentials;
// any answer passes, a certificate not trusted fails.
func TestHTTPConnection(t *testing.T) {
	t.Parallel()
	var gotAuth atomic.Value
	gotAuth.Store("")
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotAuth.Store(r.Header.Get("Authorization"))
		w.WriteHeader(http.StatusNotFound)
	}))
	t.Cleanup(plain.Close)
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
		{"http answers", "http://u:pw@" + strings.TrimPrefix(plain.URL, "http://"), "dns=ok tcp=ok http=ok", "answers HTTP/1.1 404 Not Found"},
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

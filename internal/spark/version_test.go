package spark_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/sirocco-dev/sirocco/internal/spark"
)

// TestServerVersion: the real REST server names its version when asked
// for a submission it does not know.
func TestServerVersion(t *testing.T) {
	cl, c := newClient(t)
	v, err := c.ServerVersion(t.Context())
	if err != nil || v != cl.Version {
		t.Fatalf("ServerVersion = %q, %v; want %q", v, err, cl.Version)
	}
}

// TestServerVersionNotSpark: a server that answers without a version, or
// with an error page, is an error saying so.
func TestServerVersionNotSpark(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/v1/") {
			fmt.Fprint(w, `{"hello":"world"}`)
			return
		}
		http.NotFound(w, r)
	}))
	defer srv.Close()
	for _, base := range []string{srv.URL, srv.URL + "/other"} {
		c := &spark.Client{RESTURL: base, HTTP: srv.Client()}
		if v, err := c.ServerVersion(t.Context()); err == nil {
			t.Errorf("%s: got version %q, want an error", base, v)
		}
	}
}

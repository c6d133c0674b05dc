package sensor

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/sirocco-dev/sirocco/internal/connection"
	"github.com/sirocco-dev/sirocco/internal/operator"
	"github.com/sirocco-dev/sirocco/internal/operator/httpop"
)

// TestHTTPSensorStatuses follows Airflow's HttpSensor against a real
// server: 404 (or a status of response_error_codes_allowlist) and a
// response_check that refuses a 2xx answer mean not yet; another HTTP
// error status fails the try at once, or skips it with soft_fail; a
// status response_check accepts holds.
func TestHTTPSensorStatuses(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		code, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/"))
		w.WriteHeader(code)
		_, _ = w.Write([]byte(`{"status": "starting"}`))
	}))
	t.Cleanup(srv.Close)
	conn, err := connection.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	conn.ID, conn.Type = "api", "http"
	tests := []struct {
		name string
		args map[string]any
		ok   bool
		err  error // nil: no error
	}{
		{"404 is not yet", map[string]any{"endpoint": "/404"}, false, nil},
		{"2xx refused by the check is not yet", map[string]any{"endpoint": "/200",
			"response_check": map[string]any{"json_path": "$.status", "equals": "ready"}}, false, nil},
		{"a status the check does not list is not yet", map[string]any{"endpoint": "/202",
			"response_check": map[string]any{"status": []any{200}}}, false, nil},
		{"500 fails", map[string]any{"endpoint": "/500"}, false, &httpop.StatusError{}},
		{"401 fails", map[string]any{"endpoint": "/401"}, false, &httpop.StatusError{}},
		{"403 with soft_fail skips", map[string]any{"endpoint": "/403", "soft_fail": true}, false, operator.ErrSkip},
		{"a listed error status waits", map[string]any{"endpoint": "/503", "response_error_codes_allowlist": []any{404, 503}}, false, nil},
		{"404 outside the list fails", map[string]any{"endpoint": "/404", "response_error_codes_allowlist": []any{503}}, false, &httpop.StatusError{}},
		{"an error status the check accepts holds", map[string]any{"endpoint": "/503",
			"response_check": map[string]any{"status": []any{503}}}, true, nil},
		{"200 holds", map[string]any{"endpoint": "/200"}, true, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.args["http_conn_id"] = "api"
			task, log := newTask(t, tt.args)
			task.Connection = func(context.Context, string) (connection.Connection, error) { return conn, nil }
			ok, err := poke(t, HTTPSpec, httpPoke, task)
			var se *httpop.StatusError
			switch {
			case tt.err == nil && err != nil, tt.err != nil && err == nil:
				t.Fatalf("poke = %v, %v; want error %v\n%s", ok, err, tt.err, log)
			case errors.As(tt.err, &se) && (!errors.As(err, &se) || errors.Is(err, operator.ErrSkip)):
				t.Fatalf("err %v, want an HTTP status error that fails the try", err)
			case errors.Is(tt.err, operator.ErrSkip) && !errors.Is(err, operator.ErrSkip):
				t.Fatalf("err %v, want a skip", err)
			}
			if ok != tt.ok {
				t.Fatalf("poke = %v, want %v\n%s", ok, tt.ok, log)
			}
		})
	}
}

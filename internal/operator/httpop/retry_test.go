package httpop_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestRetriesOn5xx: 5xx answers and dropped connections are repeated
// within the try up to retries_on_5xx; a 5xx the status list accepts, a
// 4xx, or retries_on_5xx 0 are not; POST and PATCH only with
// retry_non_idempotent.
func TestRetriesOn5xx(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		failures  int    // answers before the 200
		fail      string // "503", "drop" (connection closed without an answer), "404"
		args      map[string]any
		wantCalls int
		wantErr   string
		wantLog   string
	}{
		{name: "503 twice then 200", failures: 2, fail: "503", args: map[string]any{"retries_on_5xx": 3}, wantCalls: 3},
		{name: "dropped connection then 200", failures: 1, fail: "drop", args: map[string]any{"retries_on_5xx": 1}, wantCalls: 2},
		{name: "exhausted", failures: 100, fail: "503", args: map[string]any{"retries_on_5xx": 2}, wantCalls: 3,
			wantErr: "status 503 is not one of 2xx"},
		{name: "dropped, exhausted", failures: 100, fail: "drop", args: map[string]any{"retries_on_5xx": 1}, wantCalls: 2, wantErr: "EOF"},
		{name: "no retries by default", failures: 1, fail: "503", wantCalls: 1, wantErr: "status 503"},
		{name: "accepted 503 is final", failures: 1, fail: "503",
			args: map[string]any{"retries_on_5xx": 3, "response_check": map[string]any{"status": []any{"5xx"}}}, wantCalls: 1},
		{name: "4xx is final", failures: 1, fail: "404", args: map[string]any{"retries_on_5xx": 3}, wantCalls: 1, wantErr: "status 404"},
		{name: "POST 503 not repeated", failures: 1, fail: "503", args: map[string]any{"retries_on_5xx": 3, "method": "POST"}, wantCalls: 1,
			wantErr: "status 503", wantLog: "POST is not idempotent: not repeated"},
		{name: "PATCH dropped not repeated", failures: 1, fail: "drop", args: map[string]any{"retries_on_5xx": 3, "method": "PATCH"}, wantCalls: 1,
			wantErr: "EOF", wantLog: "PATCH is not idempotent"},
		{name: "POST with retry_non_idempotent", failures: 2, fail: "503",
			args: map[string]any{"retries_on_5xx": 3, "method": "POST", "retry_non_idempotent": true}, wantCalls: 3},
		{name: "PATCH dropped with retry_non_idempotent", failures: 1, fail: "drop",
			args: map[string]any{"retries_on_5xx": 1, "method": "PATCH", "retry_non_idempotent": true}, wantCalls: 2},
		{name: "PUT 503 repeated", failures: 1, fail: "503", args: map[string]any{"retries_on_5xx": 1, "method": "PUT"}, wantCalls: 2},
		{name: "DELETE dropped repeated", failures: 1, fail: "drop", args: map[string]any{"retries_on_5xx": 1, "method": "DELETE"}, wantCalls: 2},
		{name: "HEAD 503 repeated", failures: 1, fail: "503", args: map[string]any{"retries_on_5xx": 1, "method": "HEAD"}, wantCalls: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var calls atomic.Int32
			srv := newServer(t, func(w http.ResponseWriter, _ *http.Request) {
				if int(calls.Add(1)) > tt.failures {
					io.WriteString(w, `{"ok": true}`)
					return
				}
				switch tt.fail {
				case "drop":
					conn, _, _ := w.(http.Hijacker).Hijack()
					conn.Close()
				case "404":
					w.WriteHeader(http.StatusNotFound)
				default:
					w.WriteHeader(http.StatusServiceUnavailable)
				}
			})
			args := map[string]any{"retry_backoff": "1ms"}
			for k, v := range tt.args {
				args[k] = v
			}
			r := execute(context.Background(), t, args, conn(srv))
			if got := int(calls.Load()); got != tt.wantCalls {
				t.Errorf("%d requests, want %d\n%s", got, tt.wantCalls, r.log)
			}
			if tt.wantErr == "" {
				if r.err != nil {
					t.Fatalf("execute: %v\n%s", r.err, r.log)
				}
			} else if r.err == nil || !strings.Contains(r.err.Error(), tt.wantErr) {
				t.Fatalf("error = %v, want %q", r.err, tt.wantErr)
			}
			if tt.wantCalls > 1 {
				mustContain(t, "the log", r.log, "attempt 1 of", "(attempt 2 of")
			}
			if tt.wantLog != "" {
				mustContain(t, "the log", r.log, tt.wantLog)
			}
		})
	}
}

// TestRetryAfterHonoured: a 503 with Retry-After waits that long before
// the repeat, not the shorter retry_backoff.
func TestRetryAfterHonoured(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	var first, second atomic.Int64
	srv := newServer(t, func(w http.ResponseWriter, _ *http.Request) {
		if calls.Add(1) == 1 {
			first.Store(time.Now().UnixNano())
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		second.Store(time.Now().UnixNano())
	})
	r := execute(context.Background(), t, map[string]any{"retries_on_5xx": 1, "retry_backoff": "1ms"}, conn(srv))
	if r.err != nil {
		t.Fatalf("execute: %v\n%s", r.err, r.log)
	}
	if gap := time.Duration(second.Load() - first.Load()); gap < time.Second {
		t.Errorf("the repeat came %s after a Retry-After of 1s", gap)
	}
	mustContain(t, "the log", r.log, "next in 1s")
}

// TestTimeoutAndCancelAbortPromptly: the attempt's timeout, a cancel
// during the request and a cancel during the wait before a repeat all
// end the try at once, the server's side of the request cancelled too.
func TestTimeoutAndCancelAbortPromptly(t *testing.T) {
	t.Parallel()
	hang := func(arrived chan<- struct{}, gone chan<- struct{}) http.HandlerFunc {
		return func(_ http.ResponseWriter, r *http.Request) {
			arrived <- struct{}{}
			<-r.Context().Done() // the client went away
			gone <- struct{}{}
		}
	}
	t.Run("timeout", func(t *testing.T) {
		t.Parallel()
		arrived, gone := make(chan struct{}, 10), make(chan struct{}, 10)
		srv := newServer(t, hang(arrived, gone))
		start := time.Now()
		r := execute(context.Background(), t, map[string]any{"timeout": "300ms"}, conn(srv))
		if r.err == nil || !strings.Contains(r.err.Error(), "no complete answer within timeout 300ms") {
			t.Fatalf("error = %v, want the timeout named", r.err)
		}
		if took := time.Since(start); took > 5*time.Second {
			t.Errorf("the timeout took %s", took)
		}
		<-gone
	})
	t.Run("timeout repeats as a connection error", func(t *testing.T) {
		t.Parallel()
		arrived, gone := make(chan struct{}, 10), make(chan struct{}, 10)
		srv := newServer(t, hang(arrived, gone))
		r := execute(context.Background(), t, map[string]any{"timeout": "100ms", "retries_on_5xx": 1, "retry_backoff": "1ms"}, conn(srv))
		if r.err == nil || len(srv.requests()) != 2 {
			t.Fatalf("error = %v after %d requests, want a failure after 2", r.err, len(srv.requests()))
		}
	})
	t.Run("cancel during the request", func(t *testing.T) {
		t.Parallel()
		arrived, gone := make(chan struct{}, 10), make(chan struct{}, 10)
		srv := newServer(t, hang(arrived, gone))
		ctx, cancel := context.WithCancel(context.Background())
		go func() {
			<-arrived
			cancel()
		}()
		start := time.Now()
		r := execute(ctx, t, map[string]any{"timeout": "1h", "retries_on_5xx": 5}, conn(srv))
		if !errors.Is(r.err, context.Canceled) {
			t.Fatalf("error = %v, want context.Canceled", r.err)
		}
		if took := time.Since(start); took > 5*time.Second {
			t.Errorf("the cancel took %s", took)
		}
		<-gone
		if n := len(srv.requests()); n != 1 {
			t.Errorf("%d requests after a cancel, want 1", n)
		}
	})
	t.Run("cancel during the wait before a repeat", func(t *testing.T) {
		t.Parallel()
		arrived := make(chan struct{}, 10)
		srv := newServer(t, func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusBadGateway)
			arrived <- struct{}{}
		})
		ctx, cancel := context.WithCancel(context.Background())
		go func() {
			<-arrived
			cancel()
		}()
		start := time.Now()
		r := execute(ctx, t, map[string]any{"retries_on_5xx": 5, "retry_backoff": "1h"}, conn(srv))
		if !errors.Is(r.err, context.Canceled) {
			t.Fatalf("error = %v, want context.Canceled", r.err)
		}
		if took := time.Since(start); took > 5*time.Second {
			t.Errorf("the cancel took %s", took)
		}
	})
}

// TestRefusedPOSTRepeated: a POST whose connection could not be made never
// reached a server, so retries_on_5xx repeats it without
// retry_non_idempotent.
func TestRefusedPOSTRepeated(t *testing.T) {
	t.Parallel()
	srv := newServer(t, nil)
	conns := conn(srv)
	srv.Close() // nothing listens on its port now
	r := execute(context.Background(), t, map[string]any{"method": "POST", "retries_on_5xx": 1, "retry_backoff": "1ms"}, conns)
	if r.err == nil || !strings.Contains(r.err.Error(), "connection refused") {
		t.Fatalf("error = %v, want connection refused\n%s", r.err, r.log)
	}
	mustContain(t, "the log", r.log, "(attempt 2 of 2)")
}

package httpop_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/sirocco-dev/sirocco/internal/connection"
	"github.com/sirocco-dev/sirocco/internal/operator"
	"github.com/sirocco-dev/sirocco/internal/operator/httpop"
	"github.com/sirocco-dev/sirocco/internal/tasklog"
	"github.com/sirocco-dev/sirocco/internal/testenv"
)

func TestMain(m *testing.M) { testenv.RunMain(m) }

// seen is a request as the server got it.
type seen struct {
	Method, Path, Query, Body string
	Header                    http.Header
}

// server is a real HTTP server on 127.0.0.1 that records what it got and
// answers with handle (nil: 200 with {"ok": true}).
type server struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []seen
}

func newServer(t *testing.T, handle http.HandlerFunc) *server {
	t.Helper()
	s := &server{}
	s.Server = httptest.NewServer(s.wrap(handle))
	t.Cleanup(s.Close)
	return s
}

func newTLSServer(t *testing.T, handle http.HandlerFunc) *server {
	t.Helper()
	s := &server{}
	s.Server = httptest.NewUnstartedServer(s.wrap(handle))
	s.Config.ErrorLog = log.New(io.Discard, "", 0) // refused handshakes are what the tests want
	s.StartTLS()
	t.Cleanup(s.Close)
	return s
}

func (s *server) wrap(handle http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.reqs = append(s.reqs, seen{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Body: string(body), Header: r.Header.Clone()})
		s.mu.Unlock()
		if handle == nil {
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"ok": true}`)
			return
		}
		handle(w, r)
	}
}

func (s *server) requests() []seen {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]seen(nil), s.reqs...)
}

func (s *server) last(t *testing.T) seen {
	t.Helper()
	reqs := s.requests()
	if len(reqs) == 0 {
		t.Fatal("the server got no request")
	}
	return reqs[len(reqs)-1]
}

// run is one try's outcome and its log as the engine would write it
// (secrets masked by the real masking writer).
type run struct {
	res operator.Result
	err error
	log string
}

// value is the return_value's JSON as the runner stores it: a string
// (ReturnValue) quoted, a JSON value (ReturnJSON) as it is.
func (r run) value() string {
	switch {
	case r.res.ReturnJSON != nil && r.res.ReturnValue != nil:
		return "<both ReturnJSON and ReturnValue>"
	case r.res.ReturnJSON != nil:
		return string(r.res.ReturnJSON)
	case r.res.ReturnValue != nil:
		b, _ := json.Marshal(*r.res.ReturnValue)
		return string(b)
	}
	return "<none>"
}

// execute runs one try with the given connections (id → URI).
func execute(ctx context.Context, t *testing.T, args map[string]any, conns map[string]string) run {
	t.Helper()
	var buf syncBuffer
	mw := tasklog.NewMasked(&buf)
	task := &operator.Task{
		DagID: "d", RunID: "r", TaskID: "t", TryNumber: 1, Args: args, Log: mw, DagDir: t.TempDir(),
		Mask: mw.AddSecret,
		Connection: func(_ context.Context, id string) (connection.Connection, error) {
			uri, ok := conns[id]
			if !ok {
				return connection.Connection{}, errNotFound(id)
			}
			c, err := connection.Parse(uri)
			c.ID = id
			return c, err
		},
	}
	res, err := httpop.Factory.New().Execute(ctx, task)
	if err != nil {
		mw.Write([]byte("sirocco: task failed: " + err.Error() + "\n")) // as the runner logs it
	}
	mw.Flush()
	return run{res: res, err: err, log: buf.String()}
}

type errNotFound string

func (e errNotFound) Error() string { return "connection " + string(e) + " not found" }

// conn is the http_default connection of a server.
func conn(s *server) map[string]string { return map[string]string{"http_default": s.URL} }

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// jsonHandler answers with status and body.
func jsonHandler(status int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		io.WriteString(w, body)
	}
}

// mustContain fails unless s holds every want.
func mustContain(t *testing.T, what, s string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(s, w) {
			t.Errorf("%s lacks %q:\n%s", what, w, s)
		}
	}
}

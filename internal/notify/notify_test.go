package notify

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/connection"
	"github.com/sirocco-dev/sirocco/internal/dag"
	"github.com/sirocco-dev/sirocco/internal/store"
	"github.com/sirocco-dev/sirocco/internal/testenv"
)

// failedEvent is a task's failure on its second try.
func failedEvent() Event {
	at := time.Date(2026, 2, 3, 4, 5, 6, 0, time.UTC)
	d := &dag.DAG{ID: "etl"}
	d.Index()
	return Event{
		DAG:  d,
		Run:  store.DagRun{DagID: "etl", RunID: "manual__x", LogicalDate: at, DataIntervalStart: at, DataIntervalEnd: at, State: store.RunRunning},
		Task: &dag.Task{ID: "load", Operator: "bash"},
		TI:   store.TaskInstance{TaskKey: store.TaskKey{DagID: "etl", RunID: "manual__x", TaskID: "load"}, TryNumber: 2, State: store.StateFailed},
		Kind: dag.EventFailure, Reason: "task load failed", Exception: "exit status 3",
	}
}

// conns resolves the given connections by id.
func conns(cs ...connection.Connection) func(context.Context, string) (connection.Connection, error) {
	return func(_ context.Context, id string) (connection.Connection, error) {
		for _, c := range cs {
			if c.ID == id {
				return c, nil
			}
		}
		return connection.Connection{}, errors.New("connection " + id + " not found")
	}
}

// TestWebhookPostsTheRenderedBody: the body is rendered with the task
// context and the reason, posted as JSON with the connection's token and
// the notifier's headers; the token never shows in the output.
func TestWebhookPostsTheRenderedBody(t *testing.T) {
	var got struct {
		body   map[string]any
		auth   string
		header string
		ctype  string
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		data, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(data, &got.body); err != nil {
			t.Errorf("body is not JSON: %s", data)
		}
		got.auth, got.header, got.ctype = r.Header.Get("Authorization"), r.Header.Get("X-Run"), r.Header.Get("Content-Type")
	}))
	t.Cleanup(srv.Close)
	token := "xoxb-secret-token-123"
	c := connection.Connection{ID: "slack", Type: "http", Host: srv.URL + "/services/hook", Extra: map[string]string{"token": token}}
	s := &Sender{Connections: conns(c)}
	n := dag.Notifier{Webhook: &dag.Webhook{HTTPConnID: "slack",
		Body:    `{"text": "{{ dag.dag_id }}.{{ ti.task_id }} {{ state }} try {{ try_number }} on {{ ds }}: {{ reason }} ({{ exception }})", "run": "{{ run_id }}"}`,
		Headers: map[string]string{"X-Run": "{{ run_id }}"}}}
	out, err := s.Send(t.Context(), n, failedEvent())
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"text": "etl.load failed try 2 on 2026-02-03: task load failed (exit status 3)", "run": "manual__x"}
	if got.body["text"] != want["text"] || got.body["run"] != want["run"] {
		t.Errorf("body = %v, want %v", got.body, want)
	}
	if got.auth != "Bearer "+token || got.header != "manual__x" || got.ctype != "application/json" {
		t.Errorf("headers: auth %q, X-Run %q, Content-Type %q", got.auth, got.header, got.ctype)
	}
	if strings.Contains(out, token) || !strings.Contains(out, "200") {
		t.Errorf("output = %q", out)
	}
}

// TestWebhookFailures: an answer that is not 2xx, or a body that does not
// render to JSON, is an error; a secret in the URL is masked in it.
func TestWebhookFailures(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no such channel", http.StatusNotFound)
	}))
	t.Cleanup(srv.Close)
	s := &Sender{}
	secretURL := srv.URL + "/services/T000/B000/verysecretpath"
	_, err := s.Send(t.Context(), dag.Notifier{Webhook: &dag.Webhook{URL: secretURL}}, failedEvent())
	if err == nil || !strings.Contains(err.Error(), "404") || !strings.Contains(err.Error(), "no such channel") {
		t.Errorf("404: err = %v", err)
	}
	if err != nil && strings.Contains(err.Error(), "verysecretpath") {
		t.Errorf("the hook's secret path is in the error: %v", err)
	}
	_, err = s.Send(t.Context(), dag.Notifier{Webhook: &dag.Webhook{URL: srv.URL, Body: `{"text": {{ reason }}}`}}, failedEvent())
	if err == nil || !strings.Contains(err.Error(), "not JSON") {
		t.Errorf("bad JSON: err = %v", err)
	}
}

// TestCommandNotifier: the command is rendered and runs with the minimal
// environment given, not the process's.
func TestCommandNotifier(t *testing.T) {
	t.Setenv("SIROCCO_TEST_SECRET", "must-not-leak")
	dir := t.TempDir()
	out := filepath.Join(dir, "note.txt")
	s := &Sender{Env: []string{"PATH=/usr/bin:/bin", "OUT=" + out}}
	n := dag.Notifier{Command: `echo "{{ event }} {{ ti.task_id }} {{ try_number }} [$SIROCCO_TEST_SECRET]" > "$OUT"; echo done`}
	got, err := s.Send(t.Context(), n, failedEvent())
	if err != nil || got != "done" {
		t.Fatalf("send = %q, %v", got, err)
	}
	data, err := os.ReadFile(out)
	if err != nil || string(data) != "failure load 2 []\n" {
		t.Errorf("file = %q, %v", data, err)
	}
	_, err = s.Send(t.Context(), dag.Notifier{Command: "echo bad news; exit 4"}, failedEvent())
	if err == nil || !strings.Contains(err.Error(), "exit status 4") || !strings.Contains(err.Error(), "bad news") {
		t.Errorf("failing command: err = %v", err)
	}
	s.Timeout = 200 * time.Millisecond
	_, err = s.Send(t.Context(), dag.Notifier{Command: "sleep 30"}, failedEvent())
	if err == nil || !strings.Contains(err.Error(), "timeout") {
		t.Errorf("slow command: err = %v", err)
	}
}

// TestEmailThroughRealSMTP sends through aiosmtpd on loopback: the
// message arrives with the rendered subject and body, from the
// connection's sender.
func TestEmailThroughRealSMTP(t *testing.T) {
	srv := testenv.SMTP(t)
	c := connection.Connection{ID: "mail", Type: "smtp", Host: srv.Host, Port: srv.Port,
		Extra: map[string]string{"from_email": "sirocco@example.test"}}
	s := &Sender{Connections: conns(c)}
	n := dag.Notifier{Email: &dag.Email{SMTPConnID: "mail", To: []string{"ops@example.test", "dev@example.test"},
		Subject: "[{{ dag.dag_id }}] {{ ti.task_id }} {{ state }}", Body: "{{ reason }}\nlast lines:\n{{ exception }}\n"}}
	if _, err := s.Send(t.Context(), n, failedEvent()); err != nil {
		t.Fatal(err)
	}
	msgs := srv.Messages(t)
	if len(msgs) != 1 {
		t.Fatalf("%d messages received, want 1", len(msgs))
	}
	m := msgs[0]
	body, _ := io.ReadAll(m.Body)
	if got := m.Header.Get("Subject"); got != "[etl] load failed" {
		t.Errorf("subject = %q", got)
	}
	if got := m.Header.Get("From"); got != "sirocco@example.test" {
		t.Errorf("from = %q", got)
	}
	if got := m.Header.Get("To"); got != "ops@example.test, dev@example.test" {
		t.Errorf("to = %q", got)
	}
	if want := "task load failed\nlast lines:\nexit status 3"; !strings.Contains(strings.ReplaceAll(string(body), "\r\n", "\n"), want) {
		t.Errorf("body = %q, want it to hold %q", body, want)
	}
}

// TestSMTPSettings: the smtp connection's ports, TLS modes and sender.
func TestSMTPSettings(t *testing.T) {
	cases := []struct {
		c        connection.Connection
		addr     string
		from     string
		ssl, tls bool
		err      string
	}{
		{c: connection.Connection{ID: "a", Host: "mx", Login: "me@x.test"}, addr: "mx:25", from: "me@x.test"},
		{c: connection.Connection{ID: "a", Host: "mx", Extra: map[string]string{"ssl": "true", "from_email": "a@b.c"}}, addr: "mx:465", from: "a@b.c", ssl: true},
		{c: connection.Connection{ID: "a", Host: "mx", Port: 587, Extra: map[string]string{"starttls": "true", "from_email": "a@b.c"}}, addr: "mx:587", from: "a@b.c", tls: true},
		{c: connection.Connection{ID: "a", Host: "mx", Extra: map[string]string{"ssl": "yes please", "from_email": "a@b.c"}}, err: "extra ssl: expected true or false"},
		{c: connection.Connection{ID: "a", Host: "mx", Extra: map[string]string{"ssl": "true", "starttls": "true", "from_email": "a@b.c"}}, err: "exclude each other"},
		{c: connection.Connection{ID: "a", Host: "mx", Login: "me"}, err: "no sender"},
		{c: connection.Connection{ID: "a"}, err: "host is required"},
	}
	for _, c := range cases {
		s, err := c.c.SMTP()
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%+v: err = %v, want %q", c.c, err, c.err)
			}
			continue
		}
		if err != nil || s.Addr != c.addr || s.From != c.from || s.SSL != c.ssl || s.StartTLS != c.tls {
			t.Errorf("%+v: %+v, %v", c.c, s, err)
		}
	}
}

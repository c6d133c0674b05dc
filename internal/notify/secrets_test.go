package notify

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/sirocco-dev/sirocco/internal/connection"
	"github.com/sirocco-dev/sirocco/internal/dag"
	"github.com/sirocco-dev/sirocco/internal/testenv"
)

// TestCommandScriptNotInArgv: the rendered command never shows in the
// shell's argv (ps); it runs from a 0600 file removed after the send.
func TestCommandScriptNotInArgv(t *testing.T) {
	s := &Sender{}
	n := dag.Notifier{Command: "tr '\\0' ' ' < /proc/$$/cmdline; echo; stat -c %a \"$0\"; echo \"$0\" # topsecret-{{ ti.task_id }}"}
	out, err := s.Send(t.Context(), n, failedEvent())
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(out, "\n")
	if len(lines) != 3 {
		t.Fatalf("output = %q", out)
	}
	if strings.Contains(lines[0], "topsecret") {
		t.Errorf("the script is in argv: %q", lines[0])
	}
	if lines[1] != "600" {
		t.Errorf("script mode = %s, want 600", lines[1])
	}
	if _, err := os.Stat(lines[2]); !os.IsNotExist(err) {
		t.Errorf("script %s left behind: %v", lines[2], err)
	}
}

// TestWebhookURLSecretsMasked: a token anywhere in a url: (path outside
// Slack's /services/, query, userinfo) shows in no output nor error, for
// an answer that is not 2xx as for a connection that fails.
func TestWebhookURLSecretsMasked(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "bad hook "+r.URL.String(), http.StatusForbidden)
	}))
	t.Cleanup(srv.Close)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	secrets := []string{"pathtoken42", "querytoken42", "usertoken42", "passtoken42"}
	for _, u := range []string{
		srv.URL + "/api/webhooks/123/pathtoken42?key=querytoken42",
		"http://usertoken42:passtoken42@" + closed + "/hook/pathtoken42?key=querytoken42",
	} {
		s := &Sender{}
		out, err := s.Send(t.Context(), dag.Notifier{Webhook: &dag.Webhook{URL: u}}, failedEvent())
		if err == nil {
			t.Fatalf("%s: no error", u)
		}
		for _, sec := range secrets {
			if strings.Contains(err.Error(), sec) || strings.Contains(out, sec) {
				t.Errorf("%s shows: err %q, output %q", sec, err, out)
			}
		}
	}
}

// TestWebhookDefaultText: a DAG's callback (no task) has no double space
// in the default text.
func TestWebhookDefaultText(t *testing.T) {
	var text string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct{ Text string }
		data, _ := io.ReadAll(r.Body)
		_ = json.Unmarshal(data, &body)
		text = body.Text
	}))
	t.Cleanup(srv.Close)
	ev := failedEvent()
	ev.Task, ev.Reason = nil, "run failed"
	if _, err := (&Sender{}).Send(t.Context(), dag.Notifier{Webhook: &dag.Webhook{URL: srv.URL}}, ev); err != nil {
		t.Fatal(err)
	}
	if want := "etl manual__x: failure run failed"; text != want {
		t.Errorf("DAG text = %q, want %q", text, want)
	}
	if _, err := (&Sender{}).Send(t.Context(), dag.Notifier{Webhook: &dag.Webhook{URL: srv.URL}}, failedEvent()); err != nil {
		t.Fatal(err)
	}
	if want := "etl manual__x: failure load task load failed"; text != want {
		t.Errorf("task text = %q, want %q", text, want)
	}
}

// TestEmailSenderWithName: a from_email "Name <addr>" sends through a
// real SMTP server (MAIL FROM takes the bare address) and the message's
// From header keeps the name.
func TestEmailSenderWithName(t *testing.T) {
	srv := testenv.SMTP(t)
	c := connection.Connection{ID: "mail", Type: "smtp", Host: srv.Host, Port: srv.Port,
		Extra: map[string]string{"from_email": "Sirocco Alerts <sirocco@example.test>"}}
	s := &Sender{Connections: conns(c)}
	n := dag.Notifier{Email: &dag.Email{SMTPConnID: "mail", To: []string{"ops@example.test"}}}
	if _, err := s.Send(t.Context(), n, failedEvent()); err != nil {
		t.Fatal(err)
	}
	msgs := srv.Messages(t)
	if len(msgs) != 1 {
		t.Fatalf("%d messages received, want 1", len(msgs))
	}
	from, err := msgs[0].Header.AddressList("From")
	if err != nil || len(from) != 1 || from[0].Name != "Sirocco Alerts" || from[0].Address != "sirocco@example.test" {
		t.Errorf("From = %q (%v)", msgs[0].Header.Get("From"), err)
	}
	set, err := c.SMTP()
	if err != nil || set.Sender != "sirocco@example.test" {
		t.Errorf("settings = %+v, %v", set, err)
	}
}

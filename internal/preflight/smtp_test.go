package preflight_test

import (
	"context"
	"strings"
	"testing"

	"github.com/sirocco-dev/sirocco/internal/connection"
	"github.com/sirocco-dev/sirocco/internal/preflight"
	"github.com/sirocco-dev/sirocco/internal/testenv"
)

// TestSMTPConnection: `connections test` of an smtp connection greets a
// real server (aiosmtpd on loopback); a closed port fails at tcp, a
// sender missing at the settings.
func TestSMTPConnection(t *testing.T) {
	srv := testenv.SMTP(t)
	ok := connection.Connection{ID: "mail", Type: "smtp", Host: srv.Host, Port: srv.Port, Extra: map[string]string{"from_email": "a@b.test"}}
	r := (&preflight.Checker{}).Check(context.Background(), ok)
	if got := steps(r); got != "dns=ok tcp=ok smtp=ok" {
		t.Fatalf("steps %s: %+v", got, r.Steps)
	}
	if d := r.Steps[len(r.Steps)-1].Detail; !strings.Contains(d, "sender a@b.test") {
		t.Errorf("detail = %q", d)
	}
	noSender := ok
	noSender.Extra = nil
	if got := steps((&preflight.Checker{}).Check(context.Background(), noSender)); got != "settings=failed" {
		t.Errorf("no sender: steps %s", got)
	}
}

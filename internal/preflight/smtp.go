package preflight

import (
	"context"
	"fmt"

	"github.com/sirocco-dev/sirocco/internal/connection"
	"github.com/sirocco-dev/sirocco/internal/notify"
)

// StepSMTP is the step that greets an smtp connection's server.
const StepSMTP = "smtp"

// smtpProvider checks an smtp connection as the e-mail notifier uses it:
// dns and tcp to host:port, then the greeting, EHLO, STARTTLS or implicit
// TLS when set, and AUTH when a login is set; no message is sent.
func smtpProvider(_ context.Context, _ *Checker, c connection.Connection) (Plan, error) {
	s, err := c.SMTP()
	if err != nil {
		return Plan{}, err
	}
	return Plan{
		Reach: s.Addr,
		Checks: []Check{{Name: StepSMTP, Target: s.Addr, Needs: []string{StepTCP},
			Run: func(ctx context.Context) (string, error) {
				client, err := notify.DialSMTP(ctx, s)
				if err != nil {
					return "", err
				}
				defer client.Close()
				_ = client.Quit()
				return fmt.Sprintf("greets; sender %s%s", s.From, smtpMode(s)), nil
			}}},
	}, nil
}

func smtpMode(s connection.SMTPSettings) string {
	mode := ""
	switch {
	case s.SSL:
		mode = ", over TLS"
	case s.StartTLS:
		mode = ", STARTTLS"
	}
	if s.Login != "" {
		mode += ", logged in as " + s.Login
	}
	return mode
}

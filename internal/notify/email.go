package notify

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/smtp"
	"strings"
	"time"

	"github.com/sirocco-dev/sirocco/internal/connection"
	"github.com/sirocco-dev/sirocco/internal/dag"
	"github.com/sirocco-dev/sirocco/internal/tasklog"
	"github.com/sirocco-dev/sirocco/internal/template"
)

// email renders and sends one message through the smtp connection.
func (s *Sender) email(ctx context.Context, m *dag.Email, tc template.Context, mask *tasklog.Secrets) (string, error) {
	if s.Connections == nil {
		return "", fmt.Errorf("smtp_conn_id %s: no connections available", m.SMTPConnID)
	}
	c, err := s.Connections(ctx, m.SMTPConnID)
	if err != nil {
		return "", err
	}
	for _, sec := range c.Secrets() {
		mask.Add(sec)
	}
	settings, err := c.SMTP()
	if err != nil {
		return "", err
	}
	subject := `Sirocco: {{ dag.dag_id }} {{ event }} {{ task.task_id }}`
	if m.Subject != "" {
		subject = m.Subject
	}
	if subject, err = render(ctx, "subject", subject, tc); err != nil {
		return "", err
	}
	body := "{{ reason }}\n\n{{ exception }}\n"
	if m.Body != "" {
		body = m.Body
	}
	if body, err = render(ctx, "body", body, tc); err != nil {
		return "", err
	}
	msg := Message(settings.From, m.To, subject, body, time.Now())
	if err := SendMail(ctx, settings, m.To, msg); err != nil {
		return "", err
	}
	return fmt.Sprintf("mail to %s through %s", strings.Join(m.To, ", "), settings.Addr), nil
}

// Message builds an RFC 5322 message with a plain-text UTF-8 body. The
// subject's line breaks are removed, so a template cannot add headers.
func Message(from string, to []string, subject, body string, date time.Time) []byte {
	subject = strings.Join(strings.Fields(subject), " ")
	var b strings.Builder
	b.WriteString("From: " + from + "\r\n")
	b.WriteString("To: " + strings.Join(to, ", ") + "\r\n")
	b.WriteString("Subject: " + mimeWord(subject) + "\r\n")
	b.WriteString("Date: " + date.Format(time.RFC1123Z) + "\r\n")
	b.WriteString("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n")
	b.WriteString(strings.ReplaceAll(strings.ReplaceAll(body, "\r\n", "\n"), "\n", "\r\n"))
	return []byte(b.String())
}

// mimeWord encodes a non-ASCII subject (RFC 2047).
func mimeWord(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return "=?utf-8?q?" + strings.NewReplacer("=", "=3D", "?", "=3F", "_", "=5F", " ", "_").Replace(qEncode(s)) + "?="
		}
	}
	return s
}

func qEncode(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 0x80 {
			fmt.Fprintf(&b, "=%02X", c)
		} else {
			b.WriteByte(c)
		}
	}
	return b.String()
}

// DialSMTP connects and greets the server as settings say: implicit TLS
// (ssl) or STARTTLS, then AUTH when a login is set. `connections test`
// uses it to check an smtp connection. The connection ends with ctx.
func DialSMTP(ctx context.Context, s connection.SMTPSettings) (*smtp.Client, error) {
	d := net.Dialer{}
	var conn net.Conn
	var err error
	if s.SSL {
		conn, err = (&tls.Dialer{NetDialer: &d, Config: &tls.Config{ServerName: s.Host}}).DialContext(ctx, "tcp", s.Addr)
	} else {
		conn, err = d.DialContext(ctx, "tcp", s.Addr)
	}
	if err != nil {
		return nil, fmt.Errorf("smtp %s: %w", s.Addr, err)
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	c, err := smtp.NewClient(conn, s.Host)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("smtp %s: greeting: %w", s.Addr, err)
	}
	if err := c.Hello("localhost"); err != nil {
		c.Close()
		return nil, fmt.Errorf("smtp %s: EHLO: %w", s.Addr, err)
	}
	if s.StartTLS {
		if err := c.StartTLS(&tls.Config{ServerName: s.Host}); err != nil {
			c.Close()
			return nil, fmt.Errorf("smtp %s: STARTTLS: %w", s.Addr, err)
		}
	}
	if s.Login != "" {
		if err := c.Auth(smtp.PlainAuth("", s.Login, s.Password, s.Host)); err != nil {
			c.Close()
			return nil, fmt.Errorf("smtp %s: AUTH as %s: %w", s.Addr, s.Login, err)
		}
	}
	return c, nil
}

// SendMail delivers msg to the recipients. The envelope sender is the
// bare address of the connection's sender (MAIL FROM takes no display
// name), the header keeps its "Name <addr>" form.
func SendMail(ctx context.Context, s connection.SMTPSettings, to []string, msg []byte) error {
	c, err := DialSMTP(ctx, s)
	if err != nil {
		return err
	}
	defer c.Close()
	sender := s.Sender
	if sender == "" {
		sender = s.From
	}
	if err := c.Mail(sender); err != nil {
		return fmt.Errorf("smtp %s: MAIL FROM %s: %w", s.Addr, sender, err)
	}
	for _, rcpt := range to {
		if err := c.Rcpt(rcpt); err != nil {
			return fmt.Errorf("smtp %s: RCPT TO %s: %w", s.Addr, rcpt, err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("smtp %s: DATA: %w", s.Addr, err)
	}
	if _, err := w.Write(msg); err != nil {
		return fmt.Errorf("smtp %s: write the message: %w", s.Addr, err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("smtp %s: end of the message: %w", s.Addr, err)
	}
	return c.Quit()
}

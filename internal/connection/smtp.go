package connection

import (
	"fmt"
	"net"
	"net/mail"
	"strconv"
	"strings"
)

// SMTPSettings is what an smtp connection says about sending mail, as
// Airflow's SMTP provider reads it: host and port, login and password
// (AUTH PLAIN), implicit TLS (the ssl extra) or STARTTLS (starttls), and
// the sender (from_email).
type SMTPSettings struct {
	Addr            string // host:port
	Host            string
	Login, Password string
	SSL, StartTLS   bool
	// From is the sender as the From header shows it ("Name <addr>" or a
	// bare address); Sender is its address alone, for MAIL FROM.
	From   string
	Sender string
}

// SMTP reads c as an smtp connection. The port defaults to 465 with ssl,
// 25 otherwise; the sender to the login when it is an address.
func (c Connection) SMTP() (SMTPSettings, error) {
	s := SMTPSettings{Host: c.Host, Login: c.Login, Password: c.Password}
	if strings.TrimSpace(c.Host) == "" {
		return s, fmt.Errorf("smtp connection %s: host is required", c.ID)
	}
	for _, k := range []string{"ssl", "starttls"} {
		v, ok := c.Extra[k]
		if !ok {
			continue
		}
		b, err := strconv.ParseBool(strings.TrimSpace(v))
		if err != nil {
			return s, fmt.Errorf("smtp connection %s: extra %s: expected true or false, got %q", c.ID, k, v)
		}
		if k == "ssl" {
			s.SSL = b
		} else {
			s.StartTLS = b
		}
	}
	if s.SSL && s.StartTLS {
		return s, fmt.Errorf("smtp connection %s: extras ssl and starttls exclude each other", c.ID)
	}
	port := c.Port
	if port == 0 {
		port = 25
		if s.SSL {
			port = 465
		}
	}
	s.Addr = net.JoinHostPort(c.Host, strconv.Itoa(port))
	s.From = firstNonEmpty(c.Extra["from_email"], c.Extra["from"])
	if s.From == "" && strings.Contains(c.Login, "@") {
		s.From = c.Login
	}
	if s.From == "" {
		return s, fmt.Errorf("smtp connection %s: no sender: set extra from_email (or a login that is an address)", c.ID)
	}
	addr, err := mail.ParseAddress(s.From)
	if err != nil {
		return s, fmt.Errorf("smtp connection %s: from_email %q: %w", c.ID, s.From, err)
	}
	s.From, s.Sender = addr.String(), addr.Address
	if addr.Name == "" {
		s.From = addr.Address // a bare address stays bare in the header
	}
	return s, nil
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if strings.TrimSpace(v) != "" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

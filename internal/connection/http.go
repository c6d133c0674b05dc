package connection

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
)

// HTTPSettings is what an http or https connection says about reaching a
// web service, as Airflow's HttpHook reads it: the base URL from host,
// schema and port, basic auth from login and password, and headers from
// the extra. The http operator (and the http sensor after it) and
// `connections test` read it, so they agree on where a request goes.
type HTTPSettings struct {
	// BaseURL is scheme://host[:port][/base path], without query or
	// fragment.
	BaseURL *url.URL
	// Login and Password are the basic-auth credentials (login set).
	Login, Password string
	// BearerToken, from the token or bearer_token extra, is sent as
	// "Authorization: Bearer <token>" instead of basic auth.
	BearerToken string
	// Headers are the default headers: the headers extra (a JSON object)
	// and every extra that is not a setting (Airflow's extra-as-headers).
	Headers map[string]string
	// Verify is the verify extra when it is a boolean; nil when unset.
	Verify *bool
	// CABundle is a CA bundle file from the ca_bundle extra, or from
	// verify when it holds a path (as requests' verify does).
	CABundle string
	// Ignored lists setting extras of Airflow's HttpHook Sirocco does not
	// apply (proxies, cert, ...), sorted, for the operator to log.
	Ignored []string
}

// httpSettingExtras are extras that configure the client rather than being
// sent as headers: Sirocco's own and Airflow's HttpHook session settings.
var httpSettingExtras = []string{
	"headers", "token", "bearer_token", "verify", "ca_bundle",
	"auth_type", "auth_kwargs", "stream", "cert", "proxies", "proxy", "allow_redirects",
	"max_redirects", "trust_env", "timeout", "check_response",
	"tcp_keep_alive", "tcp_keep_alive_idle", "tcp_keep_alive_count", "tcp_keep_alive_interval",
}

// httpApplied are the setting extras HTTP applies; the rest are Ignored.
var httpApplied = []string{"headers", "token", "bearer_token", "verify", "ca_bundle"}

// HTTP reads c as an http connection. The base URL is the host when it
// carries its own protocol (http://https://api.example.com/v1), else
// schema://host[:port] where the schema is http or https (Airflow's URI
// form http://host/https puts it there) and defaults to the type: https
// for an https connection, http otherwise.
func (c Connection) HTTP() (HTTPSettings, error) {
	s := HTTPSettings{Login: c.Login, Password: c.Password}
	base, err := c.httpBaseURL()
	if err != nil {
		return s, fmt.Errorf("http connection %s: %w", c.ID, err)
	}
	s.BaseURL = base
	if err := s.readExtra(c.Extra); err != nil {
		return s, fmt.Errorf("http connection %s: %w", c.ID, err)
	}
	return s, nil
}

// httpBaseURL builds the base URL from host, schema, port and type.
func (c Connection) httpBaseURL() (*url.URL, error) {
	host := strings.TrimSpace(c.Host)
	if host == "" {
		return nil, errors.New("no host: set it to the service's host name or base URL (https://api.example.com/v1)")
	}
	raw := host
	if !strings.Contains(host, "://") {
		scheme := strings.ToLower(c.Schema)
		switch scheme {
		case "":
			scheme = "http"
			if c.Type == "https" {
				scheme = "https"
			}
		case "http", "https":
		default:
			return nil, fmt.Errorf("schema %q: want http or https (a base path goes in the host: https://api.example.com/v1)", truncate(c.Schema))
		}
		if strings.Contains(host, ":") && net.ParseIP(host) != nil {
			host = "[" + host + "]" // an IPv6 address, as a URI writes it
		}
		raw = scheme + "://" + host
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("host %q is not a URL: %w", truncate(host), errors.Unwrap(err))
	}
	if err := checkBaseURL(u); err != nil {
		return nil, err
	}
	if c.Port != 0 {
		if u.Port() != "" {
			return nil, fmt.Errorf("port %d given twice: the host %q has its own", c.Port, truncate(host))
		}
		u.Host = joinHostPort(u.Hostname(), c.Port)
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = ""
	return u, nil
}

// checkBaseURL rejects a base URL that is not plain scheme://host/path.
func checkBaseURL(u *url.URL) error {
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Errorf("protocol %q: want http or https", truncate(u.Scheme))
	case u.Hostname() == "":
		return errors.New("the base URL has no host name")
	case u.User != nil:
		return errors.New("put the login and password in the connection's login and password, not in its host")
	case u.RawQuery != "" || u.Fragment != "" || u.ForceQuery:
		return errors.New("the host may hold a base path but no query or fragment")
	case u.Port() != "":
		if n, err := strconv.Atoi(u.Port()); err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("port %q in the host is outside 1..65535", truncate(u.Port()))
		}
	}
	return nil
}

// joinHostPort is host:port with an IPv6 host bracketed.
func joinHostPort(host string, port int) string {
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	return host + ":" + strconv.Itoa(port)
}

// readExtra sorts the extra into settings and headers.
func (s *HTTPSettings) readExtra(extra map[string]string) error {
	s.Headers = map[string]string{}
	for _, k := range slices.Sorted(maps.Keys(extra)) {
		v := extra[k]
		key := strings.ToLower(k)
		if !slices.Contains(httpSettingExtras, key) {
			if err := checkHeader(k, v); err != nil {
				return err
			}
			s.Headers[k] = v
			continue
		}
		if !slices.Contains(httpApplied, key) {
			s.Ignored = append(s.Ignored, k)
			continue
		}
		if err := s.applyExtra(key, v); err != nil {
			return err
		}
	}
	return nil
}

// applyExtra applies one setting extra.
func (s *HTTPSettings) applyExtra(key, v string) error {
	switch key {
	case "headers":
		return s.headersExtra(v)
	case "token", "bearer_token":
		if s.BearerToken != "" && v != "" && v != s.BearerToken {
			return errors.New("extras token and bearer_token disagree: keep one")
		}
		if v != "" {
			s.BearerToken = v
		}
	case "verify":
		if b, err := strconv.ParseBool(v); err == nil {
			s.Verify = &b
		} else if v != "" {
			s.CABundle = v
		}
	case "ca_bundle":
		if s.CABundle != "" && v != s.CABundle {
			return errors.New("extras verify (a path) and ca_bundle disagree: keep one")
		}
		s.CABundle = v
	}
	return nil
}

// headersExtra merges the headers extra, a JSON object of strings.
func (s *HTTPSettings) headersExtra(v string) error {
	if strings.TrimSpace(v) == "" {
		return nil
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(v), &m); err != nil {
		return fmt.Errorf(`extra headers must be a JSON object of header names and values, like {"Accept": "application/json"}: %w`, err)
	}
	for _, k := range slices.Sorted(maps.Keys(m)) {
		var val string
		switch x := m[k].(type) {
		case string:
			val = x
		case float64, bool:
			val = fmt.Sprint(x)
		default:
			return fmt.Errorf("extra headers: header %q must be a string, number or boolean", truncate(k))
		}
		if err := checkHeader(k, val); err != nil {
			return err
		}
		s.Headers[k] = val
	}
	return nil
}

// checkHeader rejects a header name or value HTTP cannot carry, naming
// the header but never quoting its value (it may be a secret).
func checkHeader(name, value string) error {
	if !ValidHeaderName(name) {
		return fmt.Errorf("extra %q cannot be a header name (letters, digits and !#$%%&'*+-.^_`|~ only)", truncate(name))
	}
	if strings.ContainsAny(value, "\r\n\x00") {
		return fmt.Errorf("header %q: its value holds a line break or NUL", truncate(name))
	}
	return nil
}

// ValidHeaderName reports whether name is an HTTP header field name (an
// RFC 9110 token).
func ValidHeaderName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// TLSConfig is the client TLS of the connection: certificates verified
// unless verify (else the verify extra) is false, against caBundle (else
// the ca_bundle extra, or a path in verify) when set, else the system's
// CAs. Insecure reports that verification is off, for a warning.
func (s HTTPSettings) TLSConfig(verify *bool, caBundle string) (conf *tls.Config, insecure bool, err error) {
	on := true
	if s.Verify != nil {
		on = *s.Verify
	}
	if verify != nil {
		on = *verify
	}
	conf = &tls.Config{MinVersion: tls.VersionTLS12}
	if !on {
		conf.InsecureSkipVerify = true //nolint:gosec // asked for (verify: false), and the caller warns
		return conf, true, nil
	}
	if caBundle == "" {
		caBundle = s.CABundle
	}
	if caBundle == "" {
		return conf, false, nil
	}
	pem, err := os.ReadFile(caBundle)
	if err != nil {
		return nil, false, fmt.Errorf("ca_bundle: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, false, fmt.Errorf("ca_bundle %s: no PEM certificate in it", caBundle)
	}
	conf.RootCAs = pool
	return conf, false, nil
}

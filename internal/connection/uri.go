package connection

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// extraParam is the query parameter that carries the whole extra as one
// JSON object, as Airflow's __extra__, for extras a flat query cannot hold.
const extraParam = "__extra__"

// Parse reads an Airflow connection URI:
//
//	type://[login[:password]@][protocol://]host[:port][/schema][?key=value&...]
//
// with Airflow's rules: the type is normalised (NormalizeType); login,
// password, host and schema are percent-decoded; a host may carry its own
// protocol (http://https://example.com gives host https://example.com);
// query parameters become Extra, or the __extra__ parameter holds the whole
// extra as a JSON object. The result has no ID: the caller names it.
//
// Errors never quote the URI, which may hold a password.
func Parse(uri string) (Connection, error) {
	c, err := parse(strings.TrimSpace(uri))
	if err != nil {
		return Connection{}, fmt.Errorf("connection uri: %w", err)
	}
	return c, nil
}

func parse(s string) (Connection, error) {
	if s == "" {
		return Connection{}, errors.New("empty")
	}
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok {
		return Connection{}, errors.New(`missing "type://" at the start (e.g. spark://host:7077)`)
	}
	if scheme == "" {
		return Connection{}, errors.New(`missing connection type before "://"`)
	}
	if !validScheme(scheme) {
		return Connection{}, fmt.Errorf("invalid connection type %q: use letters, digits, '-', '_', '+' or '.', starting with a letter",
			truncate(scheme))
	}
	if strings.ContainsRune(rest, '#') {
		return Connection{}, errors.New(`'#' starts a URI fragment, which connections do not use: percent-encode it as %23 (in a password, for example)`)
	}
	c := Connection{Type: NormalizeType(scheme)}

	// A host with its own protocol: http://https://example.com.
	var protocol string
	if p, after, ok := strings.Cut(rest, "://"); ok && validScheme(p) {
		protocol, rest = p, after
	}
	var query string
	rest, query, _ = strings.Cut(rest, "?")
	netloc, path := rest, ""
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		netloc, path = rest[:i], rest[i:]
	}

	hostport := netloc
	if i := strings.LastIndexByte(netloc, '@'); i >= 0 {
		var userinfo string
		userinfo, hostport = netloc[:i], netloc[i+1:]
		login, password, _ := strings.Cut(userinfo, ":")
		var err error
		if c.Login, err = unescape(login, "login"); err != nil {
			return Connection{}, err
		}
		if c.Password, err = unescape(password, "password"); err != nil {
			return Connection{}, err
		}
	}
	host, port, err := splitHostPort(hostport)
	if err != nil {
		return Connection{}, err
	}
	if c.Host, err = unescape(host, "host"); err != nil {
		return Connection{}, err
	}
	if protocol != "" {
		c.Host = protocol + "://" + c.Host
	}
	if port != "" {
		if c.Port, err = parsePort(port); err != nil {
			if !strings.Contains(netloc, "@") && strings.Contains(path+query, "@") {
				// A '/' or '?' in the password cut the login off: the
				// "port" is part of the password, never to be quoted.
				return Connection{}, errors.New("the port is not a number: a '/', '?' or ':' in the login or password " +
					"must be percent-encoded (%2F, %3F, %3A)")
			}
			return Connection{}, err
		}
	}
	if len(path) > 1 {
		if c.Schema, err = unescape(path[1:], "schema"); err != nil {
			return Connection{}, err
		}
	}
	if c.Extra, err = parseQuery(query); err != nil {
		return Connection{}, err
	}
	return c, nil
}

// splitHostPort splits host[:port] or [ipv6][:port], as Python's urlsplit:
// the port starts at the first ':' of an unbracketed host.
func splitHostPort(hp string) (host, port string, err error) {
	if strings.HasPrefix(hp, "[") {
		end := strings.IndexByte(hp, ']')
		if end < 0 {
			return "", "", errors.New("host starts with '[' but has no closing ']'")
		}
		host, after := hp[1:end], hp[end+1:]
		if after == "" {
			return host, "", nil
		}
		if after[0] != ':' {
			return "", "", errors.New("unexpected text after ']' in the host: only :port may follow")
		}
		return host, after[1:], nil
	}
	host, port, _ = strings.Cut(hp, ":")
	return host, port, nil
}

// parsePort reads a decimal port in 0..65535.
func parsePort(p string) (int, error) {
	for _, r := range p {
		if r < '0' || r > '9' {
			return 0, fmt.Errorf("port %q is not a number (percent-encode ':' in a host or password as %%3A)", truncate(p))
		}
	}
	n, err := strconv.Atoi(p)
	if err != nil || n > 65535 {
		return 0, fmt.Errorf("port %s is outside 0..65535", truncate(p))
	}
	return n, nil
}

// parseQuery reads the query as Python's parse_qsl(keep_blank_values=True):
// '&'-separated pairs, '+' as space, the last of repeated keys wins.
func parseQuery(q string) (map[string]string, error) {
	if q == "" {
		return nil, nil
	}
	out := map[string]string{}
	for pair := range strings.SplitSeq(q, "&") {
		if pair == "" {
			continue
		}
		k, v, _ := strings.Cut(pair, "=")
		key, err := url.QueryUnescape(k)
		if err != nil {
			return nil, fmt.Errorf("query parameter %q: invalid percent-encoding", truncate(k))
		}
		val, err := url.QueryUnescape(v)
		if err != nil {
			return nil, fmt.Errorf("query parameter %q: invalid percent-encoding in its value", truncate(key))
		}
		out[key] = val
	}
	if raw, ok := out[extraParam]; ok {
		if len(out) > 1 {
			return nil, fmt.Errorf("%s holds the whole extra as JSON and cannot be combined with other query parameters", extraParam)
		}
		extra, err := decodeExtraJSON([]byte(raw))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", extraParam, err)
		}
		return extra, nil
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}

// unescape percent-decodes one part of the URI ('+' stays '+', as in
// Python's unquote); what names the part in errors, never its value.
func unescape(s, what string) (string, error) {
	if !strings.ContainsRune(s, '%') {
		return s, nil
	}
	out, err := url.PathUnescape(s)
	if err != nil {
		return "", fmt.Errorf("invalid percent-encoding in the %s (a literal '%%' is written %%25)", what)
	}
	return out, nil
}

// URI returns c as an Airflow connection URI that Parse reads back to c
// (without its ID and Description, which a URI does not carry). Like
// Airflow's get_uri, it writes the type with '-' for '_' and
// percent-encodes login, password, host and schema completely, except '*'
// so that a redacted URI reads user:***@host; an IPv6 host is bracketed.
func (c Connection) URI() string {
	var b strings.Builder
	b.WriteString(strings.ReplaceAll(c.Type, "_", "-"))
	b.WriteString("://")
	host := c.Host
	if p, h, ok := strings.Cut(host, "://"); ok && validScheme(p) {
		b.WriteString(p)
		b.WriteString("://")
		host = h
	}
	auth := c.Login != "" || c.Password != ""
	if auth {
		b.WriteString(escape(c.Login, false))
		if c.Password != "" {
			b.WriteByte(':')
			b.WriteString(escape(c.Password, false))
		}
		b.WriteByte('@')
	}
	switch {
	case host == "":
	case strings.Contains(host, ":") && net.ParseIP(host) != nil:
		b.WriteString("[" + host + "]")
	default:
		b.WriteString(escape(host, false))
	}
	if c.Port != 0 {
		if host == "" && !auth {
			b.WriteByte('@') // type://:7077 would read as an empty login
		}
		b.WriteByte(':')
		b.WriteString(strconv.Itoa(c.Port))
	}
	if c.Schema != "" {
		b.WriteByte('/')
		b.WriteString(escape(c.Schema, false))
	}
	if len(c.Extra) > 0 {
		if c.Schema == "" {
			b.WriteByte('/')
		}
		b.WriteByte('?')
		b.WriteString(encodeQuery(c.Extra))
	}
	return b.String()
}

// encodeQuery writes the extra as sorted key=value pairs, or as one
// __extra__ JSON parameter when a key would be read as __extra__ itself.
func encodeQuery(extra map[string]string) string {
	if _, ok := extra[extraParam]; ok {
		b, err := json.Marshal(extra)
		if err == nil {
			return extraParam + "=" + escape(string(b), true)
		}
	}
	keys := make([]string, 0, len(extra))
	for k := range extra {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(escape(k, true))
		b.WriteByte('=')
		b.WriteString(escape(extra[k], true))
	}
	return b.String()
}

// escape percent-encodes every byte but the unreserved ones (RFC 3986) and
// '*'; with plus, a space becomes '+' as in a query.
func escape(s string, plus bool) string {
	const hex = "0123456789ABCDEF"
	n := 0
	for i := 0; i < len(s); i++ {
		if !unreserved(s[i]) {
			n++
		}
	}
	if n == 0 {
		return s
	}
	b := make([]byte, 0, len(s)+2*n)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case unreserved(c):
			b = append(b, c)
		case plus && c == ' ':
			b = append(b, '+')
		default:
			b = append(b, '%', hex[c>>4], hex[c&15])
		}
	}
	return string(b)
}

func unreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~' || c == '*'
}

// validScheme reports whether s can be a URI scheme: a letter, then
// letters, digits, '+', '-', '.' or (for Airflow's type names) '_'.
func validScheme(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
		case i > 0 && ('0' <= c && c <= '9' || c == '+' || c == '-' || c == '.' || c == '_'):
		default:
			return false
		}
	}
	return true
}

// truncate shortens s for an error message.
func truncate(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}

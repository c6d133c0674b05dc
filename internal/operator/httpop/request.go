package httpop

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/sirocco-dev/sirocco/internal/connection"
)

// request is one prepared request: sent again as it is on each attempt.
type request struct {
	method  string
	url     *url.URL
	header  http.Header
	body    []byte
	secrets []string // header values to mask before anything is logged
}

// JoinEndpoint joins endpoint to the base URL as Airflow's HttpHook does
// (base + "/" + endpoint, the endpoint's query kept). An absolute endpoint
// (scheme://...) is taken as it is only when it stays on the base URL's
// scheme, host and port: credentials meant for the connection's host are
// never sent elsewhere. A fragment is refused (it never reaches a server),
// and so is a ".." path segment, percent-encoded or not: servers resolve
// it, so it would climb out of the connection's base path.
func JoinEndpoint(base *url.URL, endpoint string) (*url.URL, error) {
	if strings.ContainsAny(endpoint, "\r\n\x00") {
		return nil, errors.New("field endpoint: holds a line break or NUL")
	}
	if strings.Contains(endpoint, "#") {
		return nil, errors.New("field endpoint: '#' starts a fragment, which is never sent: percent-encode it as %23")
	}
	var raw string
	if i := strings.Index(endpoint, "://"); i > 0 && !strings.ContainsAny(endpoint[:i], "/?") {
		raw = endpoint
	} else if endpoint == "" {
		raw = base.String()
	} else {
		raw = strings.TrimRight(base.String(), "/") + "/" + strings.TrimLeft(endpoint, "/")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("field endpoint: %q does not make a URL: %w", clip(endpoint), errors.Unwrap(err))
	}
	if !sameOrigin(u, base) || u.User != nil {
		return nil, fmt.Errorf("field endpoint: %s leaves the connection's %s: an absolute URL must keep its scheme, host and port "+
			"(use a connection for the other host)", clip(redactURL(u)), origin(base))
	}
	if dotDot(u.EscapedPath()) {
		return nil, fmt.Errorf("field endpoint: %q holds a '..' path segment (also when percent-encoded as %%2e%%2e or ..%%2f), "+
			"which would climb out of the connection's base path %q: write the path without it", clip(endpoint), base.EscapedPath())
	}
	return u, nil
}

// checkEndpoint lets dags validate refuse a literal endpoint that
// JoinEndpoint would refuse whatever the connection: a '..' segment, a
// fragment, a line break. An absolute endpoint is judged against its own
// origin, which only the connection can contradict; a templated one is
// judged when it renders.
func checkEndpoint(v any) error {
	endpoint, ok := v.(string)
	if !ok || strings.Contains(endpoint, "{{") || strings.Contains(endpoint, "{%") {
		return nil
	}
	base := &url.URL{Scheme: "http", Host: "connection.invalid"}
	if i := strings.Index(endpoint, "://"); i > 0 && !strings.ContainsAny(endpoint[:i], "/?") {
		if u, err := url.Parse(endpoint); err == nil {
			base = &url.URL{Scheme: u.Scheme, Host: u.Host}
		}
	}
	_, err := JoinEndpoint(base, endpoint)
	if err != nil {
		return errors.New(strings.TrimPrefix(err.Error(), "field endpoint: "))
	}
	return nil
}

// dotDot reports whether an escaped path has a ".." segment once decoded,
// however many times its escapes are decoded (a server or a proxy may
// decode "%252e" twice); a backslash counts as a separator, as some
// servers take it, and a segment's ";parameters" are not part of its name. Each decoding shortens the path, so the loop ends.
func dotDot(escaped string) bool {
	p := escaped
	for {
		for seg := range strings.FieldsFuncSeq(p, func(r rune) bool { return r == '/' || r == '\\' }) {
			if name, _, _ := strings.Cut(seg, ";"); name == ".." {
				return true // "..;x": Tomcat and Jetty drop the parameters, then resolve ".."
			}
		}
		d := unescapeLenient(p)
		if d == p {
			return false
		}
		p = d
	}
}

// unescapeLenient decodes each valid %XX escape of s and keeps any other
// '%' as it is, as lenient servers do: a bad escape ("%zz") must not stop
// the search for a ".." that the rest of the path decodes to.
func unescapeLenient(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
			b.WriteByte(unhex(s[i+1])<<4 | unhex(s[i+2]))
			i += 2
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	}
	return c - 'a' + 10
}

// sameOrigin compares scheme, host and port (default ports made explicit).
func sameOrigin(a, b *url.URL) bool {
	return strings.EqualFold(a.Scheme, b.Scheme) && strings.EqualFold(a.Hostname(), b.Hostname()) && port(a) == port(b)
}

// port is u's port, or its scheme's default.
func port(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	if strings.EqualFold(u.Scheme, "https") {
		return "443"
	}
	return "80"
}

// origin is scheme://host[:port] for messages.
func origin(u *url.URL) string { return u.Scheme + "://" + u.Host }

// redactURL drops userinfo from a URL for a message.
func redactURL(u *url.URL) string {
	c := *u
	c.User = nil
	return c.String()
}

// build prepares the request of cfg to the connection's settings.
func build(cfg config, s connection.HTTPSettings) (*request, error) {
	u, err := JoinEndpoint(s.BaseURL, cfg.endpoint)
	if err != nil {
		return nil, err
	}
	r := &request{method: cfg.method, url: u, header: http.Header{}}
	for _, k := range slices.Sorted(maps.Keys(s.Headers)) {
		r.header.Set(k, s.Headers[k])
		r.secrets = append(r.secrets, s.Headers[k])
	}
	r.auth(s)
	if err := r.setBody(cfg); err != nil {
		return nil, err
	}
	for _, k := range slices.Sorted(maps.Keys(cfg.headers)) {
		v := cfg.headers[k]
		r.header.Set(k, v)
		if sensitiveHeader(k) {
			r.secrets = append(r.secrets, v, authCredentials(v))
		}
	}
	return r, nil
}

// auth sets Authorization from the connection: a bearer token when it has
// one, else basic auth from login and password.
func (r *request) auth(s connection.HTTPSettings) {
	switch {
	case s.BearerToken != "":
		r.header.Set("Authorization", "Bearer "+s.BearerToken)
		r.secrets = append(r.secrets, s.BearerToken, "Bearer "+s.BearerToken)
	case s.Login != "":
		cred := base64.StdEncoding.EncodeToString([]byte(s.Login + ":" + s.Password))
		r.header.Set("Authorization", "Basic "+cred)
		r.secrets = append(r.secrets, s.Password, cred, "Basic "+cred)
	}
}

// sensitiveHeader reports a task header whose value is a credential:
// Authorization, cookies, and names Airflow's masker calls sensitive
// (X-Api-Key, X-Auth-Token, ...).
func sensitiveHeader(name string) bool {
	n := strings.ToLower(name)
	return connection.IsSensitive(n) || strings.Contains(n, "auth") || strings.Contains(n, "cookie") || strings.HasSuffix(n, "key")
}

// authCredentials is the credentials part of an Authorization value
// ("Bearer xyz" → "xyz").
func authCredentials(v string) string {
	_, cred, ok := strings.Cut(strings.TrimSpace(v), " ")
	if !ok {
		return ""
	}
	return strings.TrimSpace(cred)
}

// setBody places data or json as Airflow does: for GET and HEAD, data is
// the query; for other methods an object is a form body and a string a
// raw body; json is always a JSON body.
func (r *request) setBody(cfg config) error {
	switch {
	case cfg.hasJSON:
		b, err := json.Marshal(cfg.json)
		if err != nil {
			return fmt.Errorf("field json: %w", err)
		}
		r.body = b
		r.header.Set("Content-Type", "application/json")
	case !cfg.hasData:
	case cfg.method == http.MethodGet || cfg.method == http.MethodHead:
		return r.setQuery(cfg.data)
	default:
		return r.setDataBody(cfg.data)
	}
	return nil
}

// setQuery adds data to the URL's query.
func (r *request) setQuery(data any) error {
	if s, ok := data.(string); ok {
		s = strings.TrimPrefix(s, "?")
		if strings.ContainsAny(s, "#\r\n\x00 ") {
			return errors.New("field data: a query string may not hold '#', spaces, line breaks or NUL (give an object to have it encoded)")
		}
		r.url.RawQuery = joinQuery(r.url.RawQuery, s)
		return nil
	}
	form, err := formValues(data)
	if err != nil {
		return err
	}
	r.url.RawQuery = joinQuery(r.url.RawQuery, form.Encode())
	return nil
}

func joinQuery(a, b string) string {
	if a == "" || b == "" {
		return a + b
	}
	return a + "&" + b
}

// setDataBody sets a form or raw body.
func (r *request) setDataBody(data any) error {
	if s, ok := data.(string); ok {
		r.body = []byte(s)
		return nil
	}
	form, err := formValues(data)
	if err != nil {
		return err
	}
	r.body = []byte(form.Encode())
	r.header.Set("Content-Type", "application/x-www-form-urlencoded")
	return nil
}

// formValues reads an object of scalars or lists of scalars (a list is a
// repeated key, as requests encodes it).
func formValues(data any) (url.Values, error) {
	m, ok := data.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("field data: want an object or a string, got %s", describe(data))
	}
	form := url.Values{}
	for _, k := range slices.Sorted(maps.Keys(m)) {
		items, isList := m[k].([]any)
		if !isList {
			items = []any{m[k]}
		}
		for _, it := range items {
			s, err := formScalar(it)
			if err != nil {
				return nil, fmt.Errorf("field data.%s: %w", clip(k), err)
			}
			form.Add(k, s)
		}
	}
	return form, nil
}

// formScalar writes one form value; null is an empty value.
func formScalar(v any) (string, error) {
	switch x := v.(type) {
	case nil:
		return "", nil
	case string:
		return x, nil
	case map[string]any, []any:
		return "", fmt.Errorf("a form value must be a string, number, boolean or list of them, got %s (use json for nested data)", describe(v))
	default:
		return fmt.Sprint(x), nil
	}
}

// newHTTPRequest makes the request of one attempt.
func (r *request) newHTTPRequest() (*http.Request, error) {
	req, err := http.NewRequest(r.method, r.url.String(), bytes.NewReader(r.body))
	if err != nil {
		return nil, fmt.Errorf("build request: %w", err)
	}
	if r.body == nil {
		req.Body, req.ContentLength, req.GetBody = http.NoBody, 0, nil
	}
	req.Header = r.header.Clone()
	return req, nil
}

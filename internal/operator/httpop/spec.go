package httpop

import (
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/theory/jsonpath"

	"github.com/sirocco-dev/sirocco/internal/connection"
	"github.com/sirocco-dev/sirocco/internal/dag"
	"github.com/sirocco-dev/sirocco/internal/operator"
)

// Limits on fields that bound the work of one try.
const (
	maxRetries  = 100
	maxBackoff  = time.Minute
	defaultMax  = 10 << 20 // max_response_bytes
	defaultTime = time.Minute
)

// methods are the request methods the operator sends.
var methods = []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodHead}

// Spec declares the operator's fields, with Airflow's HttpOperator names.
var Spec = dag.OperatorSpec{
	Name: "http",
	Description: "Send one HTTP request through an http connection (Airflow's HttpOperator); the response must pass " +
		"response_check, and its body (or the part response_filter selects) is the return_value XCom.",
	Fields: []dag.FieldSpec{
		{Name: "http_conn_id", Kind: dag.FieldString, Default: "http_default", Description: "id of an http connection: base URL, login/password or token, default headers"},
		{Name: "endpoint", Kind: dag.FieldString, Templated: true, Check: checkEndpoint,
			Description: "path (and query) joined to the connection's base URL; an absolute URL must stay on the connection's scheme, host and port; no '..' segment"},
		{Name: "method", Kind: dag.FieldString, Default: http.MethodGet, Description: "GET, POST, PUT, PATCH, DELETE or HEAD"},
		{Name: "headers", Kind: dag.FieldStringMap, Templated: true, Description: "request headers, over the connection's"},
		{Name: "data", Kind: dag.FieldAny, Templated: true,
			Description: "GET/HEAD: query parameters (an object) or a query string; other methods: a form body (an object) or a raw body (a string)"},
		{Name: "json", Kind: dag.FieldAny, Templated: true, Description: "any value, sent as a JSON body (not with data)"},
		{Name: "response_check", Kind: dag.FieldAny, Templated: true, Check: checkResponseCheck,
			Description: "status (codes or classes, default 2xx), json_path with equals or exists, regex the body must match"},
		{Name: "response_filter", Kind: dag.FieldString,
			Description: "JSONPath (RFC 9535) selecting what becomes the XCom; default: the body, as JSON when it parses"},
		{Name: "timeout", Kind: dag.FieldDuration, Default: defaultTime, Description: "limit of one attempt, the body read included"},
		{Name: "retries_on_5xx", Kind: dag.FieldInt, Default: 0,
			Description: "attempts repeated within the try after a 5xx status or a connection error (the task's retries still apply after); " +
				"POST and PATCH only when the connection could not be made, unless retry_non_idempotent"},
		{Name: "retry_non_idempotent", Kind: dag.FieldBool, Default: false,
			Description: "let retries_on_5xx repeat a POST or PATCH the server may have acted on (a 5xx, a timeout, a dropped connection): only for requests safe to send twice"},
		{Name: "retry_backoff", Kind: dag.FieldDuration, Default: time.Second,
			Description: "wait before the first repeated attempt, doubled each time up to 1m (a longer Retry-After is honoured up to 1m)"},
		{Name: "log_response", Kind: dag.FieldBool, Default: false, Description: "write the response body (its first 16 KiB) to the log"},
		{Name: "tls_verify", Kind: dag.FieldBool, Description: "verify the server's certificate; default: the connection's verify extra, else true"},
		{Name: "ca_bundle", Kind: dag.FieldString, Templated: true,
			Description: "PEM file of the CAs to trust instead of the system's; default: the connection's ca_bundle extra"},
		{Name: "max_response_bytes", Kind: dag.FieldInt, Default: defaultMax, Description: "the try fails when the body is longer"},
		{Name: "allow_redirects", Kind: dag.FieldBool, Default: true, Description: "follow redirects (up to 10) on the same scheme, host and port"},
		{Name: "allow_cross_host_redirects", Kind: dag.FieldBool, Default: false,
			Description: "also follow redirects to another host, port or scheme, sending only the Accept and User-Agent headers and no body (a 307/308 that would resend one fails)"},
		{Name: "do_xcom_push", Kind: dag.FieldBool, Default: true, Description: "push the response as return_value"},
	},
}

// Factory registers the operator. A request leaves no work outside the
// process, so there is no handle and no recoverer: a try cut by a restart
// is sent again by its next try (requests should be idempotent, as in
// Airflow).
var Factory = operator.Factory{Spec: Spec, New: func() operator.Operator { return Operator{} }}

// config is one try's fields, read through Spec and checked.
type config struct {
	connID, endpoint, method string
	headers                  map[string]string
	data, json               any
	hasData, hasJSON         bool
	check                    Check
	filter                   *jsonpath.Path
	filterText               string
	timeout, backoff         time.Duration
	retries                  int
	logResponse              bool
	tlsVerify                *bool
	caBundle                 string
	maxBytes                 int64
	redirects, crossHost     bool
	retryAll                 bool
	xcom                     bool
}

// readConfig reads t's fields, rejecting values the loader cannot check
// (it checks kinds only); errors name the field.
func readConfig(t *operator.Task) (config, error) {
	f := operator.FieldsOf(Spec, t.Args)
	c := config{
		connID:      f.String("http_conn_id"),
		endpoint:    f.String("endpoint"),
		method:      strings.ToUpper(strings.TrimSpace(f.String("method"))),
		headers:     f.StringMap("headers"),
		timeout:     f.Duration("timeout"),
		backoff:     f.Duration("retry_backoff"),
		retries:     f.Int("retries_on_5xx"),
		logResponse: f.Bool("log_response"),
		caBundle:    f.String("ca_bundle"),
		maxBytes:    int64(f.Int("max_response_bytes")),
		redirects:   f.Bool("allow_redirects"),
		crossHost:   f.Bool("allow_cross_host_redirects"),
		retryAll:    f.Bool("retry_non_idempotent"),
		xcom:        f.Bool("do_xcom_push"),
	}
	c.data, c.hasData = present(t.Args, "data")
	c.json, c.hasJSON = present(t.Args, "json")
	if _, ok := t.Args["tls_verify"]; ok {
		v := f.Bool("tls_verify")
		c.tlsVerify = &v
	}
	if c.caBundle != "" && !filepath.IsAbs(c.caBundle) && t.DagDir != "" {
		c.caBundle = filepath.Join(t.DagDir, c.caBundle)
	}
	if err := c.validate(); err != nil {
		return c, err
	}
	var err error
	if c.check, err = ParseCheck(t.Args["response_check"]); err != nil {
		return c, fmt.Errorf("field %w", err)
	}
	if c.filterText = f.String("response_filter"); c.filterText != "" {
		if c.filter, err = ParsePath(c.filterText); err != nil {
			return c, fmt.Errorf("field response_filter: %w", err)
		}
	}
	return c, nil
}

// present returns a field that is set and not null.
func present(args map[string]any, name string) (any, bool) {
	v, ok := args[name]
	return v, ok && v != nil
}

// validate checks the scalar fields.
func (c config) validate() error {
	var errs []error
	if c.connID == "" {
		errs = append(errs, errors.New("field http_conn_id: empty"))
	}
	if !slices.Contains(methods, c.method) {
		errs = append(errs, fmt.Errorf("field method: %q, want one of %s", clip(c.method), strings.Join(methods, ", ")))
	}
	if c.hasData && c.hasJSON {
		errs = append(errs, errors.New("fields data and json: give one body, not both"))
	}
	if c.timeout <= 0 {
		errs = append(errs, fmt.Errorf("field timeout: %s, want more than 0", c.timeout))
	}
	if c.retries < 0 || c.retries > maxRetries {
		errs = append(errs, fmt.Errorf("field retries_on_5xx: %d, want 0..%d", c.retries, maxRetries))
	}
	if c.backoff < 0 {
		errs = append(errs, fmt.Errorf("field retry_backoff: %s is negative", c.backoff))
	}
	if c.maxBytes <= 0 {
		errs = append(errs, fmt.Errorf("field max_response_bytes: %d, want more than 0", c.maxBytes))
	}
	for name, v := range c.headers {
		if !connection.ValidHeaderName(name) {
			errs = append(errs, fmt.Errorf("field headers: %q is not a header name", clip(name)))
		} else if strings.ContainsAny(v, "\r\n\x00") {
			errs = append(errs, fmt.Errorf("field headers.%s: the value holds a line break or NUL", name))
		}
	}
	return errors.Join(errs...)
}

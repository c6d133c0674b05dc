package httpop

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/sirocco-dev/sirocco/internal/connection"
	"github.com/sirocco-dev/sirocco/internal/operator"
)

// maxLoggedBody bounds what log_response writes of a body.
const maxLoggedBody = 16 << 10

// Operator sends one request per try.
type Operator struct{}

// Execute resolves the connection, masks its secrets, sends the request
// (repeating 5xx answers and connection errors up to retries_on_5xx),
// checks the response and returns the XCom.
func (Operator) Execute(ctx context.Context, t *operator.Task) (operator.Result, error) {
	cfg, err := readConfig(t)
	if err != nil {
		return operator.Result{}, err
	}
	settings, err := resolve(ctx, t, cfg.connID)
	if err != nil {
		return operator.Result{}, err
	}
	req, err := build(cfg, settings)
	if err != nil {
		return operator.Result{}, err
	}
	for _, s := range req.secrets {
		mask(t, s)
	}
	client, tr, insecure, err := newClient(cfg, settings, req)
	if err != nil {
		return operator.Result{}, err
	}
	defer tr.CloseIdleConnections()
	logPlan(t.Log, settings, req, insecure)
	s := &sender{cfg: cfg, client: client, req: req, log: t.Log}
	resp, err := s.send(ctx)
	if err != nil {
		return operator.Result{}, err
	}
	if cfg.logResponse {
		logBody(t.Log, resp.Body)
	}
	if err := cfg.check.Evaluate(resp); err != nil {
		return operator.Result{}, err
	}
	return result(cfg, resp)
}

// resolve reads the connection and masks its secrets before anything is
// logged (the engine's resolver masks them too; a caller's may not).
func resolve(ctx context.Context, t *operator.Task, id string) (connection.HTTPSettings, error) {
	if t.Connection == nil {
		return connection.HTTPSettings{}, fmt.Errorf("http connection %s: no connection resolver", id)
	}
	c, err := t.Connection(ctx, id)
	if err != nil {
		return connection.HTTPSettings{}, fmt.Errorf("http connection %s: %w", id, err)
	}
	for _, s := range c.Secrets() {
		mask(t, s)
	}
	if c.Type != "http" && c.Type != "https" {
		return connection.HTTPSettings{}, fmt.Errorf("connection %s is of type %q: the http operator needs an http or https connection", id, c.Type)
	}
	s, err := c.HTTP()
	if err != nil {
		return s, err
	}
	mask(t, s.Password)
	mask(t, s.BearerToken)
	for _, v := range s.Headers {
		mask(t, v)
	}
	return s, nil
}

// mask hides a secret in the try's log.
func mask(t *operator.Task, s string) {
	if t.Mask != nil && s != "" {
		t.Mask(s)
	}
}

// logPlan writes what the try is about to do: header names (never
// values), the TLS and redirect choices worth knowing, ignored extras.
func logPlan(w io.Writer, s connection.HTTPSettings, r *request, insecure bool) {
	names := slices.Sorted(maps.Keys(r.header))
	if len(names) > 0 {
		fmt.Fprintf(w, "http: headers %s\n", strings.Join(names, ", "))
	}
	if len(r.body) > 0 {
		fmt.Fprintf(w, "http: body of %d bytes (%s)\n", len(r.body), r.header.Get("Content-Type"))
	}
	if insecure && r.url.Scheme == "https" {
		fmt.Fprintf(w, "http: WARNING: the server's TLS certificate is not verified (tls_verify: false)\n")
	}
	if len(s.Ignored) > 0 {
		fmt.Fprintf(w, "http: connection extras %s are Airflow HttpHook settings Sirocco does not apply; ignored\n", strings.Join(s.Ignored, ", "))
	}
}

// logBody writes the body for log_response, its first maxLoggedBody bytes.
func logBody(w io.Writer, body []byte) {
	shown := body
	if len(shown) > maxLoggedBody {
		shown = shown[:maxLoggedBody]
	}
	text := strings.ToValidUTF8(string(shown), "\uFFFD")
	fmt.Fprintf(w, "http: response body:\n%s\n", strings.TrimRight(text, "\n"))
	if len(body) > len(shown) {
		fmt.Fprintf(w, "http: (%d more bytes of the body not logged)\n", len(body)-len(shown))
	}
}

// result is the XCom: the part response_filter selects, or the body. A
// string (a text body, a JSON string, a selected string) is pushed as
// itself; any other JSON value as the value, so xcom_pull gives an
// object or a list, as Airflow's does: a whole body as the server wrote
// it, compacted (key order and number digits kept). An empty body without
// a filter pushes nothing.
func result(cfg config, resp *Response) (operator.Result, error) {
	if !cfg.xcom {
		return operator.Result{}, nil
	}
	if cfg.filter != nil {
		doc, err := resp.JSON()
		if err != nil {
			return operator.Result{}, fmt.Errorf("response_filter %s: %w", clip(cfg.filterText), err)
		}
		nodes := cfg.filter.Select(doc)
		if len(nodes) == 0 {
			return operator.Result{}, fmt.Errorf("response_filter %s selects nothing in the response", clip(cfg.filterText))
		}
		return operator.ValueResult(selected(nodes))
	}
	if len(bytes.TrimSpace(resp.Body)) == 0 {
		return operator.Result{}, nil
	}
	if doc, err := resp.JSON(); err == nil {
		var b bytes.Buffer
		if _, isString := doc.(string); isString || !utf8.Valid(resp.Body) || json.Compact(&b, resp.Body) != nil {
			// Encoded again: invalid UTF-8 becomes U+FFFD, as the store needs.
			return operator.ValueResult(doc)
		}
		return operator.Result{ReturnJSON: b.Bytes()}, nil
	}
	v := string(resp.Body) // a text body
	return operator.Result{ReturnValue: &v}, nil
}

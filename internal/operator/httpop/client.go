package httpop

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sirocco-dev/sirocco/internal/connection"
)

// maxRedirects is how many redirects one attempt follows, as browsers and
// Go's default client.
const maxRedirects = 10

// Errors that end the try without another attempt: repeating the request
// would meet them again.
var (
	errTooLarge       = errors.New("response too large")
	errRedirect       = errors.New("redirect refused")
	errTooManyRedirct = errors.New("too many redirects")
)

// newClient builds the try's client: TLS from the fields and connection
// (insecure when verification is off), the redirect policy, a transport
// of its own (closed by the caller).
func newClient(cfg config, s connection.HTTPSettings, r *request) (*http.Client, *http.Transport, bool, error) {
	tlsConf, insecure, err := s.TLSConfig(cfg.tlsVerify, cfg.caBundle)
	if err != nil {
		return nil, nil, false, err
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = tlsConf
	client := &http.Client{Transport: tr, CheckRedirect: redirectPolicy(cfg, r)}
	return client, tr, insecure, nil
}

// redirectPolicy follows redirects on the request's own scheme, host and
// port. Another origin (another host or port, or https to http) is
// followed only with allow_cross_host_redirects, and then as a stranger:
// none of the request's own headers but safeHeaders (so no Authorization,
// no cookie, none of the connection's headers or the task's), and never a
// body (a 307 or 308 that would resend one is refused; Go and requests
// resend it). Once a redirect has left the origin, later ones are treated
// alike, even back on the origin: the other host chose where they go.
func redirectPolicy(cfg config, r *request) func(*http.Request, []*http.Request) error {
	return func(req *http.Request, via []*http.Request) error {
		if !cfg.redirects {
			return http.ErrUseLastResponse
		}
		if len(via) >= maxRedirects {
			return fmt.Errorf("%w: stopped after %d", errTooManyRedirct, maxRedirects)
		}
		left := slices.ContainsFunc(via, func(v *http.Request) bool { return !sameOrigin(v.URL, r.url) })
		if sameOrigin(req.URL, r.url) && !left {
			return nil
		}
		if !cfg.crossHost {
			return fmt.Errorf("%w: to %s, another host than %s (allow_cross_host_redirects: true follows it)",
				errRedirect, origin(req.URL), origin(r.url))
		}
		if req.Body != nil && req.Body != http.NoBody {
			return fmt.Errorf("%w: the %d redirect to %s would send the request's body to another host than %s "+
				"(a 307 or 308 keeps the body; Sirocco never sends it elsewhere)", errRedirect, req.Response.StatusCode, origin(req.URL), origin(r.url))
		}
		for name := range req.Header {
			if !slices.Contains(safeHeaders, http.CanonicalHeaderKey(name)) {
				req.Header.Del(name)
			}
		}
		return nil
	}
}

// safeHeaders are the request headers sent on to another host after a
// redirect: they say what the client accepts, nothing about who it is.
var safeHeaders = []string{"Accept", "Accept-Encoding", "Accept-Language", "User-Agent"}

// sender runs a try's attempts.
type sender struct {
	cfg    config
	client *http.Client
	req    *request
	log    io.Writer
}

// send runs attempts until one gives a final answer: a response that is
// not a 5xx the check refuses, or an error worth no repeat, or the
// retries_on_5xx repeats are spent. Waits between attempts end at once
// on cancel.
func (s *sender) send(ctx context.Context) (*Response, error) {
	wait := s.cfg.backoff
	for attempt := 1; ; attempt++ {
		resp, retryAfter, err := s.attempt(ctx, attempt)
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%s %s: %w", s.req.method, s.req.url.Redacted(), context.Cause(ctx))
		}
		if attempt > s.cfg.retries || !s.transient(resp, err) {
			return resp, err
		}
		if !s.repeatable(err) {
			fmt.Fprintf(s.log, "http: %s is not idempotent: not repeated, the server may have acted on it (retry_non_idempotent: true repeats it)\n", s.req.method)
			return resp, err
		}
		d := min(max(wait, retryAfter), maxBackoff)
		reason := "status " + strconv.Itoa(statusOf(resp))
		if err != nil {
			reason = err.Error()
		}
		fmt.Fprintf(s.log, "http: attempt %d of %d failed (%s); next in %s\n", attempt, s.cfg.retries+1, reason, d)
		if err := sleep(ctx, d); err != nil {
			return nil, fmt.Errorf("%s %s: %w", s.req.method, s.req.url.Redacted(), context.Cause(ctx))
		}
		wait = min(wait*2, maxBackoff)
	}
}

func statusOf(r *Response) int {
	if r == nil {
		return 0
	}
	return r.Status
}

// transient reports an outcome another attempt may change: a 5xx the
// check does not accept, or a transport error other than a refused
// certificate, redirect or oversized body.
func (s *sender) transient(resp *Response, err error) bool {
	if err == nil {
		return resp.Status >= 500 && !s.cfg.check.Accepts(resp.Status)
	}
	var certErr *tls.CertificateVerificationError
	var unknownCA x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var invalid x509.CertificateInvalidError
	switch {
	case errors.Is(err, errTooLarge), errors.Is(err, errRedirect), errors.Is(err, errTooManyRedirct),
		errors.As(err, &certErr), errors.As(err, &unknownCA), errors.As(err, &hostErr), errors.As(err, &invalid):
		return false
	}
	return true
}

// idempotent are the methods RFC 9110 calls idempotent: sending one twice
// has the effect of sending it once.
var idempotent = []string{http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodPut, http.MethodDelete}

// repeatable reports whether a failed attempt may be sent again: always
// for an idempotent method or with retry_non_idempotent, else only when
// the connection was never made, so the server cannot have seen it (as
// urllib3's Retry, which requests and Airflow's HttpHook use).
func (s *sender) repeatable(err error) bool {
	if s.cfg.retryAll || slices.Contains(idempotent, s.req.method) {
		return true
	}
	var op *net.OpError
	return err != nil && errors.As(err, &op) && op.Op == "dial"
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// attempt sends the request once, within timeout, and reads the body.
// It returns the Retry-After of a 5xx answer (bounded by maxBackoff).
func (s *sender) attempt(ctx context.Context, n int) (*Response, time.Duration, error) {
	actx, cancel := context.WithTimeout(ctx, s.cfg.timeout)
	defer cancel()
	req, err := s.req.newHTTPRequest()
	if err != nil {
		return nil, 0, err
	}
	req = req.WithContext(actx)
	target := s.req.method + " " + s.req.url.Redacted()
	if n == 1 {
		fmt.Fprintf(s.log, "http: %s\n", target)
	} else {
		fmt.Fprintf(s.log, "http: %s (attempt %d of %d)\n", target, n, s.cfg.retries+1)
	}
	start := time.Now()
	res, err := s.client.Do(req)
	if err != nil {
		return nil, 0, s.attemptErr(ctx, actx, target, err)
	}
	defer res.Body.Close()
	body, err := readBody(res, s.cfg.maxBytes)
	fmt.Fprintf(s.log, "http: %s %s in %s, %d bytes\n", res.Proto, res.Status, time.Since(start).Round(time.Millisecond), len(body))
	if err != nil {
		return nil, 0, s.attemptErr(ctx, actx, target, err)
	}
	var retryAfter time.Duration
	if res.StatusCode >= 500 {
		retryAfter = parseRetryAfter(res.Header.Get("Retry-After"))
	}
	return &Response{Status: res.StatusCode, Body: body}, retryAfter, nil
}

// attemptErr says what went wrong, naming the timeout when it was hit.
func (s *sender) attemptErr(ctx, actx context.Context, target string, err error) error {
	if ctx.Err() == nil && errors.Is(actx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("%s: no complete answer within timeout %s", target, s.cfg.timeout)
	}
	var uerr *url.Error
	if errors.As(err, &uerr) {
		err = uerr.Err // the URL is in target already
	}
	return fmt.Errorf("%s: %w", target, err)
}

// readBody reads at most limit bytes of the body; a longer body is an
// error, found from Content-Length before reading when the server says.
func readBody(res *http.Response, limit int64) ([]byte, error) {
	tooLarge := func(what string) error {
		return fmt.Errorf("%w: the body is %s, over max_response_bytes %d: raise max_response_bytes or ask the server for less",
			errTooLarge, what, limit)
	}
	if res.ContentLength > limit {
		return nil, tooLarge(strconv.FormatInt(res.ContentLength, 10) + " bytes")
	}
	body, err := io.ReadAll(io.LimitReader(res.Body, limit+1))
	if int64(len(body)) > limit {
		return body[:limit], tooLarge("longer")
	}
	if err != nil {
		return body, fmt.Errorf("read the body: %w", err)
	}
	return body, nil
}

// parseRetryAfter reads Retry-After in seconds or as an HTTP date.
func parseRetryAfter(v string) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil && n > 0 {
		return min(time.Duration(n)*time.Second, maxBackoff)
	}
	if t, err := http.ParseTime(v); err == nil {
		return min(max(time.Until(t), 0), maxBackoff)
	}
	return 0
}

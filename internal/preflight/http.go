package preflight

import (
	"context"
	"fmt"
	"net"
	"net/http"

	"github.com/sirocco-dev/sirocco/internal/connection"
)

// StepHTTP is the step that sends a request to an http connection's base
// URL.
const StepHTTP = "http"

// httpProvider checks an http or https connection as the http operator
// reads it: dns and tcp to the base URL's host and port, then a GET of
// the base URL with the connection's headers, credentials and TLS
// settings. As Airflow's HttpHook.test_connection (requests'
// raise_for_status), a 4xx or 5xx answer fails, saying the status (a 401:
// the credentials were refused); any other answer passes, a redirect too
// (it is not followed). A refused certificate or no answer fails.
func httpProvider(_ context.Context, _ *Checker, c connection.Connection) (Plan, error) {
	s, err := c.HTTP()
	if err != nil {
		return Plan{}, err
	}
	u := s.BaseURL
	port := u.Port()
	if port == "" {
		port = "80"
		if u.Scheme == "https" {
			port = "443"
		}
	}
	target := u.Scheme + "://" + u.Host + u.Path
	return Plan{
		Reach: net.JoinHostPort(u.Hostname(), port),
		Checks: []Check{{Name: StepHTTP, Target: target, Needs: []string{StepTCP},
			Run: func(ctx context.Context) (string, error) { return httpAnswer(ctx, s, target) }}},
	}, nil
}

// httpAnswer sends GET base URL, following no redirect, and reads no body.
func httpAnswer(ctx context.Context, s connection.HTTPSettings, target string) (string, error) {
	tlsConf, insecure, err := s.TLSConfig(nil, "")
	if err != nil {
		return "", err
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = tlsConf
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return "", err
	}
	for k, v := range s.Headers {
		req.Header.Set(k, v)
	}
	switch {
	case s.BearerToken != "":
		req.Header.Set("Authorization", "Bearer "+s.BearerToken)
	case s.Login != "":
		req.SetBasicAuth(s.Login, s.Password)
	}
	res, err := client.Do(req)
	if err != nil {
		return "", err
	}
	res.Body.Close()
	detail := fmt.Sprintf("answers %s %s", res.Proto, res.Status)
	switch {
	case insecure && req.URL.Scheme == "https":
		detail += " (certificate not verified: verify=false)"
	case res.TLS != nil:
		detail += " over TLS, certificate verified"
	}
	if res.StatusCode >= http.StatusBadRequest {
		return "", fmt.Errorf("GET %s %s; an answer of 400 or above fails, as Airflow's HttpHook.test_connection%s",
			target, detail, statusHint(res.StatusCode))
	}
	return detail, nil
}

// statusHint says what an error status most likely means for a
// connection's settings.
func statusHint(code int) string {
	switch code {
	case http.StatusUnauthorized, http.StatusForbidden:
		return " (check the connection's login, password or bearer token)"
	case http.StatusNotFound:
		return " (check the base URL's path)"
	}
	return ""
}

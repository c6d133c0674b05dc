package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/sirocco-dev/sirocco/internal/dag"
	"github.com/sirocco-dev/sirocco/internal/tasklog"
	"github.com/sirocco-dev/sirocco/internal/template"
)

// webhook POSTs the rendered JSON body to the connection's base URL (its
// credentials, token and headers applied) or to the URL given, and fails
// on an answer that is not 2xx (so it is retried).
func (s *Sender) webhook(ctx context.Context, w *dag.Webhook, tc template.Context, mask *tasklog.Secrets) (string, error) {
	body := `{"text": "{{ dag.dag_id }} {{ run_id }}: {{ event }}{% if task.task_id %} {{ task.task_id }}{% endif %} {{ reason }}"}`
	if w.Body != "" {
		body = w.Body
	}
	payload, err := render(ctx, "body", body, tc)
	if err != nil {
		return "", err
	}
	if !json.Valid([]byte(payload)) {
		return "", fmt.Errorf("body: the rendered body is not JSON: %.200s", payload)
	}
	req, err := s.webhookRequest(ctx, w, tc, mask, payload)
	if err != nil {
		return "", err
	}
	client := s.HTTP
	if client == nil {
		// A transport of its own, closed after the one request: notifiers
		// are rare, and no idle connection outlives the attempt.
		tr := http.DefaultTransport.(*http.Transport).Clone()
		defer tr.CloseIdleConnections()
		client = &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	shown := redactURL(req.URL)
	resp, err := client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) { // its text holds the whole URL
			err = ue.Err
		}
		return "", fmt.Errorf("post %s: %w", shown, err)
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, maxOutput))
	out := fmt.Sprintf("%s %s", shown, resp.Status)
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return out, fmt.Errorf("post %s: %s: %s", shown, resp.Status, strings.TrimSpace(string(answer)))
	}
	return out, nil
}

// webhookRequest builds the POST: the target URL, auth and headers from
// the connection first, then the notifier's own headers.
func (s *Sender) webhookRequest(ctx context.Context, w *dag.Webhook, tc template.Context, mask *tasklog.Secrets, payload string) (*http.Request, error) {
	target := w.URL
	headers := map[string]string{}
	var login, password, token string
	if w.HTTPConnID != "" {
		if s.Connections == nil {
			return nil, fmt.Errorf("http_conn_id %s: no connections available", w.HTTPConnID)
		}
		c, err := s.Connections(ctx, w.HTTPConnID)
		if err != nil {
			return nil, err
		}
		for _, sec := range c.Secrets() {
			mask.Add(sec)
		}
		hs, err := c.HTTP()
		if err != nil {
			return nil, err
		}
		target = hs.BaseURL.String()
		for k, v := range hs.Headers {
			headers[k] = v
		}
		login, password, token = hs.Login, hs.Password, hs.BearerToken
	} else {
		var err error
		if target, err = render(ctx, "url", target, tc); err != nil {
			return nil, err
		}
	}
	u, err := url.Parse(target)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("url: expected an http(s) URL%s", shownTarget(u, err))
	}
	maskURL(mask, u)
	for k, v := range w.Headers {
		if headers[k], err = render(ctx, "headers."+k, v, tc); err != nil {
			return nil, err
		}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), strings.NewReader(payload))
	if err != nil {
		return nil, fmt.Errorf("post: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	switch {
	case token != "":
		req.Header.Set("Authorization", "Bearer "+token)
	case login != "":
		req.SetBasicAuth(login, password)
	}
	return req, nil
}

// maskURL masks every part of u that may carry a token: hooks put theirs
// in the path (Slack's /services/…, Discord's, Teams'), the query or the
// userinfo, so all of them are secret (and each query value on its own).
func maskURL(mask *tasklog.Secrets, u *url.URL) {
	if u.User != nil {
		mask.Add(u.User.String())
		mask.Add(u.User.Username())
		if p, ok := u.User.Password(); ok {
			mask.Add(p)
		}
	}
	mask.Add(u.RawQuery)
	mask.Add(u.Fragment)
	for _, p := range []string{u.EscapedPath(), u.Path} {
		if strings.Trim(p, "/") != "" {
			mask.Add(p)
		}
	}
	for _, kv := range strings.Split(u.RawQuery, "&") {
		_, v, _ := strings.Cut(kv, "=")
		mask.Add(v)
	}
}

// redactURL is u as logs and errors show it: scheme and host only, with
// "***" standing for a path, a query and a userinfo.
func redactURL(u *url.URL) string {
	s := u.Scheme + "://"
	if u.User != nil {
		s += "***@"
	}
	s += u.Host
	if strings.Trim(u.Path, "/") != "" {
		s += "/***"
	}
	if u.RawQuery != "" {
		s += "?***"
	}
	return s
}

// shownTarget says what an unusable webhook URL was, without its secrets.
func shownTarget(u *url.URL, err error) string {
	if err != nil || u == nil {
		return " (it does not parse)"
	}
	return ", got " + redactURL(u)
}

package notify

import (
	"context"
	"encoding/json"
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
	body := `{"text": "{{ dag.dag_id }} {{ run_id }}: {{ event }} {{ task.task_id }} {{ reason }}"}`
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
	resp, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("post: %w", err)
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, maxOutput))
	out := fmt.Sprintf("%s %s", req.URL.Redacted(), resp.Status)
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return out, fmt.Errorf("post %s: %s: %s", req.URL.Redacted(), resp.Status, strings.TrimSpace(string(answer)))
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
		return nil, fmt.Errorf("url: expected an http(s) URL, got %q", target)
	}
	if u.User != nil {
		if p, ok := u.User.Password(); ok {
			mask.Add(p)
		}
	}
	mask.Add(u.RawQuery) // Slack-style URLs carry their token in the path or query
	if strings.Contains(u.Path, "/services/") {
		mask.Add(u.Path)
	}
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

package spark

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"time"
)

// RequestTimeout bounds every call a Client makes, whatever the caller's
// context says: a master that accepts a connection and never answers must
// not hang a scheduler loop.
const RequestTimeout = 30 * time.Second

// maxResponse bounds the bodies read from Spark. REST and JSON answers are
// a few kilobytes; log chunks are bounded by maxLogChunk.
const maxResponse = 16 << 20

// Client talks to one Spark standalone master. The zero value of HTTP
// means a client with RequestTimeout; every call is also bounded by
// RequestTimeout through its context.
type Client struct {
	// RESTURL is the master's REST submission server, such as
	// http://127.0.0.1:6066 (spark.master.rest.port).
	RESTURL string
	// MasterUIURL is the master's web UI, such as http://127.0.0.1:8080,
	// which serves the cluster state as JSON.
	MasterUIURL string
	// Token, when set, is sent as "Authorization: Bearer <Token>" for
	// masters whose REST server or UIs require one (JWSFilter).
	Token string
	// HTTP is the client requests go through; nil means a default one.
	HTTP *http.Client
}

// String describes the client without its token, so that logging a
// Client by mistake cannot leak the credential.
func (c *Client) String() string {
	token := ""
	if c.Token != "" {
		token = " token=[redacted]"
	}
	return fmt.Sprintf("spark.Client{rest=%s ui=%s%s}", c.RESTURL, c.MasterUIURL, token)
}

var defaultHTTP = &http.Client{Timeout: RequestTimeout}

func (c *Client) httpClient() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return defaultHTTP
}

// Sentinel errors a caller can branch on with errors.Is.
var (
	// ErrNotFound: the master, or a worker, knows nothing by that id.
	ErrNotFound = errors.New("not found")
	// ErrNotRunning: a kill found no running driver by that id (it has
	// already finished, or never existed; Status tells which).
	ErrNotRunning = errors.New("not running")
	// ErrUnauthorized: the server refused the request (HTTP 401 or 403),
	// typically a missing or invalid Token; retrying will not help.
	ErrUnauthorized = errors.New("unauthorized")
)

// Error is a failure reported by Spark itself: an HTTP error status, an
// ErrorResponse, or a response whose success flag is false. Message is the
// server's text, Java stack frames removed.
type Error struct {
	Op         string // what the client was doing: "submit", "status of driver-…"
	URL        string // the request URL
	StatusCode int    // the HTTP status; 0 if the failure was not HTTP's
	Message    string // the server's message, if any
	Err        error  // a sentinel (ErrNotFound, ErrNotRunning, ErrUnauthorized) or nil
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "spark: %s", e.Op)
	if e.Err != nil {
		fmt.Fprintf(&b, ": %v", e.Err)
	}
	if e.StatusCode != 0 && e.StatusCode != http.StatusOK {
		fmt.Fprintf(&b, ": HTTP %d", e.StatusCode)
	}
	if e.Message != "" {
		fmt.Fprintf(&b, ": %s", e.Message)
	}
	return b.String()
}

// Unwrap makes errors.Is see the sentinel.
func (e *Error) Unwrap() error { return e.Err }

// restResponse is the union of the REST server's responses
// (CreateSubmissionResponse, SubmissionStatusResponse,
// KillSubmissionResponse, ErrorResponse).
type restResponse struct {
	Action             string `json:"action"`
	Message            string `json:"message"`
	ServerSparkVersion string `json:"serverSparkVersion"`
	SubmissionID       string `json:"submissionId"`
	Success            *bool  `json:"success"`
	DriverState        string `json:"driverState"`
	WorkerID           string `json:"workerId"`
	WorkerHostPort     string `json:"workerHostPort"`
}

// rest sends a request to the REST submission server and decodes its
// answer. A transport failure is returned wrapped; an answer that is an
// ErrorResponse or an HTTP error is returned as *Error. A response with
// success false is returned as is, for the caller to interpret.
func (c *Client) rest(ctx context.Context, op, method, path string, body any) (*restResponse, error) {
	if c.RESTURL == "" {
		return nil, fmt.Errorf("spark: %s: no REST URL configured", op)
	}
	url := strings.TrimRight(c.RESTURL, "/") + path
	status, raw, err := c.do(ctx, method, url, body)
	if err != nil {
		return nil, fmt.Errorf("spark: %s: %w", op, err)
	}
	var r restResponse
	if err := json.Unmarshal(raw, &r); err != nil {
		if status != http.StatusOK { // an error page, from a filter or a proxy
			return nil, httpError(op, url, status, raw)
		}
		return nil, &Error{Op: op, URL: url, StatusCode: status,
			Message: fmt.Sprintf("unreadable answer (%v): %s", err, snippet(raw))}
	}
	if status != http.StatusOK || r.Action == "ErrorResponse" {
		e := httpError(op, url, status, nil)
		e.Message = cleanMessage(r.Message)
		return nil, e
	}
	return &r, nil
}

// getJSON fetches a web UI's JSON document into out.
func (c *Client) getJSON(ctx context.Context, op, url string, out any) error {
	status, raw, err := c.do(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("spark: %s: %w", op, err)
	}
	if status != http.StatusOK {
		return httpError(op, url, status, raw)
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("spark: %s: decode %s: %w", op, url, err)
	}
	return nil
}

// do performs one bounded HTTP exchange and returns the status and body.
func (c *Client) do(ctx context.Context, method, url string, body any) (int, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, RequestTimeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, fmt.Errorf("encode request: %w", err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return 0, nil, fmt.Errorf("build request: %w", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json;charset=UTF-8")
	}
	req.Header.Set("Accept", "application/json, text/plain")
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	resp, err := c.httpClient().Do(req)
	if err != nil {
		return 0, nil, err // *url.Error: names the method and URL, never the headers
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return resp.StatusCode, nil, fmt.Errorf("read %s %s: %w", method, url, err)
	}
	return resp.StatusCode, raw, nil
}

// httpError describes a failed HTTP exchange, with the start of its body
// as the message.
func httpError(op, url string, status int, body []byte) *Error {
	e := &Error{Op: op, URL: url, StatusCode: status, Message: snippet(body)}
	if status == http.StatusUnauthorized || status == http.StatusForbidden {
		e.Err = ErrUnauthorized
	}
	return e
}

// cleanMessage drops the Java stack frames ("\tat org.apache…" lines)
// Spark appends to its messages, which drown the one line that matters.
func cleanMessage(msg string) string {
	var kept []string
	for line := range strings.SplitSeq(msg, "\n") {
		if strings.HasPrefix(line, "\t") {
			continue
		}
		if line = strings.TrimSpace(line); line != "" {
			kept = append(kept, line)
		}
	}
	return strings.Join(kept, " ")
}

// htmlTag matches the markup of error pages, which snippet drops.
var htmlTag = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`(?s)<style.*?</style>|<[^>]*>`) })

// snippet quotes the start of an unexpected body for an error message,
// as text: Jetty's error pages are HTML.
func snippet(b []byte) string {
	const n = 200
	s := string(b)
	if strings.Contains(s, "<html") || strings.Contains(s, "<HTML") {
		s = htmlTag().ReplaceAllString(s, " ")
	}
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > n {
		s = s[:n] + "…"
	}
	return s
}

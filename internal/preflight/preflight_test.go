package preflight_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/connection"
	"github.com/sirocco-dev/sirocco/internal/preflight"
	"github.com/sirocco-dev/sirocco/internal/store"
	"github.com/sirocco-dev/sirocco/internal/testenv"
)

func TestMain(m *testing.M) { testenv.RunMain(m) }

// listen returns the address of a loopback listener that accepts and
// handles connections until the test ends.
func listen(t *testing.T, handle func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			handle(c)
			c.Close()
		}
	}()
	t.Cleanup(func() { ln.Close(); <-done })
	return ln.Addr().String()
}

// closedPort returns a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func hostPort(t *testing.T, addr string) (string, int) {
	t.Helper()
	h, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	n, _ := strconv.Atoi(p)
	return h, n
}

// steps renders a report's outcomes as "name=outcome" for comparisons.
func steps(r preflight.Report) string {
	var out []string
	for _, s := range r.Steps {
		out = append(out, s.Name+"="+string(s.Outcome))
	}
	return strings.Join(out, " ")
}

func step(t *testing.T, r preflight.Report, name string) preflight.Step {
	t.Helper()
	for _, s := range r.Steps {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("no step %q in\n%s", name, r.Text())
	return preflight.Step{}
}

// TestReach: dns and tcp against a real listener, a closed port and a
// name that cannot resolve; a failed step skips those that need it.
func TestReach(t *testing.T) {
	t.Parallel()
	open := listen(t, func(net.Conn) {})
	openHost, openPort := hostPort(t, open)
	closedHost, closedP := hostPort(t, closedPort(t))
	cases := []struct {
		name   string
		conn   connection.Connection
		want   string
		detail map[string]string // step -> substring of its detail
	}{
		{"open", connection.Connection{ID: "db", Type: "postgres", Host: openHost, Port: openPort},
			"dns=ok tcp=ok", map[string]string{"tcp": "connected to " + open}},
		{"localhost resolves", connection.Connection{ID: "db", Type: "postgres", Host: "localhost", Port: openPort},
			"dns=ok tcp=ok", map[string]string{"dns": "resolves to"}},
		{"refused", connection.Connection{ID: "db", Type: "postgres", Host: closedHost, Port: closedP},
			"dns=ok tcp=failed", map[string]string{"tcp": "connection refused"}},
		{"unresolvable", connection.Connection{ID: "db", Type: "postgres", Host: "nowhere.sirocco.invalid"},
			"dns=failed tcp=skipped", map[string]string{"dns": "no such host", "tcp": "because dns did not pass"}},
		{"no host", connection.Connection{ID: "db", Type: "postgres"},
			"target=failed", map[string]string{"target": "has no host"}},
		{"URL host with its own port (a listener that answers no HTTP)", connection.Connection{ID: "web", Type: "http", Host: "http://" + open + "/api"},
			"dns=ok tcp=ok http=failed", map[string]string{"tcp": "connected to " + open, "http": "http://" + open + "/api"}},
	}
	ck := &preflight.Checker{}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := ck.Check(t.Context(), tc.conn)
			if got := steps(r); got != tc.want {
				t.Fatalf("steps %s, want %s\n%s", got, tc.want, r.Text())
			}
			if r.OK() != !strings.Contains(tc.want, "failed") {
				t.Errorf("OK() = %v\n%s", r.OK(), r.Text())
			}
			for name, want := range tc.detail {
				if d := step(t, r, name).Detail; !strings.Contains(d, want) {
					t.Errorf("%s detail %q does not contain %q", name, d, want)
				}
			}
		})
	}
}

// TestSSHBanner: the banner step reads a real server's identification
// line (after the lines RFC 4253 allows before it), and says plainly
// when the server is not an SSH server.
func TestSSHBanner(t *testing.T) {
	t.Parallel()
	const ident = "SSH-2.0-OpenSSH_9.2p1 Debian-2"
	serve := func(text string) string {
		return listen(t, func(c net.Conn) { fmt.Fprint(c, text) })
	}
	cases := []struct {
		name, served, want, detail string
	}{
		{"openssh", ident + "\r\n", "ok", ident},
		{"preamble lines first", "welcome\r\nto the edge\r\n" + ident + "\r\n", "ok", ident},
		{"http server", "HTTP/1.1 400 Bad Request\r\n\r\n", "failed", `not an SSH server (it sent "HTTP/1.1 400 Bad Request")`},
		{"silent", "", "failed", "sent nothing"},
		{"ssh 1", "SSH-1.5-old\r\n", "failed", "version"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h, p := hostPort(t, serve(tc.served))
			r := (&preflight.Checker{}).Check(t.Context(), connection.Connection{ID: "edge", Type: "ssh", Host: h, Port: p})
			s := step(t, r, preflight.StepSSHBanner)
			if string(s.Outcome) != tc.want || !strings.Contains(s.Detail, tc.detail) {
				t.Fatalf("banner %s %q, want %s with %q\n%s", s.Outcome, s.Detail, tc.want, tc.detail, r.Text())
			}
		})
	}
}

// TestSSHBastion: with a proxy_jump, dns, tcp and the banner are those of
// the bastion (the target may be unreachable from here), named by a
// connection id or by [ssh://]user@host:port; with a chain of bastions,
// those of the first hop (the outermost bastion), as the ssh client goes.
func TestSSHBastion(t *testing.T) {
	t.Parallel()
	bastion := listen(t, func(c net.Conn) { fmt.Fprint(c, "SSH-2.0-bastion\r\n") })
	bh, bp := hostPort(t, bastion)
	conns := map[string]connection.Connection{"jump": {ID: "jump", Type: "ssh", Host: bh, Port: bp},
		"inner": {ID: "inner", Type: "ssh", Host: "inner.sirocco.invalid", Extra: map[string]string{"proxy_jump": "jump"}}}
	ck := &preflight.Checker{Lookup: func(_ context.Context, id string) (connection.Connection, error) {
		c, ok := conns[id]
		if !ok {
			return c, fmt.Errorf("connection %q: %w", id, store.ErrNotFound)
		}
		return c, nil
	}}
	for i, jump := range []string{"jump", "me@" + bastion, "ssh://" + bastion, "inner", "jump"} {
		key := "proxy_jump"
		if i == 4 {
			key = "Proxy-Jump" // as the ssh client reads it
		}
		c := connection.Connection{ID: "edge", Type: "ssh", Host: "edge.sirocco.invalid",
			Extra: map[string]string{key: jump}}
		r := ck.Check(t.Context(), c)
		if s := step(t, r, preflight.StepSSHBanner); s.Outcome != preflight.OK || s.Detail != "SSH-2.0-bastion" ||
			!strings.Contains(s.Target, "bastion "+jump) {
			t.Errorf("proxy_jump %s: %+v\n%s", jump, s, r.Text())
		}
	}
}

// TestProviderRegistry: a provider registered for a type adds its checks
// after dns and tcp, shares its Close, and a check whose Needs failed is
// skipped; a provider error is one failed settings step.
func TestProviderRegistry(t *testing.T) {
	t.Parallel()
	addr := listen(t, func(net.Conn) {})
	closed := false
	ck := &preflight.Checker{Providers: map[string]preflight.Provider{
		"thing": func(context.Context, *preflight.Checker, connection.Connection) (preflight.Plan, error) {
			return preflight.Plan{Reach: addr, Close: func() { closed = true }, Checks: []preflight.Check{
				{Name: "login", Needs: []string{preflight.StepTCP}, Run: func(context.Context) (string, error) { return "", fmt.Errorf("denied") }},
				{Name: "run", Needs: []string{"login"}, Run: func(context.Context) (string, error) { return "ran", nil }},
				{Name: "aside", Run: func(context.Context) (string, error) { return "fine", nil }},
			}}, nil
		},
		"broken": func(context.Context, *preflight.Checker, connection.Connection) (preflight.Plan, error) {
			return preflight.Plan{}, fmt.Errorf("extra foo is not a number")
		},
	}}
	r := ck.Check(t.Context(), connection.Connection{ID: "x", Type: "thing"})
	if got := steps(r); got != "dns=ok tcp=ok login=failed run=skipped aside=ok" || !closed {
		t.Fatalf("steps %s, closed %v\n%s", got, closed, r.Text())
	}
	if f := r.Failure(); f == nil || f.Name != "login" || r.Summary() != "FAILED at login: denied" {
		t.Errorf("failure %+v, summary %q", f, r.Summary())
	}
	r = ck.Check(t.Context(), connection.Connection{ID: "y", Type: "broken"})
	if got := steps(r); got != "settings=failed" || !strings.Contains(r.Text(), "extra foo is not a number") {
		t.Errorf("broken provider: %s\n%s", got, r.Text())
	}
}

// TestCheckIDs: ids are resolved through Lookup; one that does not
// resolve is a failed lookup step and fails the whole.
func TestCheckIDs(t *testing.T) {
	t.Parallel()
	h, p := hostPort(t, listen(t, func(net.Conn) {}))
	ck := &preflight.Checker{Lookup: func(_ context.Context, id string) (connection.Connection, error) {
		if id == "db" {
			return connection.Connection{ID: id, Type: "postgres", Host: h, Port: p}, nil
		}
		return connection.Connection{}, fmt.Errorf("connection %q: %w", id, store.ErrNotFound)
	}}
	reports, ok := ck.CheckIDs(t.Context(), []string{"db"})
	if !ok || len(reports) != 1 || !reports[0].OK() {
		t.Fatalf("db: %v %+v", ok, reports)
	}
	reports, ok = ck.CheckIDs(t.Context(), []string{"db", "ghost"})
	if ok || len(reports) != 2 || steps(reports[1]) != "lookup=failed" || !strings.Contains(reports[1].Text(), "not found") {
		t.Fatalf("ghost: %v\n%s", ok, reports[1].Text())
	}
}

// TestReportFormats: the text is one aligned line per step with the
// result last; the JSON carries the same, with ok and durations.
func TestReportFormats(t *testing.T) {
	t.Parallel()
	r := preflight.Report{ConnID: "c", ConnType: "ssh", Source: "env", Steps: []preflight.Step{
		{Name: "dns", Target: "h", Outcome: preflight.OK, Detail: "resolves to 10.0.0.1", Duration: time.Millisecond},
		{Name: "tcp", Target: "h:22", Outcome: preflight.Failed, Detail: "dial tcp 10.0.0.1:22:\nconnection refused", Duration: 5017 * time.Millisecond},
		{Name: "ssh banner", Outcome: preflight.Skipped, Detail: "because tcp did not pass"},
	}}
	want := "Connection c (ssh, from env)\n" +
		"  ok       dns         1ms    h     resolves to 10.0.0.1\n" +
		"  FAILED   tcp         5.02s  h:22  dial tcp 10.0.0.1:22: connection refused\n" +
		"  skipped  ssh banner         -     because tcp did not pass\n" +
		"  Result: FAILED at tcp: dial tcp 10.0.0.1:22: connection refused\n"
	if text := r.Text(); text != want {
		t.Errorf("text:\n%s\nwant:\n%s", text, want)
	}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var back struct {
		OK    bool `json:"ok"`
		Steps []struct {
			Name, Outcome string
			DurationMS    *float64 `json:"duration_ms"`
		} `json:"steps"`
	}
	if err := json.Unmarshal(b, &back); err != nil || back.OK || len(back.Steps) != 3 ||
		back.Steps[1].Outcome != "failed" || back.Steps[1].DurationMS == nil {
		t.Errorf("json %s: %+v %v", b, back, err)
	}
}

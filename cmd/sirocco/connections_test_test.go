package main

import (
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sirocco-dev/sirocco/internal/testenv"
)

// loopback starts a TCP server on a free loopback port that writes
// greeting to each connection and closes it; it stops with the test.
func loopback(t *testing.T, greeting string) string {
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
			fmt.Fprint(c, greeting)
			c.Close()
		}
	}()
	t.Cleanup(func() { ln.Close(); <-done })
	return ln.Addr().String()
}

// TestConnectionsTest: `connections test` prints a step-by-step report and
// exits 0 only when no step failed: TCP to a listener, a refused port, a
// host that does not resolve, a real login on an sshd whose host key is
// unknown (refused, then recorded by --accept-host-key, then known), and
// the report as JSON.
func TestConnectionsTest(t *testing.T) {
	open := loopback(t, "")
	sshd := testenv.SSHD(t)
	knownHosts := filepath.Join(t.TempDir(), "known_hosts")
	if err := os.WriteFile(knownHosts, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := ln.Addr().String()
	ln.Close()
	s := newSite(t, nil)
	s.extraEnv = append(s.extraEnv,
		"SIROCCO_CONN_DB=postgres://u:Zq9SecretPw@"+open+"/x",
		"SIROCCO_CONN_DOWN=postgres://u:Zq9SecretPw@"+refused+"/x",
		"SIROCCO_CONN_NOWHERE=postgres://u:Zq9SecretPw@db.sirocco.invalid:5432/x",
		fmt.Sprintf("SIROCCO_CONN_EDGE=ssh://%s@%s?key_file=%s&known_hosts=%s&use_agent=false&look_for_keys=false",
			sshd.User, sshd.Addr(), url.QueryEscape(sshd.KeyFile), url.QueryEscape(knownHosts)))
	cases := []struct {
		args []string
		code int
		want []string
	}{
		{[]string{"db"}, 0, []string{"Connection db (postgres, from env)", "ok", "tcp", "connected to " + open, "Result: ok (2 step(s) in"}},
		{[]string{"down"}, 1, []string{"FAILED  tcp", "connection refused", "Result: FAILED at tcp:"}},
		{[]string{"nowhere"}, 1, []string{"FAILED   dns", "db.sirocco.invalid", "skipped  tcp", "because dns did not pass", "Result: FAILED at dns:"}},
		{[]string{"edge"}, 1, []string{"ssh banner", "SSH-2.0-OpenSSH", "ssh host key", "is not known", "SHA256:", "because ssh auth did not pass", "Result: FAILED at ssh host key"}},
		{[]string{"edge", "--accept-host-key"}, 0, []string{"ssh host key", "recorded in " + knownHosts, "ssh run true"}},
		{[]string{"edge"}, 0, []string{"ssh host key", "verified", "`true` ran", "Result: ok"}},
	}
	for _, tc := range cases {
		out, errOut, code := s.run(append([]string{"connections", "test"}, tc.args...)...)
		if code != tc.code {
			t.Errorf("connections test %v: exit %d, want %d\n%s%s", tc.args, code, tc.code, out, errOut)
		}
		for _, w := range tc.want {
			if !strings.Contains(out, w) {
				t.Errorf("connections test %v: output lacks %q:\n%s", tc.args, w, out)
			}
		}
		if strings.Contains(out, "Zq9SecretPw") {
			t.Errorf("connections test %v shows the password:\n%s", tc.args, out)
		}
	}

	out, _, code := s.run("connections", "test", "down", "-o", "json")
	var rep struct {
		ConnID string `json:"conn_id"`
		OK     bool   `json:"ok"`
		Steps  []struct {
			Name    string `json:"name"`
			Outcome string `json:"outcome"`
		} `json:"steps"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil || code != 1 || rep.ConnID != "down" || rep.OK ||
		len(rep.Steps) != 2 || rep.Steps[1].Outcome != "failed" {
		t.Errorf("-o json: exit %d, %+v, %v\n%s", code, rep, err, out)
	}
}

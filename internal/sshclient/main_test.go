package sshclient

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/sirocco-dev/sirocco/internal/connection"
	"github.com/sirocco-dev/sirocco/internal/testenv"
)

func TestMain(m *testing.M) { testenv.RunMain(m) }

// connTo is an ssh connection to srv with the given extras, trusting srv's
// host keys unless the extras say otherwise.
func connTo(srv *testenv.SSHServer, id string, extra map[string]string) connection.Connection {
	ex := map[string]string{"known_hosts": srv.KnownHostsFile}
	for k, v := range extra {
		if v == "" {
			delete(ex, k)
			continue
		}
		ex[k] = v
	}
	return connection.Connection{ID: id, Type: "ssh", Host: srv.Host, Port: srv.Port, Login: srv.User, Extra: ex}
}

// isolatedEnv keeps the tests away from the machine's ~/.ssh and agent.
func isolatedEnv(t testing.TB) Env {
	return Env{Home: t.TempDir(), User: "nobody"}
}

func settingsOf(t testing.TB, c connection.Connection) *Settings {
	t.Helper()
	s, err := FromConnection(c, isolatedEnv(t))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// runOnce dials s, runs cmd and returns its stdout and exit status.
func runOnce(t testing.TB, s *Settings, cmd string) (string, int, error) {
	t.Helper()
	c, err := Dial(t.Context(), s, nil)
	if err != nil {
		return "", -1, err
	}
	defer c.Close()
	var out bytes.Buffer
	code, err := c.Run(t.Context(), cmd, &out, nil)
	return out.String(), code, err
}

func mustRun(t testing.TB, s *Settings, cmd, want string) {
	t.Helper()
	out, code, err := runOnce(t, s, cmd)
	if err != nil || code != 0 || strings.TrimSpace(out) != want {
		t.Fatalf("run %q: out %q, exit %d, err %v", cmd, out, code, err)
	}
}

// wantStage checks err is an *Error of the stage and contains the texts.
func wantStage(t testing.TB, err error, stage Stage, texts ...string) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) || e.Stage != stage {
		t.Fatalf("err = %v (%T), want stage %q", err, err, stage)
	}
	for _, s := range texts {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q lacks %q", err, s)
		}
	}
}

func lookupIn(conns ...connection.Connection) Lookup {
	return func(_ context.Context, id string) (connection.Connection, error) {
		for _, c := range conns {
			if c.ID == id {
				return c, nil
			}
		}
		return connection.Connection{}, errors.New("connection " + id + " not found")
	}
}

func connectionAt(host string, port int, extra map[string]string) connection.Connection {
	return connection.Connection{ID: "edge", Type: "ssh", Host: host, Port: port, Login: "nobody", Extra: extra}
}

func osWriteFile(path, content string) error { return os.WriteFile(path, []byte(content), 0o600) }

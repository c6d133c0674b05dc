package sshclient_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/sirocco-dev/sirocco/internal/connection"
	"github.com/sirocco-dev/sirocco/internal/remotejob"
	"github.com/sirocco-dev/sirocco/internal/sshclient"
	"github.com/sirocco-dev/sirocco/internal/testenv"
)

// TestShellRunsRemoteJobs: a detached job is started, followed to its exit
// code and its output read over the real sshd, through the pool's Shell,
// with stdin reaching the script and a login shell in between that must
// not reinterpret it.
func TestShellRunsRemoteJobs(t *testing.T) {
	srv := testenv.SSHD(t)
	s, err := sshclient.FromConnection(connection.Connection{ID: "edge", Type: "ssh", Host: srv.Host, Port: srv.Port,
		Login: srv.User, Extra: map[string]string{"key_file": srv.KeyFile, "known_hosts": srv.KnownHostsFile}},
		sshclient.Env{Home: t.TempDir(), User: "nobody"})
	if err != nil {
		t.Fatal(err)
	}
	p := sshclient.NewPool(sshclient.PoolOptions{})
	defer p.Close()
	sh := sshclient.Shell{Pool: p, Settings: s}

	var out bytes.Buffer
	code, err := sh.Run(t.Context(), `read -r line; printf '%s|%s\n' "$line" "$0"; exit 3`, strings.NewReader("it's $(here)\n"), &out, nil)
	if err != nil || code != 3 || out.String() != "it's $(here)|/bin/sh\n" {
		t.Fatalf("Run = %d, %v, output %q", code, err, out.String())
	}

	h, fresh, err := remotejob.Start(t.Context(), sh, remotejob.Spec{Command: `echo "out $X"; echo err >&2; exit 4`,
		Env: map[string]string{"X": "a 'b' $c"}, BaseDir: srv.Dir + "/jobs", JobID: remotejob.JobID("d", "r", "t", 1)})
	if err != nil || !fresh {
		t.Fatalf("Start = %+v, %v, %v", h, fresh, err)
	}
	var stdout, stderr bytes.Buffer
	code, _, err = remotejob.Follow(t.Context(), sh, h, remotejob.Offsets{}, remotejob.Output{Stdout: &stdout, Stderr: &stderr})
	if err != nil || code != 4 || stdout.String() != "out a 'b' $c\n" || stderr.String() != "err\n" {
		t.Fatalf("Follow = %d, %v; stdout %q stderr %q", code, err, stdout.String(), stderr.String())
	}
	if n, d := srv.Logins(), p.Stats().Dials; n != 1 || d != 1 {
		t.Errorf("the job's scripts made %d logins, %d dials; want one connection", n, d)
	}
}

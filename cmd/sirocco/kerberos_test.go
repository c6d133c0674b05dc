package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/testenv"
)

// kerberosSite is a Sirocco home whose kerberos settings name a principal
// of a fresh realm, with the realm's krb5.conf in every command's
// environment.
func kerberosSite(t *testing.T, dags map[string]string) (*site, *testenv.KDCRealm, string) {
	t.Helper()
	realm := testenv.KDC(t)
	keytab := realm.AddPrincipal(t, "sirocco/worker")
	env := append(realm.Env(), "SIROCCO_KERBEROS_PRINCIPAL="+realm.Principal("sirocco/worker"),
		"SIROCCO_KERBEROS_KEYTAB="+keytab, "SIROCCO_KERBEROS_KINIT_PATH="+realm.Kinit())
	return newSiteWith(t, env, dags), realm, keytab
}

// TestKerberosOneTime: `sirocco kerberos --one-time` gets one ticket into
// $SIROCCO_HOME/krb5cc and exits 0.
func TestKerberosOneTime(t *testing.T) {
	s, realm, _ := kerberosSite(t, nil)
	out, errOut, err := s.runWithin(30*time.Second, "kerberos", "--one-time")
	if err != nil {
		t.Fatalf("kerberos --one-time: %v\n%s\n%s", err, out, errOut)
	}
	ccache := filepath.Join(s.home, "krb5cc")
	if !strings.Contains(out, "ticket for "+realm.Principal("sirocco/worker")+" in "+ccache) {
		t.Errorf("output: %s", out)
	}
	if list := realm.Klist(t, ccache); !strings.Contains(list, "Default principal: "+realm.Principal("sirocco/worker")) {
		t.Errorf("klist:\n%s", list)
	}
}

// TestKerberosRenewsUntilStopped: `sirocco kerberos` renews the cache on
// its interval (klist shows a later ticket), logs each renewal with the
// principal and expiry, and exits 0 on SIGTERM.
func TestKerberosRenewsUntilStopped(t *testing.T) {
	s, realm, _ := kerberosSite(t, nil)
	ccache := filepath.Join(t.TempDir(), "cache")
	var log testenv.SyncBuffer
	cmd := exec.Command(binary, "kerberos", "--reinit-frequency", "1s", "--ccache", ccache)
	cmd.Env = s.env()
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-done
	})

	start := func() string {
		if _, err := os.Stat(ccache); err != nil {
			return ""
		}
		for _, line := range strings.Split(realm.Klist(t, ccache), "\n") {
			if f := strings.Fields(line); len(f) == 5 && strings.HasPrefix(f[4], "krbtgt/") {
				return f[0] + " " + f[1]
			}
		}
		return ""
	}
	var first string
	testenv.Eventually(t, "a first ticket", 20*time.Second, func() (bool, string) {
		first = start()
		return first != "", "klist start time " + first
	})
	testenv.Eventually(t, "a renewed ticket", 20*time.Second, func() (bool, string) {
		s := start()
		return s != "" && s != first, "klist start time " + s + ", first " + first
	})

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		done <- err
		if err != nil {
			t.Errorf("kerberos exited with %v after SIGTERM\n%s", err, log.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("kerberos still running 10s after SIGTERM\n%s", log.String())
	}
	out := log.String()
	if strings.Count(out, "kerberos ticket renewed") < 2 || !strings.Contains(out, "principal="+realm.Principal("sirocco/worker")) ||
		!strings.Contains(out, "expires=") {
		t.Errorf("renewals are not logged with principal and expiry:\n%s", out)
	}
}

// TestKerberosWrongKeytabOrPrincipal: a stale keytab or a principal the
// keytab does not hold exits 1 naming the principal, the keytab and
// kinit's message.
func TestKerberosWrongKeytabOrPrincipal(t *testing.T) {
	s, realm, keytab := kerberosSite(t, nil)
	_, errOut, err := s.runWithin(30*time.Second, "kerberos", "--one-time", realm.Principal("nobody"))
	if exitCode(err) != 1 {
		t.Fatalf("kerberos with a wrong principal: %v\n%s", err, errOut)
	}
	for _, want := range []string{realm.Principal("nobody"), keytab, "Keytab contains no suitable keys"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("error does not name %q:\n%s", want, errOut)
		}
	}

	realm.RandomizeKey(t, "sirocco/worker")
	_, errOut, err = s.runWithin(30*time.Second, "kerberos", "--reinit-frequency", "1h")
	if exitCode(err) != 1 {
		t.Fatalf("kerberos with a stale keytab: %v\n%s", err, errOut)
	}
	for _, want := range []string{realm.Principal("sirocco/worker"), keytab, "Password incorrect"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("error does not name %q:\n%s", want, errOut)
		}
	}
}

// exitCode is the status of a command that ran and failed, else -1.
func exitCode(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	return -1
}

// TestTasksSeeKRB5CCNAME: with kerberos configured, a task's environment
// names the renewed cache (and the krb5.conf Sirocco was given), and the
// ticket in it is usable from the task.
func TestTasksSeeKRB5CCNAME(t *testing.T) {
	s, realm, _ := kerberosSite(t, map[string]string{"k.yaml": `dag_id: k
tasks:
  - id: show
    operator: bash
    command: 'echo "ccache=$KRB5CCNAME config=$KRB5_CONFIG"; klist'
`})
	s.extraEnv = append(s.extraEnv, "KRB5CCNAME=FILE:/tmp/not-this-one")
	s.mustRun("kerberos", "--one-time")
	out := s.mustRun("tasks", "test", "k", "show", "2026-05-06")
	ccache := filepath.Join(s.home, "krb5cc")
	if !strings.Contains(out, "ccache="+ccache+" config="+realm.Config) {
		t.Errorf("task environment:\n%s", out)
	}
	if !strings.Contains(out, "Default principal: "+realm.Principal("sirocco/worker")) {
		t.Errorf("klist in the task does not show the renewed ticket:\n%s", out)
	}
}

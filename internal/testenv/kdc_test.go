package testenv

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestKDC: a keytab from AddPrincipal gets a ticket from the realm's KDC,
// with the principal's short lifetime; a stale keytab is refused; the KDC
// is gone once the test's cleanups ran.
func TestKDC(t *testing.T) {
	var realm *KDCRealm
	t.Run("realm", func(t *testing.T) {
		realm = KDC(t)
		keytab := realm.AddPrincipalWith(t, "svc/host", PrincipalOptions{MaxLife: 30 * time.Second})
		ccache := "FILE:" + filepath.Join(t.TempDir(), "cc")
		if out, err := kinit(realm, ccache, keytab, "svc/host"); err != nil {
			t.Fatalf("kinit: %v\n%s", err, out)
		}
		list := realm.Klist(t, ccache)
		if !strings.Contains(list, "Default principal: svc/host@"+KDCRealmName) ||
			!strings.Contains(list, "krbtgt/"+KDCRealmName+"@"+KDCRealmName) {
			t.Fatalf("klist shows no ticket for svc/host:\n%s", list)
		}
		start, expires := ticketTimes(t, list)
		if life := expires.Sub(start); life != 30*time.Second {
			t.Errorf("ticket lifetime %s, want the principal's 30s:\n%s", life, list)
		}

		realm.RandomizeKey(t, "svc/host")
		out, err := kinit(realm, ccache, keytab, "svc/host")
		if err == nil || !strings.Contains(string(out), "Password incorrect") {
			t.Errorf("kinit with a stale keytab: %v\n%s", err, out)
		}
	})
	if realm == nil {
		return
	}
	if _, err := os.Stat(realm.Dir); !os.IsNotExist(err) {
		t.Errorf("realm directory %s still there after the test: %v", realm.Dir, err)
	}
	if realm.cmd != nil && realm.cmd.ProcessState == nil {
		t.Errorf("krb5kdc still running after the test")
	}
}

func kinit(realm *KDCRealm, ccache, keytab, principal string) ([]byte, error) {
	cmd := realm.command(realm.Kinit(), "-k", "-t", keytab, realm.Principal(principal))
	cmd.Env = append(cmd.Env, "KRB5CCNAME="+ccache)
	return cmd.CombinedOutput()
}

// ticketTimes parses the first ticket line of klist's C-locale output.
func ticketTimes(t *testing.T, list string) (start, expires time.Time) {
	t.Helper()
	for _, line := range strings.Split(list, "\n") {
		f := strings.Fields(line)
		if len(f) == 5 && strings.HasPrefix(f[4], "krbtgt/") {
			var err1, err2 error
			start, err1 = time.Parse("01/02/06 15:04:05", f[0]+" "+f[1])
			expires, err2 = time.Parse("01/02/06 15:04:05", f[2]+" "+f[3])
			if err1 == nil && err2 == nil {
				return start, expires
			}
		}
	}
	t.Fatalf("no ticket line in klist output:\n%s", list)
	return
}

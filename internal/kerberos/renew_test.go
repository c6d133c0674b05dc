package kerberos

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/testenv"
)

func TestMain(m *testing.M) { testenv.RunMain(m) }

// renewer returns a Renewer for principal of realm into a fresh cache.
func renewer(t *testing.T, realm *testenv.KDCRealm, principal, keytab string) *Renewer {
	t.Helper()
	return &Renewer{Principal: realm.Principal(principal), Keytab: keytab, CCache: filepath.Join(t.TempDir(), "krb5cc"),
		Interval: time.Hour, Kinit: realm.Kinit(), Env: append(os.Environ(), realm.Env()...)}
}

// TestRenewWritesTheCache: one renewal leaves a ticket klist shows, and
// Renew reports its principal and times.
func TestRenewWritesTheCache(t *testing.T) {
	realm := testenv.KDC(t)
	keytab := realm.AddPrincipalWith(t, "svc/host", testenv.PrincipalOptions{MaxLife: 30 * time.Second})
	r := renewer(t, realm, "svc/host", keytab)
	tk, err := r.Renew(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if tk.Principal != realm.Principal("svc/host") || tk.Expires.Sub(tk.Start) != 30*time.Second || tk.RenewUntil.IsZero() {
		t.Errorf("ticket %+v: want svc/host's, 30s long, renewable", tk)
	}
	if list := realm.Klist(t, r.CCache); !strings.Contains(list, "Default principal: "+realm.Principal("svc/host")) {
		t.Errorf("klist:\n%s", list)
	}
	if fi, err := os.Stat(r.CCache); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("cache mode: %v, %v; want 0600", fi, err)
	}
	if left, _ := filepath.Glob(filepath.Join(filepath.Dir(r.CCache), ".*")); len(left) > 0 {
		t.Errorf("temporary caches left behind: %v", left)
	}
}

// TestRunRenewsOnTheInterval: klist shows a later ticket after an interval.
func TestRunRenewsOnTheInterval(t *testing.T) {
	realm := testenv.KDC(t)
	keytab := realm.AddPrincipal(t, "svc/host")
	r := renewer(t, realm, "svc/host", keytab)
	r.Interval = time.Second
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	first := awaitTicket(t, realm, r.CCache, func(time.Time) bool { return true })
	awaitTicket(t, realm, r.CCache, func(start time.Time) bool { return start.After(first) })
}

// awaitTicket polls klist until the cache's ticket start time satisfies
// ok, and returns it.
func awaitTicket(t *testing.T, realm *testenv.KDCRealm, ccache string, ok func(time.Time) bool) time.Time {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, err := os.Stat(ccache); err == nil {
			tk, found := parseKlist(realm.Klist(t, ccache), time.Local)
			if found && !tk.Start.IsZero() && ok(tk.Start) {
				return tk.Start
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no (new) ticket in %s after 20s", ccache)
		}
		time.Sleep(100 * time.Millisecond) // polling klist: the cache changes without an event
	}
}

// TestRenewErrors: a wrong keytab or principal fails with the principal,
// the keytab path, kinit's words and a hint; the last good cache stays.
func TestRenewErrors(t *testing.T) {
	realm := testenv.KDC(t)
	good := realm.AddPrincipal(t, "svc/host")
	stale := realm.AddPrincipal(t, "rotated")
	realm.RandomizeKey(t, "rotated")
	cases := []struct {
		name, principal, keytab string
		want                    []string
	}{
		{"principal not in keytab", "other", good, []string{"Keytab contains no suitable keys", "holds no key for this principal"}},
		{"stale keytab", "rotated", stale, []string{"Password incorrect", "out of date"}},
		{"missing keytab", "svc/host", filepath.Join(realm.Dir, "nope.keytab"), []string{"no such file"}},
		{"no principal", "", good, []string{"no principal given"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := renewer(t, realm, "svc/host", good)
			if _, err := r.Renew(t.Context()); err != nil {
				t.Fatal(err)
			}
			before := realm.Klist(t, r.CCache)
			r.Principal, r.Keytab = tc.principal, tc.keytab
			if tc.principal != "" {
				r.Principal = realm.Principal(tc.principal)
			}
			_, err := r.Renew(t.Context())
			if err == nil {
				t.Fatal("Renew succeeded")
			}
			want := append([]string{r.Principal, tc.keytab}, tc.want...)
			if tc.principal == "" {
				want = tc.want
			}
			for _, w := range want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if after := realm.Klist(t, r.CCache); after != before {
				t.Errorf("a failed renewal changed the cache:\n%s\nthen\n%s", before, after)
			}
		})
	}
}

func TestPrincipalHost(t *testing.T) {
	host, _ := os.Hostname()
	p, err := (&Renewer{Principal: "sirocco/_HOST@R"}).principal()
	if err != nil || p != "sirocco/"+strings.ToLower(host)+"@R" {
		t.Errorf("principal = %q, %v", p, err)
	}
}

func TestRenewLifetime(t *testing.T) {
	if got := renewLifetime(time.Hour); got != "216000s" {
		t.Errorf("renewLifetime(1h) = %s, want 60h in seconds", got)
	}
}

// TestRenewPrincipalIsNeverAnOption: a principal that starts with '-' (a
// connection's principal extra is user input) is refused, not handed to
// kinit, which would read "-cPATH" as its option to write the ticket cache
// at PATH and log in as the host's principal instead.
func TestRenewPrincipalIsNeverAnOption(t *testing.T) {
	realm := testenv.KDC(t)
	keytab := realm.AddPrincipal(t, "svc/host")
	elsewhere := filepath.Join(t.TempDir(), "elsewhere")
	r := renewer(t, realm, "svc/host", keytab)
	r.Principal = "-c" + elsewhere
	_, err := r.Renew(t.Context())
	if err == nil || !strings.Contains(err.Error(), "starts with '-'") {
		t.Errorf("Renew with principal %q: %v, want a refusal", r.Principal, err)
	}
	if _, err := os.Stat(elsewhere); err == nil {
		t.Errorf("kinit wrote a ticket cache at %s, named by the principal", elsewhere)
	}
}

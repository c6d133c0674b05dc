package kerberos

import (
	"strings"
	"testing"
	"time"
)

const klistSample = `Ticket cache: FILE:/tmp/cc
Default principal: svc/host@SIROCCO.TEST

Valid starting     Expires            Service principal
12/06/26 04:12:42  12/06/26 04:13:12  krbtgt/SIROCCO.TEST@SIROCCO.TEST
	renew until 12/07/26 05:12:42
12/06/26 04:12:50  12/06/26 04:13:12  HTTP/web@SIROCCO.TEST
`

func TestParseKlist(t *testing.T) {
	at := func(s string) time.Time {
		tm, err := time.ParseInLocation("2006-01-02 15:04:05", s, time.UTC)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	cases := []struct {
		name, out string
		want      Ticket
		ok        bool
	}{
		{"two-digit years", klistSample, Ticket{Principal: "svc/host@SIROCCO.TEST", CCache: "FILE:/tmp/cc",
			Start: at("2026-12-06 04:12:42"), Expires: at("2026-12-06 04:13:12"), RenewUntil: at("2026-12-07 05:12:42")}, true},
		{"four-digit years, not renewable", "Default principal: a@B\n01/02/2026 10:00:00  01/02/2026 20:00:00  krbtgt/B@B\n",
			Ticket{Principal: "a@B", Start: at("2026-01-02 10:00:00"), Expires: at("2026-01-02 20:00:00")}, true},
		{"unknown date format", "Default principal: a@B\nJan 2 10:00  Jan 2 20:00  krbtgt/B@B\n", Ticket{Principal: "a@B"}, true},
		{"no principal", "klist: No credentials cache found (filename: /tmp/x)\n", Ticket{}, false},
		{"empty", "", Ticket{}, false},
	}
	for _, tc := range cases {
		got, ok := parseKlist(tc.out, time.UTC)
		if ok != tc.ok || got != tc.want {
			t.Errorf("%s: got %+v, %v; want %+v, %v", tc.name, got, ok, tc.want, tc.ok)
		}
	}
}

// FuzzParseKlist: any klist output is read without a panic, and a ticket
// whose times were read has its start no later than its expiry or the
// times as printed.
func FuzzParseKlist(f *testing.F) {
	f.Add(klistSample)
	f.Add("Default principal: a@B\n01/02/2026 10:00:00  01/02/2026 20:00:00  krbtgt/B@B\n\trenew until")
	f.Add("Default principal:\n\n  \t")
	f.Fuzz(func(t *testing.T, out string) {
		tk, ok := parseKlist(out, time.UTC)
		if ok != (tk.Principal != "") {
			t.Fatalf("ok %v with principal %q", ok, tk.Principal)
		}
		if !tk.Start.IsZero() && tk.Expires.IsZero() {
			t.Fatalf("start without expiry: %+v", tk)
		}
		if strings.ContainsAny(tk.Principal, "\n") || strings.ContainsAny(tk.CCache, "\n") {
			t.Fatalf("a field spans lines: %+v", tk)
		}
	})
}

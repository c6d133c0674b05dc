package kerberos

import (
	"strings"
	"time"
)

// Ticket is what a ticket cache holds after a renewal, as klist shows it.
type Ticket struct {
	Principal string // the cache's default principal
	CCache    string // the cache, as klist names it (FILE:/path)
	// Start, Expires and RenewUntil are the ticket-granting ticket's
	// times; zero when klist printed none or in a format not understood
	// (the renewal itself still succeeded).
	Start, Expires, RenewUntil time.Time
}

// klistLayouts are the date formats MIT klist prints in the C locale; it
// picks one by the width it has (krb5_timestamp_to_sfstring).
var klistLayouts = []string{"01/02/06 15:04:05", "01/02/2006 15:04:05", "2006-01-02 15:04:05", "02.01.2006 15:04:05"}

// parseKlist reads `klist` output (C locale): the cache name, the default
// principal and the times of the first krbtgt/ ticket. Lines it does not
// understand are skipped; ok reports whether a principal was found.
func parseKlist(out string, loc *time.Location) (t Ticket, ok bool) {
	lines := strings.Split(out, "\n")
	for i, line := range lines {
		if v, found := strings.CutPrefix(line, "Ticket cache:"); found {
			t.CCache = strings.TrimSpace(v)
			continue
		}
		if v, found := strings.CutPrefix(line, "Default principal:"); found {
			t.Principal = strings.TrimSpace(v)
			continue
		}
		f := strings.Fields(line)
		if !t.Start.IsZero() || len(f) != 5 || !strings.HasPrefix(f[4], "krbtgt/") {
			continue
		}
		start, err1 := parseKlistTime(f[0]+" "+f[1], loc)
		expires, err2 := parseKlistTime(f[2]+" "+f[3], loc)
		if err1 != nil || err2 != nil {
			continue
		}
		t.Start, t.Expires = start, expires
		if i+1 < len(lines) {
			if v, found := strings.CutPrefix(strings.TrimSpace(lines[i+1]), "renew until "); found {
				t.RenewUntil, _ = parseKlistTime(strings.TrimSpace(v), loc)
			}
		}
	}
	return t, t.Principal != ""
}

func parseKlistTime(s string, loc *time.Location) (time.Time, error) {
	var err error
	for _, layout := range klistLayouts {
		var t time.Time
		if t, err = time.ParseInLocation(layout, s, loc); err == nil {
			return t, nil
		}
	}
	return time.Time{}, err
}

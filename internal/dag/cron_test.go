package dag

import (
	"strings"
	"testing"
	"time"
)

// fires walks First/Next from from and returns the first n interval starts.
func fires(t *testing.T, s Schedule, from time.Time, n int) []time.Time {
	t.Helper()
	var out []time.Time
	iv, ok := s.First(from)
	for ; ok && len(out) < n; iv, ok = s.Next(iv) {
		out = append(out, iv.Start)
	}
	return out
}

func formatUTC(ts []time.Time) string {
	parts := make([]string, len(ts))
	for i, ts := range ts {
		parts[i] = ts.UTC().Format("2006-01-02T15:04Z")
	}
	return strings.Join(parts, " ")
}

// TestCronFields checks the expression language on UTC fire times.
func TestCronFields(t *testing.T) {
	tests := []struct {
		spec string
		from time.Time
		want string
	}{
		{"0 0 1 * MON", utc(2026, 1, 1, 0, 0), // both day fields restricted: either matches
			"2026-01-01T00:00Z 2026-01-05T00:00Z 2026-01-12T00:00Z 2026-01-19T00:00Z 2026-01-26T00:00Z 2026-02-01T00:00Z 2026-02-02T00:00Z"},
		{"0 0 13 * 5", utc(2026, 2, 1, 0, 0), // the 13th or a Friday
			"2026-02-06T00:00Z 2026-02-13T00:00Z 2026-02-20T00:00Z 2026-02-27T00:00Z 2026-03-06T00:00Z 2026-03-13T00:00Z"},
		{"0 0 * * 7", utc(2026, 1, 1, 0, 0), "2026-01-04T00:00Z 2026-01-11T00:00Z"}, // 7 is Sunday
		{"0 12 * * 5-7", utc(2026, 1, 1, 0, 0), "2026-01-02T12:00Z 2026-01-03T12:00Z 2026-01-04T12:00Z 2026-01-09T12:00Z"},
		{"0 0 * * 0-7", utc(2026, 1, 1, 0, 0), "2026-01-01T00:00Z 2026-01-02T00:00Z"},                       // full range: every day
		{"0 0 1-31 * 1", utc(2026, 1, 1, 0, 0), "2026-01-05T00:00Z 2026-01-12T00:00Z"},                      // full dom: weekday decides
		{"0 0 ? * mon-fri", utc(2026, 1, 2, 0, 0), "2026-01-02T00:00Z 2026-01-05T00:00Z 2026-01-06T00:00Z"}, // ? and lower-case names
		{"0 0 */10 * *", utc(2026, 1, 1, 0, 0), "2026-01-01T00:00Z 2026-01-11T00:00Z 2026-01-21T00:00Z 2026-01-31T00:00Z 2026-02-01T00:00Z"},
		{"15-45/15 9 * JAN-MAR/2 *", utc(2026, 1, 31, 9, 20),
			"2026-01-31T09:30Z 2026-01-31T09:45Z 2026-03-01T09:15Z"},
		{"5/20 * * * *", utc(2026, 1, 1, 0, 0), "2026-01-01T00:05Z 2026-01-01T00:25Z 2026-01-01T00:45Z 2026-01-01T01:05Z"},
		{"0 22-23,1 * * *", utc(2026, 1, 1, 0, 0), "2026-01-01T01:00Z 2026-01-01T22:00Z 2026-01-01T23:00Z 2026-01-02T01:00Z"},
		{"0 0 31 * *", utc(2026, 1, 1, 0, 0), "2026-01-31T00:00Z 2026-03-31T00:00Z 2026-05-31T00:00Z"},
		{"0 0 29 2 *", utc(2096, 3, 1, 0, 0), "2104-02-29T00:00Z 2108-02-29T00:00Z"}, // 2100 is no leap year
		{"@weekly", utc(2026, 1, 1, 0, 0), "2026-01-04T00:00Z 2026-01-11T00:00Z"},
		{"@yearly", utc(2026, 1, 1, 0, 0), "2026-01-01T00:00Z 2027-01-01T00:00Z"},
	}
	for _, tt := range tests {
		s := mustSchedule(t, tt.spec, time.UTC)
		want := strings.Fields(tt.want)
		if got := formatUTC(fires(t, s, tt.from, len(want))); got != tt.want {
			t.Errorf("%q from %v:\n got %s\nwant %s", tt.spec, tt.from, got, tt.want)
		}
	}
}

// TestCronNeverFires checks that expressions no date matches give up
// quickly instead of looping.
func TestCronNeverFires(t *testing.T) {
	paris := mustZone(t, "Europe/Paris")
	for _, spec := range []string{"0 0 30 2 *", "0 0 31 4,6,9,11 *", "0 0 30,31 2 *"} {
		for _, loc := range []*time.Location{time.UTC, paris} {
			s := mustSchedule(t, spec, loc)
			began := time.Now()
			if iv, ok := s.First(utc(2026, 1, 1, 0, 0)); ok {
				t.Errorf("%q: First = %v, want none", spec, iv)
			}
			if iv, ok := s.Latest(utc(2000, 1, 1, 0, 0), utc(2026, 1, 1, 0, 0)); ok {
				t.Errorf("%q: Latest = %v, want none", spec, iv)
			}
			if d := time.Since(began); d > time.Second {
				t.Errorf("%q: took %v", spec, d)
			}
		}
	}
}

func TestParseCronErrors(t *testing.T) {
	tests := []struct{ spec, want string }{
		{"60 * * * *", `minute field: "60" is not a number in 0-59`},
		{"0 24 * * *", `hour field: "24" is not a number in 0-23`},
		{"0 0 0 * *", `day-of-month field: "0" is not a number in 1-31`},
		{"0 0 32 * *", `day-of-month field: "32" is not a number in 1-31`},
		{"0 0 * 13 *", `month field: "13" is not a number in 1-12 or a name JAN-DEC`},
		{"0 0 * JANUARY *", `month field: "JANUARY" is not a number in 1-12 or a name JAN-DEC`},
		{"0 0 * * 8", `day-of-week field: "8" is not a number in 0-7 or a name SUN-SAT`},
		{"*/0 * * * *", `minute field: step "0" is not a number in 1-60`},
		{"*/61 * * * *", `minute field: step "61" is not a number in 1-60`},
		{"*/+5 * * * *", `minute field: step "+5" is not a number in 1-60`},
		{"45-15 * * * *", `minute field: range 45-15 goes backwards`},
		{"1,,2 * * * *", `minute field: missing value (expected a number in 0-59)`},
		{"-5 * * * *", `minute field: missing value (expected a number in 0-59)`},
		{"+5 * * * *", `minute field: "+5" is not a number in 0-59`},
		{"1-2-3 * * * *", `minute field: "2-3" is not a number in 0-59`},
		{"99999999999999999999999999 * * * *", `minute field: "99999999999999999999..." is not a number in 0-59`},
		{"? 0 * * *", `minute field: "?" is not a number in 0-59`},
		{"0 0 0 * * *", `expected exactly 5 fields, found 6: [0 0 0 * * *]`},
	}
	for _, tt := range tests {
		_, err := ParseSchedule(tt.spec, time.UTC)
		want := `bad cron expression "` + tt.spec + `": ` + tt.want
		if err == nil || err.Error() != want {
			t.Errorf("ParseSchedule(%q) err = %v\nwant %s", tt.spec, err, want)
		}
	}
}

func mustZone(t testing.TB, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

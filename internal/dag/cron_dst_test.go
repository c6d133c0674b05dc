package dag

import (
	"strings"
	"testing"
	"time"
)

// TestCronDST pins the daylight-saving rules of cronSchedule on both change
// days of 2026 in Paris (29 March, 25 October; both at 01:00 UTC) and New
// York (8 March at 07:00 UTC, 1 November at 06:00 UTC). Each row is what a
// catchup walk of First/Next yields, in UTC; Latest must agree with it.
func TestCronDST(t *testing.T) {
	paris := mustZone(t, "Europe/Paris")
	ny := mustZone(t, "America/New_York")
	tests := []struct {
		name string
		spec string
		loc  *time.Location
		from time.Time
		want string // interval starts in UTC; local times in the comments
	}{
		// Paris, spring forward: 02:00 CET becomes 03:00 CEST.
		{"paris spring, skipped wall time runs after the gap", "30 2 * * *", paris, utc(2026, 3, 27, 0, 0),
			"2026-03-27T01:30Z 2026-03-28T01:30Z 2026-03-29T01:00Z 2026-03-30T00:30Z 2026-03-31T00:30Z"}, // 02:30 CET, 02:30, 03:00 CEST, 02:30 CEST
		{"paris spring, two skipped wall times run once", "0,30 2 * * *", paris, utc(2026, 3, 28, 0, 0),
			"2026-03-28T01:00Z 2026-03-28T01:30Z 2026-03-29T01:00Z 2026-03-30T00:00Z 2026-03-30T00:30Z"},
		{"paris spring, daily is 23 h", "@daily", paris, utc(2026, 3, 27, 0, 0),
			"2026-03-27T23:00Z 2026-03-28T23:00Z 2026-03-29T22:00Z 2026-03-30T22:00Z"},
		{"paris spring, quarter-hours keep spacing", "*/15 * * * *", paris, utc(2026, 3, 29, 0, 30),
			"2026-03-29T00:30Z 2026-03-29T00:45Z 2026-03-29T01:00Z 2026-03-29T01:15Z 2026-03-29T01:30Z"}, // 01:30 CET .. 01:45 CET, 03:00 CEST ..
		{"paris spring, hourly keeps spacing", "@hourly", paris, utc(2026, 3, 28, 23, 30),
			"2026-03-29T00:00Z 2026-03-29T01:00Z 2026-03-29T02:00Z"}, // 01:00 CET, 03:00 CEST, 04:00 CEST
		{"paris spring, every 15m", "every 15m", paris, utc(2026, 3, 29, 0, 30),
			"2026-03-29T00:30Z 2026-03-29T00:45Z 2026-03-29T01:00Z 2026-03-29T01:15Z"},
		// Paris, fall back: 03:00 CEST becomes 02:00 CET.
		{"paris fall, ambiguous wall time runs once, first", "30 2 * * *", paris, utc(2026, 10, 23, 12, 0),
			"2026-10-24T00:30Z 2026-10-25T00:30Z 2026-10-26T01:30Z 2026-10-27T01:30Z"}, // 02:30 CEST, 02:30 CEST, 02:30 CET
		{"paris fall, daily is 25 h", "@daily", paris, utc(2026, 10, 23, 12, 0),
			"2026-10-23T22:00Z 2026-10-24T22:00Z 2026-10-25T23:00Z 2026-10-26T23:00Z"},
		{"paris fall, quarter-hours keep spacing", "*/15 * * * *", paris, utc(2026, 10, 25, 0, 30),
			"2026-10-25T00:30Z 2026-10-25T00:45Z 2026-10-25T01:00Z 2026-10-25T01:15Z"}, // 02:30 CEST, 02:45 CEST, 02:00 CET, 02:15 CET
		{"paris fall, hourly keeps spacing", "0 * * * *", paris, utc(2026, 10, 24, 23, 0),
			"2026-10-24T23:00Z 2026-10-25T00:00Z 2026-10-25T01:00Z 2026-10-25T02:00Z"}, // 01:00 CEST, 02:00 CEST, 02:00 CET, 03:00 CET
		{"paris fall, every 15m", "every 15m", paris, utc(2026, 10, 25, 0, 30),
			"2026-10-25T00:30Z 2026-10-25T00:45Z 2026-10-25T01:00Z 2026-10-25T01:15Z"},
		// New York, spring forward: 02:00 EST becomes 03:00 EDT.
		{"new york spring, skipped wall time runs after the gap", "30 2 * * *", ny, utc(2026, 3, 6, 12, 0),
			"2026-03-07T07:30Z 2026-03-08T07:00Z 2026-03-09T06:30Z"}, // 02:30 EST, 03:00 EDT, 02:30 EDT
		{"new york spring, daily is 23 h", "@daily", ny, utc(2026, 3, 6, 12, 0),
			"2026-03-07T05:00Z 2026-03-08T05:00Z 2026-03-09T04:00Z 2026-03-10T04:00Z"},
		{"new york spring, quarter-hours keep spacing", "*/15 * * * *", ny, utc(2026, 3, 8, 6, 30),
			"2026-03-08T06:30Z 2026-03-08T06:45Z 2026-03-08T07:00Z 2026-03-08T07:15Z"}, // 01:30 EST, 01:45 EST, 03:00 EDT
		// New York, fall back: 02:00 EDT becomes 01:00 EST.
		{"new york fall, ambiguous wall time runs once, first", "30 1 * * *", ny, utc(2026, 10, 30, 12, 0),
			"2026-10-31T05:30Z 2026-11-01T05:30Z 2026-11-02T06:30Z"}, // 01:30 EDT, 01:30 EDT, 01:30 EST
		{"new york fall, minutes of an ambiguous hour run once", "*/30 1 * * *", ny, utc(2026, 11, 1, 0, 0),
			"2026-11-01T05:00Z 2026-11-01T05:30Z 2026-11-02T06:00Z"},
		{"new york fall, daily is 25 h", "@daily", ny, utc(2026, 10, 30, 12, 0),
			"2026-10-31T04:00Z 2026-11-01T04:00Z 2026-11-02T05:00Z"},
		{"new york fall, hourly keeps spacing", "@hourly", ny, utc(2026, 11, 1, 4, 0),
			"2026-11-01T04:00Z 2026-11-01T05:00Z 2026-11-01T06:00Z 2026-11-01T07:00Z"}, // 00:00 EDT, 01:00 EDT, 01:00 EST, 02:00 EST
		{"new york fall, weekday quarter-hours", "*/15 * * * 0", ny, utc(2026, 11, 1, 5, 30),
			"2026-11-01T05:30Z 2026-11-01T05:45Z 2026-11-01T06:00Z 2026-11-01T06:15Z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := mustSchedule(t, tt.spec, tt.loc)
			want := strings.Fields(tt.want)
			got := fires(t, s, tt.from, len(want))
			if formatUTC(got) != tt.want {
				t.Fatalf("catchup walk of %q:\n got %s\nwant %s", tt.spec, formatUTC(got), tt.want)
			}
			// Latest at each fire (an interval ending exactly now counts)
			// and just before it must be the walk's intervals.
			for k := 1; k < len(got); k++ {
				checkLatest(t, s, tt.from, got[k], Interval{got[k-1], got[k]}, true)
				if k >= 2 {
					checkLatest(t, s, tt.from, got[k].Add(-time.Nanosecond), Interval{got[k-2], got[k-1]}, true)
				}
			}
			checkLatest(t, s, tt.from, got[1].Add(-time.Nanosecond), Interval{}, false)
		})
	}
}

func checkLatest(t *testing.T, s Schedule, start, now time.Time, want Interval, wantOK bool) {
	t.Helper()
	got, ok := s.Latest(start, now)
	if ok != wantOK || ok && (!got.Start.Equal(want.Start) || !got.End.Equal(want.End)) {
		t.Errorf("Latest(%v, %v) = %v, %v; want %v, %v", start.UTC(), now.UTC(), got, ok, want, wantOK)
	}
}

// TestCronDSTYear walks a year of DST-observing zones, including a
// half-hour change (Lord Howe) and a skipped calendar day (Apia, 2011):
// fixed-time schedules run once per local day and interval-like ones keep
// their spacing in UTC.
func TestCronDSTYear(t *testing.T) {
	zones := []struct {
		name string
		year int
	}{{"Europe/Paris", 2026}, {"America/New_York", 2026}, {"Australia/Lord_Howe", 2026}, {"Pacific/Apia", 2011}, {"America/Santiago", 2026}}
	for _, z := range zones {
		loc := mustZone(t, z.name)
		from := time.Date(z.year, 1, 1, 0, 0, 0, 0, loc)
		to := from.AddDate(1, 0, 0)
		for _, spec := range []string{"30 2 * * *", "@daily", "0 1 * * *", "*/15 * * * *", "@hourly", "17 0-3 * * *"} {
			s := mustSchedule(t, spec, loc)
			var prev Interval
			days := map[string]int{}
			for iv, ok := s.First(from); ok && iv.Start.Before(to); iv, ok = s.Next(iv) {
				if !iv.Start.Before(iv.End) || !prev.End.IsZero() && !iv.Start.Equal(prev.End) {
					t.Fatalf("%s %q: interval %v after %v", z.name, spec, iv, prev)
				}
				days[iv.Start.In(loc).Format("2006-01-02")]++
				if strings.HasPrefix(spec, "*/15") && iv.End.Sub(iv.Start) != 15*time.Minute {
					t.Errorf("%s %q: interval %v is not 15 minutes", z.name, spec, iv)
				}
				if spec == "@hourly" && iv.End.Sub(iv.Start) != time.Hour && z.name != "Australia/Lord_Howe" {
					t.Errorf("%s %q: interval %v is not an hour", z.name, spec, iv)
				}
				prev = iv
			}
			if spec == "30 2 * * *" || spec == "@daily" || spec == "0 1 * * *" {
				checkOncePerDay(t, z.name, spec, days, z.year)
			}
		}
	}
}

// checkOncePerDay expects one run on each calendar day of year. Apia skipped
// 30 December 2011: its wall times run at the first instant after the gap,
// 00:00 on the 31st, so that day has two runs unless the schedule is 00:00.
func checkOncePerDay(t *testing.T, zone, spec string, days map[string]int, year int) {
	t.Helper()
	for d := time.Date(year, 1, 1, 0, 0, 0, 0, time.UTC); d.Year() == year; d = d.AddDate(0, 0, 1) {
		day := d.Format("2006-01-02")
		want := 1
		if zone == "Pacific/Apia" && day == "2011-12-30" {
			want = 0
		} else if zone == "Pacific/Apia" && day == "2011-12-31" && spec != "@daily" {
			want = 2
		}
		if days[day] != want {
			t.Errorf("%s %q: %d runs on %s, want %d", zone, spec, days[day], day, want)
		}
	}
}

// TestCronZoneRuleLeapYear crosses the last day of leap years a zone's
// table no longer covers (Paris from 2038 on), where Go's ZoneBounds
// reports a segment ending before the time asked about; searches used to
// loop there for ever.
func TestCronZoneRuleLeapYear(t *testing.T) {
	paris := mustZone(t, "Europe/Paris")
	tests := []struct {
		spec string
		from time.Time
		want string
	}{
		{"@daily", utc(2040, 12, 29, 12, 0), "2040-12-29T23:00Z 2040-12-30T23:00Z 2040-12-31T23:00Z 2041-01-01T23:00Z"},
		{"@hourly", utc(2040, 12, 31, 22, 30), "2040-12-31T23:00Z 2041-01-01T00:00Z 2041-01-01T01:00Z"},
		{"0 0 31 2 *", utc(2099, 1, 1, 0, 0), ""},
		{"0 0 29 2 *", utc(2097, 1, 1, 0, 0), "2104-02-28T23:00Z"},
	}
	for _, tt := range tests {
		s := mustSchedule(t, tt.spec, paris)
		want := strings.Fields(tt.want)
		got := fires(t, s, tt.from, len(want))
		if formatUTC(got) != tt.want {
			t.Errorf("%q from %v:\n got %s\nwant %s", tt.spec, tt.from, formatUTC(got), tt.want)
		}
		if len(got) >= 2 {
			checkLatest(t, s, tt.from, got[len(got)-1], Interval{got[len(got)-2], got[len(got)-1]}, true)
		}
	}
}

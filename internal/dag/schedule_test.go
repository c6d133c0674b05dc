package dag

import (
	"strings"
	"testing"
	"time"
)

func utc(y int, m time.Month, d, h, min int) time.Time {
	return time.Date(y, m, d, h, min, 0, 0, time.UTC)
}

func mustSchedule(t *testing.T, spec string, loc *time.Location) Schedule {
	t.Helper()
	s, err := ParseSchedule(spec, loc)
	if err != nil {
		t.Fatalf("ParseSchedule(%q): %v", spec, err)
	}
	return s
}

func TestParseSchedule(t *testing.T) {
	tests := []struct {
		spec     string
		periodic bool
		wantErr  string
	}{
		{"0 6 * * *", true, ""},
		{"*/15 * * * 1-5", true, ""},
		{"@once", true, ""},
		{"@hourly", true, ""},
		{"@daily", true, ""},
		{"@weekly", true, ""},
		{"@monthly", true, ""},
		{"@yearly", true, ""},
		{"every 15m", true, ""},
		{"every 1d", true, ""},
		{"none", false, ""},
		{"", false, ""},
		{"every -5m", false, `bad interval "-5m" in "every" schedule (expected e.g. 15m, 2h, 1d)`},
		{"every soon", false, `bad interval "soon" in "every" schedule (expected e.g. 15m, 2h, 1d)`},
		{"@sometimes", false, `unknown preset "@sometimes" (expected @once, @hourly, @daily, @weekly, @monthly or @yearly)`},
		{"every 1s", true, ""},
		{"every 1ms", false, `interval "1ms" in "every" schedule is shorter than the minimum of 1s`},
		{"every 999ms", false, `interval "999ms" in "every" schedule is shorter than the minimum of 1s`},
		{"TZ=Europe/Paris", false, `bad cron expression "TZ=Europe/Paris": a TZ= prefix is not supported (set the DAG's timezone key instead)`},
		{"CRON_TZ=UTC 0 0 * * *", false, `bad cron expression "CRON_TZ=UTC 0 0 * * *": a TZ= prefix is not supported (set the DAG's timezone key instead)`},
		{"@every 1s", false, `unknown preset "@every 1s" (write "every 1s" for a fixed interval)`},
		{strings.Repeat("1,", 128) + "1 * * * *", false, `schedule is 265 bytes long (at most 256)`},
		{"1,2,3 */2 1-5,10 JAN-MAR,dec mon-fri,7", true, ""},
		{"61 * * * *", false, `bad cron expression "61 * * * *": minute field: "61" is not a number in 0-59`},
	}
	for _, tt := range tests {
		s, err := ParseSchedule(tt.spec, time.UTC)
		if tt.wantErr != "" {
			if err == nil || err.Error() != tt.wantErr {
				t.Errorf("ParseSchedule(%q) err = %v, want %q", tt.spec, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseSchedule(%q): %v", tt.spec, err)
			continue
		}
		if IsPeriodic(s) != tt.periodic {
			t.Errorf("IsPeriodic(%q) = %v", tt.spec, !tt.periodic)
		}
	}
}

func TestScheduleIntervals(t *testing.T) {
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Fatal(err)
	}
	start := utc(2026, 1, 1, 0, 0)
	type iv = Interval
	tests := []struct {
		name      string
		spec      string
		loc       *time.Location
		firstFrom time.Time
		first     iv
		next      iv // after first
		now       time.Time
		latest    iv // Latest(start, now); zero = none
	}{
		{name: "cron daily", spec: "@daily", loc: time.UTC, firstFrom: start,
			first: iv{start, utc(2026, 1, 2, 0, 0)}, next: iv{utc(2026, 1, 2, 0, 0), utc(2026, 1, 3, 0, 0)},
			now: utc(2026, 1, 5, 10, 0), latest: iv{utc(2026, 1, 4, 0, 0), utc(2026, 1, 5, 0, 0)}},
		{name: "cron daily, start mid-day rounds up", spec: "0 0 * * *", loc: time.UTC, firstFrom: utc(2026, 1, 1, 10, 0),
			first: iv{utc(2026, 1, 2, 0, 0), utc(2026, 1, 3, 0, 0)}, next: iv{utc(2026, 1, 3, 0, 0), utc(2026, 1, 4, 0, 0)},
			now: utc(2026, 1, 2, 23, 59)}, // first interval has not ended: nothing yet
		{name: "cron at 06:00 in Paris", spec: "0 6 * * *", loc: paris, firstFrom: start,
			first: iv{utc(2026, 1, 1, 5, 0), utc(2026, 1, 2, 5, 0)}, next: iv{utc(2026, 1, 2, 5, 0), utc(2026, 1, 3, 5, 0)},
			now: utc(2026, 7, 1, 12, 0), latest: iv{utc(2026, 6, 30, 4, 0), utc(2026, 7, 1, 4, 0)}}, // summer time
		{name: "cron monthly, long backlog", spec: "@monthly", loc: time.UTC, firstFrom: start,
			first: iv{start, utc(2026, 2, 1, 0, 0)}, next: iv{utc(2026, 2, 1, 0, 0), utc(2026, 3, 1, 0, 0)},
			now: utc(2029, 3, 15, 0, 0), latest: iv{utc(2029, 2, 1, 0, 0), utc(2029, 3, 1, 0, 0)}},
		{name: "every 15m", spec: "every 15m", loc: time.UTC, firstFrom: utc(2026, 1, 1, 0, 7),
			first: iv{utc(2026, 1, 1, 0, 7), utc(2026, 1, 1, 0, 22)}, next: iv{utc(2026, 1, 1, 0, 22), utc(2026, 1, 1, 0, 37)},
			now: utc(2026, 1, 1, 1, 0), latest: iv{utc(2026, 1, 1, 0, 37), utc(2026, 1, 1, 0, 52)}}, // anchored at start_date
		{name: "once", spec: "@once", loc: time.UTC, firstFrom: start,
			first: iv{start, start}, now: utc(2026, 3, 1, 0, 0), latest: iv{start, start}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := mustSchedule(t, tt.spec, tt.loc)
			first, ok := s.First(tt.firstFrom)
			if !ok || !first.Start.Equal(tt.first.Start) || !first.End.Equal(tt.first.End) {
				t.Errorf("First = %v, %v; want %v", first, ok, tt.first)
			}
			next, ok := s.Next(first)
			if (tt.next == iv{}) {
				if ok {
					t.Errorf("Next = %v, want none", next)
				}
			} else if !ok || !next.Start.Equal(tt.next.Start) || !next.End.Equal(tt.next.End) {
				t.Errorf("Next = %v, %v; want %v", next, ok, tt.next)
			}
			latest, ok := s.Latest(tt.firstFrom, tt.now)
			if (tt.latest == iv{}) {
				if ok {
					t.Errorf("Latest = %v, want none", latest)
				}
			} else if !ok || !latest.Start.Equal(tt.latest.Start) || !latest.End.Equal(tt.latest.End) {
				t.Errorf("Latest = %v, %v; want %v", latest, ok, tt.latest)
			}
		})
	}
}

// TestScheduleLatestCatchup checks what catchup=false relies on: Latest is
// the interval that ended last at or before now, an interval ending exactly
// now counts, and walking Next from First reaches it (catchup=true).
func TestScheduleLatestCatchup(t *testing.T) {
	start := utc(2026, 1, 1, 0, 0)
	for _, spec := range []string{"@hourly", "*/7 * * * *", "every 45m", "0 9 * * 1-5"} {
		s := mustSchedule(t, spec, time.UTC)
		for _, now := range []time.Time{utc(2026, 1, 1, 0, 30), utc(2026, 1, 1, 3, 0), utc(2026, 1, 9, 9, 0), utc(2026, 2, 3, 17, 42)} {
			var want Interval
			found := false
			for iv, ok := s.First(start); ok && !iv.End.After(now); iv, ok = s.Next(iv) {
				want, found = iv, true
			}
			got, ok := s.Latest(start, now)
			if ok != found || got != want && !(got.Start.Equal(want.Start) && got.End.Equal(want.End)) {
				t.Errorf("%s: Latest(start, %v) = %v, %v; walking Next gives %v, %v", spec, now, got, ok, want, found)
			}
		}
	}
	if _, ok := mustSchedule(t, "@once", time.UTC).Latest(start, start.Add(-time.Hour)); ok {
		t.Errorf("@once: Latest before start_date should be none")
	}
}

func TestScheduleNone(t *testing.T) {
	s := mustSchedule(t, "none", time.UTC)
	now := utc(2026, 1, 1, 0, 0)
	if _, ok := s.First(now); ok {
		t.Errorf("none: First gave an interval")
	}
	if _, ok := s.Next(Interval{now, now}); ok {
		t.Errorf("none: Next gave an interval")
	}
	if _, ok := s.Latest(now, now.Add(time.Hour)); ok {
		t.Errorf("none: Latest gave an interval")
	}
}

// Regression tests for sparse cron schedules and sub-second starts.

func TestScheduleLatestSparseCron(t *testing.T) {
	s := mustSchedule(t, "0 0 29 2 *", time.UTC) // leap days: 4-year intervals
	got, ok := s.Latest(utc(2024, 1, 1, 0, 0), utc(2029, 1, 1, 0, 0))
	want := Interval{utc(2024, 2, 29, 0, 0), utc(2028, 2, 29, 0, 0)}
	if !ok || !got.Start.Equal(want.Start) || !got.End.Equal(want.End) {
		t.Fatalf("Latest: got %v, %v; want %v", got, ok, want)
	}
}

func TestScheduleFirstSubSecond(t *testing.T) {
	s := mustSchedule(t, "* * * * *", time.UTC)
	from := utc(2026, 1, 1, 10, 0).Add(500 * time.Millisecond)
	got, _ := s.First(from)
	if got.Start.Before(from) {
		t.Fatalf("First(%v) starts at %v, before its argument", from, got.Start)
	}
}

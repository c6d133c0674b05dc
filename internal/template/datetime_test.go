package template

import (
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // the binary embeds it too (cmd/sirocco)
)

func TestStrftime(t *testing.T) {
	// A Saturday afternoon with microseconds, day 38 of the year.
	ts := time.Date(2026, 2, 7, 15, 4, 5, 123456789, time.UTC)
	tests := []struct{ format, want string }{
		{"%Y-%m-%d", "2026-02-07"},
		{"%H:%M:%S", "15:04:05"},
		{"%y", "26"},
		{"%b %B %h", "Feb February Feb"},
		{"%a %A %w", "Sat Saturday 6"},
		{"%j", "038"},
		{"%I %p", "03 PM"},
		{"%f", "123456"},
		{"%z %Z", "+0000 UTC"},
		{"%e", " 7"},
		{"%F %T", "2026-02-07 15:04:05"},
		{"%D %R", "02/07/26 15:04"},
		{"%c", "Sat Feb  7 15:04:05 2026"},
		{"%U %W", "05 05"},
		{"%s", "1770476645"},
		{"100%% done", "100% done"},
		{"%Q unknown", "%Q unknown"},
		{"trailing %", "trailing %"},
		{"no directives", "no directives"},
		{"", ""},
		{"é%Yé", "é2026é"},
	}
	for _, tt := range tests {
		if got := strftime(ts, tt.format); got != tt.want {
			t.Errorf("strftime(%q) = %q, want %q", tt.format, got, tt.want)
		}
	}
}

func TestStrftimeEdges(t *testing.T) {
	tests := []struct {
		t            time.Time
		format, want string
	}{
		{time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), "%I %p %U %W", "12 AM 00 00"},
		{time.Date(2026, 1, 4, 12, 0, 0, 0, time.UTC), "%I %p %U %W", "12 PM 01 00"},
		{time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC), "%U %W", "01 01"},
		{time.Date(2024, 12, 31, 0, 0, 0, 0, time.UTC), "%j", "366"},
		{time.Date(2026, 6, 1, 9, 0, 0, 0, time.FixedZone("", -(5*3600+30*60))), "%z", "-0530"},
		{time.Date(33, 6, 1, 0, 0, 0, 0, time.UTC), "%Y %y", "0033 33"},
	}
	for _, tt := range tests {
		if got := strftime(tt.t, tt.format); got != tt.want {
			t.Errorf("strftime(%v, %q) = %q, want %q", tt.t, tt.format, got, tt.want)
		}
	}
}

func TestStrptime(t *testing.T) {
	tests := []struct {
		s, format string
		want      time.Time
	}{
		{"2026-01-02", "%Y-%m-%d", time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)},
		{"02/01/26", "%d/%m/%y", time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)},
		{"02/01/69", "%d/%m/%y", time.Date(1969, 1, 2, 0, 0, 0, 0, time.UTC)},
		{"20260102T030405", "%Y%m%dT%H%M%S", time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)},
		{"2026-1-2 3:4:5", "%Y-%m-%d %H:%M:%S", time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)},
		{"2026-01-02T03:04:05.5", "%Y-%m-%dT%H:%M:%S.%f", time.Date(2026, 1, 2, 3, 4, 5, 500000000, time.UTC)},
		{"Jan 2, 2026", "%b %d, %Y", time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)},
		{"january 2 2026", "%B %d %Y", time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)},
		{"Friday 2 Jan 2026", "%A %d %b %Y", time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)},
		{"12:30 AM", "%I:%M %p", time.Date(1900, 1, 1, 0, 30, 0, 0, time.UTC)},
		{"01:30 pm", "%I:%M %p", time.Date(1900, 1, 1, 13, 30, 0, 0, time.UTC)},
		{"2026 032", "%Y %j", time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)},
		{"2026-01-02   x", "%Y-%m-%d x", time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)},
		{"100%", "100%%", time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"2026-01-02 +0000", "%Y-%m-%d %z", time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)},
		{"2026-01-02 Z", "%Y-%m-%d %z", time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)},
		{"2026-01-02 10:00+02:00", "%Y-%m-%d %H:%M%z", time.Date(2026, 1, 2, 8, 0, 0, 0, time.UTC)},
		{"2024-02-29", "%Y-%m-%d", time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC)},
	}
	for _, tt := range tests {
		got, err := strptime(tt.s, tt.format)
		if err != nil {
			t.Errorf("strptime(%q, %q): %v", tt.s, tt.format, err)
			continue
		}
		if !got.Equal(tt.want) {
			t.Errorf("strptime(%q, %q) = %v, want %v", tt.s, tt.format, got, tt.want)
		}
	}
}

func TestStrptimeErrors(t *testing.T) {
	tests := []struct{ s, format, want string }{
		{"2026-01-02", "%d/%m/%Y", "does not match"},
		{"2026-01-02x", "%Y-%m-%d", "unconverted data remains"},
		{"2026-13-02", "%Y-%m-%d", "out of range"},
		{"2026-02-30", "%Y-%m-%d", "out of range"},
		{"2025-02-29", "%Y-%m-%d", "out of range"},
		{"26-01-02", "%Y-%m-%d", "four digits"},
		{"2026-01-02", "%Y-%m-%d%", "lone %"},
		{"2026", "%Q", "not supported"},
		{"Smarch 1", "%b %d", "expects a name"},
		{"23:60", "%H:%M", "out of range"},
		{"10:00:60", "%H:%M:%S", "0..59"},
		{"2026 367", "%Y %j", "out of range"},
		{"2025 366", "%Y %j", "out of range"},
		{"", "%Y", "expects a number"},
	}
	for _, tt := range tests {
		_, err := strptime(tt.s, tt.format)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("strptime(%q, %q) error = %v, want one containing %q", tt.s, tt.format, err, tt.want)
		}
	}
}

func TestMacros(t *testing.T) {
	ctx := NewContext(testInfo())
	tests := []struct{ src, want string }{
		{"{{ macros.ds_add('2026-01-01', 5) }}", "2026-01-06"},
		{"{{ macros.ds_add('2026-01-01', -1) }}", "2025-12-31"},
		{"{{ macros.ds_add('2024-02-28', 1) }}", "2024-02-29"},
		{"{{ macros.ds_add('2026-01-01', 0) }}", "2026-01-01"},
		{"{{ macros.ds_add(ds=ds, days=365) }}", "2027-01-01"},
		{"{{ macros.ds_add(ds, params.n) }}", "2026-01-06"},
		{"{{ macros.ds_add(ds, 2.0) }}", "2026-01-03"},
		{"{{ macros.ds_format('2026-01-06', '%Y-%m-%d', '%d/%m/%Y') }}", "06/01/2026"},
		{"{{ macros.ds_format('20260106', '%Y%m%d', '%Y-%m-%d') }}", "2026-01-06"},
		{"{{ macros.ds_format('2026-01-06', '%Y-%m-%d', '%a %A %b %j %y %%') }}", "Tue Tuesday Jan 006 26 %"},
		{"{{ macros.ds_format('Monday 2006', '%A %Y', 'Monday %Y') }}", "Monday 2006"},
	}
	for _, tt := range tests {
		got, err := Render(tt.src, ctx)
		if err != nil {
			t.Errorf("Render(%q): %v", tt.src, err)
			continue
		}
		if got != tt.want {
			t.Errorf("Render(%q) = %q, want %q", tt.src, got, tt.want)
		}
	}
}

func TestDateTime(t *testing.T) {
	info := testInfo()
	info.LogicalDate = time.Date(2026, 3, 29, 0, 30, 15, 250000000, time.UTC)
	ctx := NewContext(info)
	tests := []struct{ src, want string }{
		{"{{ logical_date }}", "2026-03-29T00:30:15.250000+00:00"},
		{"{{ ts }}", "2026-03-29T00:30:15.250000+00:00"},
		{"{{ ts_nodash }}", "20260329T003015"},
		{"{{ logical_date | string }}", "2026-03-29T00:30:15.250000+00:00"},
		{"{{ logical_date.year }}-{{ logical_date.month }}-{{ logical_date.day }}", "2026-3-29"},
		{"{{ logical_date.hour }}:{{ logical_date.minute }}:{{ logical_date.second }}.{{ logical_date.microsecond }}",
			"0:30:15.250000"},
		{"{{ logical_date.timestamp() }}", "1774744215.25"},
		{"{{ logical_date.weekday() }} {{ logical_date.isoweekday() }}", "6 7"},
		{"{{ logical_date.date() }}", "2026-03-29"},
		{"{{ logical_date.date().strftime('%d.%m') }}", "29.03"},
		{"{{ logical_date.add(weeks=1, minutes=-30) }}", "2026-04-05T00:00:15.250000+00:00"},
		{"{{ logical_date.subtract(years=1, seconds=15).strftime('%F %T') }}", "2025-03-29 00:30:00"},
		{"{{ logical_date == dag_run.logical_date }}", "True"},
		{"{{ logical_date['year'] }}", "2026"},
	}
	for _, tt := range tests {
		got, err := Render(tt.src, ctx)
		if err != nil {
			t.Errorf("Render(%q): %v", tt.src, err)
			continue
		}
		if got != tt.want {
			t.Errorf("Render(%q) = %q, want %q", tt.src, got, tt.want)
		}
	}

	for _, src := range []string{
		"{{ logical_date.add(1) }}",
		"{{ logical_date.add(fortnights=1) }}",
		"{{ logical_date.isoformat('x') }}",
		"{{ logical_date.date().hour }}",
		"{{ logical_date[0] }}",
		"{{ logical_date.in_timezone('No/Such_Zone') }}",
	} {
		if got, err := Render(src, ctx); err == nil {
			t.Errorf("Render(%q) = %q, want an error", src, got)
		}
	}
}

func TestDateTimeInTimezone(t *testing.T) {
	// time/tzdata (imported below) makes the zone available everywhere.
	ctx := NewContext(testInfo())
	tests := []struct{ src, want string }{
		{"{{ logical_date.in_timezone('Europe/Paris') }}", "2026-01-01T01:00:00+01:00"},
		{"{{ logical_date.in_tz('America/New_York').strftime('%Y-%m-%d %H %z %Z') }}", "2025-12-31 19 -0500 EST"},
		{"{{ logical_date.in_timezone('Asia/Kolkata').isoformat() }}", "2026-01-01T05:30:00+05:30"},
	}
	for _, tt := range tests {
		got, err := Render(tt.src, ctx)
		if err != nil || got != tt.want {
			t.Errorf("Render(%q) = %q, %v; want %q", tt.src, got, err, tt.want)
		}
	}
}

func TestNewContextConvertsToUTC(t *testing.T) {
	info := testInfo()
	info.LogicalDate = time.Date(2026, 1, 1, 1, 0, 0, 0, time.FixedZone("CET", 3600))
	got, err := Render("{{ ds }} {{ ts }}", NewContext(info))
	if err != nil {
		t.Fatal(err)
	}
	if want := "2026-01-01 2026-01-01T00:00:00+00:00"; got != want {
		t.Errorf("Render = %q, want %q", got, want)
	}
}

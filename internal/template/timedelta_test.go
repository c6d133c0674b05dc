package template

import (
	"strings"
	"testing"
	"time"
)

// Airflow's macros.timedelta and macros.datetime work with the context's
// datetimes as in Python.
func TestMacrosTimedelta(t *testing.T) {
	t.Parallel()
	ctx := NewContext(testInfo())
	for _, tc := range []struct{ src, want string }{
		{"{{ data_interval_end + macros.timedelta(seconds=3) }}", "2026-01-02T00:00:03+00:00"},
		{"{{ macros.timedelta(seconds=3) + data_interval_end }}", "2026-01-02T00:00:03+00:00"},
		{"{{ logical_date - macros.timedelta(days=1, hours=2, minutes=3, seconds=4) }}", "2025-12-30T21:56:56+00:00"},
		{"{{ (logical_date + macros.timedelta(hours=1.5)).strftime('%H:%M') }}", "01:30"},
		{"{{ macros.timedelta(1) }}", "1 day, 0:00:00"},
		{"{{ macros.timedelta(weeks=1, hours=2) }}", "7 days, 2:00:00"},
		{"{{ macros.timedelta(minutes=-1) }}", "-1 day, 23:59:00"},
		{"{{ macros.timedelta(milliseconds=1) }}", "0:00:00.001000"},
		{"{{ macros.timedelta(days=1) - macros.timedelta(hours=1) }}", "23:00:00"},
		{"{{ (data_interval_end - data_interval_start).total_seconds() }}", "86400.0"},
		{"{{ macros.timedelta(days=2, seconds=5).days }} {{ macros.timedelta(days=2, seconds=5).seconds }}", "2 5"},
		{"{{ 5 - 2 }} {{ 5 - 2.5 }} {{ params.n - 1 }}", "3 2.5 4"},
	} {
		got, err := Render(tc.src, ctx)
		if err != nil {
			t.Errorf("%s: %v", tc.src, err)
			continue
		}
		if got != tc.want {
			t.Errorf("%s = %q, want %q", tc.src, got, tc.want)
		}
	}
}

func TestMacrosDatetimeNow(t *testing.T) {
	t.Parallel()
	ctx := NewContext(testInfo())
	before := time.Now().UTC().Add(-time.Second)
	for _, src := range []string{"{{ macros.datetime.utcnow() }}", "{{ macros.datetime.now() }}"} {
		got, err := Render(src, ctx)
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		at, err := time.Parse(time.RFC3339Nano, got)
		if err != nil {
			t.Fatalf("%s = %q: %v", src, got, err)
		}
		if at.Before(before) || at.After(time.Now().Add(time.Second)) {
			t.Errorf("%s = %s, not now", src, got)
		}
	}
	got, err := Render("{{ (macros.datetime.utcnow() + macros.timedelta(days=1) - macros.datetime.utcnow()).days }}", ctx)
	if err != nil || got != "0" && got != "1" {
		t.Errorf("now arithmetic = %q, %v", got, err)
	}
}

// A call of something that is not a method says what was called and on
// what, not gonja's "'x' is not callable on " with nothing after it.
func TestNotCallableError(t *testing.T) {
	t.Parallel()
	ctx := NewContext(testInfo())
	for _, tc := range []struct {
		src  string
		want []string
	}{
		{"x\n{{ macros.nope(seconds=3) }}", []string{"line 2: <macros> has no method 'nope' to call"}},
		{"{{ dag.dag_id() }}", []string{"no method 'dag_id'"}},
		{"{{ macros.timedelta(secs=3) }}", []string{"macros.timedelta", "secs"}},
		{"{{ macros.timedelta(days='a') }}", []string{"days must be a number"}},
		{"{{ logical_date + 1 }}", []string{"unsupported operand types for +: datetime and 1"}},
		{"{{ macros.timedelta(days=1) - logical_date }}", []string{"unsupported operand types for -: timedelta and datetime"}},
	} {
		_, err := Render(tc.src, ctx)
		if err == nil {
			t.Errorf("%s: no error", tc.src)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q does not contain %q", tc.src, err, w)
			}
		}
		if strings.HasSuffix(err.Error(), " on ") {
			t.Errorf("%s: truncated error %q", tc.src, err)
		}
	}
}

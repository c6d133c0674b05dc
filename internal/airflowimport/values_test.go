package airflowimport

import (
	"encoding/json"
	"testing"
)

func TestDuration(t *testing.T) {
	for _, c := range []struct {
		in   float64
		want string
	}{{0, "0s"}, {5, "5s"}, {90, "90s"}, {300, "5m"}, {3600, "1h"}, {86400, "24h"}, {1.5, "1500ms"}} {
		if got := duration(c.in); got != c.want {
			t.Errorf("duration(%v) = %s, want %s", c.in, got, c.want)
		}
	}
}

func TestDateValue(t *testing.T) {
	for _, c := range []struct {
		iso, tz, date, zone string
	}{
		{"2024-01-01T00:00:00", "", "2024-01-01", ""},
		{"2024-01-01T00:00:00+00:00", "UTC", "2024-01-01", ""},
		{"2024-03-01T00:00:00+01:00", "Europe/Paris", "2024-03-01", "Europe/Paris"},
		{"2024-03-01T06:30:00+01:00", "Europe/Paris", "2024-03-01T06:30:00+01:00", "Europe/Paris"},
		{"2024-03-01", "", "2024-03-01", ""},
	} {
		d, z, err := dateValue(map[string]any{"__kind__": "datetime", "iso": c.iso, "tz": c.tz})
		if err != nil || d != c.date || z != c.zone {
			t.Errorf("dateValue(%s, %s) = %s, %s, %v; want %s, %s", c.iso, c.tz, d, z, err, c.date, c.zone)
		}
	}
}

func TestPlain(t *testing.T) {
	got, err := plain(map[string]any{"x": map[string]any{"__kind__": "xcomarg", "task_id": "a", "key": "n"},
		"d": map[string]any{"__kind__": "timedelta", "seconds": json.Number("120")}})
	if err != nil {
		t.Fatal(err)
	}
	m := got.(map[string]any)
	if m["x"] != "{{ ti.xcom_pull(task_ids='a', key='n') }}" || m["d"] != "2m" {
		t.Errorf("plain = %v", m)
	}
	if _, err := plain([]any{map[string]any{"__kind__": "callable", "name": "f"}}); err == nil {
		t.Error("a function has a YAML form")
	}
}

// TestInstantValue: a trigger_dag logical_date keeps its instant: only a
// UTC (or naive) midnight becomes a bare date, a zone's midnight keeps its
// offset (a bare date would be read in another zone).
func TestInstantValue(t *testing.T) {
	for _, c := range []struct{ iso, want string }{
		{"2024-01-01T00:00:00", "2024-01-01"},
		{"2024-01-01T00:00:00+00:00", "2024-01-01"},
		{"2024-03-01T00:00:00+01:00", "2024-03-01T00:00:00+01:00"},
		{"2025-01-01T06:30:00+00:00", "2025-01-01T06:30:00Z"},
		{"2025-01-01T06:30:00.250000", "2025-01-01T06:30:00.25Z"},
		{"2024-03-01", "2024-03-01"},
	} {
		got, err := instantValue(map[string]any{"__kind__": "datetime", "iso": c.iso})
		if err != nil || got != c.want {
			t.Errorf("instantValue(%s) = %s, %v; want %s", c.iso, got, err, c.want)
		}
	}
	if _, err := instantValue(map[string]any{"__kind__": "datetime", "iso": "yesterday"}); err == nil {
		t.Error("instantValue(yesterday) gave no error")
	}
}

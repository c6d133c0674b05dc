package sensor

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/sirocco-dev/sirocco/internal/dag"
	"github.com/sirocco-dev/sirocco/internal/operator"
)

// TimeDeltaSpec declares time_delta_sensor (Airflow's TimeDeltaSensor).
var TimeDeltaSpec = spec("time_delta_sensor",
	"Wait until delta after the run's data_interval_end.",
	dag.FieldSpec{Name: "delta", Kind: dag.FieldDuration, Required: true, Check: nonNegative("delta"),
		Description: "how long after data_interval_end the sensor succeeds"})

// DateTimeSpec declares date_time_sensor (Airflow's DateTimeSensor).
var DateTimeSpec = spec("date_time_sensor",
	"Wait until target_time (an RFC 3339 date-time, or a date and time in UTC).",
	dag.FieldSpec{Name: "target_time", Kind: dag.FieldString, Required: true, Templated: true,
		Description: `when the sensor succeeds: "2026-01-02T15:04:05Z", "2026-01-02 15:04:05" (UTC) or "2026-01-02"; e.g. "{{ data_interval_end }}"`})

// timeDeltaPoke holds once now is delta past data_interval_end.
func timeDeltaPoke(now Clock) func(dag.OperatorSpec) PokeFunc {
	return func(sp dag.OperatorSpec) PokeFunc {
		return func(_ context.Context, t *operator.Task) (bool, error) {
			delta := operator.FieldsOf(sp, t.Args).Duration("delta")
			if delta < 0 {
				return false, fmt.Errorf("field delta: %s is negative", delta)
			}
			return reached(t, t.DataIntervalEnd.Add(delta), now), nil
		}
	}
}

// dateTimePoke holds once now is target_time.
func dateTimePoke(now Clock) func(dag.OperatorSpec) PokeFunc {
	return func(sp dag.OperatorSpec) PokeFunc {
		return func(_ context.Context, t *operator.Task) (bool, error) {
			target, err := ParseTime(operator.FieldsOf(sp, t.Args).String("target_time"))
			if err != nil {
				return false, fmt.Errorf("field target_time: %w", err)
			}
			return reached(t, target, now), nil
		}
	}
}

// reached reports whether now is at or past target, logging the target.
func reached(t *operator.Task, target time.Time, now Clock) bool {
	if now == nil {
		now = time.Now
	}
	fmt.Fprintf(t.Log, "sensor: waiting for %s\n", target.UTC().Format(time.RFC3339))
	return !now().Before(target)
}

// timeLayouts are the forms target_time may take; those without a zone
// are UTC.
var timeLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05", "2006-01-02"}

// ParseTime reads a target time.
func ParseTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, errors.New("empty")
	}
	for _, l := range timeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a date-time (want RFC 3339, \"2006-01-02 15:04:05\" or \"2006-01-02\")", clip(s))
}

// clip shortens text quoted in an error.
func clip(s string) string {
	const max = 100
	if len(s) <= max {
		return s
	}
	return strings.ToValidUTF8(s[:max], "") + "…"
}

package dag

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// MaxScheduleLen bounds a schedule string so parsing stays cheap whatever a
// DAG file holds; the longest sensible cron list is far shorter.
const MaxScheduleLen = 256

// MinEvery is the shortest "every" interval: Airflow's finest useful grain
// is seconds, and shorter intervals would flood the store with runs.
const MinEvery = time.Second

// Interval is a run's data interval, [Start, End). Airflow's logical date is
// the interval's start, and a scheduled run is created once End has passed.
type Interval struct {
	Start, End time.Time
}

// Schedule yields a DAG's data intervals. Implementations are pure so the
// scheduler can ask them anything about any time.
type Schedule interface {
	// First returns the first interval starting at or after t.
	First(t time.Time) (Interval, bool)
	// Next returns the interval that follows prev.
	Next(prev Interval) (Interval, bool)
	// Latest returns the last interval that has ended at or before now and
	// starts at or after start; catchup=false uses it to skip the backlog.
	Latest(start, now time.Time) (Interval, bool)
}

// ParseSchedule understands 5-field cron, Airflow's presets, "every <duration>"
// and "none"/"" (manual only). The cron fields are read in loc; see
// cronSchedule for what happens across daylight-saving changes.
func ParseSchedule(spec string, loc *time.Location) (Schedule, error) {
	if len(spec) > MaxScheduleLen {
		return nil, fmt.Errorf("schedule is %d bytes long (at most %d)", len(spec), MaxScheduleLen)
	}
	s := strings.TrimSpace(spec)
	switch s {
	case "", "none", "None", "null":
		return noSchedule{}, nil
	case "@once":
		return onceSchedule{}, nil
	}
	if rest, ok := strings.CutPrefix(s, "every "); ok {
		d, err := parseEvery(strings.TrimSpace(rest))
		if err != nil {
			return nil, err
		}
		return everySchedule{d: d}, nil
	}
	expr, err := cronOf(s)
	if err != nil {
		return nil, err
	}
	c, err := parseCron(expr)
	if err != nil {
		return nil, fmt.Errorf("bad cron expression %q: %w", spec, err)
	}
	if loc == nil {
		loc = time.UTC
	}
	return newCronSchedule(c, loc), nil
}

// cronPresets are Airflow's presets other than @once.
var cronPresets = map[string]string{
	"@hourly": "0 * * * *", "@daily": "0 0 * * *", "@midnight": "0 0 * * *",
	"@weekly": "0 0 * * 0", "@monthly": "0 0 1 * *", "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *",
}

// cronOf expands a preset and rejects what looks like another cron dialect.
func cronOf(s string) (string, error) {
	if expr, ok := cronPresets[s]; ok {
		return expr, nil
	}
	if strings.HasPrefix(s, "@every") {
		return "", fmt.Errorf("unknown preset %q (write \"every %s\" for a fixed interval)", s, strings.TrimSpace(s[len("@every"):]))
	}
	if strings.HasPrefix(s, "@") {
		return "", fmt.Errorf("unknown preset %q (expected @once, @hourly, @daily, @weekly, @monthly or @yearly)", s)
	}
	if strings.HasPrefix(s, "TZ=") || strings.HasPrefix(s, "CRON_TZ=") {
		return "", fmt.Errorf("bad cron expression %q: a TZ= prefix is not supported (set the DAG's timezone key instead)", s)
	}
	return s, nil
}

// parseEvery accepts Go durations plus a "d" suffix for days ("every 1d").
func parseEvery(s string) (time.Duration, error) {
	var d time.Duration
	var err error
	if n, ok := strings.CutSuffix(s, "d"); ok {
		var days int
		days, err = strconv.Atoi(n)
		if err == nil && (days <= 0 || days > 100000) {
			err = fmt.Errorf("out of range")
		}
		d = time.Duration(days) * 24 * time.Hour
	} else {
		d, err = time.ParseDuration(s)
	}
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("bad interval %q in \"every\" schedule (expected e.g. 15m, 2h, 1d)", s)
	}
	if d < MinEvery {
		return 0, fmt.Errorf("interval %q in \"every\" schedule is shorter than the minimum of %v", s, MinEvery)
	}
	return d, nil
}

// IsPeriodic reports whether the scheduler creates runs for s on its own.
func IsPeriodic(s Schedule) bool {
	_, none := s.(noSchedule)
	return !none
}

type noSchedule struct{}

func (noSchedule) First(time.Time) (Interval, bool)             { return Interval{}, false }
func (noSchedule) Next(Interval) (Interval, bool)               { return Interval{}, false }
func (noSchedule) Latest(time.Time, time.Time) (Interval, bool) { return Interval{}, false }

// onceSchedule makes one run whose interval is [start_date, start_date].
type onceSchedule struct{}

func (onceSchedule) First(t time.Time) (Interval, bool) { return Interval{t, t}, true }
func (onceSchedule) Next(Interval) (Interval, bool)     { return Interval{}, false }
func (onceSchedule) Latest(start, now time.Time) (Interval, bool) {
	if start.After(now) {
		return Interval{}, false
	}
	return Interval{start, start}, true
}

// everySchedule is Airflow's delta timetable: intervals of d anchored at start_date.
type everySchedule struct{ d time.Duration }

func (e everySchedule) First(t time.Time) (Interval, bool) { return Interval{t, t.Add(e.d)}, true }
func (e everySchedule) Next(p Interval) (Interval, bool) {
	return Interval{p.End, p.End.Add(e.d)}, true
}
func (e everySchedule) Latest(start, now time.Time) (Interval, bool) {
	if now.Before(start.Add(e.d)) {
		return Interval{}, false
	}
	n := now.Sub(start) / e.d
	s := start.Add((n - 1) * e.d)
	return Interval{s, s.Add(e.d)}, true
}

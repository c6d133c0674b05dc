package dag

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

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
// and "none"/"" (manual only). The cron fields are read in loc.
func ParseSchedule(spec string, loc *time.Location) (Schedule, error) {
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
	presets := map[string]string{
		"@hourly": "0 * * * *", "@daily": "0 0 * * *", "@midnight": "0 0 * * *",
		"@weekly": "0 0 * * 0", "@monthly": "0 0 1 * *", "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *",
	}
	if expr, ok := presets[s]; ok {
		s = expr
	} else if strings.HasPrefix(s, "@") {
		return nil, fmt.Errorf("unknown preset %q (expected @once, @hourly, @daily, @weekly, @monthly or @yearly)", s)
	}
	sched, err := cron.ParseStandard(s)
	if err != nil {
		return nil, fmt.Errorf("bad cron expression %q: %w", spec, err)
	}
	if loc == nil {
		loc = time.UTC
	}
	return cronSchedule{s: sched, loc: loc}, nil
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

type cronSchedule struct {
	s   cron.Schedule
	loc *time.Location
}

func (c cronSchedule) First(t time.Time) (Interval, bool) {
	t = t.In(c.loc)
	// cron.Next is strictly after and works in whole seconds; allow t itself.
	start := c.s.Next(t.Truncate(time.Second).Add(-time.Second))
	if start.IsZero() {
		return Interval{}, false // never fires
	}
	if start.Before(t) {
		start = c.s.Next(start)
	}
	return Interval{start, c.s.Next(start)}, true
}

func (c cronSchedule) Next(p Interval) (Interval, bool) {
	return Interval{p.End, c.s.Next(p.End.In(c.loc))}, true
}

func (c cronSchedule) Latest(start, now time.Time) (Interval, bool) {
	first, ok := c.First(start)
	if !ok || first.Start.IsZero() || first.End.IsZero() {
		return Interval{}, false
	}
	if first.End.After(now) {
		return Interval{}, false
	}
	// cron has no Prev: find a recent point from which at least one whole
	// interval has ended, growing the look-back window, then step forward.
	var iv Interval
	for _, back := range []time.Duration{2 * time.Hour, 3 * 24 * time.Hour, 63 * 24 * time.Hour, 800 * 24 * time.Hour} {
		probe := now.Add(-back)
		if probe.Before(first.Start) {
			probe = first.Start
		}
		iv, _ = c.First(probe)
		if !iv.End.After(now) || probe.Equal(first.Start) {
			break
		}
	}
	if iv.End.After(now) {
		iv = first // sparse schedule: the last ended interval is older than the look-back
	}
	var last Interval
	found := false
	for !iv.End.After(now) {
		last, found = iv, true
		iv, _ = c.Next(iv)
	}
	return last, found
}

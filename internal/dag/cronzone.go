package dag

import "time"

// cronHorizonYears bounds every search for a cron fire time. The longest gap
// between two fires of a satisfiable expression is 8 years (29 February
// across a skipped leap year such as 2100), so 10 years never misses a fire
// yet lets an expression that never matches ("0 0 30 2 *") give up quickly.
const cronHorizonYears = 10

// cronSchedule evaluates a cron expression in a time zone with Airflow's
// daylight-saving rules (airflow/timetables/_cron.py), stated here:
//
//   - A schedule that fires in every hour of the day (minute-level or hourly,
//     "*/15 * * * *", "@hourly") keeps absolute spacing: it fires at each
//     instant whose local clock reading matches, so the repeated hour of a
//     fall-back change fires twice and the skipped hour of a spring-forward
//     change is simply absent; in UTC nothing is missing or duplicated.
//   - Any other schedule ("30 2 * * *", "@daily", "0 9,17 * * 1-5") fires once
//     per matching local wall time: an ambiguous wall time fires at its first
//     occurrence, and a wall time skipped by a spring-forward change fires at
//     the first instant after the gap (02:30 in Paris → 03:00 CEST). Several
//     skipped wall times therefore fire once, at the end of the gap.
type cronSchedule struct {
	expr *cronExpr
	loc  *time.Location
	// elapsed selects the first rule (the hour field allows every hour).
	elapsed bool
}

func newCronSchedule(e *cronExpr, loc *time.Location) cronSchedule {
	return cronSchedule{expr: e, loc: loc, elapsed: e.everyHour()}
}

func (c cronSchedule) First(t time.Time) (Interval, bool) {
	start, ok := c.atOrAfter(t)
	if !ok {
		return Interval{}, false
	}
	end, ok := c.atOrAfter(start.Add(time.Nanosecond))
	return Interval{start, end}, ok
}

func (c cronSchedule) Next(p Interval) (Interval, bool) {
	end, ok := c.atOrAfter(p.End.Add(time.Nanosecond))
	return Interval{p.End, end}, ok
}

func (c cronSchedule) Latest(start, now time.Time) (Interval, bool) {
	first, ok := c.First(start)
	if !ok || first.End.After(now) {
		return Interval{}, false
	}
	// first.End <= now, so the last fire at or before now, and the fire
	// before it, are both at or after first.Start.
	end, ok := c.atOrBefore(now)
	if !ok {
		return Interval{}, false
	}
	begin, ok := c.atOrBefore(end.Add(-time.Nanosecond))
	return Interval{begin, end}, ok
}

// zoneAt describes the zone segment holding u: it starts at start (zero at
// the beginning of time) and ends before end (zero if it never ends); off is
// its UTC offset and prev the offset of the segment before.
type zoneAt struct {
	start, end time.Time
	off, prev  time.Duration
}

func (c cronSchedule) zone(u time.Time) zoneAt {
	z := zoneAt{}
	z.start, z.end = u.ZoneBounds()
	if !z.end.IsZero() && !z.end.After(u) {
		// Past its table a zone follows a TZ rule, and Go's ZoneBounds then
		// ends a leap year's last segment a day early (time/zoneinfo.go,
		// tzset: "ystart + 365*secondsPerDay"). The segment goes on at
		// least to the next UTC new year, where the rule starts afresh.
		z.end = time.Date(u.UTC().Year()+1, 1, 1, 0, 0, 0, 0, time.UTC).In(c.loc)
		if !z.end.After(u) {
			z.end = u.Add(time.Minute) // never stand still
		}
	}
	if z.start.After(u) {
		z.start = u
	}
	_, off := u.Zone()
	z.off = time.Duration(off) * time.Second
	z.prev = z.off
	if !z.start.IsZero() {
		_, prev := z.start.Add(-time.Nanosecond).Zone()
		z.prev = time.Duration(prev) * time.Second
	}
	return z
}

// wall is the local clock reading of u at offset off, as a naive UTC time.
func wall(u time.Time, off time.Duration) time.Time { return u.Add(off).UTC() }

// gapFires reports whether a wall time skipped at the start of z (a
// spring-forward change) matches; such wall times fire at z.start.
func (c cronSchedule) gapFires(z zoneAt) bool {
	if c.elapsed || z.start.IsZero() || z.prev >= z.off {
		return false
	}
	_, ok := c.expr.nextWall(wall(z.start, z.prev), wall(z.start, z.off).Add(-time.Nanosecond))
	return ok
}

// firstOwn is where z's own fires may begin: after a fall-back change the
// first (prev-off) of the segment repeats wall times that already fired.
func (c cronSchedule) firstOwn(z zoneAt) time.Time {
	if c.elapsed || z.start.IsZero() || z.prev <= z.off {
		return z.start
	}
	return z.start.Add(z.prev - z.off)
}

// atOrAfter returns the first fire at or after t, walking zone segments
// forward for at most cronHorizonYears.
func (c cronSchedule) atOrAfter(t time.Time) (time.Time, bool) {
	limit := t.AddDate(cronHorizonYears, 0, 0)
	for u := t.In(c.loc); !u.After(limit); {
		z := c.zone(u)
		if u.Equal(z.start) && c.gapFires(z) {
			return u, true
		}
		lower := u
		if own := c.firstOwn(z); lower.Before(own) {
			lower = own
		}
		upper := limit
		if !z.end.IsZero() && z.end.Before(limit) {
			upper = z.end.Add(-time.Nanosecond)
		}
		if !lower.After(upper) {
			if w, ok := c.expr.nextWall(wall(lower, z.off), wall(upper, z.off)); ok {
				return w.Add(-z.off).In(c.loc), true
			}
		}
		if z.end.IsZero() {
			break
		}
		u = z.end
	}
	return time.Time{}, false
}

// atOrBefore returns the last fire at or before t, walking zone segments
// backward for at most cronHorizonYears.
func (c cronSchedule) atOrBefore(t time.Time) (time.Time, bool) {
	limit := t.AddDate(-cronHorizonYears, 0, 0)
	for u := t.In(c.loc); !u.Before(limit); {
		z := c.zone(u)
		lower := c.firstOwn(z)
		if lower.IsZero() || lower.Before(limit) {
			lower = limit
		}
		if !u.Before(lower) {
			if w, ok := c.expr.prevWall(wall(u, z.off), wall(lower, z.off)); ok {
				return w.Add(-z.off).In(c.loc), true
			}
		}
		if z.start.IsZero() || z.start.Before(limit) {
			break
		}
		if c.gapFires(z) {
			return z.start, true
		}
		u = z.start.Add(-time.Nanosecond)
	}
	return time.Time{}, false
}

package dag

import (
	"fmt"
	"math/bits"
	"strconv"
	"strings"
	"time"
)

// cronExpr is a parsed 5-field cron expression, one bit per allowed value.
// It knows nothing of time zones: it matches naive wall-clock times, held in
// a time.Time in UTC whose fields are the local clock's (see cronzone.go).
type cronExpr struct {
	minute uint64 // bits 0-59
	hour   uint64 // bits 0-23
	dom    uint64 // bits 1-31
	month  uint64 // bits 1-12
	dow    uint64 // bits 0-6, Sunday = 0 (7 is folded into 0)
}

// cronField describes one of the five fields for the parser.
type cronField struct {
	name     string
	min, max int
	starMax  int      // the top of "*" and "N/step": 6 for weekdays, where 7 is only an alias
	names    []string // names[i] spells the value min+i (months, weekdays)
	anyOK    bool     // "?" is accepted as "*" (day fields, as Quartz and robfig/cron did)
}

var (
	monthNames = []string{"JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"}
	dayNames   = []string{"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"}
	cronFields = [5]cronField{
		{name: "minute", min: 0, max: 59, starMax: 59},
		{name: "hour", min: 0, max: 23, starMax: 23},
		{name: "day-of-month", min: 1, max: 31, starMax: 31, anyOK: true},
		{name: "month", min: 1, max: 12, starMax: 12, names: monthNames},
		{name: "day-of-week", min: 0, max: 7, starMax: 6, names: dayNames, anyOK: true},
	}
)

const (
	allHours = 1<<24 - 1
	allDoms  = 1<<32 - 2 // bits 1-31
	allDows  = 1<<7 - 1
)

// parseCron reads "minute hour day-of-month month day-of-week". Each field is
// a comma list of *, N, N-M, names (JAN-DEC, SUN-SAT), each with an optional
// /step. Parsing is one linear pass over a string the caller has bounded.
func parseCron(s string) (*cronExpr, error) {
	fields := strings.Fields(s)
	if len(fields) != 5 {
		return nil, fmt.Errorf("expected exactly 5 fields, found %d: %v", len(fields), fields)
	}
	var sets [5]uint64
	for i, text := range fields {
		set, err := parseCronField(text, cronFields[i])
		if err != nil {
			return nil, fmt.Errorf("%s field: %w", cronFields[i].name, err)
		}
		sets[i] = set
	}
	e := &cronExpr{minute: sets[0], hour: sets[1], dom: sets[2], month: sets[3], dow: sets[4]}
	if e.dow&(1<<7) != 0 {
		e.dow = e.dow&allDows | 1 // 7 is Sunday
	}
	return e, nil
}

// parseCronField returns the set of values a field allows.
func parseCronField(text string, f cronField) (uint64, error) {
	var set uint64
	for item := range strings.SplitSeq(text, ",") {
		b, err := parseCronItem(item, f)
		if err != nil {
			return 0, err
		}
		set |= b
	}
	return set, nil
}

// parseCronItem reads one list item: a value, a range or a star, optionally
// with a step ("N/step" means N up to the field's maximum, as in croniter).
func parseCronItem(item string, f cronField) (uint64, error) {
	rng, stepText, hasStep := strings.Cut(item, "/")
	lo, hi := f.min, f.starMax
	if rng != "*" && (rng != "?" || !f.anyOK) {
		first, last, isRange := strings.Cut(rng, "-")
		var err error
		if lo, err = f.value(first); err != nil {
			return 0, err
		}
		switch {
		case isRange:
			if hi, err = f.value(last); err != nil {
				return 0, err
			}
			if hi < lo {
				return 0, fmt.Errorf("range %s goes backwards", rng)
			}
		case !hasStep:
			hi = lo
		}
	}
	step := 1
	if hasStep {
		n, err := strconv.Atoi(stepText)
		if err != nil || !isDigits(stepText) || n < 1 || n > f.starMax-f.min+1 {
			return 0, fmt.Errorf("step %q is not a number in 1-%d", short(stepText), f.starMax-f.min+1)
		}
		step = n
	}
	var set uint64
	for v := lo; v <= hi; v += step {
		set |= 1 << v
	}
	return set, nil
}

// value reads a number in the field's range or one of its names.
func (f cronField) value(s string) (int, error) {
	for i, name := range f.names {
		if strings.EqualFold(s, name) {
			return f.min + i, nil
		}
	}
	expected := fmt.Sprintf("a number in %d-%d", f.min, f.max)
	if len(f.names) > 0 {
		expected += fmt.Sprintf(" or a name %s-%s", f.names[0], f.names[len(f.names)-1])
	}
	if s == "" {
		return 0, fmt.Errorf("missing value (expected %s)", expected)
	}
	n, err := strconv.Atoi(s)
	if err != nil || !isDigits(s) || n < f.min || n > f.max {
		return 0, fmt.Errorf("%q is not %s", short(s), expected)
	}
	return n, nil
}

// isDigits rejects the signs strconv.Atoi accepts.
func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// short keeps error messages readable when the input is a huge number.
func short(s string) string {
	if len(s) > 20 {
		return s[:20] + "..."
	}
	return s
}

// everyHour reports whether the expression fires in every hour of the day;
// such schedules keep absolute spacing across daylight-saving changes.
func (e *cronExpr) everyHour() bool { return e.hour == allHours }

// dayMatches applies the standard rule: when both day fields are restricted a
// day matches either; when one allows every value, the other decides.
func (e *cronExpr) dayMatches(day time.Time) bool {
	domOK := e.dom&(1<<day.Day()) != 0
	dowOK := e.dow&(1<<day.Weekday()) != 0
	if e.dom == allDoms || e.dow == allDows {
		return domOK && dowOK
	}
	return domOK || dowOK
}

// nextWall returns the first matching wall time at or after from (rounded up
// to a whole minute) and not after until. It steps over months and days, so
// its work is bounded by the span it searches.
func (e *cronExpr) nextWall(from, until time.Time) (time.Time, bool) {
	if t := from.Truncate(time.Minute); !t.Equal(from) {
		from = t.Add(time.Minute)
	}
	day := time.Date(from.Year(), from.Month(), from.Day(), 0, 0, 0, 0, time.UTC)
	h, m := from.Hour(), from.Minute()
	for !day.After(until) {
		if e.month&(1<<day.Month()) == 0 {
			day = time.Date(day.Year(), day.Month()+1, 1, 0, 0, 0, 0, time.UTC)
			h, m = 0, 0
			continue
		}
		if e.dayMatches(day) {
			if hh, mm, ok := e.nextTimeOfDay(h, m); ok {
				w := day.Add(time.Duration(hh)*time.Hour + time.Duration(mm)*time.Minute)
				return w, !w.After(until)
			}
		}
		day = day.AddDate(0, 0, 1)
		h, m = 0, 0
	}
	return time.Time{}, false
}

// prevWall returns the last matching wall time at or before from (rounded
// down to a whole minute) and not before since.
func (e *cronExpr) prevWall(from, since time.Time) (time.Time, bool) {
	from = from.Truncate(time.Minute)
	day := time.Date(from.Year(), from.Month(), from.Day(), 0, 0, 0, 0, time.UTC)
	sinceDay := time.Date(since.Year(), since.Month(), since.Day(), 0, 0, 0, 0, time.UTC)
	h, m := from.Hour(), from.Minute()
	for !day.Before(sinceDay) {
		if e.month&(1<<day.Month()) == 0 {
			day = time.Date(day.Year(), day.Month(), 0, 0, 0, 0, 0, time.UTC) // last day of the month before
			h, m = 23, 59
			continue
		}
		if e.dayMatches(day) {
			if hh, mm, ok := e.prevTimeOfDay(h, m); ok {
				w := day.Add(time.Duration(hh)*time.Hour + time.Duration(mm)*time.Minute)
				return w, !w.Before(since)
			}
		}
		day = day.AddDate(0, 0, -1)
		h, m = 23, 59
	}
	return time.Time{}, false
}

// nextTimeOfDay returns the first matching hour:minute at or after h:m.
func (e *cronExpr) nextTimeOfDay(h, m int) (int, int, bool) {
	for ; h < 24; h, m = h+1, 0 {
		if e.hour&(1<<h) == 0 {
			continue
		}
		if mm := bits.TrailingZeros64(e.minute >> m << m); mm < 60 {
			return h, mm, true
		}
	}
	return 0, 0, false
}

// prevTimeOfDay returns the last matching hour:minute at or before h:m.
func (e *cronExpr) prevTimeOfDay(h, m int) (int, int, bool) {
	for ; h >= 0; h, m = h-1, 59 {
		if e.hour&(1<<h) == 0 {
			continue
		}
		if low := e.minute & (2<<m - 1); low != 0 {
			return h, 63 - bits.LeadingZeros64(low), true
		}
	}
	return 0, 0, false
}

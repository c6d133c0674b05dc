package template

import (
	"fmt"
	"math"
	"time"

	"github.com/nikolalohinski/gonja/v2/exec"
)

// timeDelta is macros.timedelta(...): Python's datetime.timedelta, so that
// Airflow templates such as {{ data_interval_end + macros.timedelta(hours=1) }}
// render. It adds to and subtracts from the datetimes of the context (see
// opAdd and opSub) and renders as str(timedelta) does: "1 day, 2:00:00".
type timeDelta struct {
	d time.Duration
}

// timedeltaUnits are timedelta's arguments in Python's positional order.
var timedeltaUnits = []struct {
	name string
	unit time.Duration
}{
	{"days", 24 * time.Hour},
	{"seconds", time.Second},
	{"microseconds", time.Microsecond},
	{"milliseconds", time.Millisecond},
	{"minutes", time.Minute},
	{"hours", time.Hour},
	{"weeks", 7 * 24 * time.Hour},
}

// maxTimedelta bounds a timedelta to about 290 years, what a time.Duration
// holds; Python allows more, which no DAG needs.
const maxTimedelta = float64(math.MaxInt64)

// macroTimedelta is macros.timedelta(days=0, seconds=0, microseconds=0,
// milliseconds=0, minutes=0, hours=0, weeks=0); arguments may be floats.
func macroTimedelta(va *exec.VarArgs) (any, error) {
	const fn = "macros.timedelta"
	names := make([]string, len(timedeltaUnits))
	for i, u := range timedeltaUnits {
		names[i] = u.name
	}
	args, err := bindArgs(fn, va, names...)
	if err != nil {
		return nil, err
	}
	total := 0.0
	for _, u := range timedeltaUnits {
		v, ok := args[u.name]
		if !ok {
			continue
		}
		if !v.IsNumber() {
			return nil, fmt.Errorf("%s: %s must be a number, not %s", fn, u.name, describe(v))
		}
		total += v.Float() * float64(u.unit)
	}
	if math.IsNaN(total) || math.Abs(total) >= maxTimedelta {
		return nil, fmt.Errorf("%s: the duration is out of range", fn)
	}
	return timeDelta{d: time.Duration(math.Round(total/1e3) * 1e3)}, nil
}

// String renders as Python's str(timedelta): "[-]D day[s], H:MM:SS[.ffffff]",
// where only the days may be negative.
func (td timeDelta) String() string {
	us := td.d.Microseconds()
	days := us / 86_400_000_000
	rest := us % 86_400_000_000
	if rest < 0 {
		days--
		rest += 86_400_000_000
	}
	s := fmt.Sprintf("%d:%02d:%02d", rest/3_600_000_000, rest/60_000_000%60, rest/1_000_000%60)
	if f := rest % 1_000_000; f != 0 {
		s += fmt.Sprintf(".%06d", f)
	}
	switch days {
	case 0:
		return s
	case 1, -1:
		return fmt.Sprintf("%d day, %s", days, s)
	}
	return fmt.Sprintf("%d days, %s", days, s)
}

// GetAttribute serves .days, .seconds, .microseconds (Python's normalised
// fields) and .total_seconds().
func (td timeDelta) GetAttribute(name string) (*exec.Value, bool) {
	us := td.d.Microseconds()
	days := us / 86_400_000_000
	if us%86_400_000_000 < 0 {
		days--
	}
	rest := us - days*86_400_000_000
	switch name {
	case "days":
		return exec.AsValue(int(days)), true
	case "seconds":
		return exec.AsValue(int(rest / 1_000_000)), true
	case "microseconds":
		return exec.AsValue(int(rest % 1_000_000)), true
	case "total_seconds":
		return exec.AsValue(noArgs(name, func() any { return td.d.Seconds() })), true
	}
	return exec.AsValue(nil), false
}

// GetItem finds nothing; see dateTime.GetItem.
func (td timeDelta) GetItem(any) (*exec.Value, bool) { return exec.AsValue(nil), false }

// macroDatetime is macros.datetime: the datetime class, for its
// constructors utcnow() and now(), both in UTC as Airflow's are.
func macroDatetime(now func() time.Time) *object {
	at := noArgs("now", func() any { return newDateTime(now()) })
	return &object{
		repr: "<class 'datetime.datetime'>",
		attrs: map[string]any{
			"utcnow": noArgs("utcnow", func() any { return newDateTime(now()) }),
			"now":    at,
		},
	}
}

// dateArith is the date and duration arithmetic of a + b and a - b (sign
// -1): datetime ± timedelta, timedelta + datetime, timedelta ± timedelta
// and datetime - datetime. ok is false when neither operand is a date or a
// duration, so the caller's number arithmetic applies.
func dateArith(l, r *exec.Value, sign int) (any, bool, error) {
	lt, lIsT := l.Interface().(dateTime)
	rt, rIsT := r.Interface().(dateTime)
	ld, lIsD := l.Interface().(timeDelta)
	rd, rIsD := r.Interface().(timeDelta)
	switch {
	case lIsT && rIsD:
		return dateTime{t: lt.t.Add(time.Duration(sign) * rd.d), dateOnly: lt.dateOnly}, true, nil
	case lIsD && rIsT && sign > 0:
		return dateTime{t: rt.t.Add(ld.d), dateOnly: rt.dateOnly}, true, nil
	case lIsD && rIsD:
		return timeDelta{d: ld.d + time.Duration(sign)*rd.d}, true, nil
	case lIsT && rIsT && sign < 0:
		return timeDelta{d: lt.t.Sub(rt.t)}, true, nil
	case lIsT || rIsT || lIsD || rIsD:
		op := "+"
		if sign < 0 {
			op = "-"
		}
		return nil, true, fmt.Errorf("unsupported operand types for %s: %s and %s", op, typeName(l), typeName(r))
	}
	return nil, false, nil
}

// typeName is Python's name for v's type, for operator errors.
func typeName(v *exec.Value) string {
	switch v.Interface().(type) {
	case dateTime:
		return "datetime"
	case timeDelta:
		return "timedelta"
	}
	return describe(v)
}

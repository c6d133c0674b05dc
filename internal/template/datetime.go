package template

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nikolalohinski/gonja/v2/exec"
)

// dateTime is how logical_date and the data interval bounds appear in
// templates: a value that renders like a Python datetime (isoformat) and
// answers the datetime and pendulum methods DAGs commonly call. A plain
// time.Time would render in Go's format and expose Go's methods instead.
type dateTime struct {
	t time.Time
	// dateOnly marks the result of .date(), which renders as YYYY-MM-DD.
	dateOnly bool
}

func newDateTime(t time.Time) dateTime {
	return dateTime{t: t.UTC()}
}

// String renders {{ logical_date }} as Python's str(datetime) would for a
// pendulum DateTime, i.e. its isoformat.
func (d dateTime) String() string { return d.isoformat() }

// isoformat mirrors datetime.isoformat(): microseconds only when non-zero,
// and a ±HH:MM offset.
func (d dateTime) isoformat() string {
	if d.dateOnly {
		return d.t.Format("2006-01-02")
	}
	var b strings.Builder
	b.Grow(32)
	b.WriteString(d.t.Format("2006-01-02T15:04:05"))
	if us := d.t.Nanosecond() / 1000; us != 0 {
		fmt.Fprintf(&b, ".%06d", us)
	}
	b.WriteString(pyOffset(d.t, true))
	return b.String()
}

// GetAttribute serves the datetime fields and methods.
func (d dateTime) GetAttribute(name string) (*exec.Value, bool) {
	t := d.t
	switch name {
	case "year":
		return exec.AsValue(t.Year()), true
	case "month":
		return exec.AsValue(int(t.Month())), true
	case "day":
		return exec.AsValue(t.Day()), true
	}
	if !d.dateOnly {
		switch name {
		case "hour":
			return exec.AsValue(t.Hour()), true
		case "minute":
			return exec.AsValue(t.Minute()), true
		case "second":
			return exec.AsValue(t.Second()), true
		case "microsecond":
			return exec.AsValue(t.Nanosecond() / 1000), true
		}
	}
	var m func(*exec.VarArgs) (any, error)
	switch name {
	case "strftime":
		m = d.strftime
	case "isoformat":
		m = noArgs(name, func() any { return d.isoformat() })
	case "date":
		m = noArgs(name, func() any {
			y, mo, dd := t.Date()
			return dateTime{t: time.Date(y, mo, dd, 0, 0, 0, 0, t.Location()), dateOnly: true}
		})
	case "timestamp":
		m = noArgs(name, func() any { return float64(t.UnixMicro()) / 1e6 })
	case "weekday":
		m = noArgs(name, func() any { return (int(t.Weekday()) + 6) % 7 })
	case "isoweekday":
		m = noArgs(name, func() any { return (int(t.Weekday())+6)%7 + 1 })
	case "add":
		m = func(va *exec.VarArgs) (any, error) { return d.shift("add", va, 1) }
	case "subtract":
		m = func(va *exec.VarArgs) (any, error) { return d.shift("subtract", va, -1) }
	case "in_timezone", "in_tz":
		m = d.inTimezone
	default:
		return exec.AsValue(nil), false
	}
	return exec.AsValue(m), true
}

// GetItem finds nothing, so that gonja falls back to attributes for
// logical_date['year'] as Jinja does, and reports logical_date[0] as
// undefined rather than as a reflection type error.
func (d dateTime) GetItem(any) (*exec.Value, bool) { return exec.AsValue(nil), false }

func noArgs(name string, f func() any) func(*exec.VarArgs) (any, error) {
	return func(va *exec.VarArgs) (any, error) {
		if len(va.Args) > 0 || len(va.KwArgs) > 0 {
			return nil, fmt.Errorf("%s() takes no arguments", name)
		}
		return f(), nil
	}
}

func (d dateTime) strftime(va *exec.VarArgs) (any, error) {
	args, err := bindArgs("strftime", va, "format")
	if err != nil {
		return nil, err
	}
	format, err := stringArg("strftime", "format", args["format"])
	if err != nil {
		return nil, err
	}
	return strftime(d.t, format), nil
}

// shift implements pendulum's add(...) and subtract(...) with keyword
// arguments years, months, weeks, days, hours, minutes and seconds.
// Calendar units are applied with Go's AddDate, which normalises overflow
// (Jan 31 + 1 month = Mar 3) where pendulum would clamp to Feb 28.
func (d dateTime) shift(fn string, va *exec.VarArgs, sign int) (any, error) {
	if len(va.Args) > 0 {
		return nil, fmt.Errorf("%s: takes keyword arguments only, e.g. %s(days=1)", fn, fn)
	}
	var n [7]int
	units := [7]string{"years", "months", "weeks", "days", "hours", "minutes", "seconds"}
	for k, v := range va.KwArgs {
		i := 0
		for i < len(units) && units[i] != k {
			i++
		}
		if i == len(units) {
			return nil, fmt.Errorf("%s: unexpected keyword argument %q", fn, k)
		}
		x, err := intArg(fn, k, v)
		if err != nil {
			return nil, err
		}
		n[i] = sign * x
	}
	t := d.t.AddDate(n[0], n[1], 7*n[2]+n[3]).
		Add(time.Duration(n[4])*time.Hour + time.Duration(n[5])*time.Minute + time.Duration(n[6])*time.Second)
	return dateTime{t: t, dateOnly: d.dateOnly}, nil
}

// inTimezone implements pendulum's in_timezone('Europe/Paris'). It needs the
// host's time zone database.
func (d dateTime) inTimezone(va *exec.VarArgs) (any, error) {
	args, err := bindArgs("in_timezone", va, "tz")
	if err != nil {
		return nil, err
	}
	name, err := stringArg("in_timezone", "tz", args["tz"])
	if err != nil {
		return nil, err
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("in_timezone: %w", err)
	}
	return dateTime{t: d.t.In(loc), dateOnly: d.dateOnly}, nil
}

// macroDsAdd is macros.ds_add(ds, days): ds shifted by days, as YYYY-MM-DD.
func macroDsAdd(va *exec.VarArgs) (any, error) {
	const fn = "macros.ds_add"
	args, err := bindArgs(fn, va, "ds", "days")
	if err != nil {
		return nil, err
	}
	ds, err := stringArg(fn, "ds", args["ds"])
	if err != nil {
		return nil, err
	}
	days, err := intArg(fn, "days", args["days"])
	if err != nil {
		return nil, err
	}
	t, err := time.Parse("2006-01-02", ds)
	if err != nil {
		return nil, fmt.Errorf("%s: ds %q is not a YYYY-MM-DD date", fn, ds)
	}
	return t.AddDate(0, 0, days).Format("2006-01-02"), nil
}

// macroDsFormat is macros.ds_format(ds, input_format, output_format):
// datetime.strptime(ds, input_format).strftime(output_format).
func macroDsFormat(va *exec.VarArgs) (any, error) {
	const fn = "macros.ds_format"
	args, err := bindArgs(fn, va, "ds", "input_format", "output_format")
	if err != nil {
		return nil, err
	}
	var s [3]string
	for i, name := range []string{"ds", "input_format", "output_format"} {
		if s[i], err = stringArg(fn, name, args[name]); err != nil {
			return nil, err
		}
	}
	t, err := strptime(s[0], s[1])
	if err != nil {
		return nil, fmt.Errorf("%s: %w", fn, err)
	}
	return strftime(t, s[2]), nil
}

var (
	longDays    = []string{"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"}
	longMonths  = []string{"January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"}
	shortLength = 3
)

// strftime formats t with Python's (C locale) directives: %a %A %w %d %e %b
// %B %h %m %y %Y %H %I %p %M %S %f %z %Z %j %U %W %F %T %D %R %c %x %X %s %n
// %t and %%. Unknown directives are copied as they are, as glibc does.
func strftime(t time.Time, format string) string {
	var b strings.Builder
	b.Grow(len(format) + 16)
	num := func(n, width int) {
		s := strconv.Itoa(n)
		for i := len(s); i < width; i++ {
			b.WriteByte('0')
		}
		b.WriteString(s)
	}
	for i := 0; i < len(format); i++ {
		c := format[i]
		if c != '%' || i+1 == len(format) {
			b.WriteByte(c)
			continue
		}
		i++
		switch format[i] {
		case 'a':
			b.WriteString(longDays[t.Weekday()][:shortLength])
		case 'A':
			b.WriteString(longDays[t.Weekday()])
		case 'w':
			num(int(t.Weekday()), 1)
		case 'd':
			num(t.Day(), 2)
		case 'e':
			if t.Day() < 10 {
				b.WriteByte(' ')
			}
			num(t.Day(), 1)
		case 'b', 'h':
			b.WriteString(longMonths[t.Month()-1][:shortLength])
		case 'B':
			b.WriteString(longMonths[t.Month()-1])
		case 'm':
			num(int(t.Month()), 2)
		case 'y':
			num(t.Year()%100, 2)
		case 'Y':
			num(t.Year(), 4)
		case 'H':
			num(t.Hour(), 2)
		case 'I':
			num((t.Hour()+11)%12+1, 2)
		case 'p':
			if t.Hour() < 12 {
				b.WriteString("AM")
			} else {
				b.WriteString("PM")
			}
		case 'M':
			num(t.Minute(), 2)
		case 'S':
			num(t.Second(), 2)
		case 'f':
			num(t.Nanosecond()/1000, 6)
		case 'z':
			b.WriteString(pyOffset(t, false))
		case 'Z':
			name, _ := t.Zone()
			b.WriteString(name)
		case 'j':
			num(t.YearDay(), 3)
		case 'U':
			num((t.YearDay()+6-int(t.Weekday()))/7, 2)
		case 'W':
			num((t.YearDay()+6-(int(t.Weekday())+6)%7)/7, 2)
		case 'F':
			b.WriteString(strftime(t, "%Y-%m-%d"))
		case 'T':
			b.WriteString(strftime(t, "%H:%M:%S"))
		case 'D', 'x':
			b.WriteString(strftime(t, "%m/%d/%y"))
		case 'R':
			b.WriteString(strftime(t, "%H:%M"))
		case 'X':
			b.WriteString(strftime(t, "%H:%M:%S"))
		case 'c':
			b.WriteString(strftime(t, "%a %b %e %H:%M:%S %Y"))
		case 's':
			b.WriteString(strconv.FormatInt(t.Unix(), 10))
		case 'n':
			b.WriteByte('\n')
		case 't':
			b.WriteByte('\t')
		case '%':
			b.WriteByte('%')
		default:
			b.WriteByte('%')
			b.WriteByte(format[i])
		}
	}
	return b.String()
}

// pyOffset formats t's UTC offset as Python does: +HHMM for %z, +HH:MM for
// isoformat, with seconds only when the offset has them.
func pyOffset(t time.Time, colon bool) string {
	_, off := t.Zone()
	sign := byte('+')
	if off < 0 {
		sign, off = '-', -off
	}
	sep := ""
	if colon {
		sep = ":"
	}
	s := fmt.Sprintf("%c%02d%s%02d", sign, off/3600, sep, off/60%60)
	if off%60 != 0 {
		s += fmt.Sprintf("%s%02d", sep, off%60)
	}
	return s
}

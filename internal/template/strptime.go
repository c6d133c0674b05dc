package template

import (
	"fmt"
	"strings"
	"time"
	"unicode"
)

// strptime parses s with Python's datetime.strptime directives %Y %y %m %d
// %H %I %p %M %S %f %j %b %B %h %a %A %z and %%, in UTC. As in Python,
// whitespace in the format matches any run of whitespace (or none), names
// match case-insensitively, and the whole of s must be consumed.
//
// It is hand-written rather than a translation to a Go layout because Go
// layouts have no escaping: literal text such as "Monday" or "2006" in a
// Python format would be taken for layout elements.
func strptime(s, format string) (time.Time, error) {
	p := strptimeState{s: s, year: 1900, month: 1, day: 1}
	for i := 0; i < len(format); i++ {
		c := format[i]
		switch {
		case isSpace(c):
			p.skipSpace()
			continue
		case c != '%':
			if p.pos >= len(s) || s[p.pos] != c {
				return time.Time{}, p.mismatch(format)
			}
			p.pos++
			continue
		case i+1 == len(format):
			return time.Time{}, fmt.Errorf("format %q ends with a lone %%", format)
		}
		i++
		if err := p.directive(format[i]); err != nil {
			return time.Time{}, fmt.Errorf("time data %q does not match format %q: %w", s, format, err)
		}
	}
	if p.pos != len(s) {
		return time.Time{}, fmt.Errorf("unconverted data remains: %q", s[p.pos:])
	}
	return p.time()
}

type strptimeState struct {
	s   string
	pos int

	year, month, day, yday int
	hour, minute, second   int
	micro                  int
	offset                 int
	hasOffset, hasDate     bool
	hour12, pm             bool
	hasAMPM                bool
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}

func (p *strptimeState) skipSpace() {
	for p.pos < len(p.s) && isSpace(p.s[p.pos]) {
		p.pos++
	}
}

func (p *strptimeState) mismatch(format string) error {
	return fmt.Errorf("time data %q does not match format %q", p.s, format)
}

// digits reads between 1 and max ASCII digits.
func (p *strptimeState) digits(directive byte, max int) (int, error) {
	n, start := 0, p.pos
	for p.pos < len(p.s) && p.pos-start < max && p.s[p.pos] >= '0' && p.s[p.pos] <= '9' {
		n = n*10 + int(p.s[p.pos]-'0')
		p.pos++
	}
	if p.pos == start {
		return 0, fmt.Errorf("%%%c expects a number at %q", directive, p.s[start:])
	}
	return n, nil
}

// number reads a number for directive and checks it is within [lo, hi].
func (p *strptimeState) number(directive byte, max, lo, hi int) (int, error) {
	n, err := p.digits(directive, max)
	if err != nil {
		return 0, err
	}
	if n < lo || n > hi {
		return 0, fmt.Errorf("%%%c value %d is out of range", directive, n)
	}
	return n, nil
}

// name matches one of names, in full or by its first three letters.
func (p *strptimeState) name(directive byte, names []string) (int, error) {
	rest := p.s[p.pos:]
	for i, n := range names {
		if len(rest) >= len(n) && strings.EqualFold(rest[:len(n)], n) {
			p.pos += len(n)
			return i, nil
		}
	}
	for i, n := range names {
		if len(rest) >= shortLength && strings.EqualFold(rest[:shortLength], n[:shortLength]) {
			p.pos += shortLength
			return i, nil
		}
	}
	return 0, fmt.Errorf("%%%c expects a name at %q", directive, rest)
}

func (p *strptimeState) directive(d byte) error {
	var err error
	switch d {
	case 'Y':
		// Python wants exactly four digits here.
		start := p.pos
		if p.year, err = p.number(d, 4, 1, 9999); err == nil && p.pos-start != 4 {
			err = fmt.Errorf("%%Y expects four digits at %q", p.s[start:])
		}
	case 'y':
		var y int
		if y, err = p.number(d, 2, 0, 99); err == nil {
			// POSIX: 69-99 are 1969-1999, 00-68 are 2000-2068.
			if y < 69 {
				p.year = 2000 + y
			} else {
				p.year = 1900 + y
			}
		}
	case 'm':
		p.month, err = p.number(d, 2, 1, 12)
		p.hasDate = true
	case 'd':
		p.day, err = p.number(d, 2, 1, 31)
		p.hasDate = true
	case 'j':
		p.yday, err = p.number(d, 3, 1, 366)
	case 'H':
		p.hour, err = p.number(d, 2, 0, 23)
		p.hour12 = false
	case 'I':
		p.hour, err = p.number(d, 2, 1, 12)
		p.hour12 = true
	case 'M':
		p.minute, err = p.number(d, 2, 0, 59)
	case 'S':
		// Python accepts 60 and 61 (leap seconds), then rejects them
		// when building the datetime; so do we, in time().
		p.second, err = p.number(d, 2, 0, 61)
	case 'f':
		start := p.pos
		if p.micro, err = p.digits(d, 6); err == nil {
			for i := p.pos - start; i < 6; i++ {
				p.micro *= 10
			}
		}
	case 'p':
		var i int
		if i, err = p.name(d, []string{"AM", "PM"}); err == nil {
			p.hasAMPM, p.pm = true, i == 1
		}
	case 'b', 'B', 'h':
		var i int
		if i, err = p.name(d, longMonths); err == nil {
			p.month = i + 1
			p.hasDate = true
		}
	case 'a', 'A':
		// Python checks the name but does not use it to build the date.
		_, err = p.name(d, longDays)
	case 'z':
		err = p.zone()
	case '%':
		if p.pos >= len(p.s) || p.s[p.pos] != '%' {
			return fmt.Errorf("expected %% at %q", p.s[p.pos:])
		}
		p.pos++
	default:
		return fmt.Errorf("directive %%%c is not supported", d)
	}
	return err
}

// zone parses %z: Z, or ±HHMM[SS] with optional colons.
func (p *strptimeState) zone() error {
	rest := p.s[p.pos:]
	if strings.HasPrefix(rest, "Z") || strings.HasPrefix(rest, "z") {
		p.pos++
		p.hasOffset = true
		return nil
	}
	if rest == "" || (rest[0] != '+' && rest[0] != '-') {
		return fmt.Errorf("%%z expects +HHMM or Z at %q", rest)
	}
	sign := 1
	if rest[0] == '-' {
		sign = -1
	}
	p.pos++
	parts := [3]int{}
	for i := range parts {
		if i > 0 && p.pos < len(p.s) && p.s[p.pos] == ':' {
			p.pos++
		}
		if i == 2 && (p.pos >= len(p.s) || !unicode.IsDigit(rune(p.s[p.pos]))) {
			break
		}
		start := p.pos
		n, err := p.digits('z', 2)
		if err != nil || p.pos-start != 2 {
			return fmt.Errorf("%%z expects +HHMM at %q", rest)
		}
		parts[i] = n
	}
	if parts[1] > 59 || parts[2] > 59 {
		return fmt.Errorf("%%z offset %q is out of range", rest)
	}
	p.offset = sign * (parts[0]*3600 + parts[1]*60 + parts[2])
	p.hasOffset = true
	return nil
}

// time builds the parsed instant, rejecting impossible dates as Python does.
func (p *strptimeState) time() (time.Time, error) {
	hour := p.hour
	if p.hour12 {
		hour %= 12
		if p.hasAMPM && p.pm {
			hour += 12
		}
	}
	if p.second > 59 {
		return time.Time{}, fmt.Errorf("second must be in 0..59, not %d", p.second)
	}
	loc := time.UTC
	if p.hasOffset && p.offset != 0 {
		loc = time.FixedZone("", p.offset)
	}
	if p.yday != 0 && !p.hasDate {
		t := time.Date(p.year, 1, 1, hour, p.minute, p.second, p.micro*1000, loc).AddDate(0, 0, p.yday-1)
		if t.Year() != p.year {
			return time.Time{}, fmt.Errorf("day of year %d is out of range for %d", p.yday, p.year)
		}
		return t, nil
	}
	t := time.Date(p.year, time.Month(p.month), p.day, hour, p.minute, p.second, p.micro*1000, loc)
	if t.Day() != p.day || t.Month() != time.Month(p.month) {
		return time.Time{}, fmt.Errorf("day %d is out of range for %d-%02d", p.day, p.year, p.month)
	}
	return t, nil
}

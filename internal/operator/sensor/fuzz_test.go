package sensor

import (
	"strings"
	"testing"
	"time"
)

// FuzzSensorFields: any field values a DAG file or a template can give
// are read without a panic; a bad one is an error naming its field; the
// wait between pokes is positive and within max_wait and what is left of
// the timeout (or the floor, whichever is more); a target time that does
// not parse says what it wants.
func FuzzSensorFields(f *testing.F) {
	f.Add("poke", "60s", "168h", "", false, 1, int64(0), "2026-02-03T00:00:00Z")
	f.Add("reschedule", "1ms", "1s", "500ms", true, 3, int64(time.Second), "2026-02-03 00:00:00")
	f.Add("reschedule", "10s", "7d", "1m", true, 1<<20, int64(0), "2026-02-03")
	f.Add("deferrable", "0s", "-1s", "-5s", true, -4, int64(-1), "")
	f.Add("poke", "1e300", "99999999999999999999h", "x", true, 62, int64(1)<<62, "9999-12-31T23:59:59.999999999+14:00")
	f.Add("", "{{ x }}", "3.5", "nan", false, 0, int64(0), "tomorrow")
	f.Fuzz(func(t *testing.T, mode, interval, timeout, maxWait string, backoff bool, pokes int, elapsed int64, target string) {
		args := map[string]any{"mode": mode, "poke_interval": interval, "timeout": timeout, "max_wait": maxWait,
			"exponential_backoff": backoff}
		c, err := ReadConfig(BashSpec, args)
		if err != nil {
			if !strings.Contains(err.Error(), "field ") {
				t.Fatalf("error names no field: %v", err)
			}
			return
		}
		if pokes < 1 || pokes > 1<<20 || elapsed < 0 {
			return
		}
		d := NextInterval(c, "d#t", time.Unix(0, 0), pokes, time.Duration(elapsed))
		floor := min(time.Second, c.Interval)
		if d < floor || d <= 0 {
			t.Fatalf("wait %s below the floor %s (config %+v)", d, floor, c)
		}
		if c.Backoff {
			if c.MaxWait > 0 && d > max(c.MaxWait, floor) {
				t.Fatalf("wait %s beyond max_wait %s", d, c.MaxWait)
			}
			if left := c.Timeout - time.Duration(elapsed); d > max(left, floor) {
				t.Fatalf("wait %s beyond the %s left", d, left)
			}
		}
		if _, err := ParseTime(target); err != nil && !strings.Contains(err.Error(), "is not a date-time") && err.Error() != "empty" {
			t.Fatalf("%q: unclear error %v", target, err)
		}
	})
}

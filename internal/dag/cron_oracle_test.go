package dag

import (
	"fmt"
	"math/rand"
	"sort"
	"testing"
	"time"
)

// TestCronAgainstBruteForce compares the evaluator with a minute-by-minute
// oracle on random expressions around both 2026 changes in Paris and New
// York. The oracle states the rules directly: an every-hour schedule fires at
// each instant whose local reading matches; any other fires at the first
// instant whose local reading reaches a matching wall time.
func TestCronAgainstBruteForce(t *testing.T) {
	rng := rand.New(rand.NewSource(8))
	windows := []struct {
		zone string
		at   time.Time
	}{
		{"Europe/Paris", utc(2026, 3, 29, 1, 0)}, {"Europe/Paris", utc(2026, 10, 25, 1, 0)},
		{"America/New_York", utc(2026, 3, 8, 7, 0)}, {"America/New_York", utc(2026, 11, 1, 6, 0)},
		{"UTC", utc(2028, 2, 29, 0, 0)},
	}
	for i := 0; i < 40; i++ {
		spec := randomCron(rng)
		for _, w := range windows {
			loc := mustZone(t, w.zone)
			from, to := w.at.Add(-26*time.Hour), w.at.Add(26*time.Hour)
			s := mustSchedule(t, spec, loc)
			want := oracleFires(t, s.(cronSchedule), from, to)
			var got []time.Time
			iv, ok := s.First(from)
			for ; ok && iv.Start.Before(to); iv, ok = s.Next(iv) {
				got = append(got, iv.Start)
			}
			if formatUTC(got) != formatUTC(want) {
				t.Fatalf("%q in %s:\n got %s\nwant %s", spec, w.zone, formatUTC(got), formatUTC(want))
			}
			for k := 1; k < len(got); k++ {
				checkLatest(t, s, from, got[k], Interval{got[k-1], got[k]}, true)
			}
		}
	}
}

// oracleFires lists the fires in [from, to) by scanning every minute.
func oracleFires(t *testing.T, c cronSchedule, from, to time.Time) []time.Time {
	t.Helper()
	matches := func(w time.Time) bool {
		day := time.Date(w.Year(), w.Month(), w.Day(), 0, 0, 0, 0, time.UTC)
		return c.expr.minute&(1<<w.Minute()) != 0 && c.expr.hour&(1<<w.Hour()) != 0 &&
			c.expr.month&(1<<w.Month()) != 0 && c.expr.dayMatches(day)
	}
	reading := func(u time.Time) time.Time {
		l := u.In(c.loc)
		return time.Date(l.Year(), l.Month(), l.Day(), l.Hour(), l.Minute(), 0, 0, time.UTC)
	}
	var out []time.Time
	if c.elapsed {
		for u := from; u.Before(to); u = u.Add(time.Minute) {
			if matches(reading(u)) {
				out = append(out, u)
			}
		}
		return out
	}
	// instants and the highest reading seen so far, from well before from
	var instants, highest []time.Time
	for u := from.Add(-30 * time.Hour); u.Before(to.Add(30 * time.Hour)); u = u.Add(time.Minute) {
		r := reading(u)
		if n := len(highest); n > 0 && highest[n-1].After(r) {
			r = highest[n-1]
		}
		instants, highest = append(instants, u), append(highest, r)
	}
	seen := map[time.Time]bool{}
	for w := reading(from).Add(-24 * time.Hour); w.Before(reading(to).Add(24 * time.Hour)); w = w.Add(time.Minute) {
		if !matches(w) {
			continue
		}
		i := sort.Search(len(highest), func(i int) bool { return !highest[i].Before(w) })
		if i < len(instants) && !instants[i].Before(from) && instants[i].Before(to) && !seen[instants[i]] {
			seen[instants[i]] = true
			out = append(out, instants[i])
		}
	}
	return out
}

// randomCron builds an expression that often touches the hours DST changes
// move (1-3) and restricts both day fields now and then.
func randomCron(rng *rand.Rand) string {
	pick := func(choices ...string) string { return choices[rng.Intn(len(choices))] }
	minute := pick("*", "0", "30", "*/15", "*/7", "0,30", "10-20/5", "59", fmt.Sprint(rng.Intn(60)))
	hour := pick("*", "*", "2", "1-3", "2,3", "*/2", "0", "1", "3", "0-23", fmt.Sprint(rng.Intn(24)))
	dom := pick("*", "*", "*", "1", "25", "8,29", "*/2")
	month := pick("*", "*", "*", "2,3,10,11", "3", "JAN-JUN")
	dow := pick("*", "*", "*", "0", "SUN", "1-5", "6,7")
	return fmt.Sprintf("%s %s %s %s %s", minute, hour, dom, month, dow)
}

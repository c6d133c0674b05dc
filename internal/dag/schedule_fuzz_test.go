package dag

import (
	"testing"
	"time"
)

// FuzzParseSchedule checks that any schedule string either fails to parse
// or yields a schedule whose intervals are well formed in several zones:
// Start < End (Start == End only for @once), Next starts where the previous
// interval ended, starts strictly increase, Latest stays inside the walk's
// range, and no call takes long (every search is bounded).
func FuzzParseSchedule(f *testing.F) {
	zones := []*time.Location{time.UTC, mustZone(f, "Europe/Paris"), mustZone(f, "America/New_York"), mustZone(f, "Australia/Lord_Howe")}
	starts := []time.Time{
		utc(2026, 3, 29, 0, 30), utc(2026, 10, 25, 0, 59).Add(1500 * time.Millisecond),
		utc(2026, 11, 1, 5, 0), utc(1970, 1, 1, 0, 0), utc(2099, 12, 31, 23, 59),
	}
	f.Fuzz(func(t *testing.T, spec string) {
		for _, loc := range zones {
			s, err := ParseSchedule(spec, loc)
			if err != nil {
				continue
			}
			_, once := s.(onceSchedule)
			for _, start := range starts {
				checkScheduleWalk(t, spec, loc, s, start, once)
			}
		}
	})
}

// checkScheduleWalk walks a few intervals from start and asks Latest about
// the times they end.
func checkScheduleWalk(t *testing.T, spec string, loc *time.Location, s Schedule, start time.Time, once bool) {
	var iv Interval
	var ok bool
	timed(t, spec, "First", func() { iv, ok = s.First(start) })
	if !ok {
		return
	}
	first := iv
	if iv.Start.Before(start) {
		t.Fatalf("%q in %v: First(%v) starts at %v, before its argument", spec, loc, start, iv.Start)
	}
	var ends []time.Time
	for i := 0; i < 5 && ok; i++ {
		if !iv.Start.Before(iv.End) && !(once && iv.Start.Equal(iv.End)) {
			t.Fatalf("%q in %v: interval %v is empty or reversed", spec, loc, iv)
		}
		ends = append(ends, iv.End)
		prev := iv
		timed(t, spec, "Next", func() { iv, ok = s.Next(prev) })
		if ok && (!iv.Start.Equal(prev.End) || !iv.Start.After(prev.Start)) {
			t.Fatalf("%q in %v: Next(%v) = %v", spec, loc, prev, iv)
		}
	}
	for _, now := range ends {
		var latest Interval
		timed(t, spec, "Latest", func() { latest, ok = s.Latest(start, now) })
		if !ok {
			t.Fatalf("%q in %v: Latest(%v, %v) is none though %v has ended", spec, loc, start, now, first)
		}
		if latest.Start.Before(first.Start) || latest.End.After(now) {
			t.Fatalf("%q in %v: Latest(%v, %v) = %v", spec, loc, start, now, latest)
		}
	}
}

// timed fails the test when one schedule call takes more than a second,
// which would mean a search that is not bounded.
func timed(t *testing.T, spec, name string, call func()) {
	t.Helper()
	began := time.Now()
	call()
	if d := time.Since(began); d > time.Second {
		t.Fatalf("%q: %s took %v", spec, name, d)
	}
}

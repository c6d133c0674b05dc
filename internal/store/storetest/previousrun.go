package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/store"
)

func init() {
	register("PreviousRun", testPreviousRun)
}

// testPreviousRun: the run before a logical date is the newest earlier one
// of any type but test, of that DAG only; the first run has none.
func testPreviousRun(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustCreate(t, s, newRun("d", "scheduled__1", at(1*time.Hour), store.RunSuccess))
	manual := newRun("d", "manual__2", at(2*time.Hour), store.RunFailed)
	manual.RunType = store.RunManual
	mustCreate(t, s, manual)
	test := newRun("d", "test__3", at(3*time.Hour), store.RunSuccess)
	test.RunType = store.RunTest
	mustCreate(t, s, test)
	mustCreate(t, s, newRun("d", "scheduled__4", at(4*time.Hour), store.RunQueued))
	mustCreate(t, s, newRun("other", "scheduled__35", at(3*time.Hour+30*time.Minute), store.RunSuccess))

	tests := []struct {
		before time.Time
		want   string // "" = none
	}{
		{at(4 * time.Hour), "manual__2"}, // the test run in between does not count
		{at(2 * time.Hour), "scheduled__1"},
		{at(2*time.Hour + time.Microsecond), "manual__2"},
		{at(1 * time.Hour), ""},
		{at(10 * time.Hour), "scheduled__4"},
	}
	for _, tt := range tests {
		got, err := s.PreviousRun(ctx, "d", tt.before)
		if tt.want == "" {
			if !errors.Is(err, store.ErrNotFound) {
				t.Errorf("PreviousRun(%s) = %s, %v; want ErrNotFound", tt.before, got.RunID, err)
			}
			continue
		}
		if err != nil || got.RunID != tt.want {
			t.Errorf("PreviousRun(%s) = %q, %v; want %q", tt.before, got.RunID, err, tt.want)
		}
	}
	if got, err := s.PreviousRun(ctx, "d", at(4*time.Hour)); err == nil && got.RunType != store.RunManual {
		t.Errorf("run type = %s, want manual", got.RunType)
	}
}

package scheduler

import (
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/dag"
	"github.com/sirocco-dev/sirocco/internal/store"
)

// TestShutdownUpdateCapsFreeReruns: a try stopped by shutdown goes back to
// none without spending a retry until MaxInfraReruns tries were given
// back; after that it is a failure like any other.
func TestShutdownUpdateCapsFreeReruns(t *testing.T) {
	now := time.Date(2026, 2, 3, 4, 5, 6, 0, time.UTC)
	task := &dag.Task{ID: "t", Retries: 1}
	tests := []struct {
		name       string
		try, max   int
		reruns     int
		wantTo     store.TaskState
		wantRerun  bool
		wantMax    int
		wantReruns int
	}{
		{name: "first shutdown, no retries", try: 1, max: 0, wantTo: store.StateNone, wantRerun: true, wantMax: 1, wantReruns: 1},
		{name: "last free re-run", try: 3, max: 2, reruns: MaxInfraReruns - 1, wantTo: store.StateNone, wantRerun: true,
			wantMax: 3, wantReruns: MaxInfraReruns},
		{name: "cap reached, no retry left", try: 4, max: 3, reruns: MaxInfraReruns, wantTo: store.StateFailed,
			wantMax: 3, wantReruns: MaxInfraReruns},
		{name: "cap reached, a retry left", try: 4, max: 4, reruns: MaxInfraReruns, wantTo: store.StateUpForRetry,
			wantMax: 4, wantReruns: MaxInfraReruns},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ti := store.TaskInstance{TaskKey: store.TaskKey{DagID: "d", RunID: "r", TaskID: "t"}, State: store.StateRunning,
				TryNumber: tt.try, MaxTries: tt.max, InfraReruns: tt.reruns}
			u, rerun := ShutdownUpdate(task, ti, now)
			got, ok := u.Apply(ti)
			if !ok || rerun != tt.wantRerun || got.State != tt.wantTo || got.MaxTries != tt.wantMax || got.InfraReruns != tt.wantReruns {
				t.Errorf("applies %v rerun %v: %s max_tries %d infra_reruns %d; want rerun %v: %s max_tries %d infra_reruns %d",
					ok, rerun, got.State, got.MaxTries, got.InfraReruns, tt.wantRerun, tt.wantTo, tt.wantMax, tt.wantReruns)
			}
			if got.TryNumber != tt.try || got.EndDate.IsZero() {
				t.Errorf("try %d end %v: the stopped try keeps its number and gets its end date", got.TryNumber, got.EndDate)
			}
		})
	}
}

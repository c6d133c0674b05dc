package scheduler

import (
	"testing"

	"github.com/sirocco-dev/sirocco/internal/dag"
	"github.com/sirocco-dev/sirocco/internal/store"
)

func TestTriggerRules(t *testing.T) {
	const (
		S  = store.StateSuccess
		F  = store.StateFailed
		UF = store.StateUpstreamFailed
		K  = store.StateSkipped
		R  = store.StateRunning
		N  = store.StateNone
	)
	cases := []struct {
		rule dag.TriggerRule
		ups  []store.TaskState
		want verdict
	}{
		{dag.AllSuccess, nil, ready},
		{dag.AllSuccess, []store.TaskState{S, S}, ready},
		{dag.AllSuccess, []store.TaskState{S, R}, wait},
		{dag.AllSuccess, []store.TaskState{F, R}, markUpstreamFailed},
		{dag.AllSuccess, []store.TaskState{UF, S}, markUpstreamFailed},
		{dag.AllSuccess, []store.TaskState{K, S}, markSkipped},
		{dag.AllFailed, []store.TaskState{F, UF}, ready},
		{dag.AllFailed, []store.TaskState{F, S}, markSkipped},
		{dag.AllFailed, []store.TaskState{F, R}, wait},
		{dag.AllDone, []store.TaskState{F, S, K}, ready},
		{dag.AllDone, []store.TaskState{F, R}, wait},
		{dag.AllDoneMinOneSuccess, []store.TaskState{F, S}, ready},
		{dag.AllDoneMinOneSuccess, []store.TaskState{F, K}, markSkipped},
		{dag.AllDoneMinOneSuccess, []store.TaskState{S, R}, wait},
		{dag.OneSuccess, []store.TaskState{S, R}, ready},
		{dag.OneSuccess, []store.TaskState{F, K}, markUpstreamFailed},
		{dag.OneSuccess, []store.TaskState{K, K}, markSkipped},
		{dag.OneSuccess, []store.TaskState{UF, F}, markUpstreamFailed},
		{dag.OneSuccess, []store.TaskState{F, N}, wait},
		{dag.OneFailed, []store.TaskState{F, R}, ready},
		{dag.OneFailed, []store.TaskState{S, S}, markSkipped},
		{dag.OneDone, []store.TaskState{F, R}, ready},
		{dag.OneDone, []store.TaskState{K, R}, wait},
		{dag.OneDone, []store.TaskState{K, K}, markSkipped},
		{dag.OneDone, []store.TaskState{UF, R}, wait},
		{dag.OneDone, []store.TaskState{UF, K}, markSkipped},
		{dag.NoneFailed, []store.TaskState{S, K}, ready},
		{dag.NoneFailed, []store.TaskState{S, F}, markUpstreamFailed},
		{dag.NoneFailed, []store.TaskState{S, R}, wait},
		{dag.NoneFailedMinOneSuccess, []store.TaskState{K, K}, markSkipped},
		{dag.NoneFailedMinOneSuccess, []store.TaskState{K, S}, ready},
		{dag.NoneSkipped, []store.TaskState{S, F}, ready},
		{dag.NoneSkipped, []store.TaskState{S, K}, markSkipped},
		{dag.AllSkipped, []store.TaskState{K, K}, ready},
		{dag.AllSkipped, []store.TaskState{K, S}, markSkipped},
		{dag.AllSkipped, []store.TaskState{K, R}, wait},
		{dag.AllSkipped, []store.TaskState{K, UF}, markSkipped},
		{dag.Always, []store.TaskState{R, N}, ready},
	}
	for _, tc := range cases {
		if got := evaluate(tc.rule, countUpstream(tc.ups)); got != tc.want {
			t.Errorf("%s with upstream %v: got %v, want %v", tc.rule, tc.ups, got, tc.want)
		}
	}
}

package latestonly

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/operator"
)

// TestLatestOnlyChoice: the latest run follows every direct downstream
// task, another none, and the log says which.
func TestLatestOnlyChoice(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 3, 1, 0, 0, 0, time.UTC)
	for _, latest := range []bool{true, false} {
		var log bytes.Buffer
		var asked time.Time
		ot := &operator.Task{Downstream: []string{"a", "b"}, Log: &log,
			LatestRun: func(at time.Time) bool { asked = at; return latest }}
		res, err := Operator{Now: func() time.Time { return now }}.Execute(t.Context(), ot)
		if err != nil {
			t.Fatal(err)
		}
		want, says := `["a","b"]`, "the latest run"
		if !latest {
			want, says = `[]`, "not the latest run"
		}
		if string(res.ReturnJSON) != want || !asked.Equal(now) || !strings.Contains(log.String(), says) {
			t.Errorf("latest %v: result %s, asked at %s, log %q", latest, res.ReturnJSON, asked, log.String())
		}
	}
}

// Package latestonly is Airflow's LatestOnlyOperator: in the latest run of
// a DAG it follows every direct downstream task, in the others (a catchup
// or backfill run) none, so they are skipped and the skip propagates as a
// branch's does.
package latestonly

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/sirocco-dev/sirocco/internal/dag"
	"github.com/sirocco-dev/sirocco/internal/operator"
	"github.com/sirocco-dev/sirocco/internal/scheduler"
)

// Factory registers the operator.
var Factory = operator.Factory{
	Spec: dag.OperatorSpec{Name: scheduler.LatestOnlyOperator,
		Description: "Skip the direct downstream tasks unless the run is the latest scheduled one " +
			"(now within the interval after the run's); manual runs always follow."},
	New: func() operator.Operator { return Operator{} },
}

// Operator decides at run time, as Airflow's does, from the clock.
type Operator struct {
	// Now is the clock; nil is the wall clock.
	Now func() time.Time
}

// Execute returns the downstream tasks to follow as a branch's result.
func (o Operator) Execute(_ context.Context, t *operator.Task) (operator.Result, error) {
	now := time.Now().UTC()
	if o.Now != nil {
		now = o.Now()
	}
	follow := t.Downstream
	if t.LatestRun != nil && !t.LatestRun(now) {
		follow = []string{}
		fmt.Fprintf(t.Log, "sirocco: not the latest run at %s (data interval %s to %s); skipping the downstream tasks\n",
			now.Format(time.RFC3339), t.DataIntervalStart.Format(time.RFC3339), t.DataIntervalEnd.Format(time.RFC3339))
	} else {
		fmt.Fprintf(t.Log, "sirocco: the latest run; following %s\n", strings.Join(follow, ", "))
	}
	if follow == nil {
		follow = []string{}
	}
	b, err := json.Marshal(follow)
	if err != nil {
		return operator.Result{}, fmt.Errorf("encode the tasks to follow: %w", err)
	}
	return operator.Result{ReturnJSON: b}, nil
}

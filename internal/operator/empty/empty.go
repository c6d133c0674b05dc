// Package empty is Airflow's EmptyOperator: a task that does nothing, for
// joining and grouping branches.
package empty

import (
	"context"

	"github.com/sirocco-dev/sirocco/internal/dag"
	"github.com/sirocco-dev/sirocco/internal/operator"
)

// Factory registers the operator.
var Factory = operator.Factory{
	Spec: dag.OperatorSpec{Name: "empty", Description: "Do nothing; useful to join branches."},
	New:  func() operator.Operator { return Operator{} },
}

// Operator succeeds at once.
type Operator struct{}

// Execute does nothing.
func (Operator) Execute(context.Context, *operator.Task) (operator.Result, error) {
	return operator.Result{}, nil
}

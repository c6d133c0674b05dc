package sensor

import (
	"context"
	"slices"

	"github.com/sirocco-dev/sirocco/internal/dag"
	"github.com/sirocco-dev/sirocco/internal/operator"
)

// Sensor is an operator that pokes a condition with the shared loop.
type Sensor struct {
	Spec dag.OperatorSpec
	Poke PokeFunc
	Now  Clock // nil: time.Now
}

// Execute reads the shared fields and runs the loop.
func (s Sensor) Execute(ctx context.Context, t *operator.Task) (operator.Result, error) {
	c, err := ReadConfig(s.Spec, t.Args)
	if err != nil {
		return operator.Result{}, err
	}
	return Run(ctx, t, c, s.Poke, s.Now)
}

// spec declares a sensor: its own fields, then the shared ones.
func spec(name, description string, own ...dag.FieldSpec) dag.OperatorSpec {
	return dag.OperatorSpec{Name: name, Description: description, Fields: slices.Concat(own, BaseFields)}
}

// factory registers a sensor whose poke reads its fields through sp.
func factory(sp dag.OperatorSpec, poke func(dag.OperatorSpec) PokeFunc) operator.Factory {
	return operator.Factory{Spec: sp, New: func() operator.Operator { return Sensor{Spec: sp, Poke: poke(sp)} }}
}

// Factories are the built-in sensors.
func Factories() []operator.Factory {
	return []operator.Factory{
		factory(BashSpec, bashPoke), factory(FileSpec, filePoke), factory(HTTPSpec, httpPoke),
		factory(ExternalTaskSpec, externalPoke), factory(TimeDeltaSpec, timeDeltaPoke(nil)),
		factory(DateTimeSpec, dateTimePoke(nil)),
	}
}

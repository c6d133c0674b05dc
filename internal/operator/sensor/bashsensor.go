package sensor

import (
	"context"
	"errors"
	"fmt"

	"github.com/sirocco-dev/sirocco/internal/dag"
	"github.com/sirocco-dev/sirocco/internal/operator"
	"github.com/sirocco-dev/sirocco/internal/operator/bash"
	"github.com/sirocco-dev/sirocco/internal/operator/process"
)

// BashSpec declares bash_sensor (Airflow's BashSensor).
var BashSpec = spec("bash_sensor",
	"Wait until a bash command exits 0; any other exit code (or only retry_exit_code when set) means not yet.",
	bash.CommandFields[0], bash.CommandFields[1], bash.CommandFields[2],
	dag.FieldSpec{Name: "retry_exit_code", Kind: dag.FieldInt,
		Description: "when set, only this exit code means not yet; any other non-zero code fails the try"})

// bashPoke runs the command once: exit 0 holds, another code is not yet.
func bashPoke(sp dag.OperatorSpec) PokeFunc {
	return func(ctx context.Context, t *operator.Task) (bool, error) {
		f := operator.FieldsOf(sp, t.Args)
		_, err := bash.Run(ctx, t, f)
		var exit *process.ExitError
		switch {
		case err == nil:
			return true, nil
		case errors.As(err, &exit) && ctx.Err() == nil:
			if _, set := t.Args["retry_exit_code"]; set && exit.Code != f.Int("retry_exit_code") {
				return false, fmt.Errorf("%w (not retry_exit_code %d)", err, f.Int("retry_exit_code"))
			}
			fmt.Fprintf(t.Log, "sensor: command exited %d: not yet\n", exit.Code)
			return false, nil
		default:
			return false, err
		}
	}
}

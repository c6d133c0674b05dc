package branch

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/sirocco-dev/sirocco/internal/dag"
	"github.com/sirocco-dev/sirocco/internal/operator"
	"github.com/sirocco-dev/sirocco/internal/operator/bash"
	"github.com/sirocco-dev/sirocco/internal/operator/process"
	"github.com/sirocco-dev/sirocco/internal/scheduler"
)

// ShortCircuitSpec declares the short_circuit operator's fields: a bash
// command's and ignore_downstream_trigger_rules.
var ShortCircuitSpec = dag.OperatorSpec{
	Name: scheduler.ShortCircuitOperator,
	Description: "Run a bash command whose last stdout line is a condition (JSON, or true/false/yes/no/1/0/none); " +
		"a false one (Python's truth value) skips the tasks downstream.",
	Fields: slices.Concat(bash.CommandFields, []dag.FieldSpec{
		{Name: scheduler.IgnoreDownstreamTriggerRules, Kind: dag.FieldBool, Default: true,
			Description: "on false, skip every task downstream whatever its trigger rule; " +
				"set to false to skip only the direct downstream tasks and let trigger rules decide below them"},
	}),
}

// ShortCircuitFactory registers the short_circuit operator.
var ShortCircuitFactory = operator.Factory{Spec: ShortCircuitSpec, New: func() operator.Operator { return ShortCircuit{} },
	Recoverer: process.Recoverer{}}

// ShortCircuit runs a command and stops the tasks after it when its
// condition is false.
type ShortCircuit struct{}

// Execute runs the command and pushes its condition as return_value.
func (ShortCircuit) Execute(ctx context.Context, t *operator.Task) (operator.Result, error) {
	args := operator.FieldsOf(ShortCircuitSpec, t.Args)
	last, err := bash.Run(ctx, t, args)
	if err != nil {
		return operator.Result{}, err
	}
	value, err := ParseCondition(last)
	if err != nil {
		return operator.Result{}, err
	}
	c, err := scheduler.DecodeChoice(scheduler.ShortCircuitOperator, string(value))
	if err != nil {
		return operator.Result{}, err // cannot happen: ParseCondition returns one JSON value
	}
	switch {
	case c.All:
		fmt.Fprintf(t.Log, "sirocco: condition is true (%s): the downstream tasks proceed\n", value)
	case len(t.Downstream) == 0:
		fmt.Fprintf(t.Log, "sirocco: condition is false (%s); there are no downstream tasks to skip\n", value)
	case args.Bool(scheduler.IgnoreDownstreamTriggerRules):
		fmt.Fprintf(t.Log, "sirocco: condition is false (%s): every task downstream is skipped\n", value)
	default:
		fmt.Fprintf(t.Log, "sirocco: condition is false (%s): %s skipped; trigger rules decide below them\n",
			value, strings.Join(t.Downstream, ", "))
	}
	return operator.Result{ReturnJSON: value}, nil
}

// ParseCondition reads a short_circuit's last stdout line as one JSON
// value, or as a bare word (any case): true, yes, false, no, none, or an
// empty line (none). It returns the JSON to push; its truth value is
// Python's (scheduler.Truthy).
func ParseCondition(line string) ([]byte, error) {
	s := strings.TrimSpace(line)
	switch strings.ToLower(s) {
	case "true", "yes":
		return []byte("true"), nil
	case "false", "no":
		return []byte("false"), nil
	case "", "none", "null":
		return []byte("null"), nil
	}
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil || dec.More() {
		return nil, fmt.Errorf("short_circuit: the last stdout line %q is neither one JSON value nor one of "+
			"true, false, yes, no, 1, 0, none or an empty line", clip(s))
	}
	var out bytes.Buffer
	if err := json.Compact(&out, []byte(s)); err != nil {
		return nil, fmt.Errorf("short_circuit: compact %q: %w", clip(s), err)
	}
	return out.Bytes(), nil
}

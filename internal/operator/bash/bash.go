// Package bash is Airflow's BashOperator: a shell command in its own process
// group, whose last stdout line becomes the return_value XCom.
package bash

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"

	"github.com/sirocco-dev/sirocco/internal/dag"
	"github.com/sirocco-dev/sirocco/internal/operator"
	"github.com/sirocco-dev/sirocco/internal/operator/process"
)

// CommandFields are the fields of a bash command, shared with the
// operators that run one the same way and read its last line (branch,
// short_circuit).
var CommandFields = []dag.FieldSpec{
	{Name: "command", Kind: dag.FieldString, Required: true, Templated: true, Description: "bash command line (use the shquote filter for values)"},
	{Name: "cwd", Kind: dag.FieldString, Templated: true, Description: "working directory; default: the DAG file's folder"},
	{Name: "append_env", Kind: dag.FieldBool, Description: "add env to Sirocco's environment instead of replacing it"},
	{Name: "skip_on_exit_code", Kind: dag.FieldIntList, Default: []int{99}, Description: "exit codes that mark the task skipped"},
}

// Spec declares the operator's fields for the loader and the JSON Schema.
var Spec = dag.OperatorSpec{
	Name:        "bash",
	Description: "Run a bash command; exit 0 is success, skip_on_exit_code skips, anything else fails.",
	Fields: slices.Concat(CommandFields, []dag.FieldSpec{
		{Name: "do_xcom_push", Kind: dag.FieldBool, Default: true, Description: "push the last stdout line as return_value"},
	}),
}

// Factory registers the operator; the process package stops what a try
// left running when Sirocco died.
var Factory = operator.Factory{Spec: Spec, New: func() operator.Operator { return Operator{} }, Recoverer: process.Recoverer{}}

// Operator runs one bash command.
type Operator struct{}

// Execute runs the command and maps its exit code to the try's outcome.
func (Operator) Execute(ctx context.Context, t *operator.Task) (operator.Result, error) {
	args := operator.FieldsOf(Spec, t.Args)
	last, err := Run(ctx, t, args)
	if err != nil {
		return operator.Result{}, err
	}
	var res operator.Result
	if args.Bool("do_xcom_push") && last != "" {
		res.ReturnValue = &last
	}
	return res, nil
}

// Run runs the task's command (CommandFields, read through args) in its
// own process group, logging its output, and returns its last non-empty
// stdout line. An exit code of skip_on_exit_code returns operator.ErrSkip.
func Run(ctx context.Context, t *operator.Task, args operator.Fields) (string, error) {
	cwd := args.String("cwd")
	if cwd == "" {
		cwd = t.DagDir
	} else if !filepath.IsAbs(cwd) && t.DagDir != "" {
		cwd = filepath.Join(t.DagDir, cwd)
	}
	skipCodes := args.Ints("skip_on_exit_code")
	out := &process.LastLine{W: t.Log}
	err := process.Run(ctx, process.Spec{
		Argv:       []string{"bash", "-c", args.String("command")},
		Dir:        cwd,
		Env:        process.Environ(t.Env, t.CtxEnv, args.Bool("append_env")),
		Stdout:     out,
		Stderr:     t.Log,
		SaveHandle: t.SaveHandle,
		NoteHandle: t.NoteHandle,
		TryID:      t.TryID,
		Grace:      t.KillGrace,
	})
	var exit *process.ExitError
	if errors.As(err, &exit) && ctx.Err() == nil && slices.Contains(skipCodes, exit.Code) {
		return "", fmt.Errorf("%w: exit code %d", operator.ErrSkip, exit.Code)
	}
	if err != nil {
		return "", err
	}
	return out.Last(), nil
}

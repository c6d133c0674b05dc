// Package python runs a Python script file with the interpreter the task
// names, as its own process group; the last stdout line is the return_value
// XCom, as with bash.
package python

import (
	"context"
	"path/filepath"

	"github.com/sirocco-dev/sirocco/internal/dag"
	"github.com/sirocco-dev/sirocco/internal/operator"
	"github.com/sirocco-dev/sirocco/internal/operator/process"
)

// Spec declares the operator's fields and their defaults.
var Spec = dag.OperatorSpec{
	Name:        "python",
	Description: "Run a Python script file with a chosen interpreter.",
	Fields: []dag.FieldSpec{
		{Name: "script", Kind: dag.FieldString, Required: true, Templated: true, Description: "script path; relative paths start at the DAG file's folder"},
		{Name: "python", Kind: dag.FieldString, Templated: true, Default: "python3", Description: "interpreter, e.g. .venv/bin/python"},
		{Name: "args", Kind: dag.FieldStringList, Templated: true, Description: "arguments passed to the script"},
		{Name: "cwd", Kind: dag.FieldString, Templated: true, Default: ".", Description: "working directory; relative paths (the default too) start at the DAG file's folder"},
		{Name: "append_env", Kind: dag.FieldBool, Default: true, Description: "add env to Sirocco's environment instead of replacing it"},
		{Name: "do_xcom_push", Kind: dag.FieldBool, Default: true, Description: "push the last stdout line as return_value"},
	},
}

// Factory registers the operator; the process package stops what a try
// left running when Sirocco died.
var Factory = operator.Factory{Spec: Spec, New: func() operator.Operator { return Operator{} }, Recoverer: process.Recoverer{}}

// Operator runs one script.
type Operator struct{}

// Execute runs `python script args...`.
func (Operator) Execute(ctx context.Context, t *operator.Task) (operator.Result, error) {
	args := operator.FieldsOf(Spec, t.Args)
	abs := func(p string) string {
		if p == "" || filepath.IsAbs(p) || t.DagDir == "" {
			return p
		}
		return filepath.Join(t.DagDir, p)
	}
	interp := args.String("python")
	if filepath.Base(interp) != interp { // a path, not a name looked up in PATH
		interp = abs(interp)
	}
	argv := append([]string{interp, "-u", abs(args.String("script"))}, args.Strings("args")...)
	out := &process.LastLine{W: t.Log}
	err := process.Run(ctx, process.Spec{
		Argv:       argv,
		Dir:        abs(args.String("cwd")),
		Env:        process.Environ(t.Env, t.CtxEnv, args.Bool("append_env")),
		Stdout:     out,
		Stderr:     t.Log,
		SaveHandle: t.SaveHandle,
		NoteHandle: t.NoteHandle,
		TryID:      t.TryID,
		Grace:      t.KillGrace,
	})
	if err != nil {
		return operator.Result{}, err
	}
	var res operator.Result
	if args.Bool("do_xcom_push") {
		if last := out.Last(); last != "" {
			res.ReturnValue = &last
		}
	}
	return res, nil
}

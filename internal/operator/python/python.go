// Package python runs Python with the interpreter the task names, as its
// own process group: either a script file (the last stdout line is the
// return_value XCom, as with bash) or a function, `callable:
// module:function`, called by a small shim with op_args and op_kwargs
// (its return value is the XCom). No Python runs inside Sirocco.
package python

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/sirocco-dev/sirocco/internal/dag"
	"github.com/sirocco-dev/sirocco/internal/operator"
	"github.com/sirocco-dev/sirocco/internal/operator/process"
)

// Spec declares the operator's fields and their defaults.
var Spec = dag.OperatorSpec{
	Name:        "python",
	Description: "Run a Python script file, or a function of a module, with a chosen interpreter.",
	Fields: []dag.FieldSpec{
		{Name: "script", Kind: dag.FieldString, Templated: true, Description: "script path; relative paths start at the DAG file's folder (or give callable)"},
		{Name: "callable", Kind: dag.FieldString, Check: checkCallable,
			Description: `function to call, "module:function" or "package.module:function"; the module is imported from the DAG file's folder first, then the interpreter's path (or give script)`},
		{Name: "python", Kind: dag.FieldString, Templated: true, Default: "python3", Description: "interpreter, e.g. .venv/bin/python"},
		{Name: "args", Kind: dag.FieldStringList, Templated: true, Needs: "script", Description: "arguments passed to the script"},
		{Name: "op_args", Kind: dag.FieldAny, Templated: true, Needs: "callable", Check: checkList,
			Description: "positional arguments of the function (a list; strings templated), passed as JSON"},
		{Name: "op_kwargs", Kind: dag.FieldAny, Templated: true, Needs: "callable", Check: checkMap,
			Description: "keyword arguments of the function (a mapping; strings templated), passed as JSON"},
		{Name: "templates_dict", Kind: dag.FieldAny, Templated: true, Needs: "callable", Check: checkMap,
			Description: "a mapping (strings templated) the function gets as its templates_dict argument"},
		{Name: "multiple_outputs", Kind: dag.FieldBool, Default: false, Needs: "callable",
			Description: "the function returns a dict: also push each item as an XCom under its key (besides return_value)"},
		{Name: "show_return_value_in_logs", Kind: dag.FieldBool, Default: true, Needs: "callable",
			Description: "write the function's return value in the task's log"},
		{Name: "cwd", Kind: dag.FieldString, Templated: true, Default: ".", Description: "working directory; relative paths (the default too) start at the DAG file's folder"},
		{Name: "append_env", Kind: dag.FieldBool, Default: true, Description: "add env to Sirocco's environment instead of replacing it"},
		{Name: "do_xcom_push", Kind: dag.FieldBool, Default: true, Description: "push return_value: a script's last stdout line, a function's return value"},
	},
	ExactlyOne: [][]string{{"script", "callable"}},
}

// Factory registers the operator; the process package stops what a try
// left running when Sirocco died, and clean removes the private folders
// of its callables.
var Factory = operator.Factory{Spec: Spec, New: func() operator.Operator { return Operator{} }, Recoverer: process.Recoverer{}, Clean: clean}

// Operator runs one script or function.
type Operator struct{}

// Execute runs `python script args...`, or the callable through the shim.
func (Operator) Execute(ctx context.Context, t *operator.Task) (operator.Result, error) {
	args := operator.FieldsOf(Spec, t.Args)
	script, fn := args.String("script"), args.String("callable")
	switch {
	case script != "" && fn != "":
		return operator.Result{}, errors.New(`python: "script" and "callable" exclude each other: give only one`)
	case fn != "":
		return runCallable(ctx, t, args, fn)
	case script == "":
		return operator.Result{}, errors.New(`python: give "script" or "callable"`)
	}
	argv := append([]string{interpreter(t, args), "-u", dagPath(t, script)}, args.Strings("args")...)
	out := &process.LastLine{W: t.Log}
	if err := process.Run(ctx, procSpec(t, args, argv, out)); err != nil {
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

// procSpec is the process both kinds of task run: the task's folder,
// environment, handle and kill grace; stdout to out, stderr to the log.
func procSpec(t *operator.Task, args operator.Fields, argv []string, out *process.LastLine) process.Spec {
	s := process.Spec{
		Argv:       argv,
		Dir:        dagPath(t, args.String("cwd")),
		Env:        process.Environ(t.Env, t.CtxEnv, args.Bool("append_env")),
		Stdout:     t.Log,
		Stderr:     t.Log,
		SaveHandle: t.SaveHandle,
		NoteHandle: t.NoteHandle,
		TryID:      t.TryID,
		Grace:      t.KillGrace,
	}
	if out != nil {
		s.Stdout = out
	}
	return s
}

// dagPath makes a relative path start at the DAG file's folder.
func dagPath(t *operator.Task, p string) string {
	if p == "" || filepath.IsAbs(p) || t.DagDir == "" {
		return p
	}
	return filepath.Join(t.DagDir, p)
}

// interpreter is the python field: a name looked up in PATH, or a path
// (a virtualenv's bin/python) relative to the DAG file's folder.
func interpreter(t *operator.Task, args operator.Fields) string {
	interp := args.String("python")
	if filepath.Base(interp) != interp {
		interp = dagPath(t, interp)
	}
	return interp
}

// checkCallable vets the callable field when the DAG file loads.
func checkCallable(v any) error {
	s, _ := v.(string)
	_, err := ParseCallable(s)
	return err
}

// checkList and checkMap vet op_args and op_kwargs when the DAG file loads.
func checkList(v any) error {
	if _, ok := v.([]any); !ok {
		return fmt.Errorf("expected a list, got %s", kindOf(v))
	}
	return nil
}

func checkMap(v any) error {
	if _, ok := v.(map[string]any); !ok {
		return fmt.Errorf("expected a mapping, got %s", kindOf(v))
	}
	return nil
}

// kindOf names the YAML shape of a decoded value for an error.
func kindOf(v any) string {
	switch v.(type) {
	case string:
		return "a string"
	case int, float64:
		return "a number"
	case bool:
		return "a boolean"
	case []any:
		return "a list"
	case map[string]any:
		return "a mapping"
	}
	return fmt.Sprintf("a %T", v)
}

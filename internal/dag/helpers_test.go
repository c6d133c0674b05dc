package dag

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// testOps is the operator set the loader tests validate against. It mirrors
// the shape of the real bash, empty and python operators without importing
// them (this package must not depend on operators).
var testOps = map[string]OperatorSpec{
	"bash": {Name: "bash", Description: "Runs a shell command.", Fields: []FieldSpec{
		{Name: "command", Kind: FieldString, Required: true, Templated: true, Description: "The command."},
		{Name: "cwd", Kind: FieldString, Templated: true, Description: "Working directory."},
		{Name: "append_env", Kind: FieldBool, Description: "Add env to the inherited environment."},
		{Name: "skip_on_exit_code", Kind: FieldIntList, Description: "Exit codes that mean skipped."},
	}},
	"empty": {Name: "empty", Description: "Does nothing."},
	"python": {Name: "python", Description: "Runs a Python script.", Fields: []FieldSpec{
		{Name: "script", Kind: FieldString, Required: true, Templated: true, Description: "Script path."},
		{Name: "python", Kind: FieldString, Description: "Interpreter."},
		{Name: "args", Kind: FieldStringList, Templated: true, Description: "Arguments."},
	}},
}

// fakeCheckTemplate is a stand-in for the Jinja syntax check: every "{{"
// and "{%" must be closed.
func fakeCheckTemplate(src string) error {
	for _, pair := range [][2]string{{"{{", "}}"}, {"{%", "%}"}} {
		rest := src
		for {
			i := strings.Index(rest, pair[0])
			if i < 0 {
				break
			}
			j := strings.Index(rest[i+2:], pair[1])
			if j < 0 {
				return fmt.Errorf("unclosed %q", pair[0])
			}
			rest = rest[i+2+j+2:]
		}
	}
	return nil
}

var testOpts = LoadOptions{Operators: testOps, CheckTemplate: fakeCheckTemplate}

// errorLines renders a loader error as one message per line, which is what
// the tests compare against.
func errorLines(t *testing.T, err error) []string {
	t.Helper()
	if err == nil {
		return nil
	}
	var out []string
	for _, fe := range FileErrors(err) {
		out = append(out, fe.Error())
	}
	if got := strings.Join(out, "\n"); got != err.Error() {
		t.Errorf("error text %q differs from its FileErrors %q", err.Error(), got)
	}
	var fe *FileError
	if !errors.As(err, &fe) {
		t.Errorf("error %v holds no *FileError", err)
	}
	return out
}

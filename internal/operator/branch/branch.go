package branch

import (
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

// BranchSpec declares the branch operator's fields: a bash command's.
var BranchSpec = dag.OperatorSpec{
	Name: scheduler.BranchOperator,
	Description: "Run a bash command whose last stdout line names the direct downstream tasks to follow " +
		"(a task id, a JSON list of ids, or empty, null or [] for none); the others are skipped.",
	Fields: bash.CommandFields,
}

// BranchFactory registers the branch operator; the process package stops
// what a try left running when Sirocco died.
var BranchFactory = operator.Factory{Spec: BranchSpec, New: func() operator.Operator { return Branch{} },
	Recoverer: process.Recoverer{}}

// Branch runs a command and follows the downstream tasks it names.
type Branch struct{}

// Execute runs the command and pushes its choice as return_value: a task
// id, or a list of them.
func (Branch) Execute(ctx context.Context, t *operator.Task) (operator.Result, error) {
	last, err := bash.Run(ctx, t, operator.FieldsOf(BranchSpec, t.Args))
	if err != nil {
		return operator.Result{}, err
	}
	value, ids, err := Choose(last, t.TaskID, t.Downstream)
	if err != nil {
		return operator.Result{}, err
	}
	if len(ids) == 0 {
		fmt.Fprintf(t.Log, "sirocco: branch follows no downstream task\n")
	} else {
		fmt.Fprintf(t.Log, "sirocco: branch follows %s\n", strings.Join(ids, ", "))
	}
	return operator.Result{ReturnJSON: value}, nil
}

// Choose reads a branch command's last stdout line and checks that the ids
// it names are among downstream, the direct downstream tasks of taskID.
// It returns the return_value to push (a JSON string for one bare id or
// JSON string, a JSON list otherwise) and the ids.
func Choose(line, taskID string, downstream []string) ([]byte, []string, error) {
	ids, single, err := ParseBranchLine(line)
	if err != nil {
		return nil, nil, err
	}
	var bad []string
	for _, id := range ids {
		if !slices.Contains(downstream, id) {
			bad = append(bad, fmt.Sprintf("%q", clip(id)))
		}
	}
	if len(bad) > 0 {
		what := "is not a direct downstream task"
		if len(bad) > 1 {
			what = "are not direct downstream tasks"
		}
		valid := "it has no downstream tasks, so its result must be empty, null or []"
		if len(downstream) > 0 {
			valid = "valid: " + strings.Join(downstream, ", ")
		}
		return nil, nil, fmt.Errorf("branch chose %s, which %s of %s (%s)", strings.Join(bad, ", "), what, taskID, valid)
	}
	var v any = ids
	if single {
		v = ids[0]
	}
	value, err := json.Marshal(v)
	if err != nil {
		return nil, nil, fmt.Errorf("encode the branch's choice: %w", err)
	}
	return value, ids, nil
}

// ParseBranchLine reads a branch's last stdout line: empty, null, None or
// [] follow no task; a JSON list of strings or a JSON string name task
// ids; any other text is one bare task id. single reports a one-id answer
// given as an id rather than a list. Ids come in order, without repeats.
func ParseBranchLine(line string) (ids []string, single bool, err error) {
	s := strings.TrimSpace(line)
	switch {
	case s == "" || s == "null" || s == "None":
		return []string{}, false, nil
	case strings.HasPrefix(s, "["):
		var list []any
		if err := json.Unmarshal([]byte(s), &list); err != nil {
			hint := ""
			if strings.Contains(s, "'") {
				hint = " (a Python list prints with single quotes: print json.dumps(...) instead)"
			}
			return nil, false, fmt.Errorf("branch result %q is not a JSON list of task ids%s: %w", clip(s), hint, err)
		}
		ids = make([]string, 0, len(list))
		for _, e := range list {
			id, ok := e.(string)
			if !ok {
				return nil, false, fmt.Errorf("branch result %q: %v in the list is not a task id (a string)", clip(s), e)
			}
			if !slices.Contains(ids, id) {
				ids = append(ids, id)
			}
		}
		return ids, false, nil
	case strings.HasPrefix(s, `"`):
		var id string
		if err := json.Unmarshal([]byte(s), &id); err != nil {
			return nil, false, fmt.Errorf("branch result %q is not a JSON string: %w", clip(s), err)
		}
		return []string{id}, true, nil
	}
	return []string{s}, true, nil
}

// clip shortens text quoted in an error.
func clip(s string) string {
	const max = 200
	if len(s) <= max {
		return s
	}
	return strings.ToValidUTF8(s[:max], "") + "…"
}

package airflowimport

import (
	"fmt"
	"strings"
)

// mappingRule explains a mapped task (.expand, .expand_kwargs, a mapped
// task group) that cannot be written with Sirocco's expand: how it was
// mapped, over what, why not, and the rewrite that fits (a loop in the DAG
// file when the items are known when the file runs, else a loop inside one
// task).
func mappingRule(t TaskIR, why string) opRule {
	how := str(t.Mapping["how"])
	if how == "" {
		how = "expand"
	}
	over, _ := t.Mapping["over"].(map[string]any)
	var args []string
	fromTask, derived := "", ""
	literal := len(over) > 0
	for _, k := range sortedKeys(over) {
		v := over[k]
		if kind(v) == "xcomarg" {
			fromTask = str(field(v, "task_id"))
			derived = str(field(v, "derived"))
			literal = false
		} else if _, isList := v.([]any); !isList {
			literal = false
		}
		if k == "" {
			args = append(args, truncate(describe(v), 40))
		} else {
			args = append(args, k+"="+truncate(describeMapped(v), 40))
		}
	}
	what := "." + strings.TrimPrefix(how, "task_group.") + "(" + strings.Join(args, ", ") + ")"
	if g := str(t.Mapping["group"]); g != "" {
		what = "the task group " + g + " mapped with " + what
	}
	rule := opRule{Feature: "dynamic task mapping (" + what + "): " + why}
	switch {
	case derived != "":
		rule.Rewrite = fmt.Sprintf("do the .%s() in a @task that returns the finished list (reading %s's XCom), "+
			"and expand over that task's output, which converts", derived, fromTask)
	case literal:
		rule.Rewrite = "the items are known when the file runs: make one task per item with a for loop in the DAG file " +
			"(the importer runs loops; give each a task_id of its own)"
	case fromTask != "":
		rule.Rewrite = fmt.Sprintf("the items come from task %s at run time: loop over them inside one task "+
			"(a python task taking %s's XCom), or make %s push a list of dicts of arguments and use .expand_kwargs(), which converts", fromTask, fromTask, fromTask)
	default:
		rule.Rewrite = "make one task per item with a for loop in the DAG file (the importer runs loops), or loop inside one task"
	}
	return rule
}

// describeMapped names what a task is mapped over.
func describeMapped(v any) string {
	if kind(v) == "xcomarg" {
		return "the XCom of " + str(field(v, "task_id"))
	}
	if l, ok := v.([]any); ok {
		return fmt.Sprintf("a list of %d", len(l))
	}
	return describe(v)
}

// mappedKeys writes a mapped task's expand or expand_kwargs, and
// max_active_tis_per_dag (of any task, as Airflow's; from default_args
// too, which Sirocco's default_args do not take).
// It takes op_kwargs out of fields when they are expanded.
func (c *converter) mappedKeys(t TaskIR, r opRule, fields, opArgs map[string]any) omap {
	m := newMap()
	if t.Mapped {
		c.expandKey(m, t, r, fields)
	}
	if v, ok := merged(merged(opArgs, t.DefaultArgs), t.Kwargs)["max_active_tis_per_dag"]; ok && v != nil {
		m.put("max_active_tis_per_dag", c.plainOr(t.Loc, t.TaskID, "max_active_tis_per_dag", v))
	}
	return m
}

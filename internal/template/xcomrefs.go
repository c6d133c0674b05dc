package template

import (
	"strings"

	"github.com/nikolalohinski/gonja/v2/nodes"
)

// XComTaskIDs returns the task ids that src passes as literals to
// ti.xcom_pull (or task_instance.xcom_pull), positionally or as task_ids=,
// alone or in a list, in the order written; computed ids are left out. The
// DAG loader checks them against the DAG's tasks, so that a pull from a task
// that does not exist fails at `dags validate` rather than mid-run. A
// template that does not parse yields nothing (Check reports it).
func XComTaskIDs(src string) []string {
	if !strings.Contains(src, "xcom_pull") {
		return nil
	}
	tpl, err := compile(src)
	if err != nil || tpl == nil {
		return nil
	}
	var ids []string
	inspect(tpl.Root(), func(n nodes.Node) {
		if c, ok := n.(*nodes.Call); ok && isXComPull(c.Func) {
			ids = append(ids, literalTaskIDs(c)...)
		}
	})
	return ids
}

// isXComPull reports whether f is ti.xcom_pull or task_instance.xcom_pull.
func isXComPull(f nodes.Node) bool {
	attr, ok := f.(*nodes.GetAttribute)
	if !ok || attr.Attribute != "xcom_pull" {
		return false
	}
	name, ok := attr.Node.(*nodes.Name)
	return ok && name.Name != nil && (name.Name.Val == "ti" || name.Name.Val == "task_instance")
}

// literalTaskIDs returns the string literals of c's task_ids argument.
func literalTaskIDs(c *nodes.Call) []string {
	var arg nodes.Expression
	switch {
	case len(c.Args) > 0:
		arg = c.Args[0]
	case c.Kwargs["task_ids"] != nil:
		arg = c.Kwargs["task_ids"]
	default:
		return nil
	}
	var items []nodes.Expression
	switch a := arg.(type) {
	case *nodes.String:
		return []string{a.Val}
	case *nodes.List:
		items = a.Val
	case *nodes.Tuple:
		items = a.Val
	case *nodes.Call: // a list literal, once guarded (see guardTree)
		if fn, ok := a.Func.(*nodes.Name); ok && fn.Name != nil && fn.Name.Val == listName {
			items = a.Args
		}
	}
	var out []string
	for _, it := range items {
		if s, ok := it.(*nodes.String); ok {
			out = append(out, s.Val)
		}
	}
	return out
}

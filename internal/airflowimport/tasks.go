package airflowimport

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/sirocco-dev/sirocco/internal/dag"
)

// groupNode is one TaskGroup with what it holds, in creation order.
type groupNode struct {
	ir     GroupIR
	tasks  []any
	groups []*groupNode
	opArgs map[string]any
	cbArgs map[string]any // callback and e-mail arguments, inherited and own
}

// body converts the tasks and places them in their groups.
func (c *converter) body() (tasks []any, groups []any) {
	byID := map[string]*groupNode{}
	var top []*groupNode
	for _, g := range c.d.Groups {
		n := &groupNode{ir: g, opArgs: map[string]any{}, cbArgs: map[string]any{}}
		byID[g.GroupID] = n
		if p := byID[g.Parent]; g.Parent != "" && p != nil {
			p.groups = append(p.groups, n)
		} else {
			top = append(top, n)
		}
	}
	for _, g := range c.d.Groups {
		n := byID[g.GroupID]
		inherited, cb := c.opArgs, c.cbArgs
		if p := byID[g.Parent]; p != nil {
			inherited, cb = p.opArgs, p.cbArgs
		}
		for k, v := range inherited {
			n.opArgs[k] = v
		}
		n.cbArgs = merged(cb, ownCallbackArgs(g.DefaultArgs))
	}
	for _, t := range c.d.Tasks {
		g := byID[t.Group]
		opArgs, cbArgs := c.opArgs, c.cbArgs
		if g != nil {
			opArgs, cbArgs = g.opArgs, g.cbArgs
		}
		m := c.task(t, c.shortID(t, g, byID), opArgs, cbArgs)
		if g != nil {
			g.tasks = append(g.tasks, m)
		} else {
			tasks = append(tasks, m)
		}
	}
	for _, g := range top {
		groups = append(groups, c.group(g, c.cbArgs))
	}
	return tasks, groups
}

// shortID is the id a task is written with inside its group: its full id
// without the prefix the groups add.
func (c *converter) shortID(t TaskIR, g *groupNode, byID map[string]*groupNode) string {
	for g != nil {
		if g.ir.PrefixGroupID {
			return strings.TrimPrefix(t.TaskID, g.ir.GroupID+".")
		}
		g = byID[g.ir.Parent]
	}
	return t.TaskID
}

func (c *converter) group(g *groupNode, parentCB map[string]any) omap {
	m := newMap()
	m.put("id", g.ir.ShortID)
	if g.ir.Tooltip != "" {
		m.put("tooltip", g.ir.Tooltip)
	}
	if !g.ir.PrefixGroupID {
		m.put("prefix_group_id", false)
	}
	if da := c.defaultArgs(g.ir.DefaultArgs, g.ir.Loc, "TaskGroup "+g.ir.GroupID, g.opArgs, parentCB); da.len() > 0 {
		m.put("default_args", da)
	}
	for _, k := range sortedKeys(g.ir.Kwargs) {
		c.argProblem(g.ir.Loc, "", "TaskGroup "+g.ir.GroupID, k, g.ir.Kwargs[k])
	}
	if len(g.tasks) > 0 {
		m.put("tasks", g.tasks)
	}
	if len(g.groups) > 0 {
		sub := make([]any, len(g.groups))
		for i, s := range g.groups {
			sub[i] = c.group(s, g.cbArgs)
		}
		m.put("groups", sub)
	}
	if len(g.tasks) == 0 && len(g.groups) == 0 {
		c.add(g.ir.Loc, "", fmt.Sprintf("TaskGroup %s holds no task; left out", g.ir.GroupID), "")
		m.put("tasks", []any{})
	}
	return m
}

// rule finds how a task converts; ok is false for what Sirocco has no
// operator for (reported with the rule's Feature and Rewrite).
func (c *converter) rule(t TaskIR) (opRule, bool) {
	var r opRule
	var known bool
	switch {
	case t.Decorator != "":
		r, known = decoratorRules[t.Decorator]
		if !known {
			r = opRule{Feature: "@" + t.Decorator, Rewrite: rewriteBashOrPython}
		}
	default:
		r, known = operatorRules[t.Class]
		switch {
		case !known && t.Kind == "sensor":
			r = sensorRule
			r.Feature = "the sensor " + t.Class
		case !known:
			r = opRule{Feature: "", Rewrite: rewriteBashOrPython}
		}
	}
	if r.Operator != "" {
		if _, ok := c.specs[r.Operator]; !ok {
			return opRule{Feature: "the " + r.Operator + " operator", Rewrite: rewriteBashOrPython}, false
		}
	}
	return r, r.Operator != ""
}

// task converts one operator; what cannot run in Sirocco becomes a bash
// task that fails saying so, keeping the DAG's shape and dependencies.
func (c *converter) task(t TaskIR, short string, opArgs, cbArgs map[string]any) omap {
	m := newMap()
	m.put("id", short)
	r, ok := c.rule(t)
	if ok && t.Mapped {
		if why := notExpandable(t, r, c.isField(r.Operator)); why != "" {
			ok, r = false, mappingRule(t, why)
		} else {
			t = withoutMapped(t, r)
		}
	}
	what := t.Class
	if t.Decorator != "" {
		what = "@" + t.Decorator + " " + callableName(t)
	}
	if !ok {
		c.placeholder(m, t, r, what)
		return m
	}
	m.put("operator", r.Operator)
	c.dependsOn(m, t)
	fields := c.fields(t, r, opArgs, what)
	mk := c.mappedKeys(t, r, fields, opArgs)
	spec := c.specs[r.Operator]
	for _, f := range spec.Fields {
		if v, has := fields[f.Name]; has && !slices.Contains(commonKeys, f.Name) {
			m.put(f.Name, v)
		}
	}
	for _, k := range commonKeys {
		if v, has := fields[k]; has {
			m.put(k, v)
		}
	}
	m.put("outlets", fields["outlets"])
	m.put("inlets", fields["inlets"])
	m.node.Content = append(m.node.Content, mk.node.Content...)
	cb := c.callbacks(t.Loc, t.TaskID, cbArgs, ownCallbackArgs(merged(t.DefaultArgs, t.Kwargs)))
	m.node.Content = append(m.node.Content, cb.node.Content...)
	if c.tplCtx == nil {
		c.tplCtx = sampleContext(c.paramDefaults())
	}
	c.checkTemplates(t, m.node, c.tplCtx)
	return m
}

// isField tells the fields of a Sirocco operator.
func (c *converter) isField(operator string) func(string) bool {
	spec := c.specs[operator]
	return func(name string) bool {
		return slices.ContainsFunc(spec.Fields, func(f dag.FieldSpec) bool { return f.Name == name })
	}
}

func callableName(t TaskIR) string {
	if t.Callable != nil {
		return t.Callable.Name
	}
	return ""
}

func (c *converter) dependsOn(m omap, t TaskIR) {
	if len(t.Upstream) == 0 {
		return
	}
	m.put("depends_on", t.Upstream)
	for _, u := range t.Upstream {
		if got := c.resolves(t.Group, u); got != u {
			c.add(t.Loc, t.TaskID, fmt.Sprintf("depends_on %s, written inside group %s, names %s in Sirocco (a name is looked up from the group outwards)", u, t.Group, got),
				"rename one of the two, or check the dependency by hand")
		}
	}
}

// resolves returns what Sirocco's loader finds for name written in
// group: the first of group.name, parent.name, ..., name that exists.
func (c *converter) resolves(group, name string) string {
	if group == "" {
		return name
	}
	if c.ids == nil {
		c.ids = map[string]bool{}
		c.groupByID = map[string]GroupIR{}
		for _, t := range c.d.Tasks {
			c.ids[t.TaskID] = true
		}
		for _, g := range c.d.Groups {
			c.ids[g.GroupID] = true
			c.groupByID[g.GroupID] = g
		}
	}
	for g, depth := group, 0; g != "" && depth < 1000; depth++ {
		gi, ok := c.groupByID[g]
		if !ok {
			break
		}
		if gi.PrefixGroupID && c.ids[g+"."+name] {
			return g + "." + name
		}
		g = gi.Parent
	}
	return name
}

func (c *converter) placeholder(m omap, t TaskIR, r opRule, what string) {
	var msg string
	if r.Feature != "" {
		msg = fmt.Sprintf("%s: not supported by this version: %s", what, r.Feature)
	} else {
		msg = fmt.Sprintf("%s (%s) has no Sirocco operator", what, t.Module)
	}
	c.add(t.Loc, t.TaskID, msg+"; written as a bash task that fails", r.Rewrite)
	m.put("operator", "bash")
	m.commentLast("NOT CONVERTED: " + msg + "; " + r.Rewrite)
	c.dependsOn(m, t)
	m.put("command", fmt.Sprintf("echo %s >&2; exit 1", shellQuote("not converted from Airflow: "+msg)))
}

// fields maps the task's arguments (over default_args) to Sirocco fields.
func (c *converter) fields(t TaskIR, r opRule, opArgs map[string]any, what string) map[string]any {
	spec := c.specs[r.Operator]
	has := func(name string) bool {
		return slices.ContainsFunc(spec.Fields, func(f dag.FieldSpec) bool { return f.Name == name })
	}
	out := map[string]any{}
	args := map[string]any{}
	for k, v := range opArgs {
		if has(rename(r, k)) || (r.Callable != "" && slices.Contains([]string{"op_args", "op_kwargs"}, k)) {
			args[k] = v
		}
	}
	for k, v := range t.DefaultArgs {
		args[k] = v
	}
	for k, v := range t.Kwargs {
		args[k] = v
	}
	if r.Callable != "" {
		c.callable(t, r, args, out)
	}
	for _, k := range sortedKeys(args) {
		v := args[k]
		name := rename(r, k)
		if k == "max_active_tis_per_dag" || c.special(t, r, k, v, out) {
			continue // max_active_tis_per_dag: see mappedKeys
		}
		switch {
		case slices.Contains(commonKeys, name):
			if cv := c.commonValue(t.Loc, t.TaskID, name, v); cv != nil {
				out[name] = cv
			}
		case has(name):
			if pv := c.fieldValue(t, name, v); pv != nil {
				out[name] = pv
			}
		default:
			c.argProblem(t.Loc, t.TaskID, what, k, v)
		}
	}
	return out
}

func rename(r opRule, k string) string {
	if n, ok := r.Renames[k]; ok {
		return n
	}
	return k
}

func (c *converter) fieldValue(t TaskIR, name string, v any) any {
	if durationKeys[name] {
		return c.commonValue(t.Loc, t.TaskID, name, v)
	}
	if name == "response_check" && kind(v) == "callable" {
		return c.responseCheck(t, v)
	}
	if (name == "logical_date" || name == "target_time") && kind(v) == "datetime" {
		d, err := instantValue(v)
		if err != nil {
			c.add(t.Loc, t.TaskID, name+": "+err.Error(), "write the date as YYYY-MM-DD or RFC 3339")
			return nil
		}
		return d
	}
	return c.plainOr(t.Loc, t.TaskID, name, v)
}

// callable turns python_callable (or the @task function) and its
// arguments into callable/op_args/op_kwargs, or a branch's command; the
// arguments it consumes are removed from args.
func (c *converter) callable(t TaskIR, r opRule, args, out map[string]any) {
	opArgs, _ := args["op_args"].([]any)
	opKwargs, _ := args["op_kwargs"].(map[string]any)
	delete(args, "python_callable")
	delete(args, "op_args")
	delete(args, "op_kwargs")
	fn := t.Callable
	if fn == nil || fn.Source == "" {
		reason := "no python_callable"
		if fn != nil {
			reason = fn.Error
		}
		c.add(t.Loc, t.TaskID, "the task's function could not be copied: "+reason, "write it in a module next to the YAML and name it in callable:")
		if r.Callable == "python" {
			out["callable"] = c.mod.module + ":MISSING"
		} else {
			out["command"] = "echo " + shellQuote("not converted from Airflow: the function could not be copied") + " >&2; exit 1"
		}
		return
	}
	name := c.mod.add(fn)
	for _, p := range fn.Params {
		if notPassed[p] {
			c.add(t.Loc, t.TaskID, fmt.Sprintf("function %s asks for %s, which Sirocco does not pass: it gets its default, or the task fails (see README, The python operator)", fn.Name, p),
				"give it what it needs in op_kwargs, e.g. \"{{ var.value.key }}\" or \"{{ ti.xcom_pull(task_ids='t') }}\"")
		}
	}
	if r.Callable != "python" {
		c.decideCommand(t, r, name, opArgs, opKwargs, out)
		return
	}
	var jsonArgs []int
	var jsonKwargs []string
	la := make([]any, len(opArgs))
	for i, a := range opArgs {
		la[i] = c.pyArg(t, fmt.Sprintf("op_args[%d]", i), a, func() { jsonArgs = append(jsonArgs, i) })
	}
	mk := map[string]any{}
	for _, k := range sortedKeys(opKwargs) {
		mk[k] = c.pyArg(t, "op_kwargs."+k, opKwargs[k], func() { jsonKwargs = append(jsonKwargs, k) })
	}
	target := name
	if len(jsonArgs)+len(jsonKwargs) > 0 {
		target = c.mod.wrapper(t.TaskID, name, jsonArgs, jsonKwargs)
	}
	out["callable"] = c.mod.module + ":" + target
	if len(la) > 0 {
		out["op_args"] = la
	}
	if len(mk) > 0 {
		out["op_kwargs"] = mk
	}
}

// pyArg converts one argument of a function: an XComArg becomes a
// template giving its value as JSON (decoded again by the adapter).
func (c *converter) pyArg(t TaskIR, name string, v any, isJSON func()) any {
	if kind(v) == "xcomarg" {
		isJSON()
		return xcomTemplate(v, " | tojson")
	}
	if kind(v) == "" && containsXCom(v) {
		c.add(t.Loc, t.TaskID, name+": an XComArg inside a list or dict reaches the function as text, not as its value",
			"pass the XComArg as an argument of its own")
	}
	return c.plainOr(t.Loc, t.TaskID, name, v)
}

func containsXCom(v any) bool {
	switch x := v.(type) {
	case map[string]any:
		if kind(x) == "xcomarg" {
			return true
		}
		for _, e := range x {
			if containsXCom(e) {
				return true
			}
		}
	case []any:
		return slices.ContainsFunc(x, containsXCom)
	}
	return false
}

// decideCommand writes a branch or short_circuit task whose command calls
// the function through the module's _sirocco_decide (a sensor's, through
// _sirocco_poke): plain arguments as JSON, XComArgs as templates rendered
// into further arguments.
func (c *converter) decideCommand(t TaskIR, r opRule, name string, opArgs []any, opKwargs map[string]any, out map[string]any) {
	call := map[string]any{}
	var xcoms []string
	var xArgs []any
	var xKwargs []any
	args := make([]any, len(opArgs))
	for i, a := range opArgs {
		if kind(a) == "xcomarg" {
			xArgs = append(xArgs, i)
			xcoms = append(xcoms, xcomTemplate(a, " | tojson | shquote"))
			continue
		}
		args[i] = c.decideArg(t, fmt.Sprintf("op_args[%d]", i), a)
	}
	kwargs := map[string]any{}
	for _, k := range sortedKeys(opKwargs) {
		if kind(opKwargs[k]) == "xcomarg" {
			xKwargs = append(xKwargs, k)
			xcoms = append(xcoms, xcomTemplate(opKwargs[k], " | tojson | shquote"))
			continue
		}
		kwargs[k] = c.decideArg(t, "op_kwargs."+k, opKwargs[k])
	}
	if len(args) > 0 {
		call["op_args"] = args
	}
	if len(kwargs) > 0 {
		call["op_kwargs"] = kwargs
	}
	if len(xArgs) > 0 {
		call["xcom_args"] = xArgs
	}
	if len(xKwargs) > 0 {
		call["xcom_kwargs"] = xKwargs
	}
	js, _ := json.Marshal(call)
	helper, mode := "_sirocco_decide", " "+r.Callable
	if r.Callable == "sensor" {
		helper, mode = "_sirocco_poke", ""
		c.mod.poker()
		out["retry_exit_code"] = pokeNotYet
	} else {
		c.mod.decider()
	}
	// The DAG run's params go as one more argument (Airflow's
	// context["params"]), rendered like the XComs.
	cmd := fmt.Sprintf("python3 -c 'import sys, %s as m; m.%s(*sys.argv[1:])' %s %s%s %s",
		c.mod.module, helper, name, shellQuote(string(js)), mode, "{{ params | tojson | shquote }}")
	if len(xcoms) > 0 {
		cmd += " " + strings.Join(xcoms, " ")
	}
	out["command"] = cmd
}

func (c *converter) decideArg(t TaskIR, name string, v any) any {
	if containsXCom(v) {
		c.add(t.Loc, t.TaskID, name+": an XComArg inside a list or dict reaches the function as text, not as its value",
			"pass the XComArg as an argument of its own")
	}
	return c.plainOr(t.Loc, t.TaskID, name, v)
}

// shellQuote quotes s for bash.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// notPassed are Airflow context values a Sirocco python task does not
// pass to its function.
var notPassed = map[string]bool{"ti": true, "task_instance": true, "task": true, "dag": true, "var": true,
	"macros": true, "conf": true, "prev_data_interval_start_success": true, "prev_data_interval_end_success": true,
	"prev_start_date_success": true, "prev_end_date_success": true, "outlets": true, "inlets": true}

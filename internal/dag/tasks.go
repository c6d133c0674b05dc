package dag

import (
	"maps"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// defaultArgs returns the task every task starts from: Airflow's defaults
// overlaid with the file's default_args.
func (l *loader) defaultArgs(keys map[string]entry) Task {
	t := Task{
		TriggerRule:    AllSuccess,
		RetryDelay:     defaultRetryDelay * time.Second,
		Pool:           DefaultPool,
		PoolSlots:      1,
		PriorityWeight: 1,
		Queue:          defaultQueue,
		Env:            map[string]string{},
	}
	if e, ok := set(keys, "default_args"); ok {
		t = l.defaultArgsOver(t, e.val, "default_args")
	}
	return t
}

// defaultArgsOver returns base with the default_args mapping n (at field)
// applied: the DAG's over Airflow's defaults, a group's over its parent's.
func (l *loader) defaultArgsOver(base Task, n *yaml.Node, field string) Task {
	t := base
	entries, _ := l.mapEntries(n, field)
	taskOnly := keyNames(taskOnlyKeys)
	for _, e := range entries {
		switch {
		case slices.Contains(taskOnly, e.name):
			l.errAt(e.key, field, "key %q cannot be inherited; set it on each task", e.name)
		case !slices.Contains(defaultArgsKeyNames, e.name):
			l.unknownKey(e, field, defaultArgsKeyNames)
		case !isNull(e.val):
			l.common(&t, e, subField(field, e.name))
		}
	}
	return t
}

// common applies one scheduling key to t.
func (l *loader) common(t *Task, e entry, field string) {
	n := e.val
	if l.callback(&t.Callbacks, e.name, n, field) || l.taskDeadline(t, e.name, n, field) {
		return
	}
	switch e.name {
	case "trigger_rule":
		if s, ok := l.str(n, field); ok {
			if rule, ok := parseTriggerRule(s); ok {
				t.TriggerRule = rule
			} else {
				names := triggerRuleNames()
				if hint := airflowTriggerRuleHint(s); hint != "" {
					l.errAt(n, field, "invalid trigger_rule %s%s", quoteShort(s), hint)
					return
				}
				l.errAt(n, field, "invalid trigger_rule %s%s; valid rules: %s",
					quoteShort(s), l.hint(s, names), strings.Join(names, ", "))
			}
		}
	case "retries":
		if i, ok := l.integer(n, field); ok {
			if i < 0 {
				l.errAt(n, field, "must not be negative, got %d", i)
			} else {
				t.Retries = i
			}
		}
	case "retry_delay":
		if d, ok := l.duration(n, field); ok {
			t.RetryDelay = d
		}
	case "retry_exponential_backoff":
		if b, ok := l.boolean(n, field); ok {
			t.RetryExponentialBackoff = b
		}
	case "max_retry_delay":
		if d, ok := l.duration(n, field); ok {
			t.MaxRetryDelay = d
		}
	case "execution_timeout":
		if d, ok := l.duration(n, field); ok {
			t.ExecutionTimeout = d
		}
	case "pool":
		if s, ok := l.nonEmpty(n, field); ok {
			t.Pool = s
		}
	case "pool_slots":
		t.PoolSlots = l.positive(n, field, t.PoolSlots)
	case "priority_weight":
		if i, ok := l.integer(n, field); ok {
			t.PriorityWeight = i
		}
	case "queue":
		if s, ok := l.nonEmpty(n, field); ok {
			t.Queue = s
		}
	case "preflight":
		if b, ok := l.boolean(n, field); ok {
			t.Preflight = b
		}
	case "executor_config":
		l.executorConfig(t, n, field)
	case "depends_on_past", "wait_for_downstream", "ignore_first_depends_on_past", "latest_only":
		l.crossRunFlag(t, e.name, n, field)
	case "env":
		// As with any Airflow default_args key, a task's env replaces the
		// inherited one rather than merging with it.
		if m, ok := l.stringMap(n, field, true); ok {
			t.Env = make(map[string]string, len(m))
			for k, v := range m {
				t.Env[k] = v.(string)
			}
		}
	}
}

// executorConfig reads a task's executor_config: a mapping, checked by
// the executor's rules, each problem reported at the key.
func (l *loader) executorConfig(t *Task, n *yaml.Node, field string) {
	v, ok := l.value(n, field, false)
	if !ok {
		return
	}
	m, isMap := v.(map[string]any)
	if !isMap {
		l.typeErr(n, field, "a mapping")
		return
	}
	if check := l.opts.CheckExecutorConfig; check != nil {
		if err := check(m); err != nil {
			for _, e := range unjoin(err) {
				l.errAt(n, field, "%v", e)
			}
			return
		}
	}
	t.ExecutorConfig = m
}

// unjoin lists the errors of an errors.Join.
func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

func (l *loader) nonEmpty(n *yaml.Node, field string) (string, bool) {
	s, ok := l.str(n, field)
	if ok && strings.TrimSpace(s) == "" {
		l.errAt(n, field, "must not be empty")
		return "", false
	}
	return s, ok
}

func parseTriggerRule(s string) (TriggerRule, bool) {
	for _, r := range TriggerRules {
		if string(r) == s {
			return r, true
		}
	}
	return "", false
}

func triggerRuleNames() []string {
	out := make([]string, len(TriggerRules))
	for i, r := range TriggerRules {
		out[i] = string(r)
	}
	return out
}

// draft is a task being loaded, with what the graph checks need.
type draft struct {
	task    *Task
	node    *yaml.Node // the task's mapping
	pos     *yaml.Node // where the task is written (an alias, or node)
	idNode  *yaml.Node // its id's value; nil when missing or invalid
	field   string     // "tasks[extract]", "tasks[3]", "groups[g].tasks[a]"
	scope   *scope     // the top level or the group it is written in
	entries []entry
	inGraph bool // valid, unique id
	deps    []depRef
	flat    []flatDep // its upstream tasks once groups are expanded
}

type depRef struct {
	id   string
	node *yaml.Node
}

// peekID returns the task id written in mapping n, if it is a plain
// scalar, so that problems found while reading the mapping can already name
// the task.
func peekID(n *yaml.Node) string {
	if n == nil || n.Kind != yaml.MappingNode {
		return ""
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k, v := n.Content[i], resolve(n.Content[i+1]); k.Value == "id" && v != nil && v.Kind == yaml.ScalarNode {
			return v.Value
		}
	}
	return ""
}

// task decodes one task's keys on top of base.
func (l *loader) task(dr *draft, base Task) {
	t := dr.task
	id, line := t.ID, t.Line
	*t = base
	t.ID, t.Line = id, line
	t.Env = maps.Clone(base.Env)
	t.Args = map[string]any{}
	t.DependsOn = []string{}

	keys := make(map[string]entry, len(dr.entries))
	for _, e := range dr.entries {
		keys[e.name] = e
	}
	var spec *OperatorSpec
	var fields map[string]FieldSpec
	if e, ok := keys["operator"]; !ok || isNull(e.val) {
		l.errAt(dr.pos, dr.field, "missing required key \"operator\"")
	} else if name, ok := l.str(e.val, dr.field+".operator"); ok {
		if s, ok := l.opts.Operators[name]; ok {
			spec = &s
			t.Operator = name
			fields = fieldMap(s)
		} else {
			l.errAt(e.val, dr.field+".operator", "unknown operator %s%s", quoteShort(name), l.operatorHint(name))
			if s, ok := l.opts.Operators[airflowOperators[name]]; ok {
				// "BashOperator": check the fields against bash, so
				// that bash_command is reported in the same pass.
				spec = &s
				fields = fieldMap(s)
			}
		}
	}

	for _, e := range dr.entries {
		field := subField(dr.field, e.name)
		switch {
		case e.name == "id" || e.name == "operator":
		case e.name == "depends_on":
			dr.deps = l.depRefs(dr.deps, e, field)
		case e.name == "outlets":
			t.Outlets = l.assetRefs(e.val, field)
		case e.name == "inlets":
			t.Inlets = l.assetRefs(e.val, field)
		case e.name == "expand" || e.name == "expand_kwargs" || e.name == "max_active_tis_per_dag":
			if !isNull(e.val) {
				l.mapKeys(dr, e, fields)
			}
		case slices.Contains(defaultArgsKeyNames, e.name):
			if !isNull(e.val) {
				l.common(t, e, field)
			}
		case spec == nil:
			// Unknown operator: its fields cannot be checked, but a
			// key that no operator has is unknown whatever was meant.
			if !l.anyOperatorField(e.name) {
				l.unknownKey(e, dr.field, l.allTaskKeys())
			}
		default:
			f, ok := fields[e.name]
			if !ok {
				allowed := append(slices.Clip(taskKeyNames), fieldNames(spec)...)
				l.unknownKey(e, dr.field, allowed)
				continue
			}
			if v, ok := l.fieldValue(f, e.val, field); ok {
				t.Args[e.name] = v
				l.checkField(f, e.val, field, v)
			}
		}
	}
	if spec != nil && t.Operator != "" { // not for "BashOperator": one problem is enough
		for _, f := range spec.Fields {
			if _, ok := keys[f.Name]; f.Required && (!ok || isNull(keys[f.Name].val)) && !hasAirflowSpelling(dr.entries, f.Name) && !t.expanded(f.Name) {
				l.errAt(dr.pos, dr.field, "missing required key %q (operator %q needs it)", f.Name, t.Operator)
			}
		}
		l.fieldRules(dr, spec, keys)
	}
	l.checkMapped(dr, keys)
}

// depRefs reads a task id or a list of them into have, without duplicates.
func (l *loader) depRefs(have []depRef, e entry, field string) []depRef {
	r := resolve(e.val)
	var items []*yaml.Node
	switch {
	case isNull(r):
		return have
	case r.Kind == yaml.ScalarNode:
		items = []*yaml.Node{e.val}
	case r.Kind == yaml.SequenceNode:
		items = r.Content
	default:
		l.errAt(e.val, field, "expected a task id or a list of task ids, got %s", describe(r))
		return have
	}
	seen := make(map[string]bool, len(items)+len(have))
	for _, d := range have {
		seen[d.id] = true
	}
	for _, item := range items {
		id, ok := l.str(item, field)
		if !ok || seen[id] {
			continue
		}
		seen[id] = true
		have = append(have, depRef{id, item})
	}
	return have
}

// fieldValue decodes an operator field according to its kind. The result
// is what the operator finds in Task.Args: string, int, bool, the duration as
// written (string or number), []any of string or int, map[string]any of
// string, or any decoded value for FieldAny.
func (l *loader) fieldValue(f FieldSpec, n *yaml.Node, field string) (any, bool) {
	tmpl := f.Templated && l.opts.CheckTemplate != nil
	switch f.Kind {
	case FieldString:
		s, ok := l.str(n, field)
		if ok && tmpl {
			l.checkTemplate(n, field, s)
		}
		return s, ok
	case FieldInt:
		return l.integer(n, field)
	case FieldBool:
		return l.boolean(n, field)
	case FieldDuration:
		if _, ok := l.duration(n, field); !ok {
			return nil, false
		}
		return l.value(n, field, false)
	case FieldStringList:
		return l.list(n, field, wantStringList, func(c *yaml.Node, f string) (any, bool) {
			s, ok := l.str(c, f)
			if ok && tmpl {
				l.checkTemplate(c, f, s)
			}
			return s, ok
		})
	case FieldIntList:
		return l.list(n, field, wantIntList, func(c *yaml.Node, f string) (any, bool) {
			return l.integer(c, f)
		})
	case FieldStringMap:
		return l.stringMap(n, field, tmpl)
	default: // FieldAny and kinds this loader does not know
		return l.value(n, field, tmpl)
	}
}

func (l *loader) list(n *yaml.Node, field, want string, item func(*yaml.Node, string) (any, bool)) (any, bool) {
	r := resolve(n)
	if r == nil || r.Kind != yaml.SequenceNode {
		l.typeErr(n, field, want)
		return nil, false
	}
	out := make([]any, 0, len(r.Content))
	ok := true
	for i, c := range r.Content {
		if !l.spend() {
			return nil, false
		}
		v, good := item(c, indexField(field, i))
		ok = ok && good
		out = append(out, v)
	}
	return out, ok
}

// stringMap reads a mapping of scalars as strings (env-style).
func (l *loader) stringMap(n *yaml.Node, field string, tmpl bool) (map[string]any, bool) {
	entries, ok := l.mapEntries(n, field)
	if !ok {
		return nil, false
	}
	out := make(map[string]any, len(entries))
	for _, e := range entries {
		f := subField(field, e.name)
		s, good := l.str(e.val, f)
		if !good {
			ok = false
			continue
		}
		if tmpl {
			l.checkTemplate(e.val, f, s)
		}
		out[e.name] = s
	}
	return out, ok
}

// findCycles returns one cycle per strongly connected component of the
// dependency graph, as draft indexes in run order (upstream first), starting
// and ending with the component's first task in the file: the shortest way
// round from there.
func findCycles(drafts []*draft, index map[string]int) [][]int {
	n := len(drafts)
	down := make([][]int, n) // upstream -> downstream, downstream in file order
	for j, dr := range drafts {
		if !dr.inGraph {
			continue
		}
		for _, up := range dr.task.DependsOn {
			i := index[up]
			down[i] = append(down[i], j)
		}
	}
	var cycles [][]int
	for _, comp := range sccs(down) {
		if len(comp) < 2 {
			continue
		}
		in := make(map[int]bool, len(comp))
		for _, c := range comp {
			in[c] = true
		}
		start := slices.Min(comp)
		// Breadth-first from start to the shortest edge back to start.
		parent := map[int]int{start: -1}
		queue := []int{start}
		for len(queue) > 0 {
			u := queue[0]
			queue = queue[1:]
			if slices.Contains(down[u], start) {
				path := []int{start}
				for v := u; v != start; v = parent[v] {
					path = append(path, v)
				}
				slices.Reverse(path[1:])
				cycles = append(cycles, append(path, start))
				break
			}
			for _, v := range down[u] {
				if _, seen := parent[v]; !seen && in[v] {
					parent[v] = u
					queue = append(queue, v)
				}
			}
		}
	}
	return cycles
}

// sccs is Tarjan's algorithm, iterative so that a long chain of tasks cannot
// exhaust the stack.
func sccs(adj [][]int) [][]int {
	n := len(adj)
	index := make([]int, n)
	low := make([]int, n)
	onStack := make([]bool, n)
	for i := range index {
		index[i] = -1
	}
	var stack []int
	var out [][]int
	next := 0
	type frame struct{ v, edge int }
	for root := range n {
		if index[root] >= 0 {
			continue
		}
		call := []frame{{root, 0}}
		index[root], low[root] = next, next
		next++
		stack = append(stack, root)
		onStack[root] = true
		for len(call) > 0 {
			f := &call[len(call)-1]
			if f.edge < len(adj[f.v]) {
				w := adj[f.v][f.edge]
				f.edge++
				switch {
				case index[w] < 0:
					index[w], low[w] = next, next
					next++
					stack = append(stack, w)
					onStack[w] = true
					call = append(call, frame{w, 0})
				case onStack[w]:
					low[f.v] = min(low[f.v], index[w])
				}
				continue
			}
			v := f.v
			call = call[:len(call)-1]
			if len(call) > 0 {
				p := call[len(call)-1].v
				low[p] = min(low[p], low[v])
			}
			if low[v] == index[v] {
				var comp []int
				for {
					w := stack[len(stack)-1]
					stack = stack[:len(stack)-1]
					onStack[w] = false
					comp = append(comp, w)
					if w == v {
						break
					}
				}
				out = append(out, comp)
			}
		}
	}
	return out
}

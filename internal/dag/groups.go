package dag

import (
	"cmp"
	"fmt"
	"slices"

	"go.yaml.in/yaml/v3"
)

// maxGroupDepth bounds the nesting of task groups: deeper is surely a
// mistake (or a recursive alias), and it keeps every walk up the tree short.
const maxGroupDepth = 16

// scope is where ids are written: the top level of the file (g nil) or a
// task group. A task's or group's full id is its scope's childID of its
// label, and a depends_on is resolved from its scope outwards.
type scope struct {
	g       *TaskGroup // nil at the top level
	parent  *scope
	pos     *yaml.Node
	field   string // "groups[extract]"; "" at the top level
	base    Task   // what its tasks start from: every enclosing default_args applied
	deps    []depRef
	tasks   []*draft
	groups  []*scope
	depth   int
	inGraph bool // its full id is valid and unique (always true at the top level)
	broken  bool // a list in it could not be read: whether it is empty is unknown
}

// childID is the full id of a task or group written in s with the given
// label: prefixed with s's full id unless s says prefix_group_id: false,
// as Airflow's TaskGroup.child_id.
func (s *scope) childID(label string) string {
	if s.g == nil || !s.g.PrefixGroupID {
		return label
	}
	return s.g.ID + "." + label
}

// within reports whether s is inner or is inner's ancestor.
func (s *scope) within(inner *scope) bool {
	for c := inner; c != nil; c = c.parent {
		if c == s {
			return true
		}
	}
	return false
}

// taskTree reads the top-level tasks and groups into drafts, names them,
// decodes every task, then resolves and checks the dependencies. It returns
// the tasks in file order and the group tree.
func (l *loader) taskTree(root *yaml.Node, keys map[string]entry, base Task) ([]*Task, []*TaskGroup) {
	te, hasTasks := keys["tasks"]
	ge, hasGroups := set(keys, "groups")
	if !hasTasks && !hasGroups {
		l.errAt(root, "", "missing required key \"tasks\"")
		return nil, nil
	}
	top := &scope{base: base, inGraph: true}
	if hasTasks {
		top.tasks = l.taskDrafts(top, te.val, "tasks", !hasGroups)
	}
	if hasGroups {
		top.groups = l.groupList(top, ge.val, "groups")
	}
	drafts, scopes := flatten(top)
	l.nameAll(drafts, scopes)
	for _, dr := range drafts {
		l.task(dr, dr.scope.base)
		if dr.scope.g != nil {
			dr.task.Group = dr.scope.g.ID
		}
	}
	if len(drafts) == 0 && len(scopes) == 0 && len(l.errs) == 0 { // an empty group says so itself
		l.errAt(root, "", "the DAG has no tasks")
	}
	l.resolveDeps(drafts, scopes, hasGroups)
	l.checkXComRefs(drafts)
	tasks := make([]*Task, len(drafts))
	for i, dr := range drafts {
		tasks[i] = dr.task
	}
	return tasks, groupTree(top)
}

// flatten lists every task draft and group scope under top, each in file
// order (by where it is written), which is the order of DAG.Tasks.
func flatten(top *scope) ([]*draft, []*scope) {
	var drafts []*draft
	var scopes []*scope
	var walk func(s *scope)
	walk = func(s *scope) {
		drafts = append(drafts, s.tasks...)
		for _, g := range s.groups {
			scopes = append(scopes, g)
			walk(g)
		}
	}
	walk(top)
	slices.SortStableFunc(drafts, func(a, b *draft) int { return comparePos(a.pos, b.pos) })
	slices.SortStableFunc(scopes, func(a, b *scope) int { return comparePos(a.pos, b.pos) })
	return drafts, scopes
}

func comparePos(a, b *yaml.Node) int {
	return cmp.Or(cmp.Compare(a.Line, b.Line), cmp.Compare(a.Column, b.Column))
}

// taskDrafts reads a list of tasks written in s; each draft knows its
// label (its id as written) and the field path to report problems at.
func (l *loader) taskDrafts(s *scope, n *yaml.Node, field string, required bool) []*draft {
	r := resolve(n)
	if isNull(n) && !required {
		return nil
	}
	if r == nil || r.Kind != yaml.SequenceNode || required && len(r.Content) == 0 {
		want := "a list of tasks"
		if required {
			want = "a non-empty list of tasks"
		}
		l.errAt(n, subField(s.field, "tasks"), "expected %s, got %s", want, describe(r))
		s.broken = true
		return nil
	}
	drafts := make([]*draft, 0, len(r.Content))
	labels := make(map[string]bool, len(r.Content))
	for i, item := range r.Content {
		dr := &draft{node: resolve(item), pos: item, field: indexField(field, i), scope: s}
		if id := peekID(dr.node); id != "" && checkID(id) == nil && !labels[id] {
			labels[id] = true
			dr.field = idField(field, id)
		}
		entries, ok := l.mapEntries(item, dr.field)
		if !ok {
			continue
		}
		dr.entries = entries
		dr.task = &Task{Line: dr.node.Line}
		dr.idNode = l.draftID(dr, item)
		drafts = append(drafts, dr)
	}
	return drafts
}

// draftID reads a task's id (its label in its scope) into dr.task.ID and
// returns its node, nil when missing or invalid.
func (l *loader) draftID(dr *draft, item *yaml.Node) *yaml.Node {
	idx := slices.IndexFunc(dr.entries, func(e entry) bool { return e.name == "id" })
	switch {
	case idx < 0 && hasAirflowSpelling(dr.entries, "id"):
		// task_id: reported as an unknown key, with the hint.
	case idx < 0 || isNull(dr.entries[idx].val):
		l.errAt(item, dr.field, "missing required key \"id\"")
	default:
		e := dr.entries[idx]
		if id, ok := l.ident(e.val, dr.field+".id"); ok {
			dr.task.ID = id
			return e.val
		}
	}
	return nil
}

// groupList reads the groups written in parent.
func (l *loader) groupList(parent *scope, n *yaml.Node, field string) []*scope {
	r := resolve(n)
	if isNull(n) {
		return nil
	}
	if r == nil || r.Kind != yaml.SequenceNode {
		l.errAt(n, field, "expected a list of task groups, got %s", describe(r))
		parent.broken = true
		return nil
	}
	if parent.depth >= maxGroupDepth {
		l.errAt(n, field, "task groups nested more than %d deep", maxGroupDepth)
		parent.broken = true
		return nil
	}
	var out []*scope
	labels := make(map[string]bool, len(r.Content))
	for i, item := range r.Content {
		if l.exhausted {
			break
		}
		f := indexField(field, i)
		if id := peekID(resolve(item)); id != "" && checkGroupID(id) == nil && !labels[id] {
			labels[id] = true
			f = idField(field, id)
		}
		if s := l.group(parent, item, f); s != nil {
			out = append(out, s)
			parent.broken = parent.broken || s.broken
		}
	}
	return out
}

// group reads one task group and what it holds.
func (l *loader) group(parent *scope, item *yaml.Node, field string) *scope {
	entries, ok := l.mapEntries(item, field)
	if !ok {
		return nil
	}
	keys := l.known(entries, field, groupKeyNames)
	g := &TaskGroup{PrefixGroupID: true, Line: resolve(item).Line}
	s := &scope{g: g, parent: parent, pos: item, field: field, base: parent.base, depth: parent.depth + 1}
	if e, ok := set(keys, "id"); ok {
		if label, ok := l.str(e.val, field+".id"); ok {
			if err := checkGroupID(label); err != nil {
				l.errAt(e.val, field+".id", "%v", err)
			} else {
				g.Label, g.ID = label, parent.childID(label)
				s.inGraph = parent.inGraph
			}
		}
	} else if !hasAirflowSpelling(entries, "id") { // group_id: reported as an unknown key, with the hint
		l.errAt(item, field, "missing required key \"id\"")
	}
	if e, ok := set(keys, "tooltip"); ok {
		g.Tooltip, _ = l.str(e.val, field+".tooltip")
	}
	if e, ok := set(keys, "prefix_group_id"); ok {
		if b, ok := l.boolean(e.val, field+".prefix_group_id"); ok {
			g.PrefixGroupID = b
		}
	}
	if e, ok := set(keys, "default_args"); ok {
		s.base = l.defaultArgsOver(parent.base, e.val, field+".default_args")
	}
	if e, ok := keys["depends_on"]; ok {
		s.deps = l.depRefs(nil, e, field+".depends_on")
	}
	if e, ok := set(keys, "tasks"); ok {
		s.tasks = l.taskDrafts(s, e.val, field+".tasks", false)
	}
	if e, ok := set(keys, "groups"); ok {
		s.groups = l.groupList(s, e.val, field+".groups")
	}
	return s
}

// idField is the path of the item of list field with the given id, cut as
// subField cuts names.
func idField(field, id string) string {
	if len(field) >= maxFieldLen {
		return capped(field)
	}
	return field + "[" + shortText(id, maxQuoteLen) + "]"
}

// checkGroupID checks a group's id as written: a task id without dots, as
// Airflow's group keys, since the dot joins a group's id to its children's.
func checkGroupID(s string) error {
	if err := checkID(s); err != nil {
		return err
	}
	for i := 0; i < len(s); i++ {
		if s[i] == '.' {
			return fmt.Errorf("invalid group id %s (only letters, digits, '_' and '-': the dot joins a group's id to its tasks')", quoteShort(s))
		}
	}
	return nil
}

// nameAll gives every task and group its full id and reports ids used
// twice, in file order so that the second definition is the one blamed:
// tasks and groups share one namespace, as in Airflow.
func (l *loader) nameAll(drafts []*draft, scopes []*scope) {
	type def struct {
		line  int
		group bool
	}
	defs := make(map[string]def, len(drafts)+len(scopes))
	type named struct {
		pos   *yaml.Node
		dr    *draft
		group *scope
	}
	all := make([]named, 0, len(drafts)+len(scopes))
	for _, dr := range drafts {
		all = append(all, named{pos: dr.pos, dr: dr})
	}
	for _, s := range scopes {
		all = append(all, named{pos: s.pos, group: s})
	}
	slices.SortStableFunc(all, func(a, b named) int { return comparePos(a.pos, b.pos) })
	for _, n := range all {
		var id, field string
		var node *yaml.Node
		var line int
		if n.dr != nil {
			if n.dr.idNode == nil || !n.dr.scope.inGraph {
				continue
			}
			id, node, field, line = n.dr.scope.childID(n.dr.task.ID), n.dr.idNode, n.dr.field+".id", n.dr.task.Line
		} else {
			if !n.group.inGraph {
				continue
			}
			id, node, field, line = n.group.g.ID, idNodeOf(n.group.pos), n.group.field+".id", n.group.g.Line
		}
		if err := checkID(id); err != nil {
			l.errAt(node, field, "full id %s %v", quoteShort(id), err)
			l.leaveGraph(n.dr, n.group)
			continue
		}
		if first, dup := defs[id]; dup {
			l.errAt(node, field, "%s", dupMessage(id, n.group != nil, first.group, first.line))
			l.leaveGraph(n.dr, n.group)
			continue
		}
		defs[id] = def{line, n.group != nil}
		if n.dr != nil {
			n.dr.task.ID, n.dr.inGraph = id, true
		}
	}
}

// leaveGraph takes a task or group whose id is unusable out of the graph;
// a group's tasks and groups go with it.
func (l *loader) leaveGraph(dr *draft, s *scope) {
	if dr != nil {
		dr.inGraph = false
		return
	}
	var out func(s *scope)
	out = func(s *scope) {
		s.inGraph = false
		for _, c := range s.groups {
			out(c)
		}
	}
	out(s)
}

// dupMessage says which ids clash: two tasks, two groups, or a task and
// a group.
func dupMessage(id string, group, firstGroup bool, line int) string {
	switch {
	case group && firstGroup:
		return fmt.Sprintf("duplicate group id %q (first defined at line %d)", id, line)
	case group:
		return fmt.Sprintf("group id %q is also the id of a task (line %d)", id, line)
	case firstGroup:
		return fmt.Sprintf("task id %q is also the id of a group (line %d)", id, line)
	}
	return fmt.Sprintf("duplicate task id %q (first defined at line %d)", id, line)
}

// idNodeOf returns the value of a mapping's id key (or the mapping).
func idNodeOf(n *yaml.Node) *yaml.Node {
	r := resolve(n)
	if r != nil && r.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(r.Content); i += 2 {
			if r.Content[i].Value == "id" {
				return r.Content[i+1]
			}
		}
	}
	return n
}

// groupTree returns the groups under top as the model's tree, each with
// its tasks and the resolved targets of its depends_on.
func groupTree(top *scope) []*TaskGroup {
	var out []*TaskGroup
	for _, s := range top.groups {
		if !s.inGraph {
			continue
		}
		g := s.g
		if g.DependsOn == nil {
			g.DependsOn = []string{}
		}
		g.TaskIDs = []string{}
		for _, dr := range s.tasks {
			if dr.inGraph {
				g.TaskIDs = append(g.TaskIDs, dr.task.ID)
			}
		}
		if g.Groups = groupTree(s); g.Groups == nil {
			g.Groups = []*TaskGroup{}
		}
		out = append(out, g)
	}
	return out
}

package dag

import (
	"fmt"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// maxFlatDeps bounds the task dependencies one DAG may have once its
// groups are expanded: a group of m tasks depending on one of n leaves
// makes m*n of them, so a few lines could otherwise ask for billions.
const maxFlatDeps = 200_000

// maxShapeWork bounds the work of finding groups' roots and leaves (tasks
// visited, summed over the dependencies inside each group), for the same
// reason.
const maxShapeWork = 20 * maxFlatDeps

// node is one end of a depends_on: a task (a draft index) or a group.
type node struct {
	task  int // -1 for a group
	group *scope
}

// ref is one resolved depends_on entry: from depends on to.
type ref struct {
	from, to node
	pos      *yaml.Node
	field    string
}

// flatDep is one upstream task of a task once groups are expanded, with
// where it comes from for messages.
type flatDep struct {
	up    int // draft index
	pos   *yaml.Node
	field string
	via   string // "" for a task naming a task; else how a group is involved
}

// deps expands and checks the dependencies of one file's tasks.
type deps struct {
	l      *loader
	drafts []*draft
	tasks  map[string]int // full id -> draft index, for tasks in the graph
	groups map[string]*scope
	refs   []ref
	// inner lists, per group, the refs with both ends strictly inside it:
	// the edges that decide its roots and leaves.
	inner   map[*scope][]int
	shapes  map[*scope]*shape
	members map[*scope][]int // the tasks in the graph inside each group, in file order
	work    int              // spent by shapeOf, up to maxShapeWork
	scopes  []*scope
	ids     []string            // every full id, for hints
	hints   map[*scope][]string // ids as named from a group, for hints
}

// shape is a group's roots (tasks with no upstream task in the group) and
// leaves (no downstream task in the group), as draft indexes in file order.
type shape struct {
	roots, leaves []int
}

// resolveDeps resolves every depends_on (a task's, a group's) from where
// it is written outwards, expands groups as Airflow does (depending on a
// group is depending on its leaves; a group's depends_on is its roots'),
// then rejects self-dependencies, unknown ids and cycles. withGroups
// words the messages for a file that has groups.
func (l *loader) resolveDeps(drafts []*draft, scopes []*scope, withGroups bool) {
	r := &deps{l: l, drafts: drafts, scopes: scopes, tasks: make(map[string]int, len(drafts)),
		groups: make(map[string]*scope, len(scopes)), inner: map[*scope][]int{}, shapes: map[*scope]*shape{},
		members: map[*scope][]int{}, hints: map[*scope][]string{}}
	written := map[*scope]bool{} // groups with a task written in them, valid or not
	for i, dr := range drafts {
		for c := dr.scope; c != nil && c.g != nil && !written[c]; c = c.parent {
			written[c] = true
		}
		if dr.inGraph {
			r.tasks[dr.task.ID] = i
			r.ids = append(r.ids, dr.task.ID)
			for c := dr.scope; c != nil && c.g != nil; c = c.parent {
				r.members[c] = append(r.members[c], i)
			}
		}
	}
	for _, s := range scopes {
		if s.inGraph {
			r.groups[s.g.ID] = s
			r.ids = append(r.ids, s.g.ID)
			if !written[s] && !s.broken {
				l.errAt(idNodeOf(s.pos), s.field+".id", "group %q has no tasks", s.g.ID)
			}
		}
	}
	what := "task"
	if withGroups {
		what = "task or group"
	}
	for i, dr := range drafts {
		for _, d := range dr.deps {
			r.add(node{task: i}, dr.scope, d, dr.field+".depends_on", what)
		}
	}
	for _, s := range scopes {
		for _, d := range s.deps {
			if s.inGraph {
				r.add(node{task: -1, group: s}, s.parent, d, s.field+".depends_on", what)
			}
		}
	}
	r.flatten()
	r.reportCycles()
}

// lookup finds name from scope s outwards: a sibling's short id first,
// then the enclosing groups' children, then a full id.
func (r *deps) lookup(s *scope, name string) (node, bool) {
	for c := s; c != nil; c = c.parent {
		id := c.childID(name)
		if i, ok := r.tasks[id]; ok {
			return node{task: i}, true
		}
		if g, ok := r.groups[id]; ok {
			return node{task: -1, group: g}, true
		}
	}
	return node{}, false
}

// add resolves one depends_on entry of from (written in s) and records it
// unless it is unknown or impossible.
func (r *deps) add(from node, s *scope, d depRef, field, what string) {
	to, ok := r.lookup(s, d.id)
	if !ok {
		r.l.errAt(d.node, field, "unknown %s %s%s", what, quoteShort(d.id), r.l.hint(d.id, r.candidates(s)))
		return
	}
	if msg := r.impossible(from, to); msg != "" {
		r.l.errAt(d.node, field, "%s", msg)
		return
	}
	r.refs = append(r.refs, ref{from: from, to: to, pos: d.node, field: field})
	i := len(r.refs) - 1
	for c := r.commonGroup(from, to); c != nil && c.g != nil; c = c.parent {
		r.inner[c] = append(r.inner[c], i)
	}
}

// impossible says why from cannot depend on to, "" if it can: a task on
// itself or its own group, a group on itself, what it holds or holds it.
func (r *deps) impossible(from, to node) string {
	switch {
	case from.task >= 0 && to.task == from.task:
		return fmt.Sprintf("task %q depends on itself", r.drafts[from.task].task.ID)
	case from.task >= 0 && to.group != nil && to.group.within(r.drafts[from.task].scope):
		return fmt.Sprintf("task %q is in group %q: it cannot depend on its own group", r.drafts[from.task].task.ID, to.group.g.ID)
	case from.group != nil && to.group == from.group:
		return fmt.Sprintf("group %q depends on itself", from.group.g.ID)
	case from.group != nil && to.task >= 0 && from.group.within(r.drafts[to.task].scope):
		return fmt.Sprintf("group %q cannot depend on task %q, which is inside it", from.group.g.ID, r.drafts[to.task].task.ID)
	case from.group != nil && to.group != nil && from.group.within(to.group):
		return fmt.Sprintf("group %q cannot depend on group %q, which is inside it", from.group.g.ID, to.group.g.ID)
	case from.group != nil && to.group != nil && to.group.within(from.group):
		return fmt.Sprintf("group %q cannot depend on group %q, which contains it", from.group.g.ID, to.group.g.ID)
	}
	return ""
}

// container is the innermost scope holding n strictly: a task's own
// scope, a group's parent.
func (r *deps) container(n node) *scope {
	if n.task >= 0 {
		return r.drafts[n.task].scope
	}
	return n.group.parent
}

// commonGroup is the innermost scope holding both ends of a ref.
func (r *deps) commonGroup(a, b node) *scope {
	cb := r.container(b)
	for c := r.container(a); c != nil; c = c.parent {
		if c.within(cb) {
			return c
		}
	}
	return nil
}

// candidates are the ids a name in s may have meant, for a hint: every
// full id, then the short ids of what s holds.
func (r *deps) candidates(s *scope) []string {
	if s.g == nil || !s.g.PrefixGroupID {
		return r.ids
	}
	if out, ok := r.hints[s]; ok {
		return out
	}
	out := slices.Clone(r.ids)
	prefix := s.g.ID + "."
	for _, id := range r.ids {
		if rest, ok := strings.CutPrefix(id, prefix); ok && !strings.Contains(rest, ".") {
			out = append(out, rest)
		}
	}
	r.hints[s] = out
	return out
}

// shapeOf computes a group's roots and leaves from the refs inside it.
// Those refs' ends are strictly inside the group, so the recursion reaches
// smaller groups only (and the memo ends it all the same).
func (r *deps) shapeOf(s *scope) *shape {
	if sh, ok := r.shapes[s]; ok {
		return sh
	}
	sh := &shape{}
	r.shapes[s] = sh
	hasUp := map[int]bool{}
	hasDown := map[int]bool{}
	for _, i := range r.inner[s] {
		downs, ups := r.downs(r.refs[i].from), r.ups(r.refs[i].to)
		if len(downs) == 0 || len(ups) == 0 {
			continue
		}
		if r.work += len(downs) + len(ups); r.work > maxShapeWork {
			if r.work-len(downs)-len(ups) <= maxShapeWork {
				r.l.errAt(r.refs[i].pos, r.refs[i].field, "task groups too large to expand (more than %d steps)", maxShapeWork)
			}
			return sh
		}
		for _, v := range downs {
			hasUp[v] = true
		}
		for _, u := range ups {
			hasDown[u] = true
		}
	}
	for _, i := range r.members[s] {
		if !hasUp[i] {
			sh.roots = append(sh.roots, i)
		}
		if !hasDown[i] {
			sh.leaves = append(sh.leaves, i)
		}
	}
	return sh
}

// downs are the tasks that wait when n depends on something: the task
// itself, or a group's roots.
func (r *deps) downs(n node) []int {
	if n.task >= 0 {
		return []int{n.task}
	}
	return r.shapeOf(n.group).roots
}

// ups are the tasks waited for when something depends on n: the task
// itself, or a group's leaves.
func (r *deps) ups(n node) []int {
	if n.task >= 0 {
		return []int{n.task}
	}
	return r.shapeOf(n.group).leaves
}

// flatten turns every ref into task dependencies, in the order written
// (a task's own depends_on first, then its groups'), without duplicates.
func (r *deps) flatten() {
	seen := map[[2]int]bool{}
	total := 0
	for _, rf := range r.refs {
		via := r.via(rf)
		for _, v := range r.downs(rf.from) {
			for _, u := range r.ups(rf.to) {
				if seen[[2]int{u, v}] {
					continue
				}
				if total++; total > maxFlatDeps {
					r.l.errAt(rf.pos, rf.field, "more than %d task dependencies once groups are expanded", maxFlatDeps)
					return
				}
				seen[[2]int{u, v}] = true
				dr := r.drafts[v]
				dr.flat = append(dr.flat, flatDep{up: u, pos: rf.pos, field: rf.field, via: via})
				dr.task.DependsOn = append(dr.task.DependsOn, r.drafts[u].task.ID)
			}
		}
	}
	for _, rf := range r.refs {
		if g := rf.from.group; g != nil {
			g.g.DependsOn = append(g.g.DependsOn, r.idOf(rf.to))
		}
	}
}

func (r *deps) idOf(n node) string {
	if n.task >= 0 {
		return r.drafts[n.task].task.ID
	}
	return n.group.g.ID
}

// via says how a group is involved in a ref, for cycle messages.
func (r *deps) via(rf ref) string {
	switch {
	case rf.from.group != nil && rf.to.group != nil:
		return fmt.Sprintf("group %s depends on group %s", rf.from.group.g.ID, rf.to.group.g.ID)
	case rf.from.group != nil:
		return fmt.Sprintf("group %s depends on %s", rf.from.group.g.ID, r.idOf(rf.to))
	case rf.to.group != nil:
		return fmt.Sprintf("%s depends on group %s", r.idOf(rf.from), rf.to.group.g.ID)
	}
	return ""
}

// reportCycles reports one cycle per strongly connected set of tasks,
// at the dependency that closes it, naming the groups that made it.
func (r *deps) reportCycles() {
	index := make(map[string]int, len(r.drafts))
	for i, dr := range r.drafts {
		if dr.inGraph {
			index[dr.task.ID] = i
		}
	}
	for _, cycle := range findCycles(r.drafts, index) {
		start := r.drafts[cycle[0]]
		names := make([]string, len(cycle))
		var vias []string
		for i, c := range cycle {
			names[i] = r.drafts[c].task.ID
			if i > 0 {
				if fd := flatOf(r.drafts[c], cycle[i-1]); fd != nil && fd.via != "" && !slices.Contains(vias, fd.via) {
					vias = append(vias, fd.via)
				}
			}
		}
		pos, field := (*yaml.Node)(nil), start.field+".depends_on"
		if fd := flatOf(start, cycle[len(cycle)-2]); fd != nil {
			pos, field = fd.pos, fd.field
		}
		msg := "dependency cycle: " + strings.Join(names, " -> ")
		if len(vias) > 0 {
			msg += " (" + strings.Join(vias, "; ") + ")"
		}
		r.l.errAt(pos, field, "%s", msg)
	}
}

// flatOf returns dr's dependency on the task at draft index up.
func flatOf(dr *draft, up int) *flatDep {
	for i := range dr.flat {
		if dr.flat[i].up == up {
			return &dr.flat[i]
		}
	}
	return nil
}

package dag

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/sirocco-dev/sirocco/internal/template"
)

// TestLoadGroups loads a DAG with nested task groups and checks what the
// scheduler sees (full ids, inherited settings, flattened dependencies) and
// the tree kept for display.
func TestLoadGroups(t *testing.T) {
	d, err := LoadFile("testdata/valid/groups.yaml", testOpts)
	if err != nil {
		t.Fatalf("LoadFile: %v", err)
	}
	type want struct {
		id, group      string
		deps           []string
		retries        int
		queue, pool    string
		upstreamByPosn []int
	}
	// DAG: retries 1, queue dagq, pool p_dag; extract: retries 2, pool
	// p_extract; extract.clean: retries 3; tasks override last.
	wants := []want{
		{"start", "", []string{}, 1, "dagq", "p_dag", nil},
		// A dependency on a group is one on its leaves (check, the only task
		// of extract with no downstream task inside it).
		{"load", "", []string{"extract.clean.check"}, 1, "dagq", "p_dag", []int{6}},
		// extract's depends_on [start] reaches its roots: a and c.
		{"extract.a", "extract", []string{"start"}, 2, "dagq", "p_extract", []int{0}},
		// A sibling by its short id.
		{"extract.b", "extract", []string{"extract.a"}, 2, "dagq", "p_extract", []int{2}},
		{"extract.c", "extract", []string{"start"}, 5, "dagq", "p_extract", []int{0}},
		// clean's depends_on [b] names its parent's task b.
		{"extract.clean.dedup", "extract.clean", []string{"extract.b"}, 3, "taskq", "p_extract", []int{3}},
		// A short id and a full id.
		{"extract.clean.check", "extract.clean", []string{"extract.clean.dedup", "extract.c"}, 3, "dagq", "p_extract", []int{5, 4}},
		// prefix_group_id: false: report keeps its id; flat's roots wait for load.
		{"report", "flat", []string{"load"}, 1, "dagq", "p_dag", []int{1}},
		// A group nested in an unprefixed one is not prefixed either (Airflow).
		{"inner.mail", "inner", []string{"report"}, 1, "dagq", "p_dag", []int{7}},
	}
	if len(d.Tasks) != len(wants) {
		t.Fatalf("%d tasks, want %d", len(d.Tasks), len(wants))
	}
	for i, w := range wants {
		tk := d.Tasks[i]
		got := want{tk.ID, tk.Group, tk.DependsOn, tk.Retries, tk.Queue, tk.Pool, d.UpstreamIndexes(i)}
		if !reflect.DeepEqual(got, w) {
			t.Errorf("task %d = %+v\n          want %+v", i, got, w)
		}
		if d.Task(w.id) != tk {
			t.Errorf("Task(%q) is not the task", w.id)
		}
	}
	if got := d.Downstream("start"); !reflect.DeepEqual(got, []string{"extract.a", "extract.c"}) {
		t.Errorf("Downstream(start) = %v", got)
	}

	clean := &TaskGroup{ID: "extract.clean", Label: "clean", PrefixGroupID: true, DependsOn: []string{"extract.b"},
		TaskIDs: []string{"extract.clean.dedup", "extract.clean.check"}, Groups: []*TaskGroup{}, Line: 25}
	extract := &TaskGroup{ID: "extract", Label: "extract", Tooltip: "Pull the sources", PrefixGroupID: true,
		DependsOn: []string{"start"}, TaskIDs: []string{"extract.a", "extract.b", "extract.c"}, Groups: []*TaskGroup{clean}, Line: 11}
	inner := &TaskGroup{ID: "inner", Label: "inner", PrefixGroupID: true, DependsOn: []string{},
		TaskIDs: []string{"inner.mail"}, Groups: []*TaskGroup{}, Line: 42}
	flat := &TaskGroup{ID: "flat", Label: "flat", DependsOn: []string{"load"}, TaskIDs: []string{"report"},
		Groups: []*TaskGroup{inner}, Line: 35}
	if !reflect.DeepEqual(d.Groups, []*TaskGroup{extract, flat}) {
		for _, g := range d.Groups {
			t.Errorf("group %+v", *g)
		}
	}
	if d.Group("extract.clean") != d.Groups[0].Groups[0] || d.Group("clean") != nil {
		t.Errorf("Group lookup wrong")
	}
}

// TestGroupsWithoutGroups: a DAG without groups has no tree and its tasks
// no group.
func TestGroupsWithoutGroups(t *testing.T) {
	d, err := Parse("x.yaml", []byte("dag_id: x\ntasks: [{id: a, operator: empty}]\n"), testOpts)
	if err != nil || d.Groups != nil || d.Tasks[0].Group != "" {
		t.Fatalf("Parse = %+v, %v", d, err)
	}
}

// TestGroupsInline covers the rules of groups, each a small file: what
// loads, with which dependencies, and the error (file:line:col: field:
// message) of each mistake.
func TestGroupsInline(t *testing.T) {
	xcomOpts := testOpts
	xcomOpts.CheckTemplate, xcomOpts.XComTaskIDs = template.Check, template.XComTaskIDs
	tests := []struct {
		name, src string
		opts      *LoadOptions
		want      []string          // errors; nil: it loads
		deps      map[string]string // task -> its DependsOn joined by ","
	}{
		{name: "groups only, no tasks key", src: `dag_id: x
groups:
  - id: g
    tasks: [{id: a, operator: empty}]
`, deps: map[string]string{"g.a": ""}},
		{name: "neither tasks nor groups", src: "dag_id: x\n", want: []string{`x.yaml:1:1: missing required key "tasks"`}},
		{name: "inner name shadows the outer one", src: `dag_id: x
tasks:
  - {id: a, operator: empty}
  - {id: c, operator: empty, depends_on: [a]}
groups:
  - id: g
    tasks:
      - {id: a, operator: empty}
      - {id: b, operator: empty, depends_on: [a]}
`, deps: map[string]string{"c": "a", "g.b": "g.a", "g.a": ""}},
		{name: "a nested group by its short id, a group on a group", src: `dag_id: x
groups:
  - id: outer
    tasks:
      - {id: x, operator: empty, depends_on: [inner]}
    groups:
      - id: inner
        tasks:
          - {id: p, operator: empty}
          - {id: q, operator: empty}
  - id: after
    depends_on: outer
    tasks:
      - {id: y, operator: empty}
      - {id: z, operator: empty, depends_on: y}
`, deps: map[string]string{"outer.x": "outer.inner.p,outer.inner.q", "outer.inner.p": "", "after.y": "outer.x", "after.z": "after.y"}},
		{name: "a group depending on a sibling group's task makes that task no root of the parent", src: `dag_id: x
tasks: [{id: s, operator: empty}]
groups:
  - id: g
    depends_on: s
    tasks: [{id: a, operator: empty}]
    groups:
      - id: h
        depends_on: a
        tasks: [{id: b, operator: empty}]
`, deps: map[string]string{"g.a": "s", "g.h.b": "g.a"}},
		{name: "xcom_pull by full id", opts: &xcomOpts, src: `dag_id: x
groups:
  - id: extract
    tasks:
      - {id: a, operator: empty}
      - {id: b, operator: bash, command: "echo {{ ti.xcom_pull(task_ids='extract.a') }} {{ ti.xcom_pull(task_ids='extract.aa') }}"}
`, want: []string{`x.yaml:6:42: groups[extract].tasks[b].command: ti.xcom_pull of unknown task "extract.aa" (did you mean "extract.a"?)`}},
		{name: "cycle through groups", src: `dag_id: x
tasks:
  - {id: load, operator: empty, depends_on: [g]}
groups:
  - id: g
    depends_on: [load]
    tasks:
      - {id: a, operator: empty}
      - {id: b, operator: empty, depends_on: a}
`, want: []string{`x.yaml:3:46: tasks[load].depends_on: dependency cycle: load -> g.a -> g.b -> load (group g depends on load; load depends on group g)`}},
		{name: "impossible dependencies", src: `dag_id: x
groups:
  - id: g
    groups:
      - id: h
        depends_on: g
        tasks:
          - {id: b, operator: empty, depends_on: [g, h, b]}
      - id: i
        depends_on: [i, g.i.j]
        tasks: [{id: c, operator: empty}]
        groups:
          - id: j
            tasks: [{id: d, operator: empty}]
`, want: []string{
			`x.yaml:6:21: groups[g].groups[h].depends_on: group "g.h" cannot depend on group "g", which contains it`,
			`x.yaml:8:51: groups[g].groups[h].tasks[b].depends_on: task "g.h.b" is in group "g": it cannot depend on its own group`,
			`x.yaml:8:54: groups[g].groups[h].tasks[b].depends_on: task "g.h.b" is in group "g.h": it cannot depend on its own group`,
			`x.yaml:8:57: groups[g].groups[h].tasks[b].depends_on: task "g.h.b" depends on itself`,
			`x.yaml:10:22: groups[g].groups[i].depends_on: group "g.i" depends on itself`,
			`x.yaml:10:25: groups[g].groups[i].depends_on: group "g.i" cannot depend on group "g.i.j", which is inside it`,
		}},
		{name: "unprefixed group clashes with a top-level task", src: `dag_id: x
tasks: [{id: a, operator: empty}]
groups:
  - id: g
    prefix_group_id: false
    tasks: [{id: a, operator: empty}]
`, want: []string{`x.yaml:6:18: groups[g].tasks[a].id: duplicate task id "a" (first defined at line 2)`}},
		{name: "a task named like a group written later", src: `dag_id: x
groups:
  - id: g
    tasks: [{id: a, operator: empty}]
  - id: h
    prefix_group_id: false
    tasks: [{id: g, operator: empty}]
`, want: []string{`x.yaml:7:18: groups[h].tasks[g].id: task id "g" is also the id of a group (line 3)`}},
		{name: "full id too long", src: "dag_id: x\ngroups:\n  - id: " + strings.Repeat("g", 200) +
			"\n    tasks: [{id: " + strings.Repeat("t", 60) + ", operator: empty}]\n",
			want: []string{`x.yaml:4:18: groups[` + strings.Repeat("g", 40) + `…].tasks[` + strings.Repeat("t", 40) +
				`…].id: full id "` + strings.Repeat("g", 40) + `…" is longer than 250 characters`}},
		{name: "nested too deep", src: nested(maxGroupDepth + 1), want: []string{
			fmt.Sprintf(`x.yaml:%d:%d: %sgroups: task groups nested more than %d deep`, 2*maxGroupDepth+3, 2*maxGroupDepth+1,
				strings.Repeat("groups[g].", maxGroupDepth), maxGroupDepth),
		}},
		{name: "nested as deep as allowed", src: nested(maxGroupDepth)},
		{name: "groups not a list", src: "dag_id: x\ngroups: {id: g}\n", want: []string{
			`x.yaml:2:9: groups: expected a list of task groups, got a mapping`,
		}},
		{name: "no group, no task", src: "dag_id: x\ngroups: []\n", want: []string{`x.yaml:1:1: the DAG has no tasks`}},
		{name: "an empty group", src: "dag_id: x\ntasks: [{id: a, operator: empty}]\ngroups:\n  - id: g\n    tasks: []\n",
			want: []string{`x.yaml:4:9: groups[g].id: group "g" has no tasks`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := testOpts
			if tt.opts != nil {
				opts = *tt.opts
			}
			d, err := Parse("x.yaml", []byte(tt.src), opts)
			if got := errorLines(t, err); !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("errors:\n got %s\nwant %s", strings.Join(got, "\n     "), strings.Join(tt.want, "\n     "))
			}
			for id, want := range tt.deps {
				if tk := d.Task(id); tk == nil || strings.Join(tk.DependsOn, ",") != want {
					t.Errorf("task %s: %+v, want depends_on %q", id, tk, want)
				}
			}
		})
	}
}

// nested is a DAG whose one task sits in groups nested depth deep.
func nested(depth int) string {
	var b strings.Builder
	b.WriteString("dag_id: x\n")
	ind := ""
	for range depth {
		fmt.Fprintf(&b, "%sgroups:\n%s- id: g\n", ind, ind)
		ind += "  "
	}
	fmt.Fprintf(&b, "%stasks: [{id: a, operator: empty}]\n", ind)
	return b.String()
}

// TestGroupsExpansionBounded: a group of n tasks depending on a group of
// n leaves is n*n dependencies; past maxFlatDeps the file is refused
// (quickly) rather than loaded into a graph no one meant.
func TestGroupsExpansionBounded(t *testing.T) {
	var b strings.Builder
	b.WriteString("dag_id: x\ngroups:\n")
	for _, g := range []string{"p", "q"} {
		fmt.Fprintf(&b, "  - id: %s\n", g)
		if g == "q" {
			b.WriteString("    depends_on: p\n")
		}
		b.WriteString("    tasks:\n")
		for i := range 500 {
			fmt.Fprintf(&b, "      - {id: t%d, operator: empty}\n", i)
		}
	}
	_, err := Parse("x.yaml", []byte(b.String()), testOpts)
	want := fmt.Sprintf("x.yaml:506:17: groups[q].depends_on: more than %d task dependencies once groups are expanded", maxFlatDeps)
	if got := errorLines(t, err); len(got) != 1 || got[0] != want {
		t.Fatalf("errors %q, want %q", got, want)
	}
}

// TestGroupsFlattenMatchesReference loads random nested groups with
// random dependencies (tasks and groups on tasks and groups) and compares
// each task's dependencies with a naive reference of Airflow's rules,
// iterated to a fixed point: a dependency on a group is one on its leaves,
// a group's is its roots', roots and leaves counting only the dependencies
// inside the group.
func TestGroupsFlattenMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 13))
	loaded := 0
	for sample := range 300 {
		m := randomGroups(rng)
		d, err := Parse("x.yaml", []byte(m.yaml()), testOpts)
		if err != nil {
			if !strings.Contains(err.Error(), "dependency cycle") {
				t.Fatalf("sample %d: %v\n%s", sample, err, m.yaml())
			}
			continue
		}
		loaded++
		want := m.reference(t)
		for _, tk := range d.Tasks {
			got := slices.Sorted(slices.Values(tk.DependsOn))
			if w := want[tk.ID]; !slices.Equal(got, w) {
				t.Fatalf("sample %d: %s depends on %v, reference %v\n%s", sample, tk.ID, got, w, m.yaml())
			}
		}
	}
	if loaded < 100 {
		t.Fatalf("only %d of 300 samples loaded", loaded)
	}
}

// randomModel is a random DAG: tasks and groups by full id (a group's
// path is its id), and the dependencies written, by full id.
type randomModel struct {
	groups []string            // full ids, parents first
	tasks  []string            // full ids
	refs   map[string][]string // full id (task or group) -> what it depends on
}

func randomGroups(rng *rand.Rand) *randomModel {
	m := &randomModel{refs: map[string][]string{}}
	var build func(prefix string, depth int)
	build = func(prefix string, depth int) {
		for range 1 + rng.IntN(3) {
			m.tasks = append(m.tasks, prefix+fmt.Sprintf("t%d", len(m.tasks)))
		}
		if depth < 3 {
			for range rng.IntN(3) {
				g := prefix + fmt.Sprintf("g%d", len(m.groups))
				m.groups = append(m.groups, g)
				build(g+".", depth+1)
			}
		}
	}
	build("", 0)
	all := append(slices.Clone(m.tasks), m.groups...)
	for _, from := range all {
		for range rng.IntN(3) {
			to := all[rng.IntN(len(all))]
			if m.possible(from, to) && !slices.Contains(m.refs[from], to) {
				m.refs[from] = append(m.refs[from], to)
			}
		}
	}
	return m
}

func (m *randomModel) isGroup(id string) bool { return slices.Contains(m.groups, id) }

// inside reports whether id (a task or group) is strictly inside group g.
func inside(id, g string) bool { return strings.HasPrefix(id, g+".") }

// possible applies the loader's rules: nothing on itself, a task not on
// its own group, a group not on what it holds or holds it.
func (m *randomModel) possible(from, to string) bool {
	switch {
	case from == to:
		return false
	case m.isGroup(to) && inside(from, to):
		return false
	case m.isGroup(from) && (inside(to, from) || inside(from, to)):
		return false
	}
	return true
}

func (m *randomModel) yaml() string {
	var b strings.Builder
	b.WriteString("dag_id: x\n")
	var write func(prefix, ind string)
	write = func(prefix, ind string) {
		var tasks, groups []string
		for _, id := range m.tasks {
			if rest, ok := strings.CutPrefix(id, prefix); ok && !strings.Contains(rest, ".") {
				tasks = append(tasks, id)
			}
		}
		for _, id := range m.groups {
			if rest, ok := strings.CutPrefix(id, prefix); ok && !strings.Contains(rest, ".") {
				groups = append(groups, id)
			}
		}
		if len(tasks) > 0 {
			fmt.Fprintf(&b, "%stasks:\n", ind)
			for _, id := range tasks {
				fmt.Fprintf(&b, "%s  - {id: %s, operator: empty, depends_on: [%s]}\n", ind, id[len(prefix):], strings.Join(m.refs[id], ", "))
			}
		}
		if len(groups) > 0 {
			fmt.Fprintf(&b, "%sgroups:\n", ind)
			for _, id := range groups {
				fmt.Fprintf(&b, "%s  - id: %s\n%s    depends_on: [%s]\n", ind, id[len(prefix):], ind, strings.Join(m.refs[id], ", "))
				write(id+".", ind+"    ")
			}
		}
	}
	write("", "")
	return b.String()
}

// reference computes each task's sorted upstream task ids by iterating
// the rules until nothing changes.
func (m *randomModel) reference(t *testing.T) map[string][]string {
	type edge struct{ up, down string }
	edges := map[edge]bool{}
	members := func(g string) []string {
		var out []string
		for _, id := range m.tasks {
			if inside(id, g) {
				out = append(out, id)
			}
		}
		return out
	}
	ends := func(g string, roots bool) []string {
		var out []string
		for _, id := range members(g) {
			linked := false
			for e := range edges {
				if roots && e.down == id && inside(e.up, g) || !roots && e.up == id && inside(e.down, g) {
					linked = true
				}
			}
			if !linked {
				out = append(out, id)
			}
		}
		return out
	}
	for range 20 {
		next := map[edge]bool{}
		for from, tos := range m.refs {
			downs := []string{from}
			if m.isGroup(from) {
				downs = ends(from, true)
			}
			for _, to := range tos {
				ups := []string{to}
				if m.isGroup(to) {
					ups = ends(to, false)
				}
				for _, v := range downs {
					for _, u := range ups {
						next[edge{u, v}] = true
					}
				}
			}
		}
		if maps.Equal(next, edges) {
			out := map[string][]string{}
			for e := range edges {
				out[e.down] = append(out[e.down], e.up)
			}
			for id := range out {
				slices.Sort(out[id])
			}
			return out
		}
		edges = next
	}
	t.Fatalf("the reference did not settle\n%s", m.yaml())
	return nil
}

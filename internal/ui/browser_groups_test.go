package ui_test

import (
	"context"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// groupRows reads the grid's rows: a group's as "[id]" (with "-" when
// collapsed), a task's as its id.
const groupRows = `[...document.querySelectorAll('#grid .gbody .grow')].sort((a, b) => parseFloat(a.style.top) - parseFloat(b.style.top))
	.map((r) => r.dataset.group ? '[' + r.dataset.group + (r.querySelector('button').getAttribute('aria-expanded') === 'true' ? '' : '-') + ']' : r.dataset.rowTask).join(' ')`

// checkGroups: the grid of task_groups shows a row per group above its
// tasks, each group's cell the most severe state of its tasks; Enter on a
// group's button collapses it (its tasks and nested groups hidden),
// remembered when the page is opened again. The graph draws each group as
// a box around its tasks; a click collapses it to one node that the
// edges of its tasks go to and come from.
func checkGroups(t *testing.T, ctx context.Context, base string, shot *shots) {
	t.Helper()
	runID := postJSON(t, base+"/api/v1/dags/task_groups/dagRuns", `{}`)["dag_run_id"].(string)
	waitTask(t, base, "task_groups", runID, "report", "success")
	var rows string
	run(t, ctx, "open the grid of task_groups", chromedp.Navigate(base+"/dags/task_groups"),
		chromedp.Evaluate(`localStorage.removeItem('sirocco.grid.collapsed.task_groups')`, nil),
		chromedp.Reload(),
		waitJS(`document.querySelector('#grid span.cell.group[data-group="extract"][data-state="success"]') !== null`),
		chromedp.Evaluate(groupRows, &rows))
	const all = "start load [extract] extract.orders extract.customers [extract.clean] extract.clean.dedup extract.clean.check [reporting] report"
	if rows != all {
		t.Errorf("grid rows:\n%s\nwant\n%s", rows, all)
	}
	var label string
	// Read in one step in the page: the grid re-renders its rows as the
	// run's changes stream in, and a node found by one DevTools call can
	// be gone by the next ("No node with given id found").
	run(t, ctx, "read a grouped task's label",
		chromedp.Evaluate(`document.querySelector('#grid [data-row-task="extract.clean.dedup"] .gname')?.textContent ?? ''`, &label))
	if strings.TrimSpace(label) != "dedup" {
		t.Errorf("extract.clean.dedup's row reads %q, want dedup under its group", label)
	}
	shot.take(ctx, "grid-groups")
	run(t, ctx, "collapse extract from the keyboard", chromedp.Focus(`button[data-toggle="extract"]`, chromedp.ByQuery),
		chromedp.KeyEvent("\r"), waitJS(`document.querySelector('button[data-toggle="extract"]').getAttribute('aria-expanded') === 'false'`),
		chromedp.Evaluate(groupRows, &rows))
	if rows != "start load [extract-] [reporting] report" {
		t.Errorf("with extract collapsed the grid rows are %q", rows)
	}
	var focused string
	run(t, ctx, "read the focus", chromedp.Evaluate(`document.activeElement.dataset.toggle || ''`, &focused))
	if focused != "extract" {
		t.Errorf("after the toggle the focus is on %q, want extract's button", focused)
	}
	run(t, ctx, "open the grid again", chromedp.Reload(),
		waitJS(`document.querySelector('button[data-toggle="extract"]') !== null`), chromedp.Evaluate(groupRows, &rows))
	if rows != "start load [extract-] [reporting] report" {
		t.Errorf("the collapsed group is not remembered: rows %q", rows)
	}
	run(t, ctx, "expand extract", chromedp.Click(`button[data-toggle="extract"]`, chromedp.ByQuery),
		waitJS(`document.querySelector('button[data-toggle="extract"]').getAttribute('aria-expanded') === 'true'`),
		chromedp.Evaluate(groupRows, &rows))
	if rows != all {
		t.Errorf("expanded again, the grid rows are %q", rows)
	}
	checkGraphGroups(t, ctx, base, shot)
}

// graphBoxes reads where the graph draws the groups and tasks.
const graphBoxes = `(() => {
	const box = (n) => { const r = n.querySelector('rect'); return [+r.getAttribute('x'), +r.getAttribute('y'), +r.getAttribute('width'), +r.getAttribute('height')]; };
	const out = {groups: {}, tasks: {}, edges: document.querySelectorAll('#graph svg > path').length};
	for (const g of document.querySelectorAll('#graph svg g.group')) out.groups[g.dataset.group] = {box: box(g), open: g.classList.contains('open'), state: g.dataset.state, title: g.querySelector('title').textContent};
	for (const a of document.querySelectorAll('#graph svg a[data-task]')) out.tasks[a.dataset.task] = {box: box(a)};
	return out;
})()`

type graphGroup struct {
	Box   [4]float64
	Open  bool
	State string
	Title string
}

type graphState struct {
	Groups map[string]graphGroup
	Tasks  map[string]struct{ Box [4]float64 }
	Edges  int
}

// inside reports whether box a lies within box b.
func inside(a, b [4]float64) bool {
	return a[0] >= b[0] && a[1] >= b[1] && a[0]+a[2] <= b[0]+b[2] && a[1]+a[3] <= b[1]+b[3]
}

func checkGraphGroups(t *testing.T, ctx context.Context, base string, shot *shots) {
	t.Helper()
	var g graphState
	run(t, ctx, "open the graph of task_groups", chromedp.Navigate(base+"/dags/task_groups/graph"),
		waitJS(`document.querySelectorAll('#graph svg a[data-state="success"]').length === 7`), chromedp.Evaluate(graphBoxes, &g))
	ext, clean := g.Groups["extract"], g.Groups["extract.clean"]
	if len(g.Groups) != 3 || !ext.Open || !inside(clean.Box, ext.Box) || !inside(g.Tasks["extract.orders"].Box, ext.Box) ||
		!inside(g.Tasks["extract.clean.dedup"].Box, clean.Box) || inside(g.Tasks["start"].Box, ext.Box) ||
		!inside(g.Tasks["report"].Box, g.Groups["reporting"].Box) {
		t.Errorf("the graph's group boxes do not hold their tasks: %+v", g)
	}
	if !strings.Contains(ext.Title, "Pull the sources, then clean them") || g.Edges != 7 {
		t.Errorf("extract's tooltip %q; %d edges, want 7", ext.Title, g.Edges)
	}
	shot.take(ctx, "graph-groups")
	g = graphState{} // Evaluate adds to the maps it decodes into
	run(t, ctx, "collapse extract in the graph", chromedp.Click(`#graph g.group[data-group="extract"] > text`, chromedp.ByQuery),
		waitJS(`document.querySelector('#graph g.group.closed[data-group="extract"]') !== null`), chromedp.Evaluate(graphBoxes, &g))
	// start -> extract -> load -> report: the three edges left.
	_, orders := g.Tasks["extract.orders"]
	if orders || len(g.Groups) != 2 || g.Edges != 3 || g.Groups["extract"].State != "success" {
		t.Errorf("with extract collapsed: %+v, want its tasks in one node of state success and 3 edges", g)
	}
	g = graphState{}
	run(t, ctx, "expand extract from the keyboard", chromedp.Focus(`#graph g.group[data-group="extract"]`, chromedp.ByQuery),
		chromedp.KeyEvent("\r"), waitJS(`document.querySelector('#graph g.group.open[data-group="extract"]') !== null`),
		chromedp.Evaluate(graphBoxes, &g))
	if g.Edges != 7 || len(g.Tasks) != 7 {
		t.Errorf("expanded again the graph has %d tasks and %d edges, want 7 and 7", len(g.Tasks), g.Edges)
	}
}

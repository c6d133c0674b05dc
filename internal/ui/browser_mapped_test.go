package ui_test

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// mappingYAML is the example DAG of dynamic task mapping, as shipped.
func mappingYAML(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "examples", "dags", "mapping.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// checkMapped: in a run of the example mapping, the grid shows
// count_rows (mapped over 3 elements) as one row, "[3]" after its id, its
// cell the instances' summary with their count, and per_nothing (mapped
// over an empty list) skipped without a count; the cell opens the list
// of the run's instances, each linking to its page, where that
// instance's own log, rendered command and XCom show. The graph draws
// count_rows as a stack with [3].
func checkMapped(t *testing.T, ctx context.Context, base string, shot *shots) {
	t.Helper()
	runID := postJSON(t, base+"/api/v1/dags/mapping/dagRuns", `{}`)["dag_run_id"].(string)
	waitTask(t, base, "mapping", runID, "total", "success")
	cell := fmt.Sprintf(`#grid a.mapped[data-task="count_rows"][data-run=%q]`, runID)
	var label, count, nothing string
	run(t, ctx, "open the grid of mapping", chromedp.Navigate(base+"/dags/mapping"),
		waitJS(fmt.Sprintf(`document.querySelector('%s[data-state="success"][data-count="3"]') !== null`, cell)),
		chromedp.Text(`#grid [data-row-task="count_rows"] .gname`, &label, chromedp.ByQuery),
		chromedp.Text(cell, &count, chromedp.ByQuery),
		chromedp.Evaluate(fmt.Sprintf(`(() => { const a = document.querySelector('#grid a[data-task="per_nothing"][data-run=%q]');
			return a.dataset.state + ' ' + a.dataset.count + ' ' + a.title; })()`, runID), &nothing))
	if strings.TrimSpace(label) != "▸ count_rows [3]" || count != "3" {
		t.Errorf("count_rows' row reads %q and its cell %q, want \"▸ count_rows [3]\" and 3", label, count)
	}
	if !strings.HasPrefix(nothing, "skipped -1 ") || !strings.Contains(nothing, "no instance") {
		t.Errorf("per_nothing's cell: %q, want skipped, no count, a title saying it has no instance", nothing)
	}
	checkMappedRows(t, ctx, runID, shot)

	var rows []string
	run(t, ctx, "open count_rows' instances", chromedp.Click(cell, chromedp.ByQuery),
		chromedp.WaitVisible(`#ti-instances tbody tr[data-map-index="2"]`, chromedp.ByQuery),
		waitJS(`document.querySelectorAll('#ti-instances tbody tr').length === 3`),
		chromedp.Evaluate(`[...document.querySelectorAll('#ti-instances tbody tr')].map((r) =>
			r.dataset.mapIndex + ' ' + r.querySelector('.state-badge').textContent.trim() + ' ' + r.querySelector('a').getAttribute('href').split('?')[1])`, &rows))
	if strings.Join(rows, ",") != "0 success map_index=0,1 success map_index=1,2 success map_index=2" {
		t.Errorf("the instances of count_rows: %q", rows)
	}
	var hidden bool
	var summary string
	run(t, ctx, "read the list page", chromedp.Evaluate(`document.getElementById('h-log').closest('section').hidden`, &hidden),
		chromedp.Text(`#ti-instances-summary`, &summary, chromedp.ByID))
	if !hidden {
		t.Error("the list of instances shows a log section")
	}
	if summary != "3 instances: 3 success" {
		t.Errorf("the summary of count_rows' instances reads %q, want \"3 instances: 3 success\"", summary)
	}
	shot.take(ctx, "task-mapped")

	var log, which, rendered, xcoms string
	run(t, ctx, "open instance 1", chromedp.Click(`#ti-instances tr[data-map-index="1"] a`, chromedp.ByQuery),
		chromedp.WaitVisible(`#ti-tries tbody tr[data-try]`, chromedp.ByQuery),
		waitJS(`document.getElementById('log').textContent.includes('sirocco: task succeeded')`),
		waitJS(`document.querySelector('#ti-xcoms tbody td pre') !== null`),
		chromedp.Evaluate(`document.getElementById('log').textContent`, &log), chromedp.Text(`#ti-map`, &which, chromedp.ByID),
		chromedp.Text(`#ti-rendered`, &rendered, chromedp.ByID), chromedp.Text(`#ti-xcoms tbody`, &xcoms, chromedp.ByQuery))
	if which != "[1]" || !strings.Contains(log, "] 45\n") || strings.Contains(log, "] 120\n") {
		t.Errorf("instance 1's page: heading %q, log %q, want [1] and its own log (45, not 120)", which, log)
	}
	if !strings.Contains(rendered, "echo 45") || !strings.Contains(xcoms, "45") {
		t.Errorf("instance 1's rendered fields %q and XComs %q, want its command and value", rendered, xcoms)
	}
	var crumbs string
	run(t, ctx, "read the breadcrumb", chromedp.Evaluate(`[...document.querySelectorAll('.crumbs li')].slice(-2)
		.map((li) => (li.querySelector('a') ? 'link ' : '') + li.textContent.trim()).join(' / ')`, &crumbs))
	if crumbs != "link count_rows / [1]" {
		t.Errorf("instance 1's breadcrumb ends %q, want a link to count_rows, then [1]", crumbs)
	}
	shot.take(ctx, "task-mapped-instance")
	run(t, ctx, "mark instance 1 failed", chromedp.Evaluate(`[...document.querySelectorAll('#ti-actions button')]
		.find((b) => b.textContent === 'Mark failed').click()`, nil))
	confirmOpen(t, ctx, "the mark")
	var title string
	run(t, ctx, "read the mark's title", chromedp.Evaluate(`document.getElementById('confirm-title').textContent`, &title))
	if title != "Mark count_rows [1] failed?" {
		t.Errorf("the mark's confirmation asks %q, want it to name count_rows [1]", title)
	}
	answer(t, ctx, "ok")
	waitTask(t, base, "mapping", runID, "count_rows?map_index=1", "failed")
	instance := func(i int) string {
		u := fmt.Sprintf("%s/api/v1/dags/mapping/dagRuns/%s/taskInstances/count_rows?map_index=%d", base, url.PathEscape(runID), i)
		return fmt.Sprint(getJSON(t, u)["state"])
	}
	if a, b := instance(0), instance(2); a != "success" || b != "success" {
		t.Errorf("after marking instance 1 failed, instances 0 and 2 are %s and %s, want success", a, b)
	}
	run(t, ctx, "see instance 1 failed", waitJS(`document.querySelector('#ti-state .state-badge')?.textContent.trim() === 'failed'`))

	var graph string
	run(t, ctx, "open the graph of mapping", chromedp.Navigate(fmt.Sprintf("%s/dags/mapping/graph?run_id=%s", base, runID)),
		waitJS(`document.querySelector('#graph svg a[data-task="count_rows"][data-count="3"]') !== null`),
		chromedp.Evaluate(`(() => { const a = document.querySelector('#graph svg a[data-task="count_rows"]');
			return a.querySelector('text').textContent + ' ' + a.querySelectorAll('rect.stack').length; })()`, &graph))
	if graph != "count_rows [3] 2" {
		t.Errorf("count_rows' node reads %q, want \"count_rows [3]\" on a stack of 2 cards", graph)
	}
	shot.take(ctx, "graph-mapped")
	checkMappedPlaceholder(t, ctx, base, runID)
}

// checkMappedPlaceholder: the page of a mapped task that ended without
// expanding says so (skipped over an empty list; failed), never that it
// has not expanded yet, and that it ran no try (trial11 #4).
func checkMappedPlaceholder(t *testing.T, ctx context.Context, base, runID string) {
	t.Helper()
	page := fmt.Sprintf("%s/dags/mapping/runs/%s/tasks/per_nothing", base, url.PathEscape(runID))
	read := func(what, state string) (note, details string) {
		run(t, ctx, what, chromedp.Navigate(page),
			waitJS(fmt.Sprintf(`document.querySelector('#ti-state .state-badge')?.textContent.trim() === %q &&
				!document.getElementById('ti-map-note').hidden`, state)),
			chromedp.Text(`#ti-map-note`, &note, chromedp.ByID), chromedp.Text(`#ti-details`, &details, chromedp.ByID))
		return note, details
	}
	note, details := read("open per_nothing's page", "skipped")
	if !strings.Contains(note, "skipped before it expanded") || !strings.Contains(details, "none (it ended without running a try)") {
		t.Errorf("per_nothing's page: note %q, details %q; want it skipped before it expanded, without a try", note, details)
	}
	sendJSON(t, "PATCH", fmt.Sprintf("%s/api/v1/dags/mapping/dagRuns/%s/taskInstances/per_nothing", base, url.PathEscape(runID)), `{"new_state": "failed"}`)
	note, details = read("open per_nothing's page, failed", "failed")
	if !strings.Contains(note, "it ended failed without expanding") || strings.Contains(note, "not expanded yet") ||
		!strings.Contains(details, "none (it ended without running a try)") {
		t.Errorf("per_nothing's page, failed: note %q, details %q; want it ended failed without expanding", note, details)
	}
}

// mappedRows reads the grid's rows of count_rows' instances: each as
// "[i]" and the query of its cell's link.
const mappedRows = `[...document.querySelectorAll('#grid .ginstance')].sort((a, b) => parseFloat(a.style.top) - parseFloat(b.style.top))
	.map((r) => r.querySelector('.gname').textContent + ' ' + r.querySelector('a').getAttribute('href').split('?')[1]).join(',')`

// checkMappedRows: count_rows' button expands it into a row per
// instance (each cell linking to that instance's page), kept when the
// grid is opened again; pressed again it hides them.
func checkMappedRows(t *testing.T, ctx context.Context, runID string, shot *shots) {
	t.Helper()
	toggle := `button[data-toggle-task="count_rows"]`
	var rows string
	run(t, ctx, "expand count_rows", chromedp.Click(toggle, chromedp.ByQuery),
		waitJS(`document.querySelectorAll('#grid .ginstance').length === 3`), chromedp.Evaluate(mappedRows, &rows))
	if rows != "[0] map_index=0,[1] map_index=1,[2] map_index=2" {
		t.Errorf("count_rows' instance rows: %q", rows)
	}
	var states string
	run(t, ctx, "read the instances' states", chromedp.Evaluate(fmt.Sprintf(`[...document.querySelectorAll('#grid .ginstance a[data-run=%q]')]
		.map((a) => a.dataset.state).join(',')`, runID), &states), chromedp.Reload(),
		waitJS(`document.querySelectorAll('#grid .ginstance').length === 3`))
	if states != "success,success,success" {
		t.Errorf("count_rows' instances are %q, want 3 success", states)
	}
	shot.take(ctx, "grid-mapped")
	run(t, ctx, "collapse count_rows", chromedp.Click(toggle, chromedp.ByQuery),
		waitJS(`document.querySelectorAll('#grid .ginstance').length === 0 && document.querySelector('button[data-toggle-task="count_rows"]').getAttribute('aria-expanded') === 'false'`))
}

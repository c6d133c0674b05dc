package ui_test

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/sirocco-dev/sirocco/internal/store"
	"github.com/sirocco-dev/sirocco/internal/store/sqlstore"
)

// The checks of TestBrowser that a new user's trial of the UI asked for,
// each on the page it concerns.

// checkHeader: the signed-in user's name and "Log out" stay on one line
// at 1280px and at 800px, where the page does not scroll sideways.
func checkHeader(t *testing.T, ctx context.Context, base string) {
	t.Helper()
	defer run(t, ctx, "restore the window", chromedp.EmulateViewport(1366, 900))
	for _, width := range []int64{1280, 800} {
		var res struct {
			OneLine, Overflow bool
			Text              string
		}
		run(t, ctx, fmt.Sprintf("read the header at %dpx", width), chromedp.EmulateViewport(width, 900),
			chromedp.Navigate(base+"/"), chromedp.WaitVisible(`#whoami form button`, chromedp.ByQuery),
			chromedp.Evaluate(`(() => {
				const who = document.querySelector('#whoami .who').getBoundingClientRect();
				const out = document.querySelector('#whoami form button').getBoundingClientRect();
				const mid = (r) => (r.top + r.bottom) / 2;
				return {oneLine: Math.abs(mid(who) - mid(out)) < 6 && out.left >= who.right - 1,
					overflow: document.documentElement.scrollWidth > innerWidth,
					text: document.getElementById('whoami').textContent};
			})()`, &res))
		if !res.OneLine || res.Overflow {
			t.Errorf("header at %dpx: %q on one line %v, page wider than the window %v", width, res.Text, res.OneLine, res.Overflow)
		}
	}
}

// checkNav: the nav links the signed-in user sees are want (the admin
// pages their role may open).
func checkNav(t *testing.T, ctx context.Context, base, who, want string) {
	t.Helper()
	var got string
	run(t, ctx, "read the nav of "+who, chromedp.Navigate(base+"/"), chromedp.WaitVisible(`#whoami .who`, chromedp.ByQuery),
		chromedp.Evaluate(`[...document.querySelectorAll('header nav a')].filter((a) => a.offsetParent !== null)
			.map((a) => a.textContent).join(',')`, &got))
	if got != want {
		t.Errorf("%s's nav shows %q, want %q", who, got, want)
	}
}

// fieldState is a form field and its error as the browser shows them.
type fieldState struct {
	Name, Invalid, Text string
	Described, Shown    bool
}

// readFields reads the fields named and their errors (#e-NAME).
func readFields(t *testing.T, ctx context.Context, names ...string) []fieldState {
	t.Helper()
	var out []fieldState
	js := fmt.Sprintf(`%q.split(',').map((n) => {
		const i = document.querySelector('[name="' + n + '"]'), p = document.getElementById('e-' + n);
		return {name: n, invalid: i.getAttribute('aria-invalid') || '', text: p.textContent,
			described: (i.getAttribute('aria-describedby') || '').split(' ').includes(p.id),
			shown: !p.hidden && p.offsetParent !== null};
	})`, strings.Join(names, ","))
	run(t, ctx, "read the fields' errors", chromedp.Evaluate(js, &out))
	return out
}

// checkAllErrors: every field named shows its error at once, marked
// invalid and described by it, without repeating its name.
func checkAllErrors(t *testing.T, ctx context.Context, names ...string) map[string]string {
	t.Helper()
	texts := map[string]string{}
	for _, f := range readFields(t, ctx, names...) {
		bare := strings.TrimPrefix(f.Name, "param.")
		if f.Invalid != "true" || !f.Described || !f.Shown || f.Text == "" ||
			strings.HasPrefix(f.Text, bare) || strings.HasPrefix(f.Text, "param") {
			t.Errorf("field %s: aria-invalid %q, described by its error %v, shown %v, error %q (want all shown at once, without the field's name)",
				f.Name, f.Invalid, f.Described, f.Shown, f.Text)
		}
		texts[f.Name] = f.Text
	}
	var open bool
	run(t, ctx, "check no confirmation", chromedp.Evaluate(`document.getElementById('confirm').open`, &open))
	if open {
		t.Error("a form with errors asks for confirmation")
	}
	return texts
}

// confirmOpen waits for the confirmation dialog and returns its text.
// The dialog is looked at and answered from JavaScript: chromedp does not
// follow the top layer a modal dialog lives in.
func confirmOpen(t *testing.T, ctx context.Context, what string) string {
	t.Helper()
	var text string
	run(t, ctx, "wait for the confirmation of "+what, waitJS(`document.getElementById('confirm').open`),
		chromedp.Evaluate(`document.getElementById('confirm-text').textContent`, &text))
	return text
}

// answer presses the confirmation's button: "ok" or "cancel".
func answer(t *testing.T, ctx context.Context, button string) {
	t.Helper()
	run(t, ctx, "answer "+button, chromedp.Evaluate(fmt.Sprintf(`document.querySelector('#confirm button[value=%q]').click()`, button), nil),
		waitJS(`!document.getElementById('confirm').open`))
}

// checkTriggerErrors: on the trigger form, a bad param, run id and date
// are all reported at once, each next to its field.
func checkTriggerErrors(t *testing.T, ctx context.Context) {
	t.Helper()
	run(t, ctx, "submit three bad fields", chromedp.SetValue(`#f-param-n`, "three", chromedp.ByID),
		chromedp.SetValue(`#f-run-id`, "bad id", chromedp.ByID), chromedp.SetValue(`#f-logical-date`, "tomorrow", chromedp.ByID),
		chromedp.Click(`#trigger-submit`, chromedp.ByID), chromedp.WaitVisible(`#e-param\.n`, chromedp.ByQuery))
	texts := checkAllErrors(t, ctx, "param.n", "dag_run_id", "logical_date")
	if !strings.Contains(texts["param.n"], "integer") {
		t.Errorf("the error of n is %q, want one saying an integer is expected", texts["param.n"])
	}
}

// checkGrid: the grid of a small DAG is only as tall as its rows, so the
// selected run's details are in view; each run's column has a header
// (type letter, logical date, full id in its tooltip) that the keyboard
// selects.
func checkGrid(t *testing.T, ctx context.Context, runID string) {
	t.Helper()
	var g struct {
		GridHeight, PanelBottom, InnerHeight float64
		PanelShown                           bool
		Label, Title, Pressed                string
	}
	sel := fmt.Sprintf(`#grid .grun button[data-run=%q]`, runID)
	read := chromedp.Evaluate(fmt.Sprintf(`(() => {
		const p = document.getElementById('run-panel'), b = document.querySelector(%q);
		return {gridHeight: document.getElementById('grid').getBoundingClientRect().height, panelShown: !p.hidden,
			panelBottom: p.getBoundingClientRect().bottom, innerHeight, label: b.textContent, title: b.title,
			pressed: b.getAttribute('aria-pressed')};
	})()`, sel), &g)
	run(t, ctx, "measure the grid", read)
	if !g.PanelShown || g.PanelBottom > g.InnerHeight || g.GridHeight > g.InnerHeight/2 {
		t.Errorf("grid %.0fpx high; the run's details shown %v, their bottom at %.0fpx of %.0fpx (want them in view)",
			g.GridHeight, g.PanelShown, g.PanelBottom, g.InnerHeight)
	}
	if !regexp.MustCompile(`^M\d\d-\d\d \d\d:\d\d`).MatchString(g.Label) || !strings.HasPrefix(g.Title, runID+"\n") || g.Pressed != "true" {
		t.Errorf("run column header %q (tooltip %q, pressed %q), want M and the logical date, the run id in its tooltip, selected",
			g.Label, g.Title, g.Pressed)
	}
	run(t, ctx, "unselect the run from the keyboard", chromedp.Focus(sel, chromedp.ByQuery), chromedp.KeyEvent("\r"),
		waitJS(`document.getElementById('run-panel').hidden`), chromedp.KeyEvent("\r"),
		waitJS(`!document.getElementById('run-panel').hidden`), read)
	if g.Pressed != "true" {
		t.Errorf("after Enter twice the run's header is pressed %q", g.Pressed)
	}
}

// ganttBar is one bar of the Gantt.
type ganttBar struct {
	Task, Try, State, Label string
	Left                    float64
}

// checkGantt: the Gantt of gantt_demo's run draws each try of the retried
// task, the skipped task's one try, no bar for the task that never ran
// (a labelled row instead), under a time axis of wall-clock ticks.
func checkGantt(t *testing.T, ctx context.Context, base, runID string, shot *shots) {
	t.Helper()
	run(t, ctx, "open the Gantt of gantt_demo", chromedp.Navigate(fmt.Sprintf("%s/dags/gantt_demo/gantt?run_id=%s", base, runID)),
		waitJS(`document.querySelectorAll('#gantt .bar[data-task="flaky"]').length === 2 &&
			document.querySelectorAll('#gantt .bar[data-task="gate"][data-state="skipped"]').length === 1 &&
			document.querySelector('#gantt .not-run[data-task="after_gate"]') !== null`))
	var bars []ganttBar
	var ticks []string
	var notRun string
	run(t, ctx, "read the Gantt", chromedp.Evaluate(`[...document.querySelectorAll('#gantt .bar')].map((b) => ({
			task: b.dataset.task, try: b.dataset.try, state: b.dataset.state, label: b.getAttribute('aria-label'),
			left: b.getBoundingClientRect().left}))`, &bars),
		chromedp.Evaluate(`[...document.querySelectorAll('#gantt .tick')].map((n) => n.textContent)`, &ticks),
		chromedp.Text(`#gantt .not-run[data-task="after_gate"]`, &notRun, chromedp.ByQuery))
	var flaky []ganttBar
	for _, b := range bars {
		if b.Task == "flaky" {
			flaky = append(flaky, b)
		}
		if b.Task == "after_gate" {
			t.Errorf("after_gate never ran but has a bar: %+v", b)
		}
	}
	if len(flaky) != 2 || flaky[0].Try != "1" || flaky[0].State != "failed" || flaky[1].Try != "2" || flaky[1].State != "success" ||
		flaky[1].Left <= flaky[0].Left || !strings.Contains(flaky[0].Label, "try 1 of 2") || !strings.Contains(flaky[1].Label, "try 2 of 2") {
		t.Errorf("flaky's bars: %+v, want try 1 failed then try 2 succeeded, each labelled", flaky)
	}
	if !strings.Contains(notRun, "did not run") {
		t.Errorf("after_gate's row says %q", notRun)
	}
	tick := regexp.MustCompile(`^\d\d:\d\d:\d\d(\.\d{3})?\+\d`)
	if len(ticks) < 3 || !tick.MatchString(ticks[0]) || !tick.MatchString(ticks[len(ticks)-1]) {
		t.Errorf("time axis ticks %q, want at least three wall-clock times with offsets", ticks)
	}
	shot.take(ctx, "gantt")
}

// checkHandle: a quick bash try whose handle was not saved (it ended
// within 100 ms) shows the process handle its log notes, and says so.
// The handle is taken off the row first, as a try that ended within
// 100 ms leaves it, whatever the speed of the machine running the test.
func checkHandle(t *testing.T, ctx context.Context, dbPath, tiURL string, key store.TaskKey) {
	t.Helper()
	st, err := sqlstore.Open(context.Background(), "sqlite://"+dbPath)
	if err != nil {
		t.Fatal(err)
	}
	none := []byte{}
	if ok, err := st.UpdateTask(context.Background(), store.TaskUpdate{Key: key, From: []store.TaskState{store.StateSuccess},
		To: store.StateSuccess, Handle: &none}); err != nil || !ok {
		t.Fatalf("take the handle off %v: %v %v", key, ok, err)
	}
	st.Close()
	var text, source string
	run(t, ctx, "open a quick task", chromedp.Navigate(tiURL), chromedp.WaitVisible(`#ti-handle dd`, chromedp.ByQuery),
		chromedp.Text(`#ti-handle`, &text, chromedp.ByID),
		chromedp.Evaluate(`document.getElementById('ti-handle').dataset.source || ''`, &source))
	if !strings.Contains(text, "Process id") || source != "log" || !strings.Contains(text, "Read from") || !strings.Contains(text, "the log of try 1") {
		t.Errorf("the handle of a quick bash try (source %q) reads:\n%s", source, text)
	}
}

// checkPools: the pool form reports every bad field at once, and Save
// asks for confirmation (Cancel saves nothing).
func checkPools(t *testing.T, ctx context.Context, base string) {
	t.Helper()
	run(t, ctx, "save a pool with two bad fields", chromedp.Navigate(base+"/admin/pools"),
		chromedp.WaitVisible(`body[data-ready="true"]`, chromedp.ByQuery), chromedp.Click(`#add`, chromedp.ByID),
		chromedp.WaitVisible(`#edit`, chromedp.ByID), chromedp.SetValue(`#f-slots`, "-1", chromedp.ByID),
		chromedp.Click(`#edit button[type="submit"]`, chromedp.ByQuery), chromedp.WaitVisible(`#e-slots`, chromedp.ByID))
	checkAllErrors(t, ctx, "name", "slots")
	run(t, ctx, "save a good pool", chromedp.SetValue(`#f-name`, "etl_pool", chromedp.ByID), chromedp.SetValue(`#f-slots`, "3", chromedp.ByID),
		chromedp.Click(`#edit button[type="submit"]`, chromedp.ByQuery))
	if text := confirmOpen(t, ctx, "the pool"); !strings.Contains(text, "3 slots") {
		t.Errorf("the pool's confirmation says %q", text)
	}
	answer(t, ctx, "cancel")
	if status := getStatus(t, base+"/api/v1/pools/etl_pool"); status != http.StatusNotFound {
		t.Errorf("after Cancel the pool exists (%d)", status)
	}
	run(t, ctx, "save again", chromedp.Click(`#edit button[type="submit"]`, chromedp.ByQuery))
	confirmOpen(t, ctx, "the pool")
	answer(t, ctx, "ok")
	var res struct {
		Listed bool
		Errors string
	}
	run(t, ctx, "see the pool listed or an error", waitJS(`document.querySelector('#list tr[data-id="etl_pool"]') !== null ||
			!document.getElementById('form-error').hidden || !document.getElementById('page-error').hidden`),
		chromedp.Evaluate(`({listed: document.querySelector('#list tr[data-id="etl_pool"]') !== null,
			errors: document.getElementById('form-error').textContent + document.getElementById('page-error').textContent})`, &res))
	if !res.Listed {
		t.Errorf("the confirmed pool is not listed: %s", res.Errors)
	}
}

// checkRefusal: a Viewer opening a page their role may not read is told
// so once, with the role it needs.
func checkRefusal(t *testing.T, ctx context.Context, base string) {
	t.Helper()
	var text string
	run(t, ctx, "open the connections as a Viewer", chromedp.Navigate(base+"/admin/connections"),
		chromedp.WaitVisible(`#page-error`, chromedp.ByID), chromedp.Text(`#page-error`, &text, chromedp.ByID))
	if strings.Count(text, "Viewer") != 1 || !strings.Contains(text, "needs Op or above") {
		t.Errorf("a Viewer's refusal reads %q, want the role said once and the role needed", text)
	}
}

func getStatus(t *testing.T, url string) int {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+serviceToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// auditRow is one row of the audit log as the page shows it.
type auditRow struct{ Event, What, Object string }

// checkAudit: the audit log shows a route as its method and a short path,
// with the DAG, run and task ids, and the tasks a clear names.
func checkAudit(t *testing.T, ctx context.Context, base, runID string) {
	t.Helper()
	var rows []auditRow
	run(t, ctx, "read the audit log's routes", chromedp.Navigate(base+"/admin/audit"), chromedp.WaitVisible(`#list tbody tr`, chromedp.ByQuery),
		chromedp.Evaluate(`[...document.querySelectorAll('#list tbody tr')].map((r) => ({event: r.dataset.event || '',
			what: r.cells[2].textContent, object: r.cells[3].innerText}))`, &rows))
	want := map[string]auditRow{
		"POST /api/v1/dags/{dag_id}/clearTaskInstances": {What: "POST /dags/{dag_id}/clearTaskInstances",
			Object: "DAG params_demo · run " + runID + " · task extract\ntasks: extract, load\ndry_run: true"},
		"POST /api/v1/dags/{dag_id}/dagRuns": {What: "POST /dags/{dag_id}/dagRuns", Object: "DAG params_demo · run " + runID},
	}
	for event, w := range want {
		found := false
		for _, r := range rows {
			if r.Event == event && strings.Contains(r.Object, "run "+runID) {
				found = true
				if r.What != w.What || r.Object != w.Object {
					t.Errorf("the audit log shows %s as %q, %q; want %q, %q", event, r.What, r.Object, w.What, w.Object)
				}
			}
		}
		if !found {
			t.Errorf("the audit log has no %s of run %s: %+v", event, runID, rows)
		}
	}
}

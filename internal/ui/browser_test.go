package ui_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	cdpruntime "github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/sirocco-dev/sirocco/internal/auth"
	"github.com/sirocco-dev/sirocco/internal/cli"
	"github.com/sirocco-dev/sirocco/internal/store"
	"github.com/sirocco-dev/sirocco/internal/store/sqlstore"
	"github.com/sirocco-dev/sirocco/internal/testenv"
)

// Example-like DAGs of the browser test: one with params of every kind,
// one whose task writes its log slowly, one with a Spark task.
var browserDAGs = map[string]string{
	"params_demo.yaml": `dag_id: params_demo
description: Params of every kind, three quick tasks.
schedule: none
tags: [demo]
params:
  n: {type: integer, default: 3, description: how many lines to print}
  mode: {type: string, default: fast, enum: [fast, slow], description: how to run}
  verbose: {type: boolean, default: false}
tasks:
  - {id: extract, operator: bash, command: "echo extract {{ params.n }}"}
  - {id: transform, operator: bash, depends_on: [extract], command: "echo transform {{ params.mode }}"}
  - {id: load, operator: bash, depends_on: [transform], command: echo load}
`,
	"slow_log.yaml": `dag_id: slow_log
description: A task whose log grows while it runs.
schedule: none
tags: [demo]
tasks:
  - {id: tail_me, operator: bash, command: "for i in $(seq 1 40); do echo line $i; sleep 0.25; done"}
`,
	"gantt_demo.yaml": `dag_id: gantt_demo
description: A retried task, a skipped one and one that never ran.
schedule: none
tags: [demo]
tasks:
  - {id: flaky, operator: bash, retries: 1, retry_delay: 1s, command: "sleep 0.3; echo try {{ ti.try_number }}; test {{ ti.try_number }} -gt 1"}
  - {id: gate, operator: bash, depends_on: [flaky], command: "sleep 0.2; exit 99"}
  - {id: after_gate, operator: bash, depends_on: [gate], command: echo never}
`,
	"spark_report.yaml": `dag_id: spark_report
description: A Spark job on a standalone cluster.
schedule: "@daily"
start_date: 2026-01-01
catchup: false
tags: [spark]
tasks:
  - {id: wordcount, operator: spark_submit, conn_id: spark_cluster, application: jobs/wordcount.py}
`,
}

// serviceToken is the standalone's api_token: the test's own HTTP calls
// use it, the browser logs in.
const serviceToken = "browser-test-service-token"

// standalone runs `sirocco standalone` in-process on a fresh home, port 0,
// and returns its base URL, the path of its database and the password of
// the admin its first start created.
func standalone(t *testing.T, dags map[string]string) (string, string, string) {
	t.Helper()
	t.Setenv("SIROCCO_API_TOKEN", serviceToken)
	home := t.TempDir()
	dagsDir := filepath.Join(home, "dags")
	if err := os.MkdirAll(dagsDir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, body := range dags {
		if err := os.WriteFile(filepath.Join(dagsDir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var out testenv.SyncBuffer
	root := cli.NewRoot(&out, &out)
	root.SetArgs([]string{"standalone", "--home", home, "--dags", dagsDir, "--listen", "127.0.0.1:0", "--poll-interval", "200ms"})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("standalone: %v\n%s", err, out.String())
		}
	})
	addr := regexp.MustCompile(`msg=serving addr=(\S+)`)
	var base string
	testenv.Eventually(t, "standalone serving", 30*time.Second, func() (bool, string) {
		if m := addr.FindStringSubmatch(out.String()); m != nil {
			base = "http://" + m[1]
		}
		select {
		case err := <-done:
			t.Fatalf("standalone exited: %v\n%s", err, out.String())
		default:
		}
		return base != "" && strings.Contains(out.String(), "sirocco started"), out.String()
	})
	m := regexp.MustCompile(`password: (\S+)`).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("the first start printed no admin password:\n%s", out.String())
	}
	return base, filepath.Join(home, "sirocco.db"), m[1]
}

// login signs in through the login page, from a browser without cookies.
func login(t *testing.T, ctx context.Context, base, user, password string) {
	t.Helper()
	run(t, ctx, "log in as "+user, network.ClearBrowserCookies(), chromedp.Navigate(base+"/"),
		chromedp.WaitVisible(`#username`, chromedp.ByID),
		chromedp.SetValue(`#username`, user, chromedp.ByID), chromedp.SetValue(`#password`, password, chromedp.ByID),
		chromedp.Submit(`#password`, chromedp.ByID),
		// #whoami is on every UI page, never on the login page; a
		// selector wait survives the navigation the form causes.
		chromedp.WaitReady(`#whoami`, chromedp.ByID))
	var loc string
	run(t, ctx, "read where the login led", chromedp.Location(&loc))
	if strings.Contains(loc, "/login") {
		t.Fatalf("still on the login page after signing in as %s: %s", user, loc)
	}
}

// shots saves screenshots under $SIROCCO_TEST_ARTIFACTS (or the test's
// temporary folder) and, when SIROCCO_UPDATE_SCREENSHOTS is set, those the
// README shows into docs/screenshots.
type shots struct {
	t    *testing.T
	dirs []string
	docs string
}

// readmeShots are the screenshots the README shows.
var readmeShots = map[string]bool{"dags": true, "grid": true, "graph": true, "gantt": true, "task-log": true, "task-spark": true,
	"grid-groups": true, "graph-groups": true, "grid-mapped": true, "task-mapped": true}

func newShots(t *testing.T) *shots {
	dir := os.Getenv("SIROCCO_TEST_ARTIFACTS")
	if dir == "" {
		dir = t.TempDir()
	}
	s := &shots{t: t, dirs: []string{filepath.Join(dir, "screenshots")}}
	if os.Getenv("SIROCCO_UPDATE_SCREENSHOTS") != "" {
		s.docs = filepath.Join("..", "..", "docs", "screenshots")
	}
	return s
}

func (s *shots) take(ctx context.Context, name string) {
	s.t.Helper()
	var png []byte
	if err := chromedp.Run(ctx, chromedp.FullScreenshot(&png, 100)); err != nil {
		s.t.Fatalf("screenshot %s: %v", name, err)
	}
	dirs := s.dirs
	if s.docs != "" && readmeShots[name] {
		dirs = append(dirs, s.docs)
	}
	for _, dir := range dirs {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			s.t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
			s.t.Fatal(err)
		}
	}
	s.t.Logf("screenshot %s.png in %v", name, dirs)
}

// run runs browser actions with a deadline.
func run(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Run(ctx, actions...); err != nil {
		var loc string
		_ = chromedp.Run(ctx, chromedp.Location(&loc))
		t.Fatalf("%s: %v (page %s)", what, err, loc)
	}
}

// waitJS polls a JavaScript condition in the page until it is true.
func waitJS(expr string) chromedp.Action {
	return chromedp.Poll(expr, nil, chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(25*time.Second))
}

// TestBrowser drives the UI of a real standalone in headless Chromium:
// the DAG list, a trigger with an invalid then a valid param, the grid
// turning success without a reload, the graph and Gantt, task groups in
// the grid and the graph, mapped tasks, a running task's
// log growing live, a Spark task's driver link, and the admin pages.
func TestBrowser(t *testing.T) {
	ctx := testenv.Chromium(t)
	goFile := filepath.Join(t.TempDir(), "go")
	dags := maps.Clone(browserDAGs)
	maps.Copy(dags, streamDAGs(goFile))
	dags["task_groups.yaml"] = taskGroupsYAML(t)
	dags["mapping.yaml"] = mappingYAML(t)
	base, dbPath, password := standalone(t, dags)
	shot := newShots(t)
	// A run with a retried task, a skipped one and one that never ran,
	// for the Gantt; it finishes while the other pages are looked at.
	ganttRun := postJSON(t, base+"/api/v1/dags/gantt_demo/dagRuns", `{}`)["dag_run_id"].(string)
	login(t, ctx, base, "admin", password)
	checkHeader(t, ctx, base)
	checkNav(t, ctx, base, "admin", "DAGs,Connections,Variables,Pools,Users,Audit log")

	// The DAG list; the next run says when it runs.
	var nextRun string
	run(t, ctx, "open the DAG list", chromedp.Navigate(base+"/"),
		chromedp.WaitVisible(`tr[data-dag="params_demo"] a.button`, chromedp.ByQuery),
		chromedp.WaitVisible(`tr[data-dag="spark_report"] td.next-run div`, chromedp.ByQuery),
		chromedp.Text(`tr[data-dag="spark_report"] td.next-run`, &nextRun, chromedp.ByQuery))
	if !regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\s*runs after \d{4}-\d\d-\d\d \d\d:\d\d:\d\d$`).MatchString(nextRun) {
		t.Errorf("spark_report's next run reads %q, want its logical date and when it runs", nextRun)
	}
	shot.take(ctx, "dags")

	// Trigger from the params form: invalid values are refused next to
	// their fields, all at once; a valid one is confirmed, then creates
	// the run.
	run(t, ctx, "open the trigger form", chromedp.Click(`tr[data-dag="params_demo"] a.button`, chromedp.ByQuery),
		chromedp.WaitVisible(`#trigger-form[data-ready="true"]`, chromedp.ByQuery))
	checkTriggerErrors(t, ctx)
	shot.take(ctx, "trigger-invalid")
	run(t, ctx, "trigger with valid values", chromedp.SetValue(`#f-param-n`, "5", chromedp.ByID),
		chromedp.Evaluate(`document.getElementById('f-run-id').value = document.getElementById('f-logical-date').value = ''`, nil),
		chromedp.Click(`#trigger-submit`, chromedp.ByID))
	if text := confirmOpen(t, ctx, "the trigger"); !strings.Contains(text, "n = 5") {
		t.Errorf("the trigger's confirmation says %q", text)
	}
	if runs := getJSON(t, base+"/api/v1/dags/params_demo/dagRuns"); fmt.Sprint(runs["total_entries"]) != "0" {
		t.Fatalf("a run was created before the trigger was confirmed: %v", runs)
	}
	answer(t, ctx, "ok")
	run(t, ctx, "see the run's grid", chromedp.WaitVisible(`#grid[data-ready="true"]`, chromedp.ByQuery))
	var runID string
	run(t, ctx, "read the run id", chromedp.Evaluate(`new URLSearchParams(location.search).get('run_id')`, &runID))
	if !strings.HasPrefix(runID, "manual__") {
		t.Fatalf("after the trigger the grid shows run %q", runID)
	}

	// The grid's cells turn success without a reload.
	run(t, ctx, "watch the grid", chromedp.Evaluate(`window.__sameDocument = true`, nil),
		waitJS(fmt.Sprintf(`(() => { const c = [...document.querySelectorAll('#grid a[data-run=%q]')];
			return c.length === 3 && c.every((a) => a.dataset.state === 'success'); })()`, runID)))
	var same bool
	run(t, ctx, "check no reload", chromedp.Evaluate(`window.__sameDocument === true`, &same))
	if !same {
		t.Fatal("the grid page was reloaded")
	}
	var conf string
	resp := getJSON(t, base+"/api/v1/dags/params_demo/dagRuns/"+runID)
	if conf = fmt.Sprint(resp["conf"]); !strings.Contains(conf, "n:5") {
		t.Errorf("the run's conf is %s, want n=5 from the form", conf)
	}
	checkGrid(t, ctx, runID)
	shot.take(ctx, "grid")

	// Graph and Gantt of that run.
	run(t, ctx, "open the graph", chromedp.Navigate(base+"/dags/params_demo/graph"),
		waitJS(`document.querySelectorAll('#graph svg a[data-state="success"]').length === 3`))
	shot.take(ctx, "graph")
	run(t, ctx, "open the Gantt", chromedp.Navigate(base+"/dags/params_demo/gantt"),
		waitJS(`document.querySelectorAll('#gantt .bar.s-success').length === 3`))
	checkGantt(t, ctx, base, ganttRun, shot)
	checkGroups(t, ctx, base, shot)
	checkMapped(t, ctx, base, shot)
	checkHandle(t, ctx, dbPath, fmt.Sprintf("%s/dags/params_demo/runs/%s/tasks/extract", base, runID),
		store.TaskKey{DagID: "params_demo", RunID: runID, TaskID: "extract"})

	// A running task's log: new lines arrive without a reload.
	slow := postJSON(t, base+"/api/v1/dags/slow_log/dagRuns", `{}`)["dag_run_id"].(string)
	tiURL := fmt.Sprintf("%s/dags/slow_log/runs/%s/tasks/tail_me", base, slow)
	run(t, ctx, "open the running task", chromedp.Navigate(tiURL), chromedp.Evaluate(`window.__sameDocument = true`, nil),
		waitJS(`document.getElementById('log').textContent.includes('line 2\n')`))
	var before string
	run(t, ctx, "read the log", chromedp.Text(`#log`, &before, chromedp.ByID))
	if strings.Contains(before, "line 40") {
		t.Fatalf("the whole log was there at once: %q", before)
	}
	run(t, ctx, "watch the log grow", waitJS(`document.getElementById('log').textContent.includes('line 12\n')`),
		chromedp.Evaluate(`window.__sameDocument === true`, &same))
	if !same {
		t.Fatal("the task page was reloaded")
	}
	shot.take(ctx, "task-log")

	// A Spark task's driver and application links (its handle stored as
	// the spark operator stores it).
	sparkRun(t, dbPath)
	run(t, ctx, "open the Spark task", chromedp.Navigate(base+"/dags/spark_report/runs/scheduled__2026-01-01T00:00:00+00:00/tasks/wordcount"),
		chromedp.WaitVisible(`a.handle-link[data-label="Spark driver"]`, chromedp.ByQuery))
	var driverHref, appHref string
	run(t, ctx, "read the Spark links",
		chromedp.AttributeValue(`a.handle-link[data-label="Spark driver"]`, "href", &driverHref, nil, chromedp.ByQuery),
		chromedp.AttributeValue(`a.handle-link[data-label="Spark application"]`, "href", &appHref, nil, chromedp.ByQuery))
	if driverHref != "http://spark-master:8080/driver/?id=driver-20260101000000-0001" || appHref != "http://spark-driver:4040" {
		t.Errorf("Spark links: driver %q, application %q", driverHref, appHref)
	}
	shot.take(ctx, "task-spark")

	// The streams: a sign-in that ends (checked last: the server looks
	// again every 30s), a big log's tail, a log that cannot be read, tabs
	// hidden in the background, too many streams, a stream answered with
	// a page.
	samSignedOut := signedOutCheck(t, base, dbPath)
	checkBigLog(t, ctx, base)
	checkBrokenLog(t, ctx, base, dbPath)
	checkLogOffsets(t, ctx, base, dbPath)
	checkHiddenTabs(t, ctx, base, goFile)
	checkRetryHidden(t, ctx, base)
	checkRestored(t, ctx, base)
	checkTooMany(t, ctx, base)
	checkNotAStream(t, ctx, base)
	samSignedOut()

	// Admin pages; the users page lists the accounts.
	st, err := sqlstore.Open(context.Background(), "sqlite://"+dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := (auth.Users{Store: st}).Create(context.Background(), "vera", auth.Viewer, "vera-password-1234"); err != nil {
		t.Fatal(err)
	}
	if err := (auth.Users{Store: st}).Create(context.Background(), "otto", auth.Op, "otto-password-1234"); err != nil {
		t.Fatal(err)
	}
	postJSON(t, base+"/api/v1/dags/params_demo/clearTaskInstances",
		fmt.Sprintf(`{"dag_run_id": %q, "task_ids": ["extract", "load"], "dry_run": true}`, runID))
	for _, p := range []string{"connections", "variables", "pools", "users", "audit"} {
		run(t, ctx, "open "+p, chromedp.Navigate(base+"/admin/"+p), chromedp.WaitVisible(`body[data-ready="true"]`, chromedp.ByQuery))
		shot.take(ctx, "admin-"+p)
	}
	// The audit log shows who triggered from where, and the answer.
	var audit string
	var olderShown bool
	run(t, ctx, "read the audit log", chromedp.Navigate(base+"/admin/audit"),
		chromedp.WaitVisible(`#list tbody tr`, chromedp.ByQuery), chromedp.Text(`#list tbody`, &audit, chromedp.ByQuery),
		chromedp.Evaluate(`document.getElementById('more').offsetParent !== null`, &olderShown))
	if !strings.Contains(audit, "127.0.0.1") || !strings.Contains(audit, "200") {
		t.Errorf("the audit log lacks the caller's address or the answer:\n%s", audit)
	}
	if olderShown {
		t.Error("the audit log offers older entries while every entry is on the page")
	}
	checkAudit(t, ctx, base, runID)
	var users string
	run(t, ctx, "read the users page", chromedp.Navigate(base+"/admin/users"),
		chromedp.WaitVisible(`body[data-ready="true"]`, chromedp.ByQuery), chromedp.Text(`main`, &users, chromedp.ByQuery))
	if !strings.Contains(users, "admin") || !strings.Contains(users, "vera") {
		t.Errorf("users page says %q, want admin and vera listed", users)
	}
	if regexp.MustCompile(`\d{4}-\d\d-\d\dT\d`).MatchString(users) || !regexp.MustCompile(`\d{4}-\d\d-\d\d \d\d:\d\d:\d\d`).MatchString(users) {
		t.Errorf("users page shows raw or no times: %q", users)
	}
	checkPools(t, ctx, base)

	// An Op sees the admin pages an Op may open.
	login(t, ctx, base, "otto", "otto-password-1234")
	checkNav(t, ctx, base, "otto", "DAGs,Connections,Variables,Pools")

	// A Viewer sees the task's actions refused: the buttons are disabled
	// and the server answers 403 to the clear itself.
	login(t, ctx, base, "vera", "vera-password-1234")
	checkNav(t, ctx, base, "vera", "DAGs,Pools")
	checkRefusal(t, ctx, base)
	var disabled bool
	run(t, ctx, "open a task as a Viewer", chromedp.Navigate(tiURL),
		chromedp.WaitVisible(`button[data-action="clear"]`, chromedp.ByQuery),
		chromedp.Evaluate(`document.querySelector('button[data-action="clear"]').disabled`, &disabled))
	if !disabled {
		t.Error("a Viewer's Clear button is enabled")
	}
	shot.take(ctx, "task-viewer")
	var addShown bool
	run(t, ctx, "open the pools as a Viewer", chromedp.Navigate(base+"/admin/pools"),
		chromedp.WaitVisible(`body[data-ready="true"]`, chromedp.ByQuery),
		chromedp.Evaluate(`(() => { const b = document.getElementById('add'); return !!b && b.offsetParent !== null; })()`, &addShown))
	if addShown {
		t.Error("a Viewer is shown the pools page's Add button")
	}
	var status int
	run(t, ctx, "clear as a Viewer through the API", chromedp.Evaluate(fmt.Sprintf(`(async () => {
		const csrf = (document.cookie.match(/sirocco_csrf=([^;]+)/) || [])[1] || '';
		const r = await fetch('/api/v1/dags/slow_log/clearTaskInstances', {method: 'POST',
			headers: {'Content-Type': 'application/json', 'X-CSRF-Token': csrf},
			body: JSON.stringify({dag_run_id: %q, task_ids: ['tail_me']})});
		return r.status; })()`, slow), &status, func(p *cdpruntime.EvaluateParams) *cdpruntime.EvaluateParams {
		return p.WithAwaitPromise(true)
	}))
	if status != http.StatusForbidden {
		t.Errorf("a Viewer's clear answered %d, want 403", status)
	}
	checkSessionGone(t, ctx, base)
}

// sparkRun stores a finished scheduled run of spark_report whose task
// holds a Spark standalone cluster-mode handle, through a second handle on
// the standalone's database.
func sparkRun(t *testing.T, dbPath string) {
	t.Helper()
	st, err := sqlstore.Open(context.Background(), "sqlite://"+dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	day := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	runID := "scheduled__2026-01-01T00:00:00+00:00"
	r := store.DagRun{DagID: "spark_report", RunID: runID, RunType: store.RunScheduled, State: store.RunSuccess,
		LogicalDate: day, DataIntervalStart: day, DataIntervalEnd: day.Add(24 * time.Hour), QueuedAt: day, StartDate: day, EndDate: day.Add(time.Minute)}
	handle := []byte(`{"kind":"spark_driver","version":4,"conn_id":"spark_cluster","master":"spark://spark-master:7077",
		"deploy_mode":"cluster","rest_url":"http://spark-master:6066","master_ui":"http://spark-master:8080",
		"driver_id":"driver-20260101000000-0001","app_id":"app-20260101000000-0001","spark_ui":"http://spark-driver:4040"}`)
	start, end := day.Add(time.Second), day.Add(50*time.Second)
	ti := store.TaskInstance{TaskKey: store.TaskKey{TaskID: "wordcount"}, State: store.StateSuccess, TryNumber: 1,
		Pool: "default_pool", PoolSlots: 1, Queue: "default", StartDate: start, EndDate: end, Hostname: "edge-1", Handle: handle}
	if err := st.CreateRun(context.Background(), r, []store.TaskInstance{ti}); err != nil {
		t.Fatal(err)
	}
}

func getJSON(t *testing.T, url string) map[string]any {
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
	defer resp.Body.Close()
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %v", url, resp.StatusCode, err)
	}
	return m
}

func postJSON(t *testing.T, url, body string) map[string]any {
	t.Helper()
	return sendJSON(t, "POST", url, body)
}

// sendJSON sends a JSON body as the service and decodes the answer, which
// must be a 200.
func sendJSON(t *testing.T, method, url, body string) map[string]any {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+serviceToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("%s %s: %d %v %v", method, url, resp.StatusCode, err, m)
	}
	return m
}

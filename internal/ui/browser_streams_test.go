package ui_test

import (
	"context"
	"database/sql"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/target"
	"github.com/chromedp/chromedp"

	"github.com/sirocco-dev/sirocco/internal/auth"
	"github.com/sirocco-dev/sirocco/internal/store"
	"github.com/sirocco-dev/sirocco/internal/store/sqlstore"
	"github.com/sirocco-dev/sirocco/internal/tasklog"
	"github.com/sirocco-dev/sirocco/internal/testenv"
)

// The checks of TestBrowser on the pages' event streams: a big log's
// tail, the "end" events, 401 and 429 answers, and tabs hidden in the
// background giving their connections back.

// streamDAGs are the DAGs of these checks: big_log prints 100,000 lines
// (4 MB with the log's time stamps) and ends; hold prints "waiting", waits
// for the file goFile, then prints 160,000 lines (6.4 MB) and "done".
func streamDAGs(goFile string) map[string]string {
	return map[string]string{
		"big_log.yaml": `dag_id: big_log
description: A log over 1 MiB.
schedule: none
tasks:
  - {id: print, operator: bash, command: "seq -f 'line %07g' 1 100000"}
`,
		"hold.yaml": fmt.Sprintf(`dag_id: hold
description: A task that waits for a file, then prints 6.4 MB.
schedule: none
tasks:
  - {id: wait, operator: bash, command: "echo waiting; while [ ! -f %s ]; do sleep 0.1; done; seq -f 'line %%07g' 1 160000; echo done"}
`, goFile),
	}
}

// logView is the task page's log as the browser shows it.
type logView struct {
	Text, State, Status, Notice, Button, Whole string
}

const readLogView = `(() => {
	const box = document.getElementById('log'), n = document.getElementById('log-earlier');
	const b = document.getElementById('log-show-earlier'), a = document.getElementById('log-whole');
	return {text: box.textContent, state: box.dataset.state || '', status: document.getElementById('log-status').textContent,
		notice: n.hidden ? '' : n.textContent, button: b ? b.textContent : '', whole: a ? a.href : ''};
})()`

// checkBigLog: a finished try's 1.3 MB log shows its last MiB and a
// "Show earlier (K bytes)" control for the K bytes before it; the
// control brings the whole log.
func checkBigLog(t *testing.T, ctx context.Context, base string) {
	t.Helper()
	runID := postJSON(t, base+"/api/v1/dags/big_log/dagRuns", `{}`)["dag_run_id"].(string)
	waitTask(t, base, "big_log", runID, "print", "success")
	whole := getText(t, fmt.Sprintf("%s/api/v1/dags/big_log/dagRuns/%s/taskInstances/print/logs/1", base, runID))
	var v logView
	run(t, ctx, "open a task whose log is over 1 MiB", chromedp.Navigate(fmt.Sprintf("%s/dags/big_log/runs/%s/tasks/print", base, runID)),
		waitJS(`document.getElementById('log').dataset.state === 'complete'`), chromedp.Evaluate(readLogView, &v))
	m := regexp.MustCompile(`^Show earlier \(([\d,]+) bytes\)$`).FindStringSubmatch(v.Button)
	if strings.Contains(v.Text, "line 0000001\n") || !strings.HasSuffix(whole, v.Text) || len(v.Text) > 1<<20 || m == nil {
		t.Fatalf("a %d-byte log shows %d bytes (its start shown: %v, its end: %v) and the control %q, want its last MiB and Show earlier",
			len(whole), len(v.Text), strings.Contains(v.Text, "line 0000001\n"), strings.HasSuffix(whole, v.Text), v.Button)
	}
	if k, _ := strconv.Atoi(strings.ReplaceAll(m[1], ",", "")); k != len(whole)-len(v.Text) || !strings.Contains(v.Notice, "not shown") {
		t.Errorf("the control says %q (notice %q), want the %d bytes not shown", v.Button, v.Notice, len(whole)-len(v.Text))
	}
	run(t, ctx, "show the earlier lines", chromedp.Click(`#log-show-earlier`, chromedp.ByID),
		waitJS(`document.getElementById('log').dataset.state === 'complete' && document.getElementById('log-earlier').hidden`),
		chromedp.Evaluate(readLogView, &v))
	if v.Text != whole || !strings.Contains(v.Text, "line 0000001\n") || v.Notice != "" {
		t.Errorf("after Show earlier the page shows %d of the log's %d bytes (notice %q), want all of it", len(v.Text), len(whole), v.Notice)
	}
}

// checkBrokenLog: a log that cannot be read ends its stream with the
// reason, which the page shows; it does not ask again.
func checkBrokenLog(t *testing.T, ctx context.Context, base, dbPath string) {
	t.Helper()
	key := store.TaskKey{DagID: "params_demo", RunID: "broken_log", TaskID: "extract"}
	finishedRun(t, dbPath, key)
	// A folder where the log should be: it opens, but reads fail.
	if err := os.MkdirAll(tasklog.Path(filepath.Join(filepath.Dir(dbPath), "logs"), key.DagID, key.RunID, key.TaskID, 1), 0o755); err != nil {
		t.Fatal(err)
	}
	var v logView
	var asked int
	run(t, ctx, "open a task whose log cannot be read", chromedp.Navigate(base+"/dags/params_demo/runs/broken_log/tasks/extract"),
		waitJS(`['error', 'complete'].includes(document.getElementById('log').dataset.state)`),
		chromedp.Sleep(2500*time.Millisecond), // a reconnect would come after the stream's 2s retry
		chromedp.Evaluate(readLogView, &v), chromedp.Evaluate(countRequests("/ui/api/log?"), &asked))
	if v.State != "error" || !strings.Contains(v.Status, "the log could not be read") {
		t.Errorf("an unreadable log shows state %q and says %q, want an error with the server's reason", v.State, v.Status)
	}
	if asked != 1 {
		t.Errorf("the page asked for the unreadable log %d times, want once", asked)
	}
}

// countRequests counts the page's requests whose address contains part.
func countRequests(part string) string {
	return fmt.Sprintf(`performance.getEntriesByType('resource').filter((e) => e.name.includes(%q)).length`, part)
}

// checkTooMany: a page whose event stream is refused with 429 (its user
// holds the most streams the server allows) says so in a banner, still
// shows its data, and does not ask again and again; shown again once a
// stream is free, it updates live.
func checkTooMany(t *testing.T, ctx context.Context, base string) {
	t.Helper()
	run(t, ctx, "leave the UI", chromedp.Navigate("about:blank"))
	cookie := cookieHeader(t, ctx, base)
	var held []io.Closer
	release := func() {
		for _, c := range held {
			c.Close()
		}
		held = nil
	}
	defer release()
	// Fill the caller's cap; streams of pages closed a moment ago may
	// still count until the server sees their connections closed.
	testenv.Eventually(t, "every stream of the user taken", 10*time.Second, func() (bool, string) {
		resp := openStream(t, base, cookie)
		if resp.StatusCode == http.StatusOK {
			held = append(held, resp.Body)
		} else {
			resp.Body.Close()
		}
		return len(held) == streamsPerUser, fmt.Sprintf("%d held, last %s", len(held), resp.Status)
	})
	var res struct {
		Banner, Live string
		Listed       bool
	}
	run(t, ctx, "open the DAG list with every stream taken", chromedp.Navigate(base+"/"),
		waitJS(`document.body.dataset.live === 'busy' && document.querySelector('tr[data-dag="params_demo"]') !== null`),
		chromedp.Sleep(2500*time.Millisecond), // no reconnect within the stream's retry of 2s
		chromedp.Evaluate(`({banner: document.getElementById('live-banner').hidden ? '' : document.getElementById('live-banner').textContent,
			live: document.body.dataset.live, listed: document.querySelector('tr[data-dag="params_demo"]') !== null})`, &res))
	if !strings.Contains(res.Banner, "Too many open pages; close some tabs") || res.Live != "busy" || !res.Listed {
		t.Errorf("with every stream taken the DAG list says %q (feed %s, DAGs listed %v)", res.Banner, res.Live, res.Listed)
	}
	var asked int
	run(t, ctx, "count the page's streams", chromedp.Evaluate(countRequests("/ui/api/events"), &asked))
	if asked != 1 {
		t.Errorf("the refused page asked for its stream %d times, want once", asked)
	}
	release()
	// The server frees the streams once it sees their connections closed.
	testenv.Eventually(t, "a stream free again", 10*time.Second, func() (bool, string) {
		resp := openStream(t, base, cookie)
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, resp.Status
	})
	other := newTab(t, ctx, "about:blank")
	activate(t, ctx)
	run(t, ctx, "see the page live again", waitJS(`document.body.dataset.live === 'open' && document.getElementById('live-banner').hidden`))
	closeTab(t, other)
}

// checkNotAStream: a 2xx answer to a page's stream that is no event
// stream (here an HTML sign-in page, as a proxy in front of Sirocco may
// answer) ends the stream, as EventSource fails such a connection: the
// page says live updates are off, still shows its data, and does not ask
// again every 2s.
func checkNotAStream(t *testing.T, ctx context.Context, base string) {
	t.Helper()
	tab := newTab(t, ctx, "about:blank")
	defer closeTab(t, tab)
	var asked atomic.Int32
	chromedp.ListenTarget(tab, func(ev any) {
		if e, ok := ev.(*fetch.EventRequestPaused); ok {
			asked.Add(1)
			go func() {
				_ = chromedp.Run(tab, fetch.FulfillRequest(e.RequestID, http.StatusOK).
					WithResponseHeaders([]*fetch.HeaderEntry{{Name: "Content-Type", Value: "text/html; charset=utf-8"}}).
					WithBody(base64.StdEncoding.EncodeToString([]byte("<!doctype html><title>Sign in</title><form></form>"))))
			}()
		}
	})
	var res struct {
		Banner, Live string
		Listed       bool
	}
	run(t, tab, "open the DAG list behind a proxy answering its stream with a page",
		fetch.Enable().WithPatterns([]*fetch.RequestPattern{{URLPattern: "*/ui/api/events*"}}),
		chromedp.Navigate(base+"/"),
		waitJS(`document.querySelector('tr[data-dag="params_demo"]') !== null`),
		chromedp.Sleep(4500*time.Millisecond), // two of the stream's 2s retries
		chromedp.Evaluate(`({banner: document.getElementById('live-banner').hidden ? '' : document.getElementById('live-banner').textContent,
			live: document.body.dataset.live, listed: document.querySelector('tr[data-dag="params_demo"]') !== null})`, &res))
	if n := asked.Load(); n != 1 || res.Live != "failed" || !strings.Contains(res.Banner, "not an event stream") || !res.Listed {
		t.Errorf("a stream answered with an HTML page: asked %d times (want once), feed %q, banner %q, DAGs listed %v", n, res.Live, res.Banner, res.Listed)
	}
}

// streamsPerUser is the server's cap on one user's open streams (ui.Options.MaxStreamsPerUser's default).
const streamsPerUser = 16

// openStream opens /ui/api/events with the browser's cookies.
func openStream(t *testing.T, base, cookie string) *http.Response {
	t.Helper()
	req, err := http.NewRequest("GET", base+"/ui/api/events", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Cookie", cookie)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// cookieHeader is the browser's cookies for base, as a Cookie header.
func cookieHeader(t *testing.T, ctx context.Context, base string) string {
	t.Helper()
	var cookies []*network.Cookie
	run(t, ctx, "read the cookies", chromedp.ActionFunc(func(c context.Context) error {
		var err error
		cookies, err = network.GetCookies().WithURLs([]string{base}).Do(c)
		return err
	}))
	var parts []string
	for _, c := range cookies {
		parts = append(parts, c.Name+"="+c.Value)
	}
	return strings.Join(parts, "; ")
}

// checkHiddenTabs: six tabs of a running task's page (each wants two
// streams) hidden in the background give their connections back, so a
// seventh loads at once; a tab shown again reopens its streams and
// reloads what changed while it was hidden. The log of that task then
// grows past 5 MiB, of which the page keeps the last 5 MiB.
func checkHiddenTabs(t *testing.T, ctx context.Context, base, goFile string) {
	t.Helper()
	runID := postJSON(t, base+"/api/v1/dags/hold/dagRuns", `{}`)["dag_run_id"].(string)
	waitTask(t, base, "hold", runID, "wait", "running")
	page := fmt.Sprintf("%s/dags/hold/runs/%s/tasks/wait", base, runID)
	const loaded = `document.body.dataset.ready === 'true' && document.getElementById('log').textContent.includes('waiting\n')`
	var tabs []context.Context
	for i := range 6 {
		tab := newTab(t, ctx, page)
		run(t, tab, fmt.Sprintf("load tab %d", i+1), waitJS(loaded))
		tabs = append(tabs, tab)
	}
	seventh := newTab(t, ctx, page)
	run(t, seventh, "load a seventh tab while six are hidden", chromedp.Poll(loaded, nil,
		chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(10*time.Second)))
	var state struct{ Visibility, Live, Log string }
	const readState = `({visibility: document.visibilityState, live: document.body.dataset.live, log: document.getElementById('log').dataset.stream})`
	for i, tab := range tabs {
		run(t, tab, "read a hidden tab", chromedp.Evaluate(readState, &state))
		if state.Visibility != "hidden" || state.Live != "paused" || state.Log != "paused" {
			t.Errorf("background tab %d: %+v, want hidden with its feed and log paused", i+1, state)
		}
	}
	activate(t, tabs[0])
	run(t, tabs[0], "show the first tab again", waitJS(`document.body.dataset.live === 'open' && document.getElementById('log').dataset.stream === 'open'`))
	if err := os.WriteFile(goFile, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	var v logView
	run(t, tabs[0], "watch the log grow past 5 MiB", waitJS(`document.getElementById('log').dataset.state === 'complete'`),
		chromedp.Evaluate(readLogView, &v))
	if len(v.Text) > 5<<20 || len(v.Text) < 4<<20 || !regexp.MustCompile(`^\[[^\]\n]*\] line \d{7}\n`).MatchString(v.Text) ||
		!strings.Contains(v.Text[len(v.Text)-200:], "line 0160000\n") {
		t.Errorf("a 6.4 MB log keeps %d bytes in the page, from %.20q to %.20q; want at most 5 MiB of whole lines, to its end",
			len(v.Text), v.Text, v.Text[max(0, len(v.Text)-20):])
	}
	if !strings.Contains(v.Notice, "not shown (the page keeps a log's last 5 MiB)") || v.Button != "" || !strings.HasSuffix(v.Whole, "/taskInstances/wait/logs/1") {
		t.Errorf("the notice of the dropped lines says %q (button %q, link %q)", v.Notice, v.Button, v.Whole)
	}
	// The seventh tab, hidden while the task ended, shows it once shown.
	activate(t, seventh)
	run(t, seventh, "show the seventh tab again", waitJS(`document.querySelector('#ti-state').textContent === 'success' &&
		document.getElementById('log').dataset.state === 'complete'`))
	for _, tab := range append(tabs, seventh) {
		closeTab(t, tab)
	}
	activate(t, ctx)
}

// newTab opens url in a new tab of ctx's browser (the tab shown now).
func newTab(t *testing.T, ctx context.Context, url string) context.Context {
	t.Helper()
	tab, cancel := chromedp.NewContext(ctx)
	t.Cleanup(cancel)
	if err := chromedp.Run(tab); err != nil { // the tab's own context, not run's deadline: it closes the tab
		t.Fatalf("open a tab: %v", err)
	}
	run(t, tab, "open "+url, chromedp.Navigate(url))
	return tab
}

// closeTab closes a tab newTab opened.
func closeTab(t *testing.T, tab context.Context) {
	t.Helper()
	if err := chromedp.Cancel(tab); err != nil {
		t.Errorf("close a tab: %v", err)
	}
}

// activate shows ctx's tab, hiding the one shown.
func activate(t *testing.T, ctx context.Context) {
	t.Helper()
	run(t, ctx, "show the tab", chromedp.ActionFunc(func(c context.Context) error {
		cc := chromedp.FromContext(c)
		return target.ActivateTarget(cc.Target.TargetID).Do(cdp.WithExecutor(c, cc.Browser))
	}))
}

// signedOutCheck opens a grid page as a new Viewer, sam, in a browser of
// its own, then changes sam's role: the page's stream, which checks the
// sign-in again every 30s, ends with "signed out: …; sign in again", and
// the page goes to /login?next=<the page>. (The session still holds, with
// the new role, so the login page sends it straight back, and the page's
// other requests succeed: only the "end" event leads there.) The
// returned function waits for it.
func signedOutCheck(t *testing.T, base, dbPath string) func() {
	t.Helper()
	st, err := sqlstore.Open(context.Background(), "sqlite://"+dbPath)
	if err != nil {
		t.Fatal(err)
	}
	err = (auth.Users{Store: st}).Create(context.Background(), "sam", auth.Viewer, "sam-password-1234")
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	// A browser of its own: its cookies apart, its window shown while
	// the other's tabs come and go.
	sam := testenv.Chromium(t)
	const path = "/dags/params_demo?sam=1"
	var visibility string
	run(t, sam, "sign in as sam", chromedp.Navigate(base+path), chromedp.WaitVisible(`#username`, chromedp.ByID),
		chromedp.SetValue(`#username`, "sam", chromedp.ByID), chromedp.SetValue(`#password`, "sam-password-1234", chromedp.ByID),
		chromedp.Submit(`#password`, chromedp.ByID), chromedp.WaitReady(`#whoami`, chromedp.ByID),
		waitJS(`document.body.dataset.live === 'open'`), chromedp.Evaluate(`document.visibilityState`, &visibility), network.Enable())
	if visibility != "visible" {
		t.Fatalf("sam's tab is %s: its streams would be paused", visibility)
	}
	want := base + "/login?next=" + url.QueryEscape(path)
	toLogin := make(chan struct{})
	var once sync.Once
	chromedp.ListenTarget(sam, func(ev any) {
		if e, ok := ev.(*network.EventRequestWillBeSent); ok && e.Request.URL == want {
			once.Do(func() { close(toLogin) })
		}
	})
	db, err := sql.Open("sqlite", dbPath+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if res, err := db.Exec(`UPDATE users SET role = 'User' WHERE username = 'sam'`); err != nil {
		t.Fatal(err)
	} else if n, _ := res.RowsAffected(); n != 1 {
		t.Fatalf("sam's role: %d rows changed", n)
	}
	return func() {
		t.Helper()
		select {
		case <-toLogin:
		case <-time.After(45 * time.Second):
			var state string
			_ = chromedp.Run(sam, chromedp.Evaluate(`location.href + ', feed ' + document.body.dataset.live`, &state))
			t.Errorf("sam's page, whose sign-in ended, did not go to %s (%s)", want, state)
		}
	}
}

// checkSessionGone: once the session is gone (logged out elsewhere), a
// call to /ui/api/ answered 401 sends the page to the login page.
func checkSessionGone(t *testing.T, ctx context.Context, base string) {
	t.Helper()
	run(t, ctx, "open the DAG list", chromedp.Navigate(base+"/?gone=1"), chromedp.WaitVisible(`tr[data-dag="params_demo"]`, chromedp.ByQuery))
	cookie := cookieHeader(t, ctx, base)
	csrf := regexp.MustCompile(`sirocco_csrf=([^;]+)`).FindStringSubmatch(cookie)
	if csrf == nil {
		t.Fatalf("no CSRF cookie in %q", cookie)
	}
	req, err := http.NewRequest("POST", base+"/logout", strings.NewReader("csrf_token="+url.QueryEscape(csrf[1])))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Cookie", cookie)
	resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("log out: %s", resp.Status)
	}
	want := "/login?next=" + url.QueryEscape("/?gone=1")
	run(t, ctx, "call /ui/api/dags with the session gone", chromedp.Evaluate(`setTimeout(() =>
			import('/static/js/common.js').then((m) => m.api('/ui/api/dags')).catch(() => {}), 100); true`, nil))
	if loc, ok := waitLocation(ctx, want, 10*time.Second); !ok {
		t.Errorf("a 401 from /ui/api/dags left the page at %s, want %s", loc, want)
	}
}

// waitLocation waits for the tab's address to be want (a path and query),
// through the navigations on the way; it returns the last address seen.
func waitLocation(ctx context.Context, want string, timeout time.Duration) (string, bool) {
	var loc string
	for end := time.Now().Add(timeout); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		var at string
		if chromedp.Run(ctx, chromedp.Location(&at)) != nil {
			continue // navigating
		}
		loc = at
		if u, err := url.Parse(at); err == nil && u.RequestURI() == want {
			return loc, true
		}
	}
	return loc, false
}

// finishedRun stores a finished run of key's DAG whose task key ran once.
func finishedRun(t *testing.T, dbPath string, key store.TaskKey) {
	t.Helper()
	st, err := sqlstore.Open(context.Background(), "sqlite://"+dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	day := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	r := store.DagRun{DagID: key.DagID, RunID: key.RunID, RunType: store.RunManual, State: store.RunSuccess,
		LogicalDate: day, DataIntervalStart: day, DataIntervalEnd: day, QueuedAt: day, StartDate: day, EndDate: day.Add(time.Minute)}
	ti := store.TaskInstance{TaskKey: store.TaskKey{TaskID: key.TaskID}, State: store.StateSuccess, TryNumber: 1,
		Pool: "default_pool", PoolSlots: 1, Queue: "default", StartDate: day, EndDate: day.Add(time.Second)}
	if err := st.CreateRun(context.Background(), r, []store.TaskInstance{ti}); err != nil {
		t.Fatal(err)
	}
}

// waitTask waits for a task instance to be in state.
func waitTask(t *testing.T, base, dagID, runID, taskID, state string) {
	t.Helper()
	u := fmt.Sprintf("%s/api/v1/dags/%s/dagRuns/%s/taskInstances/%s", base, dagID, url.PathEscape(runID), taskID)
	testenv.Eventually(t, fmt.Sprintf("%s of %s %s", taskID, dagID, state), 30*time.Second, func() (bool, string) {
		got := fmt.Sprint(getJSON(t, u)["state"])
		return got == state, got
	})
}

// getText is a GET's body, with the service token.
func getText(t *testing.T, u string) string {
	t.Helper()
	req, err := http.NewRequest("GET", u, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+serviceToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s %v", u, resp.Status, err)
	}
	return string(b)
}

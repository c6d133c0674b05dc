package ui_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/sirocco-dev/sirocco/internal/store"
	"github.com/sirocco-dev/sirocco/internal/tasklog"
	"github.com/sirocco-dev/sirocco/internal/testenv"
)

// The checks of TestBrowser on a stream's way back: a log's byte offsets
// kept right, a refused stream across a hidden tab, a page restored from
// the back-forward cache.

// checkLogOffsets: a log whose lines hold bytes that are not UTF-8 (a
// Latin-1 "é", shown as U+FFFD) keeps the file's byte offsets of what it
// shows: its first block starts where the "earlier" notice says, each
// block where the one before ended, the last at the file's end. (They
// were reckoned from the text's UTF-8 length, three bytes for each one of
// the file, so the count of bytes not shown went wrong once trimmed.)
func checkLogOffsets(t *testing.T, ctx context.Context, base, dbPath string) {
	t.Helper()
	key := store.TaskKey{DagID: "big_log", RunID: "latin1_log", TaskID: "print"} // params_demo has a run of finishedRun's date
	finishedRun(t, dbPath, key)
	path := tasklog.Path(filepath.Join(filepath.Dir(dbPath), "logs"), key.DagID, key.RunID, key.TaskID, 1)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for i := range 70000 { // 1.3 MB: the page opens at its last MiB, in several events
		fmt.Fprintf(&b, "caf\xe9 %07d \xc3\xa9t\xc3\xa9\n", i)
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	var res struct {
		Earlier string
		Chunks  [][2]int
	}
	run(t, ctx, "open a task whose log is Latin-1", chromedp.Navigate(base+"/dags/big_log/runs/latin1_log/tasks/print"),
		waitJS(`document.getElementById('log').dataset.state === 'complete'`),
		chromedp.Evaluate(`({earlier: document.getElementById('log-show-earlier')?.textContent || '',
			chunks: [...document.querySelectorAll('#log .chunk')].map((c) => [+c.dataset.start, +c.dataset.end])})`, &res))
	m := regexp.MustCompile(`\(([\d,]+) bytes\)`).FindStringSubmatch(res.Earlier)
	if m == nil || len(res.Chunks) < 2 {
		t.Fatalf("a 1.3 MB log shows %q and %d blocks", res.Earlier, len(res.Chunks))
	}
	at, _ := strconv.Atoi(strings.ReplaceAll(m[1], ",", ""))
	for i, c := range res.Chunks {
		if c[0] != at {
			t.Errorf("block %d of the log starts at byte %d, want %d (blocks %v)", i, c[0], at, res.Chunks)
			break
		}
		at = c[1]
	}
	if at != b.Len() {
		t.Errorf("the log's last block ends at byte %d, want the file's %d", at, b.Len())
	}
}

// holdEvents wraps the page's fetch before its scripts run: the first
// request of /ui/api/events is answered 503 with a body that arrives only
// when the test calls window.__release() (a slow proxy's error page), or
// fails once the request is aborted, as a real body does; every later one
// goes to the server. window.__asked counts them all.
const holdEvents = `(() => {
	const real = window.fetch;
	window.__asked = 0;
	window.fetch = (url, init = {}) => {
		if (!String(url).includes('/ui/api/events')) return real(url, init);
		window.__asked++;
		if (window.__asked > 1) return real(url, init);
		let ctl;
		const body = new ReadableStream({ start(c) { ctl = c; } });
		init.signal?.addEventListener('abort', () => { try { ctl.error(new DOMException('aborted', 'AbortError')); } catch {} });
		window.__release = () => { try { ctl.enqueue(new TextEncoder().encode('{"detail": "proxy busy"}')); ctl.close(); } catch {} };
		return Promise.resolve(new Response(body, { status: 503, headers: { 'Content-Type': 'application/problem+json' } }));
	};
})()`

// checkRetryHidden: a stream whose 503 answer is still being read when
// the tab is hidden and shown again opens one new connection, and only
// one: the read of the old answer, once done, neither retries nor
// orphans the new connection (two streams ran after, each reloading the
// page on every change).
func checkRetryHidden(t *testing.T, ctx context.Context, base string) {
	t.Helper()
	tab := newTab(t, ctx, "about:blank")
	defer closeTab(t, tab)
	run(t, tab, "wrap the page's fetch", chromedp.ActionFunc(func(c context.Context) error {
		_, err := page.AddScriptToEvaluateOnNewDocument(holdEvents).Do(c)
		return err
	}), chromedp.Navigate(base+"/"), waitJS(`window.__asked === 1 && typeof window.__release === 'function'`))
	other := newTab(t, ctx, "about:blank") // hides the tab
	run(t, tab, "see the stream paused", waitJS(`document.visibilityState === 'hidden' && document.body.dataset.live === 'paused'`))
	activate(t, tab)
	run(t, tab, "see the stream open again", waitJS(`document.body.dataset.live === 'open'`),
		chromedp.Evaluate(`window.__release()`, nil))
	var res struct {
		Asked int
		Live  string
	}
	run(t, tab, "count the streams", chromedp.Sleep(3*time.Second), // past the stream's 2s retry
		chromedp.Evaluate(`({asked: window.__asked, live: document.body.dataset.live})`, &res))
	if res.Asked != 2 || res.Live != "open" {
		t.Errorf("after a 503 read across hide and show the page asked for its stream %d times (want 2: the 503, the reopening), feed %q", res.Asked, res.Live)
	}
	closeTab(t, other)
	activate(t, ctx)
}

// refuseEvents wraps the page's fetch before its scripts run: the first
// request of /ui/api/events is answered 401 (the session ended), every
// later one goes to the server; window.__asked counts them.
const refuseEvents = `(() => {
	const real = window.fetch;
	window.__asked = 0;
	window.fetch = (url, init = {}) => {
		if (!String(url).includes('/ui/api/events')) return real(url, init);
		window.__asked++;
		if (window.__asked > 1) return real(url, init);
		return Promise.resolve(new Response('{"detail": "Please log in."}', { status: 401, headers: { 'Content-Type': 'application/problem+json' } }));
	};
})()`

// checkRestored: a page whose stream sent it to the login page, then
// restored from the back-forward cache (Back), reopens its stream. The
// test browser keeps no page with Cache-Control: no-store in that cache,
// so the navigation to /login is failed and the restore is the events a
// restore fires (pagehide, pageshow with persisted). The streams were
// stopped on the way to the login page, and the page stayed dead.
func checkRestored(t *testing.T, ctx context.Context, base string) {
	t.Helper()
	tab := newTab(t, ctx, "about:blank")
	defer closeTab(t, tab)
	var toLogin atomic.Int32
	chromedp.ListenTarget(tab, func(ev any) {
		if e, ok := ev.(*fetch.EventRequestPaused); ok {
			toLogin.Add(1)
			go func() { _ = chromedp.Run(tab, fetch.FailRequest(e.RequestID, network.ErrorReasonAborted)) }()
		}
	})
	run(t, tab, "open a page whose session seems gone", chromedp.ActionFunc(func(c context.Context) error {
		_, err := page.AddScriptToEvaluateOnNewDocument(refuseEvents).Do(c)
		return err
	}), fetch.Enable().WithPatterns([]*fetch.RequestPattern{{URLPattern: "*/login?next=*"}}),
		chromedp.Navigate(base+"/"), waitJS(`window.__asked === 1 && document.querySelector('tr[data-dag="params_demo"]') !== null`))
	testenv.Eventually(t, "the page sent to the login page", 10*time.Second, func() (bool, string) {
		return toLogin.Load() == 1, fmt.Sprint(toLogin.Load())
	})
	var res struct {
		Asked int
		Live  string
	}
	err := chromedp.Run(tab, chromedp.Evaluate(`dispatchEvent(new PageTransitionEvent('pagehide', {persisted: true}));
		dispatchEvent(new PageTransitionEvent('pageshow', {persisted: true}))`, nil),
		chromedp.Poll(`window.__asked === 2 && document.body.dataset.live === 'open'`, nil,
			chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(10*time.Second)))
	_ = chromedp.Run(tab, chromedp.Evaluate(`({asked: window.__asked, live: document.body.dataset.live})`, &res))
	if err != nil {
		t.Errorf("restored from the back-forward cache after a 401, the page asked for its stream %d times (want 2) and its feed is %q, want open",
			res.Asked, res.Live)
	}
}

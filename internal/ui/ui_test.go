package ui_test

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/store"
	"github.com/sirocco-dev/sirocco/internal/tasklog"
	"github.com/sirocco-dev/sirocco/internal/ui"
)

// TestPages: every page renders its shell with its module and the layout's
// landmarks; an unknown DAG or path is a 404 page; static files are served
// from the binary with the security headers.
func TestPages(t *testing.T) {
	s := newSite(t, map[string]string{"etl.yaml": etlYAML})
	s.createRun("etl", "r1", time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), nil, "extract", "transform", "load")
	pages := []struct{ path, module string }{
		{"/", "dags"}, {"/dags/etl", "grid"}, {"/dags/etl/graph", "graph"}, {"/dags/etl/gantt", "gantt"},
		{"/dags/etl/trigger", "trigger"}, {"/dags/etl/runs/r1/tasks/extract", "task"},
		{"/admin/connections", "connections"}, {"/admin/variables", "variables"}, {"/admin/pools", "pools"},
		{"/admin/users", "users"}, {"/admin/audit", "audit"},
	}
	for _, p := range pages {
		status, body, h := s.get(p.path)
		if status != http.StatusOK {
			t.Errorf("GET %s: %d", p.path, status)
			continue
		}
		for _, want := range []string{`<script type="module" src="/static/js/` + p.module + `.js">`, `<main id="main"`,
			`aria-live="polite"`, `<a class="skip" href="#main">`, `<html lang="en">`} {
			if !strings.Contains(body, want) {
				t.Errorf("GET %s lacks %s", p.path, want)
			}
		}
		if csp := h.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") {
			t.Errorf("GET %s: Content-Security-Policy %q", p.path, csp)
		}
		if status, _, _ := s.get("/static/js/" + p.module + ".js"); status != http.StatusOK {
			t.Errorf("module %s.js: %d", p.module, status)
		}
	}
	for _, path := range []string{"/dags/nope", "/dags/nope/graph", "/nowhere"} {
		if status, body, _ := s.get(path); status != http.StatusNotFound || !strings.Contains(body, "Not found") {
			t.Errorf("GET %s: %d, want the 404 page", path, status)
		}
	}
	for _, f := range []string{"/static/app.css", "/static/js/common.js", "/static/vendor/elk.bundled.js"} {
		status, body, h := s.get(f)
		if status != http.StatusOK || len(body) == 0 || h.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("GET %s: %d, %d bytes, nosniff %q", f, status, len(body), h.Get("X-Content-Type-Options"))
		}
	}
	if status, body, h := s.get("/favicon.ico"); status != http.StatusOK || h.Get("Content-Type") != "image/svg+xml" || !strings.Contains(body, "<svg") {
		t.Errorf("GET /favicon.ico: %d %s", status, h.Get("Content-Type"))
	}
	if _, body, _ := s.get("/dags/etl/graph"); !strings.Contains(body, `<script src="/static/vendor/elk.bundled.js">`) {
		t.Error("the graph page does not load elkjs")
	}
}

// TestGrid: the grid answers the DAG's tasks in file order, the runs oldest
// first, and each cell's state; ?run_id= narrows it to one run; a task only
// a run has (removed from the file) gets its own row.
func TestGrid(t *testing.T) {
	s := newSite(t, map[string]string{"etl.yaml": etlYAML})
	day := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s.createRun("etl", "r1", day, map[string]store.TaskState{"extract": store.StateSuccess}, "extract", "transform", "load", "old")
	s.createRun("etl", "r2", day.Add(24*time.Hour), map[string]store.TaskState{"extract": store.StateFailed}, "extract", "transform", "load")
	var g struct {
		Tasks []struct {
			ID        string   `json:"id"`
			DependsOn []string `json:"depends_on"`
		} `json:"tasks"`
		Runs []struct {
			RunID string `json:"run_id"`
		} `json:"runs"`
		States []string `json:"states"`
		Cells  [][]int  `json:"cells"`
	}
	status, body, _ := s.get("/ui/api/grid?dag_id=etl")
	if status != http.StatusOK {
		t.Fatalf("grid: %d %s", status, body)
	}
	if err := json.Unmarshal([]byte(body), &g); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, task := range g.Tasks {
		ids = append(ids, task.ID)
	}
	if strings.Join(ids, ",") != "extract,transform,load,old" || len(g.Tasks[1].DependsOn) != 1 {
		t.Errorf("tasks = %+v", g.Tasks)
	}
	if len(g.Runs) != 2 || g.Runs[0].RunID != "r1" || g.Runs[1].RunID != "r2" {
		t.Fatalf("runs = %+v", g.Runs)
	}
	state := func(run, task int) string { return g.States[g.Cells[run][task]] }
	if state(0, 0) != "success" || state(1, 0) != "failed" || state(0, 1) != "" || state(0, 3) != "" {
		t.Errorf("cells = %v over %v", g.Cells, g.States)
	}
	_, body, _ = s.get("/ui/api/grid?dag_id=etl&run_id=r1")
	if err := json.Unmarshal([]byte(body), &g); err != nil || len(g.Runs) != 1 || g.Runs[0].RunID != "r1" {
		t.Errorf("grid of run r1: %v %s", err, body)
	}
	for path, want := range map[string]int{"/ui/api/grid?dag_id=nope": 404, "/ui/api/grid?dag_id=etl&limit=0": 400,
		"/ui/api/grid?dag_id=etl&run_id=nope": 404, "/ui/api/grid?dag_id=etl&limit=x": 400} {
		if status, body, _ := s.get(path); status != want || !strings.Contains(body, `"detail"`) {
			t.Errorf("GET %s: %d %s, want %d with a detail", path, status, body, want)
		}
	}
}

// TestDAGRows: the DAG list's extra answers recent runs newest first and the
// next scheduled run after the last scheduled one.
func TestDAGRows(t *testing.T) {
	s := newSite(t, map[string]string{"etl.yaml": etlYAML})
	day := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	run := store.DagRun{DagID: "etl", RunID: "scheduled__1", RunType: store.RunScheduled, State: store.RunSuccess,
		LogicalDate: day, DataIntervalStart: day, DataIntervalEnd: day.Add(24 * time.Hour), QueuedAt: day}
	if err := s.st.CreateRun(t.Context(), run, nil); err != nil {
		t.Fatal(err)
	}
	s.createRun("etl", "manual", day.Add(time.Hour), nil, "extract")
	_, body, _ := s.get("/ui/api/dags")
	var res struct {
		Dags []struct {
			DagID      string `json:"dag_id"`
			RecentRuns []struct {
				RunID string `json:"run_id"`
			} `json:"recent_runs"`
			NextRun string `json:"next_run"`
		} `json:"dags"`
	}
	if err := json.Unmarshal([]byte(body), &res); err != nil || len(res.Dags) != 1 {
		t.Fatalf("%v %s", err, body)
	}
	d := res.Dags[0]
	if len(d.RecentRuns) != 2 || d.RecentRuns[0].RunID != "manual" || d.NextRun != "2026-01-02T00:00:00Z" {
		t.Errorf("row = %+v", d)
	}
}

// TestTaskInstance: the page's data has the Spark handle made readable
// with links to the master's driver page and the application's UI, the
// rendered fields, and every try: the earlier one read from its log.
func TestTaskInstance(t *testing.T) {
	s := newSite(t, map[string]string{"etl.yaml": etlYAML})
	s.createRun("etl", "r1", time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), nil, "extract", "transform", "load")
	key := store.TaskKey{DagID: "etl", RunID: "r1", TaskID: "load"}
	log1 := tasklog.Path(s.cfg.LogsDir(), "etl", "r1", "load", 1)
	if err := os.MkdirAll(filepath.Dir(log1), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(log1, []byte("[2026-01-01T00:00:00.000Z] sirocco: starting try 1\n"+
		"[2026-01-01T00:00:05.500Z] sirocco: task failed: exit status 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s.setState(key, store.StateUpForRetry, nil)
	handle := []byte(`{"kind":"spark_driver","version":4,"master":"spark://m:7077","master_ui":"http://m:8080",
		"driver_id":"driver-20260101-0001","app_id":"app-20260101-0001","spark_ui":"http://d:4040","deploy_mode":"cluster"}`)
	s.setState(key, store.StateRunning, handle)
	rendered := []byte(`{"command":"echo load 2026-01-01"}`)
	if _, err := s.st.UpdateTask(t.Context(), store.TaskUpdate{Key: key, To: store.StateRunning, Rendered: &rendered}); err != nil {
		t.Fatal(err)
	}
	_, body, _ := s.get("/ui/api/ti?dag_id=etl&run_id=r1&task_id=load")
	var ti struct {
		State    string `json:"state"`
		Operator string `json:"operator"`
		Handle   struct {
			Kind   string                                `json:"kind"`
			Fields []struct{ Label, Value, Href string } `json:"fields"`
		} `json:"handle"`
		Rendered map[string]string `json:"rendered"`
		Tries    []struct {
			Try      int      `json:"try"`
			State    string   `json:"state"`
			Duration *float64 `json:"duration"`
		} `json:"tries"`
	}
	if err := json.Unmarshal([]byte(body), &ti); err != nil {
		t.Fatal(err)
	}
	links := map[string]string{}
	for _, f := range ti.Handle.Fields {
		links[f.Label] = f.Value + " -> " + f.Href
	}
	if ti.State != "running" || ti.Operator != "bash" || ti.Handle.Kind != "spark_driver" ||
		links["Spark driver"] != "driver-20260101-0001 -> http://m:8080/driver/?id=driver-20260101-0001" ||
		links["Spark application"] != "app-20260101-0001 -> http://d:4040" {
		t.Errorf("task instance = %+v", ti)
	}
	if ti.Rendered["command"] != "echo load 2026-01-01" {
		t.Errorf("rendered = %v", ti.Rendered)
	}
	if len(ti.Tries) != 2 || ti.Tries[0].State != "failed" || ti.Tries[0].Duration == nil || *ti.Tries[0].Duration != 5.5 ||
		ti.Tries[1].State != "running" {
		t.Errorf("tries = %+v", ti.Tries)
	}
	if status, _, _ := s.get("/ui/api/ti?dag_id=etl&run_id=r1&task_id=nope"); status != http.StatusNotFound {
		t.Errorf("unknown task: %d", status)
	}
}

// TestEvents: the change feed sends "change" when a task instance is
// written, and not before.
func TestEvents(t *testing.T) {
	s := newSite(t, map[string]string{"etl.yaml": etlYAML})
	s.createRun("etl", "r1", time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), nil, "extract", "transform", "load")
	events := s.stream("/ui/api/events")
	select {
	case ev := <-events:
		t.Fatalf("an event before any change: %+v", ev)
	case <-time.After(100 * time.Millisecond): // five polls
	}
	s.setState(store.TaskKey{DagID: "etl", RunID: "r1", TaskID: "extract"}, store.StateRunning, nil)
	if ev, _ := next(t, events, 5*time.Second); ev.name != "change" {
		t.Errorf("event = %+v, want change", ev)
	}
}

// TestLogTail: a running try's log arrives as it is written, line by line
// (a partial line waits for its end), then "end" once the try is over.
func TestLogTail(t *testing.T) {
	s := newSite(t, map[string]string{"etl.yaml": etlYAML})
	s.createRun("etl", "r1", time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), nil, "extract", "transform", "load")
	key := store.TaskKey{DagID: "etl", RunID: "r1", TaskID: "extract"}
	s.setState(key, store.StateRunning, nil)
	path := tasklog.Path(s.cfg.LogsDir(), "etl", "r1", "extract", 1)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	write := func(s string) {
		if _, err := f.WriteString(s); err != nil {
			t.Fatal(err)
		}
	}
	write("first line\nsecond ")
	events := s.stream("/ui/api/log?dag_id=etl&run_id=r1&task_id=extract&try=1")
	ev, _ := next(t, events, 5*time.Second)
	if ev.name != "lines" || ev.data != `"first line\n"` || ev.id != "11" {
		t.Fatalf("first event = %+v", ev)
	}
	write("half\nthird line\n")
	if ev, _ := next(t, events, 5*time.Second); ev.name != "lines" || ev.data != `"second half\nthird line\n"` {
		t.Fatalf("second event = %+v", ev)
	}
	write("last words")
	end := time.Now().UTC()
	if _, err := s.st.UpdateTask(t.Context(), store.TaskUpdate{Key: key, To: store.StateSuccess, EndDate: &end}); err != nil {
		t.Fatal(err)
	}
	if ev, _ := next(t, events, 5*time.Second); ev.name != "lines" || ev.data != `"last words"` {
		t.Fatalf("third event = %+v", ev)
	}
	if ev, _ := next(t, events, 5*time.Second); ev.name != "end" {
		t.Fatalf("fourth event = %+v, want end", ev)
	}
	if _, ok := next(t, events, 5*time.Second); ok {
		t.Error("the stream stays open after end")
	}
	if status, _, _ := s.get("/ui/api/log?dag_id=etl&run_id=r1&task_id=extract&try=2"); status != http.StatusNotFound {
		t.Errorf("a try not started: %d", status)
	}
}

// TestGuard: without api_token the UI's data answers only a loopback Host
// (a rebound domain gets 403); with one, only a request bearing it; pages
// stay readable (they hold no data).
func TestGuard(t *testing.T) {
	s := newSite(t, map[string]string{"etl.yaml": etlYAML})
	if status, _, _ := s.get("/ui/api/dags", "Host", "evil.example:80"); status != http.StatusForbidden {
		t.Errorf("rebound host: %d, want 403", status)
	}
	if status, _, _ := s.get("/ui/api/dags", "Host", "localhost:1234"); status != http.StatusOK {
		t.Errorf("localhost: %d, want 200", status)
	}
	tok := newSite(t, map[string]string{"etl.yaml": etlYAML}, func(o *ui.Options) { o.Config.APIToken = "s3cret-token" })
	if status, _, _ := tok.get("/ui/api/dags"); status != http.StatusUnauthorized {
		t.Errorf("no token: %d, want 401", status)
	}
	if status, _, _ := tok.get("/ui/api/dags", "Authorization", "Bearer s3cret-token"); status != http.StatusOK {
		t.Errorf("token: %d, want 200", status)
	}
	if status, _, _ := tok.get("/"); status != http.StatusOK {
		t.Errorf("page: %d, want 200", status)
	}
}

// TestStopEndsStreams: closing Options.Stop ends open event streams, so a
// server's graceful shutdown does not wait for the browsers' tabs.
func TestStopEndsStreams(t *testing.T) {
	stop := make(chan struct{})
	s := newSite(t, map[string]string{"etl.yaml": etlYAML}, func(o *ui.Options) { o.Stop = stop })
	events := s.stream("/ui/api/events")
	close(stop)
	for {
		if _, ok := next(t, events, 5*time.Second); !ok {
			return
		}
	}
}

// writeLog writes the log of one try of a task instance.
func (s *site) writeLog(dagID, runID, taskID string, try int, text string) {
	s.t.Helper()
	path := tasklog.Path(s.cfg.LogsDir(), dagID, runID, taskID, try)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		s.t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		s.t.Fatal(err)
	}
}

// TestGantt: the Gantt of a run lists its task instances in file order,
// each with every try (an earlier one read from its log), and a task the
// scheduler skipped without running it with no try at all.
func TestGantt(t *testing.T) {
	s := newSite(t, map[string]string{"etl.yaml": etlYAML})
	if status, body, _ := s.get("/ui/api/gantt?dag_id=etl"); status != http.StatusOK || !strings.Contains(body, `"run":null`) {
		t.Errorf("no run yet: %d %s", status, body)
	}
	s.createRun("etl", "r1", time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), nil, "load", "transform", "extract")
	s.writeLog("etl", "r1", "extract", 1, "[2026-01-01T00:00:00.000Z] sirocco: starting try 1\n"+
		"[2026-01-01T00:00:02.000Z] sirocco: task failed: exit status 1\n")
	extract := store.TaskKey{DagID: "etl", RunID: "r1", TaskID: "extract"}
	s.setState(extract, store.StateUpForRetry, nil)
	s.setState(extract, store.StateSuccess, nil)
	s.setState(store.TaskKey{DagID: "etl", RunID: "r1", TaskID: "transform"}, store.StateFailed, nil)
	now := time.Now().UTC()
	if ok, err := s.st.UpdateTask(t.Context(), store.TaskUpdate{Key: store.TaskKey{DagID: "etl", RunID: "r1", TaskID: "load"},
		To: store.StateUpstreamFailed, StartDate: &now, EndDate: &now}); err != nil || !ok {
		t.Fatal(ok, err)
	}
	status, body, _ := s.get("/ui/api/gantt?dag_id=etl&run_id=r1")
	var g struct {
		Run struct {
			RunID string `json:"run_id"`
		} `json:"run"`
		Now   string `json:"now"`
		Tasks []struct {
			TaskID string `json:"task_id"`
			State  string `json:"state"`
			Tries  []struct {
				Try   int     `json:"try"`
				State string  `json:"state"`
				Start *string `json:"start_date"`
				End   *string `json:"end_date"`
			} `json:"tries"`
		} `json:"tasks"`
	}
	if err := json.Unmarshal([]byte(body), &g); err != nil || status != http.StatusOK {
		t.Fatalf("%d %v %s", status, err, body)
	}
	var rows []string
	for _, task := range g.Tasks {
		row := task.TaskID + ":" + task.State
		for _, try := range task.Tries {
			row += " " + try.State
			if try.Start == nil || try.End == nil {
				row += "(no times)"
			}
		}
		rows = append(rows, row)
	}
	want := "extract:success failed success|transform:failed failed|load:upstream_failed"
	if g.Run.RunID != "r1" || g.Now == "" || strings.Join(rows, "|") != want {
		t.Errorf("gantt: run %q now %q rows\n%s\nwant\n%s", g.Run.RunID, g.Now, strings.Join(rows, "|"), want)
	}
	for path, code := range map[string]int{"/ui/api/gantt?dag_id=etl&run_id=nope": 404, "/ui/api/gantt?dag_id=nope": 404} {
		if status, _, _ := s.get(path); status != code {
			t.Errorf("GET %s: %d, want %d", path, status, code)
		}
	}
}

// TestHandleFromLog: a try that ended before its handle was saved shows
// the handle its log notes, said to come from there; a saved handle is
// the store's; a try whose log notes none has none.
func TestHandleFromLog(t *testing.T) {
	s := newSite(t, map[string]string{"etl.yaml": etlYAML})
	s.createRun("etl", "r1", time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), nil, "extract", "transform", "load")
	for _, task := range []string{"extract", "transform", "load"} {
		s.setState(store.TaskKey{DagID: "etl", RunID: "r1", TaskID: task}, store.StateSuccess, nil)
	}
	s.writeLog("etl", "r1", "extract", 1, "[2026-01-01T00:00:00.000Z] sirocco: starting try 1\n"+
		`[2026-01-01T00:00:00.010Z] sirocco: process handle {"kind":"process","version":1,"host":"h1","pid":4242,"pgid":4242}`+"\n"+
		"[2026-01-01T00:00:00.020Z] extract\n")
	s.writeLog("etl", "r1", "transform", 1, "[2026-01-01T00:00:00.000Z] sirocco: starting try 1\n")
	handle := []byte(`{"kind":"process","host":"h2","pid":99}`)
	if _, err := s.st.UpdateTask(t.Context(), store.TaskUpdate{Key: store.TaskKey{DagID: "etl", RunID: "r1", TaskID: "load"},
		To: store.StateSuccess, Handle: &handle}); err != nil {
		t.Fatal(err)
	}
	for task, want := range map[string]string{"extract": "log Process id=4242 Host=h1", "transform": "", "load": "store Process id=99 Host=h2"} {
		_, body, _ := s.get("/ui/api/ti?dag_id=etl&run_id=r1&task_id=" + task)
		var ti struct {
			Source string `json:"handle_source"`
			Handle struct {
				Fields []struct{ Label, Value string } `json:"fields"`
			} `json:"handle"`
		}
		if err := json.Unmarshal([]byte(body), &ti); err != nil {
			t.Fatal(err)
		}
		got := ti.Source
		for _, f := range ti.Handle.Fields {
			got += " " + f.Label + "=" + f.Value
		}
		if got != want {
			t.Errorf("%s: handle %q, want %q", task, got, want)
		}
	}
}

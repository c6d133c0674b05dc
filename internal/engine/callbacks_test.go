package engine

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/config"
	"github.com/sirocco-dev/sirocco/internal/dag"
	"github.com/sirocco-dev/sirocco/internal/operator/all"
	"github.com/sirocco-dev/sirocco/internal/scheduler"
	"github.com/sirocco-dev/sirocco/internal/store"
	"github.com/sirocco-dev/sirocco/internal/store/sqlstore"
	"github.com/sirocco-dev/sirocco/internal/testenv"
)

// notifyEngine is an engine over home (its DAGs folder home/dags) that
// the test stops and starts again, as a restart of Sirocco.
type notifyEngine struct {
	*harness
	stop func()
}

// startNotify starts an engine on dbURL with home as its home; dags are
// written into home/dags. Notifications retry after 50ms, 100ms...
func startNotify(t *testing.T, dbURL, home string, dags map[string]string, tweak ...func(*config.Config)) *notifyEngine {
	t.Helper()
	dagsDir := filepath.Join(home, "dags")
	if err := os.MkdirAll(dagsDir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, body := range dags {
		if err := os.WriteFile(filepath.Join(dagsDir, name+".yaml"), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cfg := config.Defaults()
	cfg.Home, cfg.DagsFolder, cfg.DatabaseURL = home, dagsDir, dbURL
	cfg.PollInterval, cfg.Heartbeat, cfg.KillGrace = 100*time.Millisecond, 100*time.Millisecond, 500*time.Millisecond
	cfg.Parallelism = 4
	for _, f := range tweak {
		f(&cfg)
	}
	ctx, cancel := context.WithCancel(context.Background())
	st, err := sqlstore.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	eng, err := New(ctx, Options{Config: cfg, Store: st, Operators: all.Registry(), NotifyBackoff: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if errs := eng.Bag.Errors(); len(errs) > 0 {
		t.Fatalf("DAG errors: %v", errs)
	}
	done := make(chan error, 1)
	go func() { done <- eng.Run(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("engine: %v", err)
			}
			st.Close()
		})
	}
	t.Cleanup(stop)
	return &notifyEngine{harness: &harness{t: t, eng: eng, st: st, cfg: cfg, dir: home}, stop: stop}
}

// waitNotes waits until every notification of the run is sent or failed
// and there are want of them, and returns them.
func (h *harness) waitNotes(dagID, runID string, want int) []store.Notification {
	h.t.Helper()
	var list []store.Notification
	testenv.Eventually(h.t, "the notifications of "+runID, 30*time.Second, func() (bool, string) {
		var err error
		list, err = h.st.ListNotifications(context.Background(), dagID, runID)
		if err != nil {
			return false, err.Error()
		}
		done := len(list) == want
		for _, n := range list {
			done = done && (n.State == store.NoteSent || n.State == store.NoteFailed)
		}
		return done, describeNotes(list)
	})
	return list
}

func describeNotes(list []store.Notification) string {
	var b strings.Builder
	for _, n := range list {
		b.WriteString(n.TaskID + "/" + n.Event + "#" + string(rune('0'+n.Index)) + "=" + string(n.State) + " ")
	}
	return b.String()
}

// lines reads the notes file, one entry per line, sorted.
func lines(t *testing.T, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	out := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(out) == 1 && out[0] == "" {
		return nil
	}
	slices.Sort(out)
	return out
}

// hookServer records the JSON bodies posted to it; it answers 500 to
// the first `fail` requests.
type hookServer struct {
	*httptest.Server
	mu     sync.Mutex
	bodies []map[string]any
	fail   int
}

func newHook(t *testing.T, fail int) *hookServer {
	h := &hookServer{fail: fail}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		data, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		defer h.mu.Unlock()
		if h.fail != 0 {
			if h.fail > 0 {
				h.fail--
			}
			http.Error(w, "hook down", http.StatusInternalServerError)
			return
		}
		var m map[string]any
		if err := json.Unmarshal(data, &m); err != nil {
			t.Errorf("hook body is not JSON: %s", data)
		}
		h.bodies = append(h.bodies, m)
	}))
	t.Cleanup(h.Close)
	return h
}

func (h *hookServer) got() []map[string]any {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.bodies)
}

const callbacksDAG = `
dag_id: cb
on_success_callback: {command: 'echo "dag success" >> "$SIROCCO_HOME/notes"'}
on_failure_callback:
  command: echo "dag failure {{ failed_tasks | join(',') }} {{ run_state }}" >> "$SIROCCO_HOME/notes"
tasks:
  - id: flaky
    operator: bash
    command: 'test -f "{{ params.mark }}" || { touch "{{ params.mark }}"; echo "first try fails"; exit 1; }'
    retries: 1
    retry_delay: 0s
    on_execute_callback: {command: 'echo "execute {{ ti.task_id }} {{ try_number }}" >> "$SIROCCO_HOME/notes"'}
    on_retry_callback: {command: 'echo "retry {{ ti.task_id }} {{ try_number }} {{ state }}" >> "$SIROCCO_HOME/notes"'}
    on_success_callback:
      webhook: {url: "HOOK", body: '{"text": "{{ ti.task_id }} {{ state }} try {{ try_number }}", "reason": "{{ reason }}"}'}
  - id: broken
    operator: bash
    command: echo "the details of it"; exit 3
    on_failure_callback:
      - command: echo "failure {{ ti.task_id }} {{ try_number }}" >> "$SIROCCO_HOME/notes"; echo {{ exception | shquote }} > "$SIROCCO_HOME/exception"
      - webhook: {url: "DOWN"}
params: {mark: {type: string, default: ""}}
`

// TestCallbacksRunOnBothStores: each event calls its notifiers once,
// outside the tries: on_execute for each try, on_retry, on_success (a
// webhook whose rendered body is checked), on_failure with the end of the
// try's log, and the DAG's on_failure_callback with the failed tasks. A
// notifier that always fails is tried three times and failed, and changes
// no task or run.
func TestCallbacksRunOnBothStores(t *testing.T) {
	databases(t, func(t *testing.T, dbURL func() string) {
		hook, down := newHook(t, 0), newHook(t, -1)
		body := strings.NewReplacer("HOOK", hook.URL, "DOWN", down.URL).Replace(callbacksDAG)
		home := t.TempDir()
		h := startNotify(t, dbURL(), home, map[string]string{"cb": body})
		runID := h.trigger("cb", map[string]any{"mark": filepath.Join(home, "mark")})
		if run := h.waitRun("cb", runID); run.State != store.RunFailed {
			t.Fatalf("run %s (%s)", run.State, h.states("cb", runID))
		}
		h.wantStates("cb", runID, map[string]store.TaskState{"flaky": store.StateSuccess, "broken": store.StateFailed})
		notes := h.waitNotes("cb", runID, 7)
		for _, n := range notes {
			want := store.NoteSent
			if n.TaskID == "broken" && n.Index == 1 {
				want = store.NoteFailed
			}
			if n.State != want {
				t.Errorf("%s/%s#%d: %s after %d attempts (%s), want %s", n.TaskID, n.Event, n.Index, n.State, n.Attempts, n.LastError, want)
			}
		}
		if n := notes[slices.IndexFunc(notes, func(n store.Notification) bool { return n.TaskID == "broken" && n.Index == 1 })]; n.Attempts != 3 || !strings.Contains(n.LastError, "500") {
			t.Errorf("the failing webhook: %d attempts, last error %q", n.Attempts, n.LastError)
		}
		want := []string{
			"dag failure broken failed",
			"execute flaky 1",
			"execute flaky 2",
			"failure broken 1",
			"retry flaky 1 up_for_retry",
		}
		if got := lines(t, filepath.Join(home, "notes")); !slices.Equal(got, want) {
			t.Errorf("notes:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		exc, _ := os.ReadFile(filepath.Join(home, "exception"))
		if !strings.Contains(string(exc), "the details of it") || !strings.Contains(string(exc), "process exited with code 3") ||
			strings.Contains(string(exc), "process handle") {
			t.Errorf("exception = %q, want the end of the try's log", exc)
		}
		bodies := hook.got()
		if len(bodies) != 1 || bodies[0]["text"] != "flaky success try 2" || bodies[0]["reason"] != "task flaky succeeded (try 2)" {
			t.Errorf("webhook bodies = %v", bodies)
		}
	})
}

// TestCallbacksOnceAcrossRestarts: Sirocco stopped right after a try's
// failure was written, before its callback was enqueued; and another
// run's callback was enqueued but not sent. The next start enqueues the
// first and sends both, once; the start after that sends nothing again.
func TestCallbacksOnceAcrossRestarts(t *testing.T) {
	databases(t, func(t *testing.T, dbURL func() string) {
		url, home := dbURL(), t.TempDir()
		const src = `
dag_id: once
on_failure_callback: {command: 'echo "dag failure {{ run_id }}" >> "$SIROCCO_HOME/notes"'}
tasks:
  - id: a
    operator: bash
    command: exit 1
    on_failure_callback: {command: 'echo "failure {{ run_id }} {{ ti.task_id }} {{ try_number }}" >> "$SIROCCO_HOME/notes"'}
`
		const ping = `
dag_id: ping
tasks:
  - {id: p, operator: empty, on_success_callback: {command: 'echo "ping {{ run_id }}" >> "$SIROCCO_HOME/notes"'}}
`
		ctx := context.Background()
		st, err := sqlstore.Open(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		if err := st.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		d, err := dag.Parse("once.yaml", []byte(src), dag.LoadOptions{Operators: all.Registry().Specs()})
		if err != nil {
			t.Fatal(err)
		}
		now := time.Now().UTC()
		// Run 1: a's try failed, the process died before anything else.
		at1 := time.Date(2026, 2, 3, 0, 0, 0, 0, time.UTC)
		run1, tis := scheduler.NewRunRecords(d, store.RunManual, dag.Interval{Start: at1, End: at1}, nil, now)
		run1.State, run1.StartDate = store.RunRunning, now
		if err := st.CreateRun(ctx, run1, tis); err != nil {
			t.Fatal(err)
		}
		k := store.TaskKey{DagID: "once", RunID: run1.RunID, TaskID: "a"}
		if w, err := st.UpdateTaskRow(ctx, store.TaskUpdate{Key: k, From: []store.TaskState{store.StateNone},
			To: store.StateFailed, IncTry: true, StartDate: &now, EndDate: &now}); err != nil || !w.OK {
			t.Fatalf("fail a: %v %v", w.OK, err)
		}
		// Run 2: finished failed, its DAG callback enqueued, not sent.
		at2 := at1.Add(24 * time.Hour)
		run2, tis2 := scheduler.NewRunRecords(d, store.RunManual, dag.Interval{Start: at2, End: at2}, nil, now)
		run2.State = store.RunRunning
		if err := st.CreateRun(ctx, run2, tis2); err != nil {
			t.Fatal(err)
		}
		if ok, err := st.UpdateRun(ctx, store.RunUpdate{DagID: "once", RunID: run2.RunID, To: store.RunFailed, EndDate: &now,
			Notify: []store.Notification{{NotificationKey: store.NotificationKey{DagID: "once", RunID: run2.RunID, Event: "failure"},
				NextAt: now, CreatedAt: now}}}); !ok || err != nil {
			t.Fatal(ok, err)
		}
		st.Close()

		h := startNotify(t, url, home, map[string]string{"once": src, "ping": ping})
		h.eng.Loop.Kick()
		if run := h.waitRun("once", run1.RunID); run.State != store.RunFailed {
			t.Fatalf("run 1 %s", run.State)
		}
		h.waitNotes("once", run1.RunID, 2)
		h.waitNotes("once", run2.RunID, 1)
		h.stop()

		h = startNotify(t, url, home, nil)
		pingRun := h.trigger("ping", nil)
		h.waitRun("ping", pingRun)
		h.waitNotes("ping", pingRun, 1)
		want := []string{
			"dag failure " + run1.RunID,
			"dag failure " + run2.RunID,
			"failure " + run1.RunID + " a 1",
			"ping " + pingRun,
		}
		if got := lines(t, filepath.Join(home, "notes")); !slices.Equal(got, want) {
			t.Errorf("notes:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	})
}

// TestDeadlineAlerts: a run, and a task's try, still going at its
// deadline is alerted once, while it runs (the loop wakes at the
// deadline, with an hour's poll interval); a run or try that finished
// before its deadline never is.
func TestDeadlineAlerts(t *testing.T) {
	databases(t, func(t *testing.T, dbURL func() string) {
		home := t.TempDir()
		dl := func(id, interval, command string) string {
			return "dag_id: " + id + "\ndeadline: {reference: queued_at, interval: " + interval +
				`, callback: {command: 'echo "late {{ run_id }} {{ deadline }}" >> "$SIROCCO_HOME/` + id + `"'}}` +
				"\ntasks: [{id: t, operator: bash, command: '" + command + "', deadline: {interval: " + interval +
				`, callback: {command: 'echo "task late {{ ti.task_id }} {{ try_number }} {{ state }}" >> "$SIROCCO_HOME/` + id + `"'}}}]` + "\n"
		}
		h := startNotify(t, dbURL(), home, map[string]string{
			"late": dl("late", "1s", "sleep 4"), "punctual": dl("punctual", "2s", "echo quick"),
		}, func(c *config.Config) { c.PollInterval = time.Hour })
		punctual := h.trigger("punctual", nil)
		late := h.trigger("late", nil)
		if run := h.waitRun("punctual", punctual); run.State != store.RunSuccess {
			t.Fatalf("punctual: %s", run.State)
		}
		lateRun := h.waitRun("late", late)
		notes := h.waitNotes("late", late, 2) // the run's and the task's try's
		for _, n := range notes {
			if n.Event != "deadline" || n.State != store.NoteSent || !n.CreatedAt.Before(lateRun.EndDate) {
				t.Errorf("deadline alert %+v, run ended %v: want it sent, created while the run ran", n, lateRun.EndDate)
			}
		}
		deadline := lateRun.QueuedAt.Add(time.Second)
		if n := notes[0]; n.TaskID != "" || n.CreatedAt.Before(deadline) {
			t.Errorf("run alert %+v, want it created after the deadline %v", n, deadline)
		}
		if n := notes[1]; n.TaskID != "t" || n.Try != 1 || n.CreatedAt.Before(h.tis("late", late)["t"].StartDate.Add(time.Second)) {
			t.Errorf("task alert %+v, want try 1 of t after its start + 1s", n)
		}
		want := []string{"late " + late + " " + deadline.Format(time.RFC3339), "task late t 1 running"}
		if got := lines(t, filepath.Join(home, "late")); !slices.Equal(got, want) {
			t.Errorf("late alerts: %q, want %q", got, want)
		}
		// The punctual run's deadline has passed by now (the late run took 4s).
		if time.Since(h.tis("punctual", punctual)["t"].EndDate) < 2*time.Second {
			t.Fatal("the punctual run's deadline has not passed yet")
		}
		if list, _ := h.st.ListNotifications(context.Background(), "punctual", punctual); len(list) != 0 {
			t.Errorf("the punctual run was alerted: %+v", list)
		}
		if got := lines(t, filepath.Join(home, "punctual")); len(got) != 0 {
			t.Errorf("punctual alerts: %q", got)
		}
	})
}

// TestCallbacksExample runs the shipped examples/dags/callbacks.yaml, in
// its success path (late: the deadline alert fires) and its failure path
// (a retry, then the failure callbacks).
func TestCallbacksExample(t *testing.T) {
	body, err := os.ReadFile(filepath.Join("..", "..", "examples", "dags", "callbacks.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	home := t.TempDir()
	h := startNotify(t, "sqlite://"+filepath.Join(home, "sirocco.db"), home, map[string]string{"callbacks": string(body)})
	ok := h.trigger("callbacks", nil)
	if run := h.waitRun("callbacks", ok); run.State != store.RunSuccess {
		t.Fatalf("run %s (%s)", run.State, h.states("callbacks", ok))
	}
	h.waitNotes("callbacks", ok, 4)
	failed := h.triggerAt("callbacks", map[string]any{"fail": true}, time.Date(2026, 2, 4, 0, 0, 0, 0, time.UTC))
	if run := h.waitRun("callbacks", failed); run.State != store.RunFailed {
		t.Fatalf("run %s (%s)", run.State, h.states("callbacks", failed))
	}
	h.waitNotes("callbacks", failed, 7)
	got := strings.Join(lines(t, filepath.Join(home, "callbacks.log")), "\n")
	for _, want := range []string{
		"task extract succeeded on try 1",
		"run " + ok + " succeeded",
		"run " + ok + " not finished by its deadline",
		"try 1 of load is slow (running)",
		"try 2 of load is slow (running)",
		"task load will be retried after try 1",
		"task load failed on try 2: ",
		"cannot load",
		"run " + failed + " failed; failed tasks: load",
		"run " + failed + " not finished by its deadline",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("callbacks.log lacks %q:\n%s", want, got)
		}
	}
}

package main

// End-to-end tests of the real binary: the CLI as a user types it, a
// standalone server as a separate process, and kill -9 of that server.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/testenv"
)

var binary string

// healthClient keeps no idle connections, so no goroutine outlives a test.
var healthClient = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 2 * time.Second}

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "sirocco-bin")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "sirocco")
	build := exec.Command("go", "build", "-o", binary, ".")
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build sirocco:", err)
		os.Exit(1)
	}
	// The built binary's folder goes with the other test services.
	testenv.AtExit(func() error { return os.RemoveAll(dir) })
	testenv.RunMain(m)
}

// site is one Sirocco home with its DAGs folder.
type site struct {
	t    *testing.T
	home string
	dags string
	// extraEnv is added to every command's environment (Spark, connections).
	extraEnv []string
}

func newSite(t *testing.T, dags map[string]string) *site {
	t.Helper()
	home := t.TempDir()
	s := &site{t: t, home: home, dags: filepath.Join(home, "dags")}
	if err := os.MkdirAll(s.dags, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, body := range dags {
		s.write(name, body)
	}
	s.mustRun("db", "migrate") // what standalone does at start; other commands only check
	return s
}

func (s *site) write(name, body string) {
	s.t.Helper()
	if err := os.WriteFile(filepath.Join(s.dags, name), []byte(body), 0o644); err != nil {
		s.t.Fatal(err)
	}
}

func (s *site) env() []string {
	env := append(os.Environ(), "SIROCCO_HOME="+s.home, "SIROCCO_DAGS_FOLDER="+s.dags,
		"SIROCCO_POLL_INTERVAL=100ms", "SIROCCO_HEARTBEAT_INTERVAL=200ms", "SIROCCO_DAG_DIR_LIST_INTERVAL=500ms")
	return append(env, s.extraEnv...)
}

// run executes the CLI and returns its stdout, stderr and exit code.
func (s *site) run(args ...string) (string, string, int) {
	s.t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = s.env()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		s.t.Fatalf("run %v: %v", args, err)
	}
	return out.String(), errb.String(), code
}

func (s *site) mustRun(args ...string) string {
	s.t.Helper()
	out, errOut, code := s.run(args...)
	if code != 0 {
		s.t.Fatalf("sirocco %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

// server is a running `sirocco standalone`.
type server struct {
	cmd  *exec.Cmd
	addr string
	log  *bytes.Buffer
	done chan struct{}
}

func (s *site) startServer() *server {
	s.t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		s.t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	srv := &server{addr: addr, log: &bytes.Buffer{}, done: make(chan struct{})}
	srv.cmd = exec.Command(binary, "standalone", "--listen", addr)
	srv.cmd.Env = s.env()
	srv.cmd.Stdout, srv.cmd.Stderr = srv.log, srv.log
	if err := srv.cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	go func() { _ = srv.cmd.Wait(); close(srv.done) }()
	s.t.Cleanup(func() { srv.stop() })
	testenv.Eventually(s.t, "standalone to become healthy", time.Minute, func() (bool, string) {
		select {
		case <-srv.done:
			s.t.Fatalf("standalone exited while starting: %v\n%s", srv.cmd.ProcessState, srv.log)
		default:
		}
		return healthy(addr)
	})
	return srv
}

func (srv *server) stop() {
	select {
	case <-srv.done:
		return
	default:
	}
	_ = srv.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-srv.done:
	case <-time.After(15 * time.Second):
		_ = srv.cmd.Process.Kill()
		<-srv.done
	}
}

func (srv *server) kill9() {
	_ = srv.cmd.Process.Signal(syscall.SIGKILL)
	<-srv.done
}

// healthy asks the server at addr for /health; the observation is the
// error or the answer.
func healthy(addr string) (bool, string) {
	resp, err := healthClient.Get("http://" + addr + "/health")
	if err != nil {
		return false, err.Error()
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
	return resp.StatusCode == http.StatusOK, resp.Status + " " + strings.TrimSpace(string(body))
}

// states reads a run's state through the CLI, and describes it with its
// task instances' table for a wait's observation.
func (s *site) states(dagID, runID string) (run, observed string) {
	out, errOut, _ := s.run("dags", "state", dagID, runID)
	run = strings.TrimSpace(out)
	tis, _, _ := s.run("tasks", "state", dagID, runID)
	return run, fmt.Sprintf("run %s is %q %s; task instances:\n%s", runID, run, strings.TrimSpace(errOut), tis)
}

// waitRunSuccess waits until the run has ended and fails the test at once
// if it failed: success is never reached past a failure.
func (s *site) waitRunSuccess(dagID, runID string, timeout time.Duration) {
	s.t.Helper()
	testenv.Eventually(s.t, "run "+runID+" of "+dagID+" to succeed", timeout, func() (bool, string) {
		run, observed := s.states(dagID, runID)
		if run == "failed" {
			s.t.Fatalf("%s, want success", observed)
		}
		return run == "success", observed
	})
}

// waitPIDFile waits until a task wrote its child's pid to path and returns
// it; the observation is the file and the run's states.
func (s *site) waitPIDFile(path, dagID, runID string) int {
	s.t.Helper()
	var pid int
	testenv.Eventually(s.t, "the task to write its child's pid to "+path, time.Minute, func() (bool, string) {
		data, err := os.ReadFile(path)
		if err == nil {
			if pid, err = strconv.Atoi(strings.TrimSpace(string(data))); err == nil {
				return true, ""
			}
		}
		_, observed := s.states(dagID, runID)
		return false, fmt.Sprintf("%v; %s", err, observed)
	})
	return pid
}

func TestValidateListsEveryErrorAndKeepsGoodDAGs(t *testing.T) {
	s := newSite(t, map[string]string{
		"good.yaml": "dag_id: good\ntasks:\n  - {id: a, operator: empty}\n",
		"bad.yaml": `dag_id: bad
schedule: "61 * * * *"
tasks:
  - id: a
    operator: bash
    command: echo {{ oops
    retires: 2
  - id: b
    operator: empty
    depends_on: [c]
`,
		"cycle.yaml": `dag_id: cycle
tasks:
  - {id: x, operator: empty, depends_on: [z]}
  - {id: y, operator: empty, depends_on: [x]}
  - {id: z, operator: empty, depends_on: [y]}
`,
	})
	out, _, code := s.run("dags", "validate")
	if code == 0 {
		t.Fatalf("validate exited 0 with broken files:\n%s", out)
	}
	for _, want := range []string{
		"bad.yaml:2:", "cron",
		`bad.yaml:7:5: tasks[a]: unknown key "retires" (did you mean "retries"?)`,
		"bad.yaml:6:", "template",
		`bad.yaml:10:`, `"c"`,
		"cycle.yaml", "dependency cycle: ",
		"1 DAG(s) valid, 2 file(s) with errors",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("validate output lacks %q:\n%s", want, out)
		}
	}
	list := s.mustRun("dags", "list", "-o", "json")
	var dags []map[string]any
	if err := json.Unmarshal([]byte(list), &dags); err != nil || len(dags) != 1 || dags[0]["dag_id"] != "good" {
		t.Fatalf("dags list -o json = %s (%v), want only good", list, err)
	}
	ie := s.mustRun("dags", "list-import-errors", "-o", "yaml")
	if !strings.Contains(ie, "bad.yaml") || !strings.Contains(ie, "cycle.yaml") {
		t.Errorf("list-import-errors lacks the broken files:\n%s", ie)
	}
	schema := s.mustRun("dags", "schema")
	var js map[string]any
	if err := json.Unmarshal([]byte(schema), &js); err != nil {
		t.Fatalf("schema is not JSON: %v", err)
	}
}

func TestTriggerWaitLogsStateAndRender(t *testing.T) {
	s := newSite(t, map[string]string{
		"ok.yaml": `dag_id: ok
params: {n: {type: integer, default: 1}}
tasks:
  - id: hello
    operator: bash
    command: for i in 1 2; do echo "line $i of {{ params.n }}"; done
  - {id: bye, operator: bash, depends_on: [hello], command: echo bye}
`,
		"ko.yaml": "dag_id: ko\ntasks:\n  - {id: fail, operator: bash, command: exit 4}\n",
	})
	s.startServer()

	out := s.mustRun("dags", "trigger", "ok", "--conf", `{"n": 7}`, "--wait", "--run-id", "r1")
	if !strings.Contains(out, "[2/2] success") || !strings.Contains(out, "Run r1 success") {
		t.Errorf("trigger --wait output:\n%s", out)
	}
	if _, _, code := s.run("dags", "trigger", "ko", "--wait"); code != 1 {
		t.Errorf("trigger --wait of a failing DAG exited %d, want 1", code)
	}
	if _, errOut, code := s.run("dags", "trigger", "ok", "--conf", `{"n": "seven"}`); code == 0 || !strings.Contains(errOut, "n") {
		t.Errorf("a conf of the wrong type must be refused (exit %d): %s", code, errOut)
	}
	logs := s.mustRun("tasks", "logs", "ok", "r1", "hello")
	if !strings.Contains(logs, "line 2 of 7") || !strings.HasPrefix(logs, "[20") {
		t.Errorf("task log should hold the timestamped output:\n%s", logs)
	}
	if st := strings.TrimSpace(s.mustRun("dags", "state", "ok", "r1")); st != "success" {
		t.Errorf("dags state = %q", st)
	}
	if st := strings.TrimSpace(s.mustRun("tasks", "state", "ok", "r1", "bye")); st != "success" {
		t.Errorf("tasks state = %q", st)
	}
	rendered := s.mustRun("tasks", "render", "ok", "r1", "hello")
	if !strings.Contains(rendered, `line $i of 7\"; done`) {
		t.Errorf("tasks render:\n%s", rendered)
	}
	runs := s.mustRun("dags", "list-runs", "ok", "-o", "json")
	var list []map[string]any
	if err := json.Unmarshal([]byte(runs), &list); err != nil || len(list) != 1 || list[0]["state"] != "success" {
		t.Errorf("list-runs = %s", runs)
	}
	s.mustRun("tasks", "clear", "ok", "r1", "--task", "hello", "--downstream")
	testenv.Eventually(t, "both cleared tasks to succeed in try 2", time.Minute, func() (bool, string) {
		out, _, _ := s.run("tasks", "state", "ok", "r1", "-o", "json")
		var tis []map[string]any
		_ = json.Unmarshal([]byte(out), &tis)
		ok := len(tis) == 2
		for _, ti := range tis {
			ok = ok && ti["state"] == "success" && ti["try_number"] == float64(2)
		}
		return ok, out
	})
}

// TestCrashRecovery kills `sirocco standalone` with SIGKILL while a task
// runs, restarts it, and checks that nothing is lost or run twice.
func TestCrashRecovery(t *testing.T) {
	work := t.TempDir()
	tickerStart := time.Now().UTC().Truncate(time.Second).Add(-3 * time.Second)
	s := newSite(t, map[string]string{
		"crashy.yaml": fmt.Sprintf(`dag_id: crashy
tasks:
  - id: first
    operator: bash
    command: echo ran >> %[1]s/first.count
  - id: long
    operator: bash
    depends_on: [first]
    retries: 1
    retry_delay: 0s
    append_env: true
    command: |
      echo "$SIROCCO_CTX_TRY_NUMBER" >> %[1]s/long.tries
      if [ "$SIROCCO_CTX_TRY_NUMBER" = 1 ]; then sleep 300 & echo $! > %[1]s/sleep.pid; wait; fi
      echo finished
`, work),
		"ticker.yaml": fmt.Sprintf(`dag_id: ticker
schedule: every 1s
start_date: %s
catchup: true
max_active_runs: 64
tasks:
  - {id: tick, operator: empty}
`, tickerStart.Format(time.RFC3339)),
	})
	srv := s.startServer()
	s.mustRun("dags", "trigger", "crashy", "--run-id", "c1")
	sleepPID := s.waitPIDFile(filepath.Join(work, "sleep.pid"), "crashy", "c1")
	srv.kill9()
	crashedAt := time.Now().UTC()
	if !testenv.Alive(sleepPID) {
		t.Fatalf("precondition: the task's grandchild %d should outlive a SIGKILLed Sirocco", sleepPID)
	}
	time.Sleep(2 * time.Second) // downtime: scheduled intervals pass with no scheduler
	s.startServer()

	s.waitRunSuccess("crashy", "c1", time.Minute)
	if testenv.Alive(sleepPID) {
		t.Errorf("the orphaned process group (sleep %d) was not killed on restart", sleepPID)
	}
	first, _ := os.ReadFile(filepath.Join(work, "first.count"))
	if got := strings.Count(string(first), "ran"); got != 1 {
		t.Errorf("the finished task ran %d times, want 1", got)
	}
	tries, _ := os.ReadFile(filepath.Join(work, "long.tries"))
	if got := strings.Fields(string(tries)); strings.Join(got, ",") != "1,2" {
		t.Errorf("long's tries = %v, want [1 2] (retried once by its policy)", got)
	}

	// Scheduled runs for every interval, including those missed while down.
	testenv.Eventually(t, "ticker runs past the downtime", time.Minute, func() (bool, string) {
		out, _, _ := s.run("dags", "list-runs", "ticker", "--limit", "1", "-o", "json")
		var runs []map[string]any
		if json.Unmarshal([]byte(out), &runs) != nil || len(runs) == 0 {
			return false, "latest ticker run: " + out
		}
		latest, _ := time.Parse(time.RFC3339Nano, runs[0]["logical_date"].(string))
		return latest.After(crashedAt.Add(2 * time.Second)), fmt.Sprintf("latest ticker run at %s (crashed at %s)", latest, crashedAt)
	})
	out := s.mustRun("dags", "list-runs", "ticker", "--limit", "1000", "-o", "json")
	var runs []map[string]any
	if err := json.Unmarshal([]byte(out), &runs); err != nil {
		t.Fatal(err)
	}
	seen := map[time.Time]bool{}
	var latest time.Time
	for _, r := range runs {
		ld, _ := time.Parse(time.RFC3339Nano, r["logical_date"].(string))
		seen[ld] = true
		if ld.After(latest) {
			latest = ld
		}
	}
	for ts := tickerStart; ts.Before(latest); ts = ts.Add(time.Second) {
		if !seen[ts] {
			t.Errorf("no ticker run for interval starting %s (missed during downtime?)", ts.Format(time.RFC3339))
		}
	}
}

// TestShutdownReRunsStoppedTries: SIGTERM to a standalone with a local task
// running kills the task, and the try is not the task's failure: the log
// says it was stopped by shutdown (not failed, not detached), and the next
// start runs it again, which succeeds although the task has no retries.
func TestShutdownReRunsStoppedTries(t *testing.T) {
	work := t.TempDir()
	s := newSite(t, map[string]string{
		"stopped.yaml": fmt.Sprintf(`dag_id: stopped
tasks:
  - id: long
    operator: bash
    retries: 0
    append_env: true
    command: |
      echo "$SIROCCO_CTX_TRY_NUMBER" >> %[1]s/long.tries
      if [ "$SIROCCO_CTX_TRY_NUMBER" = 1 ]; then sleep 300 & echo $! > %[1]s/sleep.pid; wait; fi
      echo finished
`, work),
	})
	srv := s.startServer()
	s.mustRun("dags", "trigger", "stopped", "--run-id", "s1")
	sleepPID := s.waitPIDFile(filepath.Join(work, "sleep.pid"), "stopped", "s1")
	srv.stop()
	if testenv.Alive(sleepPID) {
		t.Errorf("the task's process (sleep %d) outlived the shutdown", sleepPID)
	}
	const stopped = "try 1 of long stopped by shutdown; it runs again at the next start without spending a retry"
	log := srv.log.String()
	if !strings.Contains(log, stopped) || strings.Contains(log, "detached") {
		t.Errorf("the service log should say %q, and nothing about detaching:\n%s", stopped, log)
	}
	if got := strings.TrimSpace(s.mustRun("tasks", "state", "stopped", "s1", "long")); got != "none" {
		t.Errorf("after the shutdown the task is %q, want none (to run again)", got)
	}

	s.startServer()
	s.waitRunSuccess("stopped", "s1", time.Minute)
	tries, _ := os.ReadFile(filepath.Join(work, "long.tries"))
	if got := strings.Fields(string(tries)); strings.Join(got, ",") != "1,2" {
		t.Errorf("long's tries = %v, want [1 2]", got)
	}
	var tis []map[string]any
	if err := json.Unmarshal([]byte(s.mustRun("tasks", "state", "stopped", "s1", "long", "-o", "json")), &tis); err != nil || len(tis) != 1 {
		t.Fatalf("tasks state: %v %v", tis, err)
	}
	if tis[0]["try_number"] != 2.0 || tis[0]["max_tries"] != 1.0 {
		t.Errorf("try_number %v max_tries %v, want 2 and 1: the stopped try spent no retry", tis[0]["try_number"], tis[0]["max_tries"])
	}
	try1 := s.mustRun("tasks", "logs", "stopped", "s1", "long", "--try", "1")
	if !strings.Contains(try1, "sirocco: "+stopped) || strings.Contains(try1, "task failed") || strings.Contains(try1, "detached") {
		t.Errorf("try 1's log should say it was stopped by shutdown, not failed or detached:\n%s", try1)
	}
}

// `sirocco standalone | tee log` and Ctrl-C: tee dies first, so every later
// write of Sirocco's goes to a closed pipe. The shutdown must still finish
// (exit 0) and give the running try back, not die of SIGPIPE half-way.
func TestShutdownSurvivesAClosedOutputPipe(t *testing.T) {
	s := newSite(t, map[string]string{"piped.yaml": "dag_id: piped\ntasks:\n  - {id: long, operator: bash, command: 'sleep 300'}\n"})
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(binary, "standalone", "--listen", "")
	cmd.Env = s.env()
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			<-exited
		}
	})
	s.mustRun("dags", "trigger", "piped", "--run-id", "p1")
	testenv.Eventually(t, "the long task to run", time.Minute, func() (bool, string) {
		out, _, _ := s.run("tasks", "state", "piped", "p1", "long")
		return strings.TrimSpace(out) == "running", "task long is " + out
	})
	r.Close() // the reader (tee) is gone
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := <-exited; err != nil {
		t.Fatalf("standalone with a closed output pipe ended with %v, want a clean exit", err)
	}
	if got := strings.TrimSpace(s.mustRun("tasks", "state", "piped", "p1", "long")); got != "none" {
		t.Errorf("after the shutdown the task is %q, want none (given back to run again)", got)
	}
}

package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/config"
	"github.com/sirocco-dev/sirocco/internal/engine"
	"github.com/sirocco-dev/sirocco/internal/operator/all"
	"github.com/sirocco-dev/sirocco/internal/store"
	"github.com/sirocco-dev/sirocco/internal/store/sqlstore"
	"github.com/sirocco-dev/sirocco/internal/testenv"
)

// testRunSite is a home with one DAG, a chain of bash tasks, and a
// migrated SQLite database; run runs the CLI on it.
func testRunSite(t *testing.T) (cfg config.Config, run, runAlone func(args ...string) (string, error)) {
	t.Helper()
	home := t.TempDir()
	dags := filepath.Join(home, "dags")
	if err := os.MkdirAll(dags, 0o755); err != nil {
		t.Fatal(err)
	}
	var yaml strings.Builder
	yaml.WriteString("dag_id: chain\nschedule: none\nstart_date: 2026-01-01\ntasks:\n")
	prev := ""
	for _, id := range []string{"t1", "t2", "t3", "t4", "t5"} {
		yaml.WriteString("  - {id: " + id + ", operator: bash, command: 'echo \"owner=${TRIAL_OWNER:-standalone} pid=$$\"'")
		if prev != "" {
			yaml.WriteString(", depends_on: [" + prev + "]")
		}
		yaml.WriteString("}\n")
		prev = id
	}
	if err := os.WriteFile(filepath.Join(dags, "chain.yaml"), []byte(yaml.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	db := "sqlite://" + filepath.Join(home, "sirocco.db")
	flags := []string{"--home", home, "--dags", dags, "--database-url", db}
	run = func(args ...string) (string, error) {
		var out testenv.SyncBuffer // the engine of dags test logs from its goroutines
		root := NewRoot(&out, &out)
		root.SetArgs(append(flags, args...))
		err := root.ExecuteContext(t.Context())
		return out.String(), err
	}
	runAlone = func(args ...string) (string, error) { return runInHelper(t, append(flags, args...)) }
	if out, err := run("db", "migrate"); err != nil {
		t.Fatalf("db migrate: %v\n%s", err, out)
	}
	cfg = config.Defaults()
	cfg.Home, cfg.DagsFolder, cfg.DatabaseURL = home, dags, db
	cfg.PollInterval, cfg.Heartbeat = 50*time.Millisecond, 100*time.Millisecond
	return cfg, run, runAlone
}

// helperArgsEnv carries the CLI arguments to the helper process, which
// is this test binary run again as another process: the `dags test`
// process beside a standalone, with its own pid and environment.
const helperArgsEnv = "SIROCCO_CLI_HELPER_ARGS"

// runInHelper runs the CLI with args in a helper process whose
// environment alone has TRIAL_OWNER=dags-test (passed on to its tasks).
func runInHelper(t *testing.T, args []string) (string, error) {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestCLIHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), helperArgsEnv+"="+strings.Join(args, "\x1f"), "TRIAL_OWNER=dags-test", "SIROCCO_TASK_ENV_ALLOW=TRIAL_OWNER")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestCLIHelperProcess is the helper process of runInHelper; run by the
// test binary itself, it does nothing.
func TestCLIHelperProcess(t *testing.T) {
	args := os.Getenv(helperArgsEnv)
	if args == "" {
		t.Skip("the helper process of runInHelper")
	}
	root := NewRoot(os.Stdout, os.Stderr)
	root.SetArgs(strings.Split(args, "\x1f"))
	if err := root.Execute(); err != nil {
		if code := exitCode(0); errors.As(err, &code) {
			os.Exit(int(code))
		}
		fmt.Fprintln(os.Stderr, "Error:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// startStandalone runs a standalone's engine (a scheduler without
// OnlyRun and its local executor) on cfg's database until the test ends.
func startStandalone(t *testing.T, cfg config.Config) *engine.Engine {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	st, err := sqlstore.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	eng, err := engine.New(ctx, engine.Options{Config: cfg, Store: st, Operators: all.Registry()})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- eng.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("standalone engine: %v", err)
		}
		st.Close()
	})
	return eng
}

// TestDagsTestBesideAStandalone: `dags test` while a standalone's
// scheduler runs on the same database. Every task of the test run is run
// by the dags test process's own engine (its tries name a worker other
// than the standalone's), the run is a test run (test__ id and type), and
// the standalone never claims one of its tasks.
func TestDagsTestBesideAStandalone(t *testing.T) {
	cfg, run, runAlone := testRunSite(t)
	standalone := startStandalone(t, cfg)
	out, err := runAlone("dags", "test", "chain")
	if err != nil {
		t.Fatalf("dags test: %v\n%s", err, out)
	}
	st, err := sqlstore.Open(t.Context(), cfg.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	runs, err := st.ListRuns(t.Context(), store.RunFilter{DagID: "chain"})
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 1 {
		t.Fatalf("runs: %+v, want one\n%s", runs, out)
	}
	if r := runs[0]; r.RunType != store.RunTest || !strings.HasPrefix(r.RunID, "test__") || r.State != store.RunSuccess {
		t.Errorf("run %s is a %s run, %s: want a successful test run\n%s", r.RunID, r.RunType, r.State, out)
	}
	tis, err := st.ListTaskInstances(t.Context(), "chain", runs[0].RunID)
	if err != nil {
		t.Fatal(err)
	}
	for _, ti := range tis {
		if ti.State != store.StateSuccess || ti.TryNumber != 1 {
			t.Errorf("%s: %s after %d tries, want success at the first", ti.TaskID, ti.State, ti.TryNumber)
		}
		if ti.WorkerID == "" || ti.WorkerID == standalone.Runner.WorkerID {
			t.Errorf("%s was run by worker %q, the standalone is %q: want the dags test process's",
				ti.TaskID, ti.WorkerID, standalone.Runner.WorkerID)
		}
		log := logPathIn(out, ti.TaskID)
		if body, err := os.ReadFile(strings.TrimSpace(log)); err != nil || !strings.Contains(string(body), "owner=dags-test") {
			t.Errorf("%s's log %s does not show the dags test process's environment: %v\n%s", ti.TaskID, log, err, body)
		}
	}
	lr, err := run("dags", "list-runs", "chain")
	if err != nil || !strings.Contains(lr, "test__") || !strings.Contains(lr, "test ") {
		t.Errorf("dags list-runs does not show the test run as such: %v\n%s", err, lr)
	}
}

// TestDagsTestInterrupted: SIGINT to a `dags test` process whose task
// runs stops the task's process and fails the test run before the
// process exits, as no scheduler would ever end it.
func TestDagsTestInterrupted(t *testing.T) {
	cfg, _, _ := testRunSite(t)
	pidFile := filepath.Join(cfg.Home, "task.pid")
	yaml := "dag_id: slow\nschedule: none\nstart_date: 2026-01-01\ntasks:\n" +
		"  - {id: a, operator: bash, command: 'echo $$ > " + pidFile + "; exec sleep 60'}\n" +
		"  - {id: b, operator: bash, command: 'true', depends_on: [a]}\n"
	if err := os.WriteFile(filepath.Join(cfg.DagsFolder, "slow.yaml"), []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"--home", cfg.Home, "--dags", cfg.DagsFolder, "--database-url", cfg.DatabaseURL, "dags", "test", "slow"}
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestCLIHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), helperArgsEnv+"="+strings.Join(args, "\x1f"))
	var out testenv.SyncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	taskPID := 0
	testenv.Eventually(t, "task a to start", 20*time.Second, func() (bool, string) {
		data, _ := os.ReadFile(pidFile)
		taskPID, _ = strconv.Atoi(strings.TrimSpace(string(data)))
		return taskPID > 0, out.String()
	})
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 130 {
		t.Errorf("dags test exited with %v, want 130\n%s", err, out.String())
	}
	if syscall.Kill(taskPID, 0) == nil {
		_ = syscall.Kill(taskPID, syscall.SIGKILL)
		t.Errorf("task a's process %d outlived the interrupted dags test", taskPID)
	}
	st, err := sqlstore.Open(t.Context(), cfg.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	runs, err := st.ListRuns(t.Context(), store.RunFilter{DagID: "slow"})
	if err != nil || len(runs) != 1 {
		t.Fatalf("runs: %+v %v", runs, err)
	}
	if runs[0].State != store.RunFailed {
		t.Errorf("interrupted test run is %s, want failed\n%s", runs[0].State, out.String())
	}
	tis, err := st.ListTaskInstances(t.Context(), "slow", runs[0].RunID)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]store.TaskState{"a": store.StateFailed, "b": store.StateSkipped}
	for _, ti := range tis {
		if ti.State != want[ti.TaskID] {
			t.Errorf("%s is %s, want %s", ti.TaskID, ti.State, want[ti.TaskID])
		}
	}
	if !strings.Contains(out.String(), "Interrupted: test run") {
		t.Errorf("dags test did not say it failed the run:\n%s", out.String())
	}
}

package main

// Tests of the quickstart scripts (scripts/run.sh, scripts/spark.sh) as a
// user runs them: a clash on a port is reported before anything starts.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
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

// busyPort holds a loopback port for the test and returns its number.
func busyPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}

// freePort returns a port that was free a moment ago.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}

// runScript runs a script of the repository with env added, bounded by
// limit (far above what the checked behaviour takes, so it only catches a
// hang), and returns its stderr and exit code.
func runScript(t *testing.T, limit time.Duration, env []string, script string, args ...string) (string, int) {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", append([]string{filepath.Join(root, script)}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	err = cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("%s did not finish within %s:\n%s", script, limit, stderr.String())
	}
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return stderr.String(), code
}

func TestRunScriptNamesBusyPortsBeforeStarting(t *testing.T) {
	holder := "(pid " + strconv.Itoa(os.Getpid()) + ")"
	t.Run("api", func(t *testing.T) {
		api := busyPort(t)
		out, code := runScript(t, time.Minute,
			[]string{"SIROCCO_HOME=" + t.TempDir(), "SIROCCO_NO_SPARK=1"},
			"scripts/run.sh", "--listen", "127.0.0.1:"+api)
		if code == 0 {
			t.Fatalf("run.sh succeeded on a busy API port:\n%s", out)
		}
		want := "port " + api + " (Sirocco API) is already in use by "
		if !strings.Contains(out, want) || !strings.Contains(out, holder) || !strings.Contains(out, "--listen") {
			t.Fatalf("run.sh output does not name port, holder %s and --listen:\n%s", holder, out)
		}
	})
	t.Run("spark", func(t *testing.T) {
		if _, err := exec.LookPath("java"); err != nil {
			testenv.RequireCI(t, "java", err)
		}
		master, rest := busyPort(t), busyPort(t)
		out, code := runScript(t, time.Minute, []string{
			"SIROCCO_HOME=" + t.TempDir(), "SPARK_MASTER_PORT=" + master, "SPARK_REST_PORT=" + rest,
			"SPARK_MASTER_UI_PORT=" + freePort(t), "SPARK_WORKER_UI_PORT=" + freePort(t),
		}, "scripts/run.sh", "--listen", "127.0.0.1:"+freePort(t))
		if code == 0 {
			t.Fatalf("run.sh succeeded on busy Spark ports:\n%s", out)
		}
		for _, want := range []string{
			"port " + master + " (Spark master) is already in use", "SPARK_MASTER_PORT",
			"port " + rest + " (Spark REST submissions) is already in use", "SPARK_REST_PORT",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("run.sh output lacks %q:\n%s", want, out)
			}
		}
		if strings.Contains(out, "installing") || strings.Contains(out, "creating ") {
			t.Errorf("run.sh installed something before refusing:\n%s", out)
		}
	})
	t.Run("edge", func(t *testing.T) {
		if _, err := exec.LookPath("java"); err != nil {
			testenv.RequireCI(t, "java", err)
		}
		if _, err := os.Stat("/usr/sbin/sshd"); err != nil {
			testenv.RequireCI(t, "OpenSSH sshd", err)
		}
		edge := busyPort(t)
		out, code := runScript(t, time.Minute, []string{
			"SIROCCO_HOME=" + t.TempDir(), "SPARK_MASTER_PORT=" + freePort(t), "SPARK_REST_PORT=" + freePort(t),
			"SPARK_MASTER_UI_PORT=" + freePort(t), "SPARK_WORKER_UI_PORT=" + freePort(t), "EDGE_SSH_PORT=" + edge,
		}, "scripts/run.sh", "--listen", "127.0.0.1:"+freePort(t))
		if code == 0 || !strings.Contains(out, "port "+edge+" (edge node sshd) is already in use") || !strings.Contains(out, "EDGE_SSH_PORT") {
			t.Fatalf("run.sh must refuse a busy edge node port, naming it and EDGE_SSH_PORT (exit %d):\n%s", code, out)
		}
		if strings.Contains(out, "edge node: sshd on") || strings.Contains(out, "creating ") {
			t.Errorf("run.sh started or installed something before refusing:\n%s", out)
		}
	})
}

// A daemon that dies at start is reported at once, with the line that says
// why, rather than after spark.sh's two-minute readiness wait.
func TestSparkScriptReportsAFailedStartAtOnce(t *testing.T) {
	venv, err := testenv.PySparkVenv()
	testenv.RequireCI(t, "PySpark", err)
	master := busyPort(t)
	out, code := runScript(t, 90*time.Second, []string{
		"SIROCCO_HOME=" + t.TempDir(), "SIROCCO_PYSPARK_VENV=" + venv, "SPARK_SKIP_PORT_CHECK=1",
		"SPARK_MASTER_PORT=" + master, "SPARK_REST_PORT=" + freePort(t),
		"SPARK_MASTER_UI_PORT=" + freePort(t), "SPARK_WORKER_UI_PORT=" + freePort(t),
	}, "scripts/spark.sh", "start")
	if code == 0 {
		t.Fatalf("spark.sh start succeeded on a busy master port:\n%s", out)
	}
	if !strings.Contains(out, "the master exited") || !strings.Contains(out, "BindException") {
		t.Fatalf("spark.sh did not say the master exited and why:\n%s", out)
	}
}

// The quickstart command as the README gives it, on non-default ports: it
// starts Spark, the edge node (when sshd is installed) and Sirocco, a second
// terminal sees the connections and DAGs it set up and runs the seed's
// Example 3 (spark-submit on the edge node over SSH) to success, and Ctrl-C
// (SIGINT to the foreground group) stops Sirocco but leaves the Spark
// cluster and the edge node to the next start.
func TestRunScriptQuickstart(t *testing.T) {
	venv, err := testenv.PySparkVenv()
	testenv.RequireCI(t, "PySpark", err)
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	home := t.TempDir()
	api, master := freePort(t), freePort(t)
	_, err = os.Stat("/usr/sbin/sshd")
	withEdge := err == nil
	if !withEdge {
		testenv.RequireCI(t, "OpenSSH sshd", err)
	}
	env := []string{"SIROCCO_HOME=" + home, "SIROCCO_PYSPARK_VENV=" + venv,
		"SPARK_MASTER_PORT=" + master, "SPARK_REST_PORT=" + freePort(t),
		"SPARK_MASTER_UI_PORT=" + freePort(t), "SPARK_WORKER_UI_PORT=" + freePort(t), "EDGE_SSH_PORT=" + freePort(t)}
	cmd := exec.Command("bash", filepath.Join(root, "scripts/run.sh"), "--listen", "127.0.0.1:"+api)
	cmd.Env = append(os.Environ(), env...)
	t.Cleanup(func() { // the cluster and the edge node outlive run.sh by design; the test stops them
		for _, script := range []string{"scripts/spark.sh", "scripts/edge.sh"} {
			stop := exec.Command("bash", filepath.Join(root, script), "stop")
			stop.Env = cmd.Env
			_ = stop.Run()
		}
	})
	var out testenv.SyncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	stopped := false
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("run.sh's output:\n%s", out.String())
		}
		if !stopped {
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGINT)
			<-done
		}
	})
	testenv.Eventually(t, "run.sh's standalone to answer /health", 5*time.Minute, func() (bool, string) {
		select {
		case err := <-done:
			stopped = true
			t.Fatalf("run.sh exited early: %v\n%s", err, out.String())
		default:
		}
		return healthy("127.0.0.1:" + api) // run.sh's output is logged on failure
	})

	second := exec.Command(binary, "connections", "list", "-o", "json")
	second.Dir = t.TempDir() // another terminal, somewhere else
	second.Env = append(os.Environ(), "SIROCCO_HOME="+home)
	list, err := second.CombinedOutput()
	if err != nil {
		t.Fatalf("connections list from a second terminal: %v\n%s", err, list)
	}
	if !strings.Contains(string(list), "spark_cluster") || !strings.Contains(string(list), "spark_local") ||
		!strings.Contains(string(list), master) {
		t.Fatalf("a second terminal does not see run.sh's connections:\n%s", list)
	}

	second = exec.Command(binary, "dags", "list")
	second.Dir = t.TempDir()
	second.Env = append(os.Environ(), "SIROCCO_HOME="+home)
	if list, err = second.CombinedOutput(); err != nil {
		t.Fatalf("dags list from a second terminal: %v\n%s", err, list)
	}
	if !strings.Contains(string(list), "seed_pyspark") || !strings.Contains(string(list), "hello_sirocco") ||
		!strings.Contains(string(list), "remote_pyspark_ssh") {
		t.Fatalf("dags list from another directory does not list the examples run.sh serves:\n%s", list)
	}
	if withEdge {
		runExample3(t, home)
	}

	if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	<-done
	stopped = true
	// Ctrl-C stops Sirocco; the Spark cluster keeps running, so that a
	// cluster-mode driver is adopted at the next start, and the next
	// run.sh's port check takes it for this home's own cluster.
	if !strings.Contains(out.String(), "the Spark cluster keeps running") {
		t.Errorf("run.sh did not say the Spark cluster keeps running:\n%s", out.String())
	}
	if _, code := runScript(t, time.Minute, env, "scripts/spark.sh", "ports"); code != 0 {
		t.Errorf("spark.sh ports refuses the ports of this home's own running cluster")
	}
	if msg, code := runScript(t, 2*time.Minute, env, "scripts/spark.sh", "stop"); code != 0 {
		t.Fatalf("spark.sh stop: %s", msg)
	}
	for _, name := range []string{"master", "worker"} {
		if _, err := os.Stat(filepath.Join(home, "spark", name+".pid")); !os.IsNotExist(err) {
			t.Errorf("spark.sh stop left the %s's pid file (%v)", name, err)
		}
	}
	if ln, err := net.Listen("tcp", "127.0.0.1:"+master); err != nil {
		t.Errorf("the Spark master port is still held after spark.sh stop: %v", err)
	} else {
		ln.Close()
	}
}

// runExample3 triggers the seed's Example 3 as the README says, from a
// second terminal, and checks that spark-submit ran on the edge node (the
// ssh connection run.sh stored, host key pinned) and showed the DataFrame.
func runExample3(t *testing.T, home string) {
	t.Helper()
	sirocco := func(args ...string) (string, error) {
		c := exec.Command(binary, args...)
		c.Dir = t.TempDir()
		c.Env = append(os.Environ(), "SIROCCO_HOME="+home)
		out, err := c.CombinedOutput()
		return string(out), err
	}
	conns, err := sirocco("connections", "get", "edge_node", "-o", "json")
	if err != nil || !strings.Contains(conns, "known_hosts") || strings.Contains(conns, "insecure") {
		t.Fatalf("run.sh did not store the edge_node connection with a pinned host key: %v\n%s", err, conns)
	}
	if out, err := sirocco("dags", "trigger", "remote_pyspark_ssh", "--run-id", "ex3", "--wait"); err != nil {
		log, _ := sirocco("tasks", "logs", "remote_pyspark_ssh", "ex3", "remote_pyspark")
		t.Fatalf("Example 3 failed: %v\n%s\n%s", err, out, log)
	}
	log, err := sirocco("tasks", "logs", "remote_pyspark_ssh", "ex3", "remote_pyspark")
	if err != nil || !strings.Contains(log, "(ssh connection edge_node, remote job ") || !strings.Contains(log, "|  Alice| 30|") {
		t.Errorf("Example 3's log should show spark-submit on the edge node and the DataFrame: %v\n%s", err, log)
	}
}

// TestRunScriptPassesSignalsOn: `kill -TERM <run.sh pid>`, the signal to
// run.sh alone as a service manager or a script sends it, stops the
// standalone run.sh started (it logs `sirocco stopped`), and run.sh exits
// when it has, with its status: nothing of run.sh's process group is left
// running. Ctrl-C (SIGINT to the whole group, Sirocco getting it twice)
// does the same.
func TestRunScriptPassesSignalsOn(t *testing.T) {
	for _, tc := range []struct {
		name string
		send func(pid int) error
	}{
		{"SIGTERM to run.sh", func(pid int) error { return syscall.Kill(pid, syscall.SIGTERM) }},
		{"Ctrl-C", func(pid int) error { return syscall.Kill(-pid, syscall.SIGINT) }},
	} {
		t.Run(tc.name, func(t *testing.T) { testRunScriptSignal(t, tc.send) })
	}
}

func testRunScriptSignal(t *testing.T, send func(pid int) error) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	api := freePort(t)
	cmd := exec.Command("bash", filepath.Join(root, "scripts/run.sh"), "--listen", "127.0.0.1:"+api)
	cmd.Env = append(os.Environ(), "SIROCCO_HOME="+t.TempDir(), "SIROCCO_NO_SPARK=1")
	var out testenv.SyncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // its own group, for the check and the cleanup
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pgid := cmd.Process.Pid
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = syscall.Kill(-pgid, syscall.SIGKILL) // whatever is left, if the test failed
		if t.Failed() {
			t.Logf("run.sh's output:\n%s", out.String())
		}
	})
	testenv.Eventually(t, "run.sh's standalone to answer /health", 5*time.Minute, func() (bool, string) {
		select {
		case err := <-done:
			done <- err
			t.Fatalf("run.sh exited early: %v", err)
		default:
		}
		return healthy("127.0.0.1:" + api)
	})

	if err := send(pgid); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("run.sh after the signal: %v, want exit 0 (the standalone's clean stop)", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("run.sh did not exit within a minute of the signal")
	}
	if err := syscall.Kill(-pgid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("run.sh's process group still has processes after run.sh exited (%v): the standalone was left running", err)
	}
	if !strings.Contains(out.String(), "sirocco stopped") {
		t.Errorf("the standalone did not log a clean stop:\n%s", out.String())
	}
}

// TestRunScriptWithoutSpark: SIROCCO_NO_SPARK=1 scripts/run.sh on a new
// home says that Spark is skipped and which example DAGs need it, and
// pauses the scheduled one (seed_pyspark, @daily) before the standalone
// starts, so that no run of it starts only to fail on the missing
// connection spark_local; the unscheduled ones stay as they are.
func TestRunScriptWithoutSpark(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	home, api := t.TempDir(), freePort(t)
	cmd := exec.Command("bash", filepath.Join(root, "scripts/run.sh"), "--listen", "127.0.0.1:"+api)
	cmd.Env = append(os.Environ(), "SIROCCO_HOME="+home, "SIROCCO_NO_SPARK=1")
	var out testenv.SyncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pgid := cmd.Process.Pid
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = syscall.Kill(-pgid, syscall.SIGINT)
		select {
		case <-done:
		case <-time.After(time.Minute):
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
			<-done
		}
		if t.Failed() {
			t.Logf("run.sh's output:\n%s", out.String())
		}
	})
	testenv.Eventually(t, "run.sh's standalone to answer /health", 5*time.Minute, func() (bool, string) {
		select {
		case err := <-done:
			done <- err
			t.Fatalf("run.sh exited early: %v", err)
		default:
		}
		return healthy("127.0.0.1:" + api)
	})
	for _, want := range []string{
		"run.sh: Spark skipped; these DAGs need it (connections spark_local, spark_cluster) and fail without it:",
		"seed_pyspark", "spark_wordcount", "spark_failure",
		"run.sh: paused the scheduled ones, so that no run starts only to fail: seed_pyspark (",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("run.sh's output lacks %q", want)
		}
	}
	cli := func(args ...string) string {
		t.Helper()
		c := exec.Command(filepath.Join(root, "bin", "sirocco"), args...)
		c.Env = append(os.Environ(), "SIROCCO_HOME="+home)
		b, err := c.CombinedOutput()
		if err != nil {
			t.Fatalf("sirocco %s: %v\n%s", strings.Join(args, " "), err, b)
		}
		return string(b)
	}
	var dags []struct {
		DagID  string `json:"dag_id"`
		Paused bool   `json:"paused"`
	}
	if err := json.Unmarshal([]byte(cli("dags", "list", "-o", "json")), &dags); err != nil {
		t.Fatal(err)
	}
	paused := map[string]bool{}
	for _, d := range dags {
		paused[d.DagID] = d.Paused
	}
	if !paused["seed_pyspark"] {
		t.Errorf("seed_pyspark is not paused: %+v", dags)
	}
	if paused["spark_wordcount"] {
		t.Errorf("spark_wordcount (no schedule) was paused")
	}
	if runs := cli("dags", "list-runs", "seed_pyspark", "-o", "json"); strings.Contains(runs, "run_id") {
		t.Errorf("seed_pyspark has a run:\n%s", runs)
	}
}

package testenv

import (
	"bufio"
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Spark's test bed: one standalone master (REST submission server on) and
// one worker per test binary, from the PySpark virtualenv that
// scripts/spark.sh install creates.

const (
	// sparkStartTimeout bounds the start of the master and the worker
	// until the worker is ALIVE; JVMs start slowly on a loaded machine.
	sparkStartTimeout = 120 * time.Second
	// sparkStopTimeout is how long the JVMs get to shut down on SIGTERM
	// before their process groups are killed.
	sparkStopTimeout = 20 * time.Second

	// sparkWorkerCores and sparkWorkerMemory are the worker's resources:
	// cores are scheduling slots, not CPUs, so two applications (a driver
	// and an executor each) fit at once on a 2-CPU machine; the memory
	// holds them at 512 MiB per JVM (the defaults the cluster sets).
	sparkWorkerCores  = 4
	sparkWorkerMemory = "2g"

	// SparkSleepClass is the test jar's application that runs one Spark
	// job whose task sleeps for its first argument's seconds (default
	// 60): a driver that stays RUNNING until killed.
	SparkSleepClass = "sirocco.test.Sleep"
	// SparkEchoClass is the test jar's application that prints its
	// arguments, one a line, and exits 1 if one of them is "fail". It
	// starts no SparkContext, so it is the quickest JVM driver.
	SparkEchoClass = "sirocco.test.Echo"

	sparkDirPrefix = "sirocco-spark-"
	sparkJarPrefix = "sirocco-sparkjar-"
)

// sparkDefaults is the cluster's spark-defaults.conf. spark-submit reads it
// (through SparkCluster.Env's SPARK_CONF_DIR, and inside PySpark drivers,
// which inherit the worker's environment), so applications that set no
// memory get JVMs small enough for the 2 GiB worker. Drivers submitted
// through REST are sized by their request's spark.driver.memory (1g if
// unset), which no file can change.
const sparkDefaults = `spark.driver.memory           512m
spark.executor.memory         512m
spark.ui.showConsoleProgress  false
`

// SparkCluster is this test binary's Spark standalone cluster, all on
// 127.0.0.1: one master with its REST submission server, one worker.
type SparkCluster struct {
	SparkHome string // the pyspark package directory: bin/spark-submit, jars/
	Python    string // the virtualenv's python, which imports pyspark
	Version   string // the PySpark (and Spark) version
	MasterURL string // spark://127.0.0.1:port, for --master and spark.master
	RESTURL   string // http://127.0.0.1:port, the REST submission server
	// RESTMaster is the REST server as spark-submit names it:
	// spark-submit --master RESTMaster --deploy-mode cluster --conf
	// spark.master.rest.enabled=true submits through REST and returns
	// at once, where the RPC client (MasterURL) polls every 5 to 10s.
	RESTMaster string
	MasterUI   string // http://127.0.0.1:port, the master web UI (/json/)
	WorkerUI   string // http://127.0.0.1:port, the worker web UI (/log/)
	WorkDir    string // the worker's work directory: one subdirectory per driver
	ConfDir    string // SPARK_CONF_DIR, with spark-defaults.conf
	LogDir     string // the master's and worker's output (master.log, worker.log)

	dir            string
	master, worker *sparkProc
}

// Env returns the environment entries (KEY=value) to add to os.Environ()
// for running spark-submit or a Python job against the cluster: its
// SPARK_HOME and SPARK_CONF_DIR, the loopback address, the virtualenv's
// python for PySpark, and PATH with Spark's bin first.
func (c *SparkCluster) Env() []string {
	return []string{
		"SPARK_HOME=" + c.SparkHome,
		"SPARK_CONF_DIR=" + c.ConfDir,
		"SPARK_LOCAL_IP=127.0.0.1",
		"SPARK_PUBLIC_DNS=127.0.0.1",
		"PYSPARK_PYTHON=" + c.Python,
		"PYSPARK_DRIVER_PYTHON=" + c.Python,
		"PATH=" + filepath.Join(c.SparkHome, "bin") + string(os.PathListSeparator) +
			filepath.Dir(c.Python) + string(os.PathListSeparator) + os.Getenv("PATH"),
	}
}

var (
	sparkOnce    sync.Once
	sparkCluster *SparkCluster
	sparkErr     error
)

// Spark returns this test binary's Spark standalone cluster, starting it
// on first use: a master (RPC, REST and web UI on free loopback ports) and
// one worker with 4 cores and 2 GiB, ALIVE before Spark returns. Tests
// share it and may submit concurrently; each driver gets its own directory
// under WorkDir. RunMain stops it. Without PySpark (scripts/spark.sh
// install) or Java, t is skipped, or failed under CI=true (RequireCI).
//
// PySpark comes from the virtualenv named by SIROCCO_PYSPARK_VENV, or else
// ~/.cache/sirocco/pyspark-<version>, the version pinned in
// requirements-spark.txt.
func Spark(t testing.TB) *SparkCluster {
	t.Helper()
	requireMain(t)
	sparkOnce.Do(func() {
		sparkCluster, sparkErr = startSpark()
		if sparkCluster != nil {
			atExit(sparkCluster.stop)
		}
	})
	if errors.Is(sparkErr, ErrNotInstalled) {
		RequireCI(t, "Spark", sparkErr)
	}
	if sparkErr != nil {
		t.Fatalf("testenv: start Spark: %v", sparkErr)
	}
	return sparkCluster
}

// PySparkVenv returns the PySpark virtualenv scripts/spark.sh installs (with
// Java present), for tests that drive the scripts themselves.
func PySparkVenv() (string, error) {
	in, err := findPySpark()
	return in.venv, err
}

// sparkInstall is a PySpark virtualenv.
type sparkInstall struct {
	venv, python, home, version string
}

// findPySpark locates the PySpark virtualenv and checks Java is present.
func findPySpark() (sparkInstall, error) {
	version, err := pysparkVersion()
	if err != nil {
		return sparkInstall{}, err
	}
	venv := os.Getenv("SIROCCO_PYSPARK_VENV")
	if venv == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return sparkInstall{}, fmt.Errorf("PySpark: home directory: %w", err)
		}
		venv = filepath.Join(home, ".cache", "sirocco", "pyspark-"+version)
	}
	in := sparkInstall{venv: venv, python: filepath.Join(venv, "bin", "python"), version: version}
	if !isExecutable(in.python) {
		return in, fmt.Errorf("PySpark %s %w: no virtualenv at %s; run `scripts/spark.sh install` "+
			"(or point SIROCCO_PYSPARK_VENV at one)", version, ErrNotInstalled, venv)
	}
	homes, _ := filepath.Glob(filepath.Join(venv, "lib", "python3*", "site-packages", "pyspark"))
	for _, h := range homes {
		if isExecutable(filepath.Join(h, "bin", "spark-class")) {
			in.home = h
			break
		}
	}
	if in.home == "" {
		return in, fmt.Errorf("PySpark %w in %s (no site-packages/pyspark/bin/spark-class); "+
			"run `scripts/spark.sh install`", ErrNotInstalled, venv)
	}
	if _, err := javaTool("java"); err != nil {
		return in, err
	}
	return in, nil
}

// pysparkVersion reads the version pinned in the repository's
// requirements-spark.txt ("pyspark==X").
func pysparkVersion() (string, error) {
	path, err := repoFile("requirements-spark.txt")
	if err != nil {
		return "", err
	}
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("PySpark version: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if v, ok := strings.CutPrefix(line, "pyspark=="); ok {
			return strings.TrimSpace(v), nil
		}
	}
	if err := sc.Err(); err != nil {
		return "", fmt.Errorf("PySpark version: read %s: %w", path, err)
	}
	return "", fmt.Errorf("PySpark version: no pyspark==X line in %s", path)
}

// repoFile finds name at the repository root, searching up from this
// source file (known at build time) and then from the working directory.
func repoFile(name string) (string, error) {
	var starts []string
	if _, self, _, ok := runtime.Caller(0); ok {
		starts = append(starts, filepath.Dir(self))
	}
	if wd, err := os.Getwd(); err == nil {
		starts = append(starts, wd)
	}
	for _, dir := range starts {
		for {
			p := filepath.Join(dir, name)
			if _, err := os.Stat(p); err == nil {
				return p, nil
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				break
			}
			dir = parent
		}
	}
	return "", fmt.Errorf("no %s in the parents of %v", name, starts)
}

// javaTool finds a JDK program: $JAVA_HOME/bin first, then PATH.
func javaTool(name string) (string, error) {
	if jh := os.Getenv("JAVA_HOME"); jh != "" {
		if p := filepath.Join(jh, "bin", name); isExecutable(p) {
			return p, nil
		}
	}
	p, err := exec.LookPath(name)
	if err != nil {
		return "", fmt.Errorf("java (%s) %w: not in $JAVA_HOME/bin or PATH; "+
			"install a JDK 17 or newer (Debian: openjdk-17-jdk-headless)", name, ErrNotInstalled)
	}
	return p, nil
}

// startSpark creates the cluster's directory and starts master and worker.
func startSpark() (*SparkCluster, error) {
	in, err := findPySpark()
	if err != nil {
		return nil, err
	}
	removeStaleOwnedDirs(sparkDirPrefix)
	dir, err := newOwnedDir(sparkDirPrefix)
	if err != nil {
		return nil, err
	}
	c := &SparkCluster{
		SparkHome: in.home,
		Python:    in.python,
		Version:   in.version,
		WorkDir:   filepath.Join(dir, "work"),
		ConfDir:   filepath.Join(dir, "conf"),
		LogDir:    filepath.Join(dir, "logs"),
		dir:       dir,
	}
	for _, d := range []string{c.WorkDir, c.ConfDir, c.LogDir, filepath.Join(dir, "local"), filepath.Join(dir, "tmp")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("spark dirs: %w", err)
		}
	}
	if err := os.WriteFile(filepath.Join(c.ConfDir, "spark-defaults.conf"), []byte(sparkDefaults), 0o644); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("spark-defaults.conf: %w", err)
	}

	// Spark binds the ports it is given (spark.port.maxRetries=0 keeps it
	// from sliding to the next one silently), and another process may take
	// a free port between the probe and the bind: try a few times.
	for attempt := 0; ; attempt++ {
		err = c.start()
		if err == nil {
			return c, nil
		}
		c.kill()
		if attempt == 2 || !errors.Is(err, errSparkBind) {
			os.RemoveAll(dir)
			return nil, err
		}
	}
}

// bindFailed reports whether a Spark daemon's log says a port was taken.
// It reads the whole log: the exception's first line is followed by a
// Netty stack trace longer than the tail an error message shows, so a
// check of the tail alone missed it and a port race failed the test bed
// instead of retrying it on new ports.
func bindFailed(logPath string) bool {
	b, err := os.ReadFile(logPath)
	if err != nil {
		return false
	}
	for _, marker := range []string{"BindException", "could not bind", "Address already in use"} {
		if bytes.Contains(b, []byte(marker)) {
			return true
		}
	}
	return false
}

// errSparkBind marks a start that failed because a port was taken.
var errSparkBind = errors.New("port in use")

// baseEnv is the environment of the Spark JVMs: this process's, without
// any Spark setting of the developer's, plus the cluster's.
func (c *SparkCluster) baseEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "SPARK_") || strings.HasPrefix(k, "PYSPARK_") || k == "MASTER" || k == "TMPDIR" {
			continue
		}
		env = append(env, kv)
	}
	return append(env,
		"SPARK_HOME="+c.SparkHome,
		"SPARK_CONF_DIR="+c.ConfDir,
		"SPARK_LOG_DIR="+c.LogDir,
		"SPARK_LOCAL_DIRS="+filepath.Join(c.dir, "local"),
		"SPARK_LOCAL_IP=127.0.0.1",
		"SPARK_PUBLIC_DNS=127.0.0.1",
		"SPARK_DAEMON_MEMORY=512m",
		"PYSPARK_PYTHON="+c.Python,
		"TMPDIR="+filepath.Join(c.dir, "tmp"), // Python's temporary files
	)
}

// start launches the master on fresh ports, waits for its REST server,
// then launches the worker and waits until the master lists it ALIVE.
func (c *SparkCluster) start() error {
	var ports [4]int
	for i := range ports {
		p, err := freePort()
		if err != nil {
			return err
		}
		ports[i] = p
	}
	masterPort, restPort, masterUIPort, workerUIPort := ports[0], ports[1], ports[2], ports[3]
	c.MasterURL = fmt.Sprintf("spark://127.0.0.1:%d", masterPort)
	c.RESTURL = fmt.Sprintf("http://127.0.0.1:%d", restPort)
	c.RESTMaster = fmt.Sprintf("spark://127.0.0.1:%d", restPort)
	c.MasterUI = fmt.Sprintf("http://127.0.0.1:%d", masterUIPort)
	c.WorkerUI = fmt.Sprintf("http://127.0.0.1:%d", workerUIPort)
	sparkClass := filepath.Join(c.SparkHome, "bin", "spark-class")
	deadline := time.Now().Add(sparkStartTimeout)

	masterEnv := append(c.baseEnv(), "SPARK_MASTER_OPTS="+strings.Join([]string{
		"-Dspark.master.rest.enabled=true",
		"-Dspark.master.rest.host=127.0.0.1",
		"-Dspark.master.rest.port=" + strconv.Itoa(restPort),
		"-Dspark.port.maxRetries=0",
		// Applications that set no spark.cores.max take one core, not
		// the whole worker, so two can run at once.
		"-Dspark.deploy.defaultCores=1",
	}, " "))
	var err error
	c.master, err = startSparkProc("master", c.dir, filepath.Join(c.LogDir, "master.log"), masterEnv,
		sparkClass, "org.apache.spark.deploy.master.Master",
		"--host", "127.0.0.1", "--port", strconv.Itoa(masterPort), "--webui-port", strconv.Itoa(masterUIPort))
	if err != nil {
		return err
	}
	// The worker registers as soon as the master's RPC port answers; a
	// worker that finds no master retries only after several seconds.
	if err := c.waitFor(deadline, func(ctx context.Context) (bool, error) {
		var d net.Dialer
		conn, err := d.DialContext(ctx, "tcp", fmt.Sprintf("127.0.0.1:%d", masterPort))
		if err != nil {
			return false, err
		}
		conn.Close()
		return true, nil
	}); err != nil {
		return err
	}

	workerEnv := append(c.baseEnv(), "SPARK_WORKER_OPTS=-Dspark.port.maxRetries=0")
	c.worker, err = startSparkProc("worker", c.dir, filepath.Join(c.LogDir, "worker.log"), workerEnv,
		sparkClass, "org.apache.spark.deploy.worker.Worker", c.MasterURL,
		"--host", "127.0.0.1", "--webui-port", strconv.Itoa(workerUIPort),
		"--cores", strconv.Itoa(sparkWorkerCores), "--memory", sparkWorkerMemory,
		"--work-dir", c.WorkDir)
	if err != nil {
		return err
	}
	if err := c.waitFor(deadline, c.masterReady); err != nil {
		return err
	}
	return c.waitFor(deadline, c.workerAlive)
}

// waitFor polls ready until it reports true, a JVM exits, or the deadline
// passes.
func (c *SparkCluster) waitFor(deadline time.Time, ready func(context.Context) (bool, error)) error {
	var lastErr error
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for ; ; <-tick.C {
		for _, p := range []*sparkProc{c.master, c.worker} {
			if p != nil && p.exited() {
				err := fmt.Errorf("spark %s exited during startup: %s", p.name, tail(p.log))
				if bindFailed(p.log) {
					err = fmt.Errorf("%w: %w", errSparkBind, err)
				}
				return err
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		ok, err := ready(ctx)
		cancel()
		if ok {
			return nil
		}
		lastErr = err
		if time.Now().After(deadline) {
			return fmt.Errorf("spark not ready after %s (last: %w); master log: %s; worker log: %s",
				sparkStartTimeout, lastErr, tail(filepath.Join(c.LogDir, "master.log")),
				tail(filepath.Join(c.LogDir, "worker.log")))
		}
	}
}

// masterReady: the web UI answers and the REST server says it is ready.
func (c *SparkCluster) masterReady(ctx context.Context) (bool, error) {
	var st struct {
		Status string `json:"status"`
	}
	if err := getJSON(ctx, c.MasterUI+"/json/", &st); err != nil {
		return false, err
	}
	if st.Status != "ALIVE" {
		return false, fmt.Errorf("master status %s", st.Status)
	}
	var rz struct {
		Success bool `json:"success"`
	}
	if err := getJSON(ctx, c.RESTURL+"/v1/submissions/readyz", &rz); err != nil {
		return false, err
	}
	if !rz.Success {
		return false, errors.New("REST server not ready")
	}
	return true, nil
}

// workerAlive: the master lists our worker (known by its web UI address)
// as ALIVE, and the worker's web UI answers.
func (c *SparkCluster) workerAlive(ctx context.Context) (bool, error) {
	var st struct {
		Workers []struct {
			WebUIAddress string `json:"webuiaddress"`
			State        string `json:"state"`
		} `json:"workers"`
	}
	if err := getJSON(ctx, c.MasterUI+"/json/", &st); err != nil {
		return false, err
	}
	alive := false
	for _, w := range st.Workers {
		alive = alive || (w.WebUIAddress == c.WorkerUI && w.State == "ALIVE")
	}
	if !alive {
		return false, errors.New("worker not registered yet")
	}
	var ws struct {
		ID string `json:"id"`
	}
	if err := getJSON(ctx, c.WorkerUI+"/json/", &ws); err != nil {
		return false, err
	}
	if ws.ID == "" {
		return false, errors.New("worker web UI without an id")
	}
	return true, nil
}

// getJSON fetches url and decodes its JSON body into out.
func getJSON(ctx context.Context, url string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("read %s: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: HTTP %d", url, resp.StatusCode)
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("GET %s: %w", url, err)
	}
	return nil
}

// stop shuts the worker, then the master, down and removes the directory.
func (c *SparkCluster) stop() error {
	err := errors.Join(c.worker.stop(), c.master.stop())
	return errors.Join(err, os.RemoveAll(c.dir))
}

// kill ends whatever JVMs a failed start left.
func (c *SparkCluster) kill() {
	for _, p := range []*sparkProc{c.worker, c.master} {
		if p != nil {
			p.killGroup()
		}
	}
	c.master, c.worker = nil, nil
}

// sparkProc is one Spark JVM (master or worker), leader of its own process
// group: the worker's drivers and executors, and their Python processes,
// are in that group too, so signalling the group reaches them all.
type sparkProc struct {
	name string
	log  string
	cmd  *exec.Cmd
	done chan struct{} // closed once the JVM has exited
}

// startSparkProc runs spark-class (which execs the JVM) with its output
// in logPath.
func startSparkProc(name, dir, logPath string, env []string, argv ...string) (*sparkProc, error) {
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, fmt.Errorf("spark %s log: %w", name, err)
	}
	defer logFile.Close()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// If the test binary dies without RunMain's teardown, the kernel
	// sends the JVM SIGTERM, whose shutdown hooks stop the worker's
	// drivers and executors. The signal follows the thread that forked,
	// so that thread stays locked for the JVM's lifetime.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	p := &sparkProc{name: name, log: logPath, cmd: cmd, done: make(chan struct{})}
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with this goroutine
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		_ = cmd.Wait()
		close(p.done)
	}()
	if err := <-started; err != nil {
		return nil, fmt.Errorf("start spark %s: %w", name, err)
	}
	return p, nil
}

func (p *sparkProc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop sends the process group SIGTERM, waits for the JVM, and then kills
// the group, so no driver, executor or Python process outlives the test.
func (p *sparkProc) stop() error {
	if p == nil {
		return nil
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
	var err error
	select {
	case <-p.done:
	case <-time.After(sparkStopTimeout):
		err = fmt.Errorf("spark %s did not stop in %s; killed", p.name, sparkStopTimeout)
	}
	p.killGroup()
	return err
}

// killGroup SIGKILLs the whole process group and waits for the JVM.
func (p *sparkProc) killGroup() {
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	<-p.done
}

// newOwnedDir creates a temporary directory recording this process as its
// owner, so a later run removes it if this one dies without teardown.
func newOwnedDir(prefix string) (string, error) {
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		return "", fmt.Errorf("temp dir: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, ownerFile), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		os.RemoveAll(dir)
		return "", fmt.Errorf("temp dir: %w", err)
	}
	return dir, nil
}

// removeStaleOwnedDirs deletes the prefix directories of test binaries
// that died without RunMain's teardown.
func removeStaleOwnedDirs(prefix string) {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), prefix+"*"))
	for _, d := range dirs {
		b, err := os.ReadFile(filepath.Join(d, ownerFile))
		if err != nil {
			continue // being set up, or not ours
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || pid <= 0 {
			continue
		}
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			os.RemoveAll(d)
		}
	}
}

//go:embed testdata/sparkapp/*.java
var sparkAppSources embed.FS

var (
	sparkJarOnce sync.Once
	sparkJarPath string
	sparkJarErr  error
)

// SparkTestJar returns the path of a jar holding SparkSleepClass and
// SparkEchoClass, compiled from testdata/sparkapp against the PySpark
// virtualenv's Spark jars, once per test binary (RunMain removes it). Tests
// use it for what standalone cluster mode runs only from a jar: spark-submit
// --deploy-mode cluster rejects Python applications. Without PySpark or a
// JDK (javac, jar), t is skipped, or failed under CI=true.
func SparkTestJar(t testing.TB) string {
	t.Helper()
	requireMain(t)
	sparkJarOnce.Do(func() {
		var dir string
		dir, sparkJarPath, sparkJarErr = buildSparkTestJar()
		if dir != "" {
			atExit(func() error { return os.RemoveAll(dir) })
		}
	})
	if errors.Is(sparkJarErr, ErrNotInstalled) {
		RequireCI(t, "Spark test jar", sparkJarErr)
	}
	if sparkJarErr != nil {
		t.Fatalf("testenv: build the Spark test jar: %v", sparkJarErr)
	}
	return sparkJarPath
}

// buildSparkTestJar compiles the test applications into dir/sirocco-test.jar.
func buildSparkTestJar() (dir, jarPath string, err error) {
	in, err := findPySpark()
	if err != nil {
		return "", "", err
	}
	javac, err := javaTool("javac")
	if err != nil {
		return "", "", err
	}
	jarTool, err := javaTool("jar")
	if err != nil {
		return "", "", err
	}
	removeStaleOwnedDirs(sparkJarPrefix)
	dir, err = newOwnedDir(sparkJarPrefix)
	if err != nil {
		return "", "", err
	}
	src, classes := filepath.Join(dir, "src"), filepath.Join(dir, "classes")
	entries, err := sparkAppSources.ReadDir("testdata/sparkapp")
	if err != nil {
		return dir, "", fmt.Errorf("embedded sources: %w", err)
	}
	args := []string{"--release", "17", "-nowarn", "-cp", filepath.Join(in.home, "jars", "*"), "-d", classes}
	if err := os.MkdirAll(src, 0o755); err != nil {
		return dir, "", fmt.Errorf("sources: %w", err)
	}
	for _, e := range entries {
		b, err := sparkAppSources.ReadFile("testdata/sparkapp/" + e.Name())
		if err != nil {
			return dir, "", fmt.Errorf("embedded %s: %w", e.Name(), err)
		}
		p := filepath.Join(src, e.Name())
		if err := os.WriteFile(p, b, 0o644); err != nil {
			return dir, "", fmt.Errorf("sources: %w", err)
		}
		args = append(args, p)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(ctx, javac, args...).CombinedOutput(); err != nil {
		return dir, "", fmt.Errorf("javac: %w\n%s", err, out)
	}
	jarPath = filepath.Join(dir, "sirocco-test.jar")
	if out, err := exec.CommandContext(ctx, jarTool, "cf", jarPath, "-C", classes, ".").CombinedOutput(); err != nil {
		return dir, "", fmt.Errorf("jar: %w\n%s", err, out)
	}
	return dir, jarPath, nil
}

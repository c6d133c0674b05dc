package bench

import (
	"fmt"
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

// buildSirocco builds the binary from ../cmd/sirocco into a temporary folder.
func buildSirocco(b *testing.B) string {
	b.Helper()
	bin := filepath.Join(b.TempDir(), "sirocco")
	cmd := exec.Command("go", "build", "-o", bin, "../cmd/sirocco")
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

type standaloneRun struct {
	ready   time.Duration // process start -> first 200 from /health
	idleRSS int64         // VmRSS in kB once idle
	peakRSS int64         // VmHWM in kB at the same moment
}

// runStandalone starts `sirocco standalone` on a fresh home with a copy of
// the examples (DAGs and the jobs they call), waits for /health, waits for
// the process to be idle (the example's first hourly run done, no child
// process, no CPU used for 2s), reads its memory and stops it with SIGTERM.
func runStandalone(b *testing.B, bin string) standaloneRun {
	b.Helper()
	home := workDir(b)
	examples := filepath.Join(home, "examples")
	if err := os.CopyFS(examples, os.DirFS("../examples")); err != nil {
		b.Fatal(err)
	}
	addr := freeAddr(b)
	var out testenv.SyncBuffer
	cmd := exec.Command(bin, "standalone", "--dags", filepath.Join(examples, "dags"), "--listen", addr)
	cmd.Env = append(os.Environ(), "SIROCCO_HOME="+home)
	cmd.Stdout, cmd.Stderr = &out, &out

	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stopped := false
	defer func() {
		if !stopped {
			_ = cmd.Process.Kill()
			<-exited
		}
	}()

	var res standaloneRun
	for {
		resp, err := client.Get("http://" + addr + "/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				res.ready = time.Since(start)
				break
			}
		}
		select {
		case err := <-exited:
			stopped = true
			b.Fatalf("sirocco exited before /health answered: %v\n%s", err, out.String())
		default:
		}
		if time.Since(start) > 30*time.Second {
			b.Fatalf("/health did not answer 200 within 30s\n%s", out.String())
		}
		time.Sleep(time.Millisecond)
	}

	// The example hello_sirocco runs its latest hourly interval at once.
	for !strings.Contains(out.String(), `msg="run finished" dag_id=hello_sirocco`) {
		if time.Since(start) > 30*time.Second {
			b.Fatalf("hello_sirocco's first run did not finish within 30s\n%s", out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if !strings.Contains(out.String(), "state=success") {
		b.Fatalf("hello_sirocco's first run failed\n%s", out.String())
	}
	pid := strconv.Itoa(cmd.Process.Pid)
	if err := waitIdle(pid, 2*time.Second, 30*time.Second); err != nil {
		b.Fatalf("%v\n%s", err, out.String())
	}
	var err error
	if res.idleRSS, err = procStatusKB(pid, "VmRSS"); err != nil {
		b.Fatal(err)
	}
	if res.peakRSS, err = procStatusKB(pid, "VmHWM"); err != nil {
		b.Fatal(err)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		b.Fatal(err)
	}
	select {
	case err := <-exited:
		stopped = true
		if err != nil {
			b.Fatalf("sirocco did not stop cleanly on SIGTERM: %v\n%s", err, out.String())
		}
	case <-time.After(15 * time.Second):
		b.Fatalf("sirocco did not stop within 15s of SIGTERM\n%s", out.String())
	}
	if strings.Contains(out.String(), "level=ERROR") {
		b.Logf("sirocco logged errors:\n%s", out.String())
	}
	return res
}

// waitIdle waits until pid has had no child process and used no CPU time
// (beyond one clock tick) for `quiet`, giving up after limit.
func waitIdle(pid string, quiet, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	lastCPU, err := cpuTicks(pid)
	if err != nil {
		return err
	}
	since := time.Now()
	for time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
		cpu, err := cpuTicks(pid)
		if err != nil {
			return err
		}
		if cpu-lastCPU > 1 || hasChildren(pid) {
			since = time.Now()
		}
		lastCPU = cpu
		if time.Since(since) >= quiet {
			return nil
		}
	}
	return fmt.Errorf("sirocco (pid %s) was not idle for %s within %s", pid, quiet, limit)
}

// freeAddr returns a loopback address with a port free at the time of the
// call.
func freeAddr(b *testing.B) string {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

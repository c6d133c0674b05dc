package bench

import (
	"context"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/connection"
	"github.com/sirocco-dev/sirocco/internal/remotejob"
	"github.com/sirocco-dev/sirocco/internal/sshclient"
	"github.com/sirocco-dev/sirocco/internal/testenv"
)

// sshChainDAG is n ssh tasks running `true` on connection edge, each
// depending on the previous.
func sshChainDAG(id string, n int, base, cleanup string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "dag_id: %s\nschedule: none\ntasks:\n", id)
	for i := range n {
		fmt.Fprintf(&b, "  - {id: t%03d, operator: ssh, ssh_conn_id: edge, remote_base_dir: %q, cleanup: %s, command: \"true\"", i, base, cleanup)
		if i > 0 {
			fmt.Fprintf(&b, ", depends_on: [t%03d]", i-1)
		}
		b.WriteString("}\n")
	}
	return b.String()
}

// sshEdge is a loopback sshd and the connection to it.
type sshEdge struct {
	srv  *testenv.SSHServer
	conn connection.Connection
}

func newSSHEdge(b *testing.B) sshEdge {
	srv := testenv.SSHD(b)
	c := connection.Connection{ID: "edge", Type: "ssh", Host: srv.Host, Port: srv.Port, Login: srv.User,
		Extra: map[string]string{"key_file": srv.KeyFile, "known_hosts": srv.KnownHostsFile, "look_for_keys": "false", "use_agent": "false"}}
	b.Setenv(connection.EnvPrefix+"EDGE", c.URI())
	return sshEdge{srv: srv, conn: c}
}

// openSSHMaster opens OpenSSH's master connection to the edge and returns
// the argv that runs a command over it (ControlMaster=auto,
// ControlPersist), the baseline: the cost of a command on an
// already-open connection.
func (e sshEdge) openSSHMaster(b *testing.B) []string {
	b.Helper()
	sock := filepath.Join(b.TempDir(), "cm")
	argv := []string{"ssh", "-F", "/dev/null", "-i", e.srv.KeyFile, "-p", strconv.Itoa(e.srv.Port),
		"-o", "UserKnownHostsFile=" + e.srv.KnownHostsFile, "-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes",
		"-o", "ControlMaster=auto", "-o", "ControlPath=" + sock, "-o", "ControlPersist=300",
		e.srv.User + "@" + e.srv.Host}
	b.Cleanup(func() {
		_ = exec.Command(argv[0], append(append([]string{}, argv[1:len(argv)-1]...), "-O", "exit", argv[len(argv)-1])...).Run()
	})
	if out, err := exec.Command(argv[0], append(argv[1:], "true")...).CombinedOutput(); err != nil {
		b.Fatalf("open the OpenSSH master: %v\n%s", err, out)
	}
	return argv
}

// sshChain runs `true` n times in sequence over the master.
func sshChain(b *testing.B, argv []string, n int) time.Duration {
	b.Helper()
	start := time.Now()
	for range n {
		if out, err := exec.Command(argv[0], append(argv[1:], "true")...).CombinedOutput(); err != nil {
			b.Fatalf("ssh true: %v\n%s", err, out)
		}
	}
	return time.Since(start)
}

// BenchmarkSSHChain40 runs a chain of 40 ssh tasks running `true` on one
// loopback sshd through the in-process engine (as BenchmarkChain40, on
// SQLite) and compares its wall time with 40 runs of OpenSSH's
// `ssh host true` over one already-open ControlMaster connection,
// interleaved so both see the same load; the same chain with
// cleanup: never shows what the cleanup costs. It also measures the
// detached job's own cost: remotejob StartQuick (+ Follow when needed)
// carrying the previous job's cleanup, over the pool, against a plain
// Pool.Run of `true`, 40 each, and the Flush of the last cleanup apart.
func BenchmarkSSHChain40(b *testing.B) {
	const id, keep = "sshchain40", "sshchain40_keep"
	edge := newSSHEdge(b)
	base := filepath.Join(edge.srv.Dir, "jobs")
	r := startEngine(b, "sqlite://"+filepath.Join(workDir(b), "sirocco.db"), map[string]string{
		id: sshChainDAG(id, chainLen, base, "on_success"), keep: sshChainDAG(keep, chainLen, base, "never")})
	argv := edge.openSSHMaster(b)
	r.run(id, 5*time.Minute) // warm-up: the pooled connection, caches
	r.run(keep, 5*time.Minute)
	sshChain(b, argv, chainLen)

	pool := sshclient.NewPool(sshclient.PoolOptions{})
	b.Cleanup(func() { _ = pool.Close() })
	s, err := sshclient.FromConnection(edge.conn, sshclient.Env{Home: b.TempDir(), User: "nobody"})
	if err != nil {
		b.Fatal(err)
	}
	sh := sshclient.Shell{Pool: pool, Settings: s}
	job := 0
	// wrapper runs 40 detached jobs as the operator does: the start call
	// lingers 100 ms for the job to end (Follow only if it did not) and
	// carries the cleanup of the job before it (remotejob.Sweeper); the
	// last job's cleanup is the Flush, timed apart.
	wrapper := func() (jobs, flush time.Duration) {
		sw := remotejob.NewSweeper(time.Hour)
		for range chainLen {
			job++
			id := "bench_" + strconv.Itoa(job)
			start := time.Now()
			h, _, q, err := remotejob.StartQuick(context.Background(), sw.Shell("edge", sh, id), remotejob.Spec{Command: "true", BaseDir: base, JobID: id}, 100*time.Millisecond)
			if err != nil {
				b.Fatal(err)
			}
			if q == nil {
				if code, _, err := remotejob.Follow(context.Background(), sh, h, remotejob.Offsets{}, remotejob.Output{Stdout: io.Discard, Stderr: io.Discard}); err != nil || code != 0 {
					b.Fatalf("follow: %d, %v", code, err)
				}
			}
			jobs += time.Since(start)
			if err := sw.Defer("edge", sh, h, func(err error) { b.Errorf("cleanup of %s: %v", h.Dir, err) }); err != nil {
				b.Fatal(err)
			}
		}
		start := time.Now()
		if err := sw.Flush(context.Background()); err != nil {
			b.Fatal(err)
		}
		return jobs, time.Since(start)
	}
	plain := func() time.Duration {
		start := time.Now()
		for range chainLen {
			if code, err := pool.Run(context.Background(), s, "true", nil, nil); err != nil || code != 0 {
				b.Fatalf("pool run: %d, %v", code, err)
			}
		}
		return time.Since(start)
	}
	wrapper()
	plain()

	var walls, keeps, bares, wraps, flushes, plains []time.Duration
	for b.Loop() {
		for range 3 {
			_, wall := r.run(id, 5*time.Minute)
			walls = append(walls, wall)
			_, kept := r.run(keep, 5*time.Minute)
			keeps = append(keeps, kept)
			bares = append(bares, sshChain(b, argv, chainLen))
			w, fl := wrapper()
			wraps, flushes = append(wraps, w), append(flushes, fl)
			plains = append(plains, plain())
		}
	}
	wall, bare := percentile(walls, 50), percentile(bares, 50)
	wrap, pl := percentile(wraps, 50), percentile(plains, 50)
	b.ReportMetric(ms(wall), "wall-ms")
	b.ReportMetric(ms(bare), "openssh-ms")
	b.ReportMetric(float64(wall)/float64(bare), "wall/openssh")
	b.ReportMetric(ms(wall)/chainLen, "task-ms")
	b.ReportMetric(float64(percentile(keeps, 50))/float64(bare), "keep-wall/openssh")
	b.ReportMetric(ms(bare)/chainLen, "openssh-true-ms")
	b.ReportMetric(ms(wrap)/chainLen, "job-ms")
	b.ReportMetric(ms(percentile(flushes, 50)), "flush-ms")
	b.ReportMetric(ms(pl)/chainLen, "pool-run-ms")
	b.ReportMetric(float64(wrap)/float64(pl), "job/pool-run")
}

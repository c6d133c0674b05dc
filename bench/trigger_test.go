package bench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/store"
	"github.com/sirocco-dev/sirocco/internal/store/sqlstore"
	"github.com/sirocco-dev/sirocco/internal/testenv"
)

const (
	triggerChainLen = 100
	triggerRunsPer  = 5 // `trigger --wait` calls per benchmark iteration
)

// BenchmarkTriggerWait100 runs a chain of 100 bash tasks running `true`
// triggered from outside a running `sirocco standalone` (the real binary,
// its own process), on SQLite with production's settings (poll_interval
// 1s). bare is the same 100 `bash -c true` run in sequence with os/exec,
// interleaved with the runs.
//
//   - cli: `sirocco dags trigger chain100 --wait`, as a user types it in a
//     second terminal (the real binary, a process of its own); wall is the
//     whole CLI process, from its start to its exit after the run's
//     success.
//   - rest: POST /api/v1/dags/chain100/dagRuns, then a wait for the run's
//     end on a store handle of this process (Store.Watch, as --wait does);
//     wall runs from the request to the moment the end is seen.
//
// run-ms is the run's own time, from its insert (queued_at, stamped just
// before it) to its end_date; wall minus run is the trigger's cost (for
// cli, the CLI's start, its insert and its exit). first-ms is queued_at to
// the first task's claim: the insert, the wake-up and the scheduler's read
// of the new run.
func BenchmarkTriggerWait100(b *testing.B) {
	const id = "chain100"
	bin := triggerBinary(b)
	home := workDir(b)
	dags := filepath.Join(home, "dags")
	if err := os.MkdirAll(dags, 0o755); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dags, id+".yaml"), []byte(chainDAG(id, triggerChainLen)), 0o644); err != nil {
		b.Fatal(err)
	}
	// The standalone creates a user at its first start, so the API needs
	// credentials: a service token, as a client script would use.
	const token = "bench-service-token"
	env := append(os.Environ(), "SIROCCO_HOME="+home, "SIROCCO_DAGS_FOLDER="+dags, "SIROCCO_API_TOKEN="+token)
	addr := startServer(b, bin, env)
	st, err := sqlstore.Open(b.Context(), "sqlite://"+filepath.Join(home, "sirocco.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	seq := 0
	newRunID := func() string {
		seq++
		return fmt.Sprintf("bench_%d", seq)
	}

	b.Run("cli", func(b *testing.B) {
		benchTrigger(b, st, id, func(runID string) {
			cmd := exec.Command(bin, "dags", "trigger", id, "--wait", "--run-id", runID)
			cmd.Env = env
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			if err := cmd.Run(); err != nil {
				b.Fatalf("trigger --wait: %v\n%s", err, out.String())
			}
		}, newRunID)
	})
	b.Run("rest", func(b *testing.B) {
		wakes, err := st.Watch(b.Context())
		if err != nil || wakes == nil {
			b.Fatalf("watch: %v", err)
		}
		client := &http.Client{Timeout: 10 * time.Second}
		b.Cleanup(client.CloseIdleConnections)
		benchTrigger(b, st, id, func(runID string) {
			body := strings.NewReader(`{"dag_run_id": "` + runID + `"}`)
			req, err := http.NewRequest("POST", "http://"+addr+"/api/v1/dags/"+id+"/dagRuns", body)
			if err != nil {
				b.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+token)
			resp, err := client.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Fatalf("POST dagRuns: %s", resp.Status)
			}
			waitRunEnd(b, st, wakes, id, runID)
		}, newRunID)
	})
}

// triggerBinary is the sirocco binary the benchmark runs: the one
// SIROCCO_BENCH_BINARY names (to pair two builds run after run without
// rebuilding), else this tree's, built now.
func triggerBinary(b *testing.B) string {
	b.Helper()
	if bin := os.Getenv("SIROCCO_BENCH_BINARY"); bin != "" {
		return bin
	}
	return buildSirocco(b)
}

// benchTrigger times trigger (which returns once the run has ended) over
// triggerRunsPer runs per iteration after one warm-up, each followed by
// the bare chain, and reports the figures.
func benchTrigger(b *testing.B, st store.Store, dagID string, trigger func(runID string), newRunID func() string) {
	b.Helper()
	once := func() (wall, run, first time.Duration) {
		runID := newRunID()
		start := time.Now()
		trigger(runID)
		wall = time.Since(start)
		r, err := st.GetRun(b.Context(), dagID, runID)
		if err != nil || r.State != store.RunSuccess {
			b.Fatalf("run %s: %s %v", runID, r.State, err)
		}
		t0, err := st.GetTaskInstance(b.Context(), store.TaskKey{DagID: dagID, RunID: runID, TaskID: "t000"})
		if err != nil {
			b.Fatal(err)
		}
		return wall, r.EndDate.Sub(r.QueuedAt), t0.StartDate.Sub(r.QueuedAt)
	}
	once() // warm-up: page cache, the standalone's statement caches
	bareChain(b, triggerChainLen)

	var walls, runs, firsts, bares []time.Duration
	for b.Loop() {
		for range triggerRunsPer {
			wall, run, first := once()
			walls, runs, firsts = append(walls, wall), append(runs, run), append(firsts, first)
			bares = append(bares, bareChain(b, triggerChainLen))
		}
	}
	wall, run, bare := percentile(walls, 50), percentile(runs, 50), percentile(bares, 50)
	b.ReportMetric(ms(wall), "wall-ms")
	b.ReportMetric(ms(run), "run-ms")
	b.ReportMetric(ms(percentile(firsts, 50)), "first-ms")
	b.ReportMetric(ms(bare), "bare-ms")
	b.ReportMetric(float64(wall)/float64(bare), "wall/bare")
	b.ReportMetric(float64(run)/float64(bare), "run/bare")
}

// waitRunEnd returns once the run has finished, looking when the store
// notifies (and every second).
func waitRunEnd(b *testing.B, st store.Store, wakes <-chan struct{}, dagID, runID string) {
	b.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		r, err := st.GetRun(b.Context(), dagID, runID)
		if err != nil {
			b.Fatal(err)
		}
		if r.State.Finished() {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("run %s still %s after a minute", runID, r.State)
		}
		select {
		case <-wakes:
		case <-time.After(time.Second):
		}
	}
}

// startServer starts `sirocco standalone` with env, waits for /health,
// returns the API's address and stops the server with SIGTERM when b ends.
func startServer(b *testing.B, bin string, env []string) string {
	b.Helper()
	addr := freeAddr(b)
	var out testenv.SyncBuffer
	cmd := exec.Command(bin, "standalone", "--listen", addr)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	b.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		if strings.Contains(out.String(), "level=ERROR") {
			b.Logf("sirocco logged errors:\n%s", out.String())
		}
	})
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	ctx, cancel := context.WithTimeout(b.Context(), 30*time.Second)
	defer cancel()
	for {
		resp, err := client.Get("http://" + addr + "/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return addr
			}
		}
		select {
		case err := <-exited:
			b.Fatalf("sirocco exited before /health answered: %v\n%s", err, out.String())
		case <-ctx.Done():
			b.Fatalf("/health did not answer 200 within 30s\n%s", out.String())
		case <-time.After(5 * time.Millisecond):
		}
	}
}

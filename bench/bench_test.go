package bench

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/dag"
	"github.com/sirocco-dev/sirocco/internal/operator/all"
	"github.com/sirocco-dev/sirocco/internal/store"
	"github.com/sirocco-dev/sirocco/internal/template"
)

// The ns/op that `go test -bench` prints counts whatever one iteration
// does (several runs, bookkeeping); the figures to read are the custom
// metrics each benchmark reports.

const (
	chainLen     = 40
	chainRunsPer = 8 // chain runs per benchmark iteration
)

// BenchmarkChain40 runs a chain of 40 bash tasks running `true` and
// measures (a) the hand-off latency between consecutive tasks and (b) the
// run's wall time from the trigger to the write of its success, relative to
// the same 40 `bash -c true` run bare in sequence with os/exec.
//
// The hand-off runs from the previous task's end (its end_date, stamped
// when its process has exited and its log is complete) to the commit of
// this task's claim (it is running, as Airflow's start_date marks it): the
// loop's decision and the one transaction that records the outcome and
// claims the next task.
//
// It also splits each task from the times of the store writes: run is the
// claim's commit to the start of the outcome's write (executor goroutine,
// rendering, log file, fork/exec, bash runs and exits, output pipes drain,
// the loop takes the outcome and decides), record that write (the outcome
// with the next task's claim, one transaction). A `bash -c true` saves no
// process handle: it ends before process.HandleAfter.
// first is the trigger to the first task's claim (the run's insert, the
// loop's reads of the new run), create the insert alone, last the last
// task's outcome to the write that ends the run.
func BenchmarkChain40(b *testing.B) {
	const id = "chain40"
	backends(b, func(b *testing.B, dsn string) {
		r := startEngine(b, dsn, map[string]string{id: chainDAG(id, chainLen)})
		r.st.setTraceWrites(true)
		r.run(id, time.Minute) // warm-up: connections, statement and template caches
		bareChain(b, chainLen)

		var handoffs, tasks, walls, bares, runs, record, first, last, create []time.Duration
		for b.Loop() {
			for range chainRunsPer {
				r.st.reset()
				runID, wall := r.run(id, time.Minute)
				walls = append(walls, wall)
				tis := r.taskInstances(id, runID)
				first = append(first, r.mustWrite("t000", store.StateRunning).start.Sub(r.lastStart))
				create = append(create, r.lastCreated.Sub(r.lastStart))
				last = append(last, r.lastEnd.Sub(r.mustWrite(fmt.Sprintf("t%03d", chainLen-1), store.StateSuccess).end))
				for i := range chainLen {
					task := fmt.Sprintf("t%03d", i)
					cur := tis[task]
					tasks = append(tasks, cur.EndDate.Sub(cur.StartDate))
					claim := r.mustWrite(task, store.StateRunning)
					success := r.mustWrite(task, store.StateSuccess)
					runs = append(runs, success.start.Sub(claim.end))
					record = append(record, success.end.Sub(success.start))
					if i > 0 {
						handoffs = append(handoffs, claim.end.Sub(tis[fmt.Sprintf("t%03d", i-1)].EndDate))
					}
				}
				// Interleaved with the engine's runs, so both see the same
				// machine load.
				bares = append(bares, bareChain(b, chainLen))
			}
		}
		wall, bare := percentile(walls, 50), percentile(bares, 50)
		b.ReportMetric(ms(percentile(handoffs, 50)), "handoff-p50-ms")
		b.ReportMetric(ms(percentile(handoffs, 99)), "handoff-p99-ms")
		b.ReportMetric(ms(percentile(handoffs, 100)), "handoff-max-ms")
		b.ReportMetric(float64(len(handoffs)), "handoffs")
		b.ReportMetric(ms(wall), "wall-ms")
		b.ReportMetric(ms(bare), "bare-ms")
		b.ReportMetric(float64(wall)/float64(bare), "wall/bare")
		b.ReportMetric(ms(percentile(tasks, 50)), "task-p50-ms")
		b.ReportMetric(ms(percentile(runs, 50)), "run-p50-ms")
		b.ReportMetric(ms(percentile(record, 50)), "record-p50-ms")
		b.ReportMetric(ms(percentile(first, 50)), "first-p50-ms")
		b.ReportMetric(ms(percentile(create, 50)), "create-p50-ms")
		b.ReportMetric(ms(percentile(last, 50)), "last-p50-ms")
	})
}

// bareChain runs n `bash -c true` in sequence and returns the time taken.
func bareChain(b *testing.B, n int) time.Duration {
	b.Helper()
	start := time.Now()
	for range n {
		if err := exec.Command("bash", "-c", "true").Run(); err != nil {
			b.Fatal(err)
		}
	}
	return time.Since(start)
}

// BenchmarkFanOut1000 measures (c) on start -> 1,000 parallel -> end.
func BenchmarkFanOut1000(b *testing.B) {
	benchScale(b, "fan1000", fanDAG("fan1000", 1000), 1002)
}

// BenchmarkChains100x100 measures (c) on 10,000 tasks: 100 independent
// chains of 100.
func BenchmarkChains100x100(b *testing.B) {
	benchScale(b, "chains10k", chainsDAG("chains10k", 100, 100), 10_000)
}

// benchScale runs one DAG of `empty` tasks with parallelism 32 and reports
// the scheduler overhead per task (wall time from trigger to run success,
// divided by the number of tasks) and this process's peak RSS during the
// run (the engine runs in-process; PostgreSQL's own memory is not counted).
// cpu-ms/task is this process's CPU time (user + system, all threads) per
// task, pg-cpu-ms/task the PostgreSQL server's: against cores x wall they
// tell whether the run waits or computes. The scheduler loop is one goroutine, so the share of the wall time it
// spends reading snapshots (loop-snapshot-%) and writing its decisions one
// task at a time (loop-writes-%) bounds the throughput.
func benchScale(b *testing.B, id, body string, n int) {
	backends(b, func(b *testing.B, dsn string) {
		r := startEngine(b, dsn, map[string]string{id: body})
		var walls []time.Duration
		var peak int64
		var snap, loopW, runW opStats
		var cpu, pgCPU time.Duration
		for b.Loop() {
			b.StopTimer()
			resetPeakRSS(b)
			r.st.reset()
			cpu0 := processCPU(b)
			pg0, pgOK := postgresCPU(dsn)
			b.StartTimer()
			_, wall := r.run(id, 4*time.Minute)
			walls = append(walls, wall)
			cpu = processCPU(b) - cpu0
			if pg1, ok := postgresCPU(dsn); ok && pgOK {
				pgCPU = pg1 - pg0
			}
			hwm, err := procStatusKB("self", "VmHWM")
			if err != nil {
				b.Fatal(err)
			}
			peak = max(peak, hwm)
			snap, loopW, runW = r.st.stats()
		}
		wall := percentile(walls, 50)
		b.ReportMetric(ms(wall)/float64(n), "ms/task")
		b.ReportMetric(float64(n)/wall.Seconds(), "tasks/s")
		b.ReportMetric(ms(wall), "wall-ms")
		b.ReportMetric(float64(peak)/1024, "peak-rss-MB")
		// Of the last run:
		last := walls[len(walls)-1]
		b.ReportMetric(ms(cpu)/float64(n), "cpu-ms/task")
		if pgCPU > 0 {
			b.ReportMetric(ms(pgCPU)/float64(n), "pg-cpu-ms/task")
		}
		b.ReportMetric(float64(snap.n), "ticks")
		b.ReportMetric(ms(snap.mean()), "snapshot-ms")
		b.ReportMetric(100*float64(snap.total)/float64(last), "loop-snapshot-%")
		b.ReportMetric(100*float64(loopW.total)/float64(last), "loop-writes-%")
		b.ReportMetric(ms(loopW.mean()), "loop-write-ms")
		b.ReportMetric(ms(runW.mean()), "executor-write-ms")
	})
}

// BenchmarkParse1000 measures (d): dag.LoadDir over a folder of 1,000 DAG
// files of 6 tasks, with the real operator specs and template checks, as
// the engine loads its DAGs folder. "cold" is the first load of a folder
// whose templates were never seen (a start); "rescan" loads the same folder
// again, as the engine does every dag_dir_list_interval.
func BenchmarkParse1000(b *testing.B) {
	opts := dag.LoadOptions{Operators: all.Registry().Specs(), CheckTemplate: template.Check}
	var colds, rescans []time.Duration
	iter := 0
	for b.Loop() {
		b.StopTimer()
		dir := filepath.Join(workDir(b), "dags")
		writeCorpus(b, dir, iter, 1000)
		iter++
		b.StartTimer()
		for pass := range 2 {
			start := time.Now()
			bag, err := dag.LoadDir(dir, opts)
			took := time.Since(start)
			if err != nil {
				b.Fatal(err)
			}
			if len(bag.DAGs) != 1000 || len(bag.Errors) != 0 {
				b.Fatalf("loaded %d DAGs, errors: %v", len(bag.DAGs), bag.Errors)
			}
			if pass == 0 {
				colds = append(colds, took)
			} else {
				rescans = append(rescans, took)
			}
		}
	}
	b.ReportMetric(ms(percentile(colds, 50)), "cold-ms")
	b.ReportMetric(ms(percentile(rescans, 50)), "rescan-ms")
}

// writeCorpus writes n DAG files into dir; seed makes the templated strings
// differ from those of earlier corpora, so the template cache starts cold.
func writeCorpus(b *testing.B, dir string, seed, n int) {
	b.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	for i := range n {
		body := corpusDAG(seed*n + i)
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("etl_%05d.yaml", i)), []byte(body), 0o644); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkStandalone measures (e) on the real binary: the time from
// starting `sirocco standalone` (fresh SIROCCO_HOME, SQLite, the example
// DAGs) to /health answering 200, and its resident memory once idle.
func BenchmarkStandalone(b *testing.B) {
	bin := buildSirocco(b)
	var starts []time.Duration
	var rss, hwm []float64
	for b.Loop() {
		for range 3 {
			s := runStandalone(b, bin)
			starts = append(starts, s.ready)
			rss = append(rss, float64(s.idleRSS)/1024)
			hwm = append(hwm, float64(s.peakRSS)/1024)
		}
	}
	slices.Sort(rss)
	slices.Sort(hwm)
	b.ReportMetric(ms(percentile(starts, 50)), "start-to-health-p50-ms")
	b.ReportMetric(ms(percentile(starts, 100)), "start-to-health-max-ms")
	b.ReportMetric(rss[len(rss)/2], "idle-rss-MB")
	b.ReportMetric(rss[len(rss)-1], "idle-rss-max-MB")
	b.ReportMetric(hwm[len(hwm)-1], "peak-rss-MB")
}

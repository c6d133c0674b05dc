package bench

import (
	"bufio"
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/config"
	"github.com/sirocco-dev/sirocco/internal/dag"
	"github.com/sirocco-dev/sirocco/internal/engine"
	"github.com/sirocco-dev/sirocco/internal/operator/all"
	"github.com/sirocco-dev/sirocco/internal/scheduler"
	"github.com/sirocco-dev/sirocco/internal/store"
	"github.com/sirocco-dev/sirocco/internal/store/sqlstore"
	"github.com/sirocco-dev/sirocco/internal/testenv"
)

// backends runs fn once per database: "sqlite" on a file in a temporary
// folder, "postgres" on a fresh database of testenv's throwaway server
// (skipped without PostgreSQL, failed under CI=true).
func backends(b *testing.B, fn func(b *testing.B, dsn string)) {
	b.Run("sqlite", func(b *testing.B) {
		fn(b, "sqlite://"+filepath.Join(workDir(b), "sirocco.db"))
	})
	b.Run("postgres", func(b *testing.B) {
		fn(b, testenv.Postgres(b))
	})
}

// workDir returns a new empty folder, removed when b ends, for a Sirocco
// home (database, task logs, DAGs). It is made under $SIROCCO_BENCH_DIR
// when set, else in the usual temporary folder: where task logs are written
// matters, since every try creates a folder and a file.
func workDir(b *testing.B) string {
	b.Helper()
	base := os.Getenv("SIROCCO_BENCH_DIR")
	if base == "" {
		return b.TempDir()
	}
	if err := os.MkdirAll(base, 0o755); err != nil {
		b.Fatal(err)
	}
	dir, err := os.MkdirTemp(base, "bench")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// rig is a real engine running in this process over a temporary DAGs
// folder, configured as in production: config.Defaults (poll interval 1s,
// heartbeat 5s, DAG folder rescan 5s, parallelism 32) with only the home,
// the DAGs folder and the database replaced.
type rig struct {
	b     *testing.B
	eng   *engine.Engine
	st    *watchStore
	cfg   config.Config
	seq   int
	stop  context.CancelFunc
	done  chan error
	epoch time.Time
	// lastStart and lastEnd bound the last run: its trigger and the write
	// that finished it; lastCreated is when its insert returned.
	lastStart, lastEnd, lastCreated time.Time
}

// startEngine writes dags (file name -> YAML) to a new DAGs folder, opens
// and migrates the store at dsn and runs an engine until b ends.
func startEngine(b *testing.B, dsn string, dags map[string]string) *rig {
	b.Helper()
	return startEngineWith(b, dsn, dags, nil, nil)
}

// startEngineWith is startEngine with the configuration changed by tweak
// and the engine's store wrapped by wrap (either may be nil).
func startEngineWith(b *testing.B, dsn string, dags map[string]string, tweak func(*config.Config),
	wrap func(*watchStore) store.Store) *rig {
	b.Helper()
	dir := workDir(b)
	dagsDir := filepath.Join(dir, "dags")
	if err := os.MkdirAll(dagsDir, 0o755); err != nil {
		b.Fatal(err)
	}
	for name, body := range dags {
		if err := os.WriteFile(filepath.Join(dagsDir, name+".yaml"), []byte(body), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	cfg := config.Defaults()
	cfg.Home, cfg.DagsFolder, cfg.DatabaseURL = dir, dagsDir, dsn
	if tweak != nil {
		tweak(&cfg)
	}

	ctx, cancel := context.WithCancel(context.Background())
	inner, err := sqlstore.Open(ctx, dsn)
	if err != nil {
		cancel()
		b.Fatal(err)
	}
	if err := inner.Migrate(ctx); err != nil {
		cancel()
		inner.Close()
		b.Fatal(err)
	}
	st := newWatchStore(inner)
	var engStore store.Store = st
	if wrap != nil {
		engStore = wrap(st)
	}
	eng, err := engine.New(ctx, engine.Options{Config: cfg, Store: engStore, Operators: all.Registry()})
	if err != nil {
		cancel()
		inner.Close()
		b.Fatal(err)
	}
	if errs := eng.Bag.Errors(); len(errs) > 0 {
		cancel()
		inner.Close()
		b.Fatalf("DAG errors: %v", errs)
	}
	r := &rig{b: b, eng: eng, st: st, cfg: cfg, stop: cancel, done: make(chan error, 1),
		epoch: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	go func() { r.done <- eng.Run(ctx) }()
	b.Cleanup(func() {
		cancel()
		if err := <-r.done; err != nil {
			b.Errorf("engine: %v", err)
		}
		inner.Close()
	})
	return r
}

// trigger creates a manual run of dagID, as `dags trigger` does, and kicks
// the scheduler. Each run gets its own logical date.
func (r *rig) trigger(dagID string) (runID string, done <-chan runEnd) {
	r.b.Helper()
	d := r.eng.Bag.DAGs()[dagID]
	if d == nil {
		r.b.Fatalf("DAG %s is not loaded", dagID)
	}
	r.seq++
	at := r.epoch.Add(time.Duration(r.seq) * time.Minute)
	run, tis := scheduler.NewRunRecords(d, store.RunManual, dag.Interval{Start: at, End: at}, nil, time.Now().UTC())
	done = r.st.watch(run.DagID, run.RunID)
	if err := r.st.CreateRun(context.Background(), run, tis); err != nil {
		r.b.Fatal(err)
	}
	r.lastCreated = time.Now()
	r.eng.Loop.RunCreated() // as the API does after a trigger
	return run.RunID, done
}

// run triggers dagID and waits for its run to end, returning the run id
// and the wall time from the trigger to the write that finished the run.
// A run that does not succeed fails b.
func (r *rig) run(dagID string, timeout time.Duration) (string, time.Duration) {
	r.b.Helper()
	start := time.Now()
	runID, done := r.trigger(dagID)
	select {
	case end := <-done:
		if end.state != store.RunSuccess {
			r.b.Fatalf("run %s of %s ended %s", runID, dagID, end.state)
		}
		r.lastStart, r.lastEnd = start, end.at
		return runID, end.at.Sub(start)
	case <-time.After(timeout):
		r.b.Fatalf("run %s of %s did not finish within %s", runID, dagID, timeout)
	}
	return "", 0
}

// mustWrite returns the span of the last write of taskID to state to.
func (r *rig) mustWrite(taskID string, to store.TaskState) span {
	r.b.Helper()
	s, ok := r.st.write(taskID, to)
	if !ok {
		r.b.Fatalf("no write of %s to %q was recorded", taskID, to)
	}
	return s
}

// taskInstances returns the task instances of a run by task id.
func (r *rig) taskInstances(dagID, runID string) map[string]store.TaskInstance {
	r.b.Helper()
	list, err := r.st.ListTaskInstances(context.Background(), dagID, runID)
	if err != nil {
		r.b.Fatal(err)
	}
	out := make(map[string]store.TaskInstance, len(list))
	for _, ti := range list {
		out[ti.TaskID] = ti
	}
	return out
}

// resetPeakRSS returns freed memory to the OS and resets this process's
// peak resident set size (VmHWM) to its current size.
func resetPeakRSS(b *testing.B) {
	b.Helper()
	runtime.GC()
	debug.FreeOSMemory()
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		b.Fatalf("reset peak RSS: %v", err)
	}
}

// procStatusKB reads a "kB" field (VmRSS, VmHWM) of /proc/<pid>/status;
// pid "self" is this process.
func procStatusKB(pid, field string) (int64, error) {
	f, err := os.Open("/proc/" + pid + "/status")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok || name != field {
			continue
		}
		return strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("no %s in /proc/%s/status", field, pid)
}

// processCPU returns the user + system CPU time this process has used.
func processCPU(b *testing.B) time.Duration {
	b.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// percentile returns the p-th percentile (0..100) of ds by the nearest-rank
// method; ds is sorted in place.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	rank := int(math.Ceil(p/100*float64(len(ds)))) - 1
	return ds[min(max(rank, 0), len(ds)-1)]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

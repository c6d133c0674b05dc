package engine

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/config"
	"github.com/sirocco-dev/sirocco/internal/dag"
	"github.com/sirocco-dev/sirocco/internal/executor"
	"github.com/sirocco-dev/sirocco/internal/operator/all"
	"github.com/sirocco-dev/sirocco/internal/operator/process"
	"github.com/sirocco-dev/sirocco/internal/scheduler"
	"github.com/sirocco-dev/sirocco/internal/store"
	"github.com/sirocco-dev/sirocco/internal/store/sqlstore"
)

// TestRecoveryKillsLeftoversTogetherInTheBackground: a Sirocco that died
// long ago left three tries running, each with a process group that
// ignores SIGTERM. The next start signals all three groups before it kills
// any (one grace in all, not one each), schedules other work while they
// are being killed, and runs the three tasks again only once their
// leftovers are dead.
func TestRecoveryKillsLeftoversTogetherInTheBackground(t *testing.T) {
	dir := t.TempDir()
	cfg := config.Defaults()
	cfg.Home, cfg.DagsFolder = dir, filepath.Join(dir, "dags")
	cfg.PollInterval, cfg.Heartbeat, cfg.KillGrace = 100*time.Millisecond, 100*time.Millisecond, 3*time.Second
	ctx, cancel := context.WithCancel(context.Background())
	st, err := sqlstore.OpenSQLite(filepath.Join(dir, "sirocco.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	dead := deadWorker(t, st, time.Now().Add(-time.Hour)) // silent for long: its tries are zombies at once
	tasks := []string{"t0", "t1", "t2"}
	tis := claimTries(t, st, dead, tasks)
	var lefts []*leftoverGroup
	for _, ti := range tis {
		lefts = append(lefts, startLeftover(t, dir, executor.TryID(dead, ti.TaskKey, ti.TryNumber)))
	}
	var pids string
	for _, l := range lefts {
		pids += fmt.Sprintln(l.pid)
	}
	if err := os.WriteFile(filepath.Join(dir, "pids"), []byte(pids), 0o644); err != nil {
		t.Fatal(err)
	}
	writeLeftoverDAGs(t, cfg.DagsFolder, dir, lefts)

	eng, err := New(ctx, Options{Config: cfg, Store: st, Operators: all.Registry()})
	if err != nil {
		t.Fatal(err)
	}
	if errs := eng.Bag.Errors(); len(errs) > 0 {
		t.Fatalf("DAG errors: %v", errs)
	}
	other, otherTIs := scheduler.NewRunRecords(eng.Bag.DAGs()["other"], store.RunManual,
		dag.Interval{Start: time.Now(), End: time.Now()}, nil, time.Now())
	if err := st.CreateRun(ctx, other, otherTIs); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	start := time.Now()
	go func() { done <- eng.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("engine: %v", err)
		}
	})

	h := &harness{t: t, eng: eng, st: st, cfg: cfg, dir: dir}
	if run := h.waitRun("other", other.RunID); run.State != store.RunSuccess {
		t.Fatalf("other run %s", run.State)
	}
	for i, l := range lefts {
		if l.hasExited() {
			t.Errorf("the other DAG ran only after leftover %d was killed: start-up waited for the kills", i)
		}
	}
	for _, l := range lefts {
		<-l.exited
	}
	// One kill_grace in all: killed one after the other they cost three
	// (the slack is for a loaded machine's start-up).
	if took := time.Since(start); took >= 5*cfg.KillGrace/2 {
		t.Errorf("the three leftovers took %v to kill, with a kill_grace of %v", took, cfg.KillGrace)
	}
	for i, l := range lefts {
		// Each noted, when SIGTERM came, any other leftover already dead.
		if got := l.terms(); got != "term\n" {
			t.Errorf("leftover %d: %q, want SIGTERM once, while all the others still ran (all signalled before any was killed)", i, got)
		}
	}
	if run := h.waitRun("d", "r"); run.State != store.RunSuccess {
		t.Fatalf("run d %s", run.State)
	}
	for _, id := range tasks {
		if ti := h.tis("d", "r")[id]; ti.TryNumber != 2 || ti.State != store.StateSuccess {
			t.Errorf("%s: try %d %s, want try 2 success", id, ti.TryNumber, ti.State)
		}
	}
	if data, err := os.ReadFile(filepath.Join(dir, "overlap")); err == nil {
		t.Errorf("tasks ran again while their leftovers ran: %s", data)
	}
}

// deadWorker registers a worker of this host whose process is gone.
func deadWorker(t *testing.T, st store.Store, lastBeat time.Time) string {
	t.Helper()
	gone := exec.Command("true")
	if err := gone.Run(); err != nil {
		t.Fatal(err)
	}
	host, _ := os.Hostname()
	w := store.Worker{ID: host + "-dead", Kind: "local", Hostname: host, PID: gone.Process.Pid,
		StartedAt: lastBeat, HeartbeatAt: lastBeat}
	if err := st.RegisterWorker(t.Context(), w); err != nil {
		t.Fatal(err)
	}
	return w.ID
}

// claimTries creates run d/r with the tasks, each running its first try
// (one retry left) on worker.
func claimTries(t *testing.T, st store.Store, worker string, tasks []string) []store.TaskInstance {
	t.Helper()
	ctx := t.Context()
	run := store.DagRun{DagID: "d", RunID: "r", RunType: store.RunManual, State: store.RunRunning,
		LogicalDate: time.Now(), StartDate: time.Now()}
	var tis []store.TaskInstance
	for _, id := range tasks {
		tis = append(tis, store.TaskInstance{TaskKey: store.TaskKey{TaskID: id}, MaxTries: 1, Pool: dag.DefaultPool, PoolSlots: 1})
	}
	if err := st.CreateRun(ctx, run, tis); err != nil {
		t.Fatal(err)
	}
	var out []store.TaskInstance
	for _, id := range tasks {
		now := time.Now()
		w, err := st.UpdateTaskRow(ctx, store.TaskUpdate{Key: store.TaskKey{DagID: "d", RunID: "r", TaskID: id},
			To: store.StateRunning, IncTry: true, WorkerID: &worker, StartDate: &now})
		if err != nil || !w.OK {
			t.Fatalf("claim %s: %+v %v", id, w, err)
		}
		out = append(out, w.Row)
	}
	return out
}

// leftoverGroup is the process group a dead worker's try left behind: it
// carries the try's identity and notes SIGTERM in a file, then goes on.
type leftoverGroup struct {
	pid      int
	termFile string
	exited   chan struct{}
}

func startLeftover(t *testing.T, dir, tryID string) *leftoverGroup {
	t.Helper()
	f, err := os.CreateTemp(dir, "term-*")
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	// On SIGTERM it notes any leftover (listed in dir/pids) already dead.
	cmd := exec.Command("bash", "-c", `
on_term() {
	for p in $(cat "$PIDS"); do
		s=$(cut -d' ' -f3 /proc/$p/stat 2>/dev/null)
		if [ -z "$s" ] || [ "$s" = Z ]; then echo "$p was dead" >> "$TERM_FILE"; fi
	done
	echo term >> "$TERM_FILE"
}
trap on_term TERM; echo ready; while :; do sleep 0.05; done`)
	cmd.Env = append(os.Environ(), process.TryIDVar+"="+tryID, "TERM_FILE="+f.Name(), "PIDS="+filepath.Join(dir, "pids"))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	l := &leftoverGroup{pid: cmd.Process.Pid, termFile: f.Name(), exited: make(chan struct{})}
	if line, err := bufio.NewReader(out).ReadString('\n'); err != nil || line != "ready\n" {
		t.Fatalf("leftover: %q %v", line, err)
	}
	go func() {
		_ = cmd.Wait()
		close(l.exited)
	}()
	t.Cleanup(func() {
		_ = syscall.Kill(-l.pid, syscall.SIGKILL)
		<-l.exited
	})
	return l
}

func (l *leftoverGroup) hasExited() bool {
	select {
	case <-l.exited:
		return true
	default:
		return false
	}
}

// terms returns what the leftover noted on SIGTERM.
func (l *leftoverGroup) terms() string {
	data, _ := os.ReadFile(l.termFile)
	return string(data)
}

// writeLeftoverDAGs writes DAG d, whose tasks note in dir/overlap whether
// the leftover of their previous try still runs, and DAG other.
func writeLeftoverDAGs(t *testing.T, dagsDir, dir string, lefts []*leftoverGroup) {
	t.Helper()
	if err := os.MkdirAll(dagsDir, 0o755); err != nil {
		t.Fatal(err)
	}
	d := "dag_id: d\ntasks:\n"
	for i, l := range lefts {
		// Alive is any state but zombie (killed, not yet reaped).
		d += fmt.Sprintf(`  - id: t%d
    operator: bash
    retries: 1
    retry_delay: 0s
    command: |
      s=$(cut -d' ' -f3 /proc/%d/stat 2>/dev/null)
      if [ -n "$s" ] && [ "$s" != Z ]; then echo t%d >> %q; fi
`, i, l.pid, i, filepath.Join(dir, "overlap"))
	}
	other := "dag_id: other\ntasks:\n  - id: o\n    operator: bash\n    command: \"true\"\n"
	for name, body := range map[string]string{"d": d, "other": other} {
		if err := os.WriteFile(filepath.Join(dagsDir, name+".yaml"), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

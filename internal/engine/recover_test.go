package engine

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/config"
	"github.com/sirocco-dev/sirocco/internal/executor"
	"github.com/sirocco-dev/sirocco/internal/operator/all"
	"github.com/sirocco-dev/sirocco/internal/operator/process"
	"github.com/sirocco-dev/sirocco/internal/store"
	"github.com/sirocco-dev/sirocco/internal/store/sqlstore"
	"github.com/sirocco-dev/sirocco/internal/tasklog"
	"github.com/sirocco-dev/sirocco/internal/testenv"
)

// TestRecoverKillsATryThatSavedNoHandle: a short try saves no process
// handle (process.HandleAfter), and a worker can die before saving one.
// The claim alone must be enough for the next start on the host to find
// and kill the try's processes, by the identity they carry.
func TestRecoverKillsATryThatSavedNoHandle(t *testing.T) {
	r := newRecoverFixture(t)
	// The try's process group, whose leader is gone (Pdeathsig) and whose
	// grandchild lives on.
	cmd := exec.Command("bash", "-c", `sleep 60 >/dev/null 2>&1 & echo $!`)
	cmd.Env = append(os.Environ(), process.TryIDVar+"="+executor.TryID(r.ti.WorkerID, r.ti.TaskKey, r.ti.TryNumber))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	child, err := strconv.Atoi(string(out[:len(out)-1]))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) })
	if !testenv.Alive(child) {
		t.Fatal("precondition: the grandchild should be running")
	}
	r.recover()
	testenv.EventuallyDead(t, child, 30*time.Second) // survived the recovery?
}

// TestRecoverKillsFromTheHandleNotedInTheLog: processes that do not carry
// the try's identity (they cleared or rewrote their environment) are found
// through the handle the runner noted in the try's log when the process
// started; a handle line the task printed later is not trusted.
func TestRecoverKillsFromTheHandleNotedInTheLog(t *testing.T) {
	r := newRecoverFixture(t)
	group := func() *exec.Cmd {
		t.Helper()
		cmd := exec.Command("sleep", "60")
		cmd.Env = []string{} // carries no identity
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go func() { _ = cmd.Wait() }()
		t.Cleanup(func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) })
		return cmd
	}
	ours, stranger := group(), group()
	handle := func(pid int) string {
		host, _ := os.Hostname()
		b, err := json.Marshal(process.Handle{Kind: "process", Host: host, PID: pid, PGID: pid, StartTime: process.StartTime(pid)})
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	log := tasklog.Path(r.cfg.LogsDir(), r.ti.DagID, r.ti.RunID, r.ti.TaskID, r.ti.TryNumber)
	if err := os.MkdirAll(filepath.Dir(log), 0o755); err != nil {
		t.Fatal(err)
	}
	lines := "2026-01-01T00:00:00.000Z sirocco: starting try 1\n" +
		"2026-01-01T00:00:00.001Z " + executor.HandleNote + handle(ours.Process.Pid) + "\n" +
		"2026-01-01T00:00:00.002Z " + executor.HandleNote + handle(stranger.Process.Pid) + "\n"
	if err := os.WriteFile(log, []byte(lines), 0o644); err != nil {
		t.Fatal(err)
	}
	r.recover()
	testenv.EventuallyDead(t, ours.Process.Pid, 30*time.Second) // survived the recovery?
	if !testenv.Alive(stranger.Process.Pid) {
		t.Error("a handle the task printed into its log was trusted")
	}
}

// recoverFixture is a store holding one running try of a worker that died
// on this host, and what Recover needs.
type recoverFixture struct {
	t   *testing.T
	cfg config.Config
	st  store.Store
	ti  store.TaskInstance
}

func newRecoverFixture(t *testing.T) *recoverFixture {
	dir := t.TempDir()
	cfg := config.Defaults()
	cfg.Home, cfg.DagsFolder = dir, filepath.Join(dir, "dags")
	cfg.KillGrace = 500 * time.Millisecond
	if err := os.MkdirAll(cfg.DagsFolder, 0o755); err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	st, err := sqlstore.OpenSQLite(filepath.Join(dir, "sirocco.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	// The previous Sirocco on this host: its pid is gone.
	gone := exec.Command("true")
	if err := gone.Run(); err != nil {
		t.Fatal(err)
	}
	host, _ := os.Hostname()
	dead := store.Worker{ID: host + "-dead", Kind: "local", Hostname: host, PID: gone.Process.Pid,
		StartedAt: time.Now(), HeartbeatAt: time.Now()}
	if err := st.RegisterWorker(ctx, dead); err != nil {
		t.Fatal(err)
	}
	run := store.DagRun{DagID: "d", RunID: "r", RunType: store.RunManual, State: store.RunRunning, LogicalDate: time.Now()}
	if err := st.CreateRun(ctx, run, []store.TaskInstance{{TaskKey: store.TaskKey{TaskID: "t"}}}); err != nil {
		t.Fatal(err)
	}
	w, err := st.UpdateTaskRow(ctx, store.TaskUpdate{Key: store.TaskKey{DagID: "d", RunID: "r", TaskID: "t"},
		To: store.StateRunning, IncTry: true, WorkerID: &dead.ID})
	if err != nil || !w.OK {
		t.Fatalf("claim: %+v %v", w, err)
	}
	return &recoverFixture{t: t, cfg: cfg, st: st, ti: w.Row}
}

// recover runs the next start's recovery.
func (r *recoverFixture) recover() {
	r.t.Helper()
	eng, err := New(context.Background(), Options{Config: r.cfg, Store: r.st, Operators: all.Registry()})
	if err != nil {
		r.t.Fatal(err)
	}
	if err := eng.Recover(r.t.Context()); err != nil {
		r.t.Fatal(err)
	}
	eng.recovery.Wait()
}

// TestRecoverLeavesAClusterDriverOfAnUnloadedDAGRunning: a dead worker's
// try tracked a cluster driver (work that outlives Sirocco), and at the
// next start its DAG file does not load (broken, or being edited). The
// loop leaves a run of an unloaded DAG alone until its DAG returns, and
// adopts the try then; recovery must not kill the driver meanwhile (hours
// of cluster work lost for a typo), nor fail the try.
func TestRecoverLeavesAClusterDriverOfAnUnloadedDAGRunning(t *testing.T) {
	r := newRecoverFixture(t)
	var requests atomic.Int32
	master := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		requests.Add(1)
		http.Error(w, "no", http.StatusInternalServerError)
	}))
	t.Cleanup(master.Close)
	h := []byte(`{"kind":"spark_driver","version":2,"driver_id":"driver-20260101000000-0001","rest_url":"` + master.URL + `"}`)
	ok, err := r.st.UpdateTask(t.Context(), store.TaskUpdate{Key: r.ti.TaskKey,
		From: []store.TaskState{store.StateRunning}, To: store.StateRunning, Handle: &h})
	if err != nil || !ok {
		t.Fatalf("store handle: %v %v", ok, err)
	}
	if err := os.WriteFile(filepath.Join(r.cfg.DagsFolder, "d.yaml"), []byte("dag_id: d\ntasks: [\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r.recover()
	if n := requests.Load(); n > 0 {
		t.Errorf("recovery sent %d request(s) to the master of a driver it could have adopted once its DAG loads", n)
	}
	ti, err := r.st.GetTaskInstance(t.Context(), r.ti.TaskKey)
	if err != nil {
		t.Fatal(err)
	}
	if ti.State != store.StateRunning || string(ti.Handle) != string(h) {
		t.Errorf("try is %s with handle %s; want it still running with its handle, for adoption", ti.State, ti.Handle)
	}
}

// TestRecoverStopsTheClusterDriverOfAClearedTry: a try cleared while it
// ran (restarting) is never adopted: the loop hands it back to run again
// once its worker is gone. Its cluster driver, though it outlives the
// worker, must therefore be killed by recovery first, or the task's next
// try runs beside it.
func TestRecoverStopsTheClusterDriverOfAClearedTry(t *testing.T) {
	r := newRecoverFixture(t)
	var kills atomic.Int32
	master := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch {
		case strings.HasPrefix(req.URL.Path, "/v1/submissions/kill/"):
			kills.Add(1)
			_, _ = w.Write([]byte(`{"action":"KillSubmissionResponse","success":true}`))
		case strings.HasPrefix(req.URL.Path, "/v1/submissions/status/") && kills.Load() > 0:
			_, _ = w.Write([]byte(`{"action":"SubmissionStatusResponse","success":true,"driverState":"KILLED"}`))
		default:
			_, _ = w.Write([]byte(`{"action":"SubmissionStatusResponse","success":true,"driverState":"RUNNING"}`))
		}
	}))
	t.Cleanup(master.Close)
	h := []byte(`{"kind":"spark_driver","version":2,"driver_id":"driver-20260101000000-0001","rest_url":"` + master.URL + `"}`)
	ok, err := r.st.UpdateTask(t.Context(), store.TaskUpdate{Key: r.ti.TaskKey,
		From: []store.TaskState{store.StateRunning}, To: store.StateRestarting, Handle: &h})
	if err != nil || !ok {
		t.Fatalf("clear the running try: %v %v", ok, err)
	}
	d := "dag_id: d\ntasks:\n  - {id: t, operator: bash, command: \"true\"}\n"
	if err := os.WriteFile(filepath.Join(r.cfg.DagsFolder, "d.yaml"), []byte(d), 0o644); err != nil {
		t.Fatal(err)
	}
	r.recover()
	if kills.Load() == 0 {
		t.Error("recovery left the cluster driver of a cleared try running; its next try would run beside it")
	}
}

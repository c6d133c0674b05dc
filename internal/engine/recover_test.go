package engine

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/config"
	"github.com/sirocco-dev/sirocco/internal/executor"
	"github.com/sirocco-dev/sirocco/internal/operator/all"
	"github.com/sirocco-dev/sirocco/internal/operator/process"
	"github.com/sirocco-dev/sirocco/internal/store"
	"github.com/sirocco-dev/sirocco/internal/store/sqlstore"
)

// TestRecoverKillsATryThatSavedNoHandle: a short try saves no process
// handle (process.HandleAfter), and a worker can die before saving one.
// The claim alone must be enough for the next start on the host to find
// and kill the try's processes, by the identity they carry.
func TestRecoverKillsATryThatSavedNoHandle(t *testing.T) {
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

	// The try's process group, whose leader is gone (Pdeathsig) and whose
	// grandchild lives on.
	cmd := exec.Command("bash", "-c", `sleep 60 >/dev/null 2>&1 & echo $!`)
	cmd.Env = append(os.Environ(), process.TryIDVar+"="+executor.TryID(w.Row))
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
	if !alive(child) {
		t.Fatal("precondition: the grandchild should be running")
	}

	eng, err := New(context.Background(), Options{Config: cfg, Store: st, Operators: all.Registry()})
	if err != nil {
		t.Fatal(err)
	}
	if err := eng.Recover(ctx); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for alive(child) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond) // another process group's end: no event to wait on
	}
	if alive(child) {
		t.Errorf("the try's grandchild %d survived the recovery", child)
	}
}

package engine

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/config"
	"github.com/sirocco-dev/sirocco/internal/operator/all"
	"github.com/sirocco-dev/sirocco/internal/operator/process"
	"github.com/sirocco-dev/sirocco/internal/store"
	"github.com/sirocco-dev/sirocco/internal/store/sqlstore"
	"github.com/sirocco-dev/sirocco/internal/testenv"
)

// TestRecoverDispatchesByHandleKind: a dead worker left four tries, each
// with a handle of another kind. Recovery hands each to the owner of its
// kind: a Spark client-mode handle (spark-submit's group nested in it) and
// a process handle stored before kinds and versions existed both get their
// groups killed; a handle of a kind no operator owns, and one whose stop
// fails (a process of another host), are logged as errors with the try and
// the kind. All four tries are released all the same, and run again.
func TestRecoverDispatchesByHandleKind(t *testing.T) {
	dir := t.TempDir()
	cfg := config.Defaults()
	cfg.Home, cfg.DagsFolder = dir, filepath.Join(dir, "dags")
	cfg.PollInterval, cfg.Heartbeat, cfg.KillGrace = 100*time.Millisecond, 100*time.Millisecond, 300*time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	st, err := sqlstore.OpenSQLite(filepath.Join(dir, "sirocco.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	dead := deadWorker(t, st, time.Now().Add(-time.Hour))
	tasks := []string{"spark_client", "legacy_process", "unknown_kind", "failed_stop"}
	claimTries(t, st, dead, tasks)
	host, _ := os.Hostname()
	sparkGroup, legacyGroup := startGroupOf(t), startGroupOf(t)
	sub, err := json.Marshal(process.Handle{Kind: process.Kind, Version: 1, Host: host, PID: sparkGroup.pid, PGID: sparkGroup.pid,
		StartTime: process.StartTime(sparkGroup.pid)})
	if err != nil {
		t.Fatal(err)
	}
	handles := map[string]string{
		"spark_client": `{"kind":"spark_driver","version":2,"conn_id":"spark_local","process":` + string(sub) + `}`,
		"legacy_process": `{"host":"` + host + `","pid":` + strconv.Itoa(legacyGroup.pid) + `,"pgid":` + strconv.Itoa(legacyGroup.pid) +
			`,"start_time":` + strconv.FormatUint(process.StartTime(legacyGroup.pid), 10) + `}`,
		"unknown_kind": `{"kind":"pod","version":1,"name":"left-behind"}`,
		"failed_stop":  `{"kind":"process","version":1,"host":"` + host + `-elsewhere","pid":4242,"pgid":4242}`,
	}
	for task, h := range handles {
		b := []byte(h)
		ok, err := st.UpdateTask(ctx, store.TaskUpdate{Key: store.TaskKey{DagID: "d", RunID: "r", TaskID: task},
			From: []store.TaskState{store.StateRunning}, To: store.StateRunning, Handle: &b})
		if err != nil || !ok {
			t.Fatalf("store handle of %s: %v %v", task, ok, err)
		}
	}
	if err := os.MkdirAll(cfg.DagsFolder, 0o755); err != nil {
		t.Fatal(err)
	}
	d := "dag_id: d\ntasks:\n"
	for _, task := range tasks {
		d += "  - {id: " + task + ", operator: bash, command: \"true\", retries: 1, retry_delay: 0s}\n"
	}
	if err := os.WriteFile(filepath.Join(cfg.DagsFolder, "d.yaml"), []byte(d), 0o644); err != nil {
		t.Fatal(err)
	}

	var logs testenv.SyncBuffer
	eng, err := New(ctx, Options{Config: cfg, Store: st, Operators: all.Registry(), Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- eng.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("engine: %v", err)
		}
	})
	h := &harness{t: t, eng: eng, st: st, cfg: cfg, dir: dir}
	if run := h.waitRun("d", "r"); run.State != store.RunSuccess {
		t.Fatalf("run d %s: %v", run.State, h.tis("d", "r"))
	}
	for _, task := range tasks {
		if ti := h.tis("d", "r")[task]; ti.TryNumber != 2 || ti.State != store.StateSuccess {
			t.Errorf("%s: try %d %s, want try 2 success (released, then run again)", task, ti.TryNumber, ti.State)
		}
	}
	for name, g := range map[string]*groupOf{"spark client mode": sparkGroup, "legacy process": legacyGroup} {
		select {
		case <-g.exited: // reaped here, its parent: killed before the retry ran
		case <-time.After(5 * time.Second):
			t.Errorf("the %s group survived the recovery", name)
		}
	}
	for task, kind := range map[string]string{"unknown_kind": "pod", "failed_stop": "process"} {
		if !hasRecord(logs.String(), "ERROR", task, kind) {
			t.Errorf("no error in the service log for %s with handle_kind %s:\n%s", task, kind, logs.String())
		}
	}
	if log := h.log("d", "r", "failed_stop", 1); !strings.Contains(log, "could not stop what the try left; it may still run") {
		t.Errorf("the try's log does not say its work may still run:\n%s", log)
	}
	if log := h.log("d", "r", "spark_client", 1); !strings.Contains(log, "stopped spark-submit's process group(s)") {
		t.Errorf("the try's log does not say what was stopped:\n%s", log)
	}
}

// hasRecord reports whether the JSON service log holds a record of level
// for the task with the handle kind.
func hasRecord(logs, level, task, kind string) bool {
	for line := range strings.Lines(logs) {
		var r map[string]any
		if json.Unmarshal([]byte(line), &r) == nil && r["level"] == level && r["task_id"] == task && r["handle_kind"] == kind {
			return true
		}
	}
	return false
}

// groupOf is a process group a dead worker's try left: it carries no try
// identity, so only its handle leads to it.
type groupOf struct {
	pid    int
	exited chan struct{}
}

func startGroupOf(t *testing.T) *groupOf {
	t.Helper()
	cmd := exec.Command("sleep", "60")
	cmd.Env = []string{}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	g := &groupOf{pid: cmd.Process.Pid, exited: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(g.exited)
	}()
	t.Cleanup(func() {
		_ = syscall.Kill(-g.pid, syscall.SIGKILL)
		<-g.exited
	})
	return g
}

package spark

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/connection"
	"github.com/sirocco-dev/sirocco/internal/operator"
	"github.com/sirocco-dev/sirocco/internal/operator/process"
	"github.com/sirocco-dev/sirocco/internal/spark"
	"github.com/sirocco-dev/sirocco/internal/store"
	"github.com/sirocco-dev/sirocco/internal/testenv"
)

// stopTask is what a recoverer gets to stop a gone worker's try: no
// connection is stored, so the token-less master is reached.
func stopTask(log *testenv.SyncBuffer) *operator.Task {
	return &operator.Task{Log: log, KillGrace: 300 * time.Millisecond, Mask: func(string) {},
		Connection: func(_ context.Context, id string) (connection.Connection, error) {
			return connection.Connection{}, fmt.Errorf("connection %q: %w", id, store.ErrNotFound)
		}}
}

// TestStopClientModeDelegatesToProcess: the spark-submit process nested in
// a client-mode handle is stopped through the process package; a second
// Stop, and the Stop of a handle saved before spark-submit started, find
// nothing and succeed.
func TestStopClientModeDelegatesToProcess(t *testing.T) {
	t.Parallel()
	cmd := exec.Command("bash", "-c", `trap '' TERM; echo ready; while :; do sleep 0.05; done`)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-exited
	})
	line := make([]byte, 6)
	if _, err := out.Read(line); err != nil || string(line) != "ready\n" {
		t.Fatalf("spark-submit stand-in: %q %v", line, err)
	}
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	host, _ := os.Hostname()
	pid := cmd.Process.Pid
	h, _ := json.Marshal(Handle{Kind: kindDriver, Version: handleVersion, ConnID: "spark_default",
		Process: &process.Handle{Kind: process.Kind, Version: 1, Host: host, PID: pid, PGID: pid, StartTime: process.StartTime(pid)}})
	var log testenv.SyncBuffer
	if err := (Recoverer{}).Stop(t.Context(), stopTask(&log), h); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	select {
	case <-exited:
	case <-time.After(5 * time.Second):
		t.Fatal("spark-submit's group survived Stop")
	}
	if !strings.Contains(log.String(), "stopped spark-submit's process group(s)") {
		t.Errorf("log %q does not say what was stopped", log.String())
	}
	for _, again := range [][]byte{h, []byte(`{"kind":"spark_driver","version":2,"conn_id":"spark_default"}`)} {
		if err := (Recoverer{}).Stop(t.Context(), stopTask(&log), again); err != nil {
			t.Errorf("Stop of gone work %s = %v, want nil", again, err)
		}
	}
}

// TestStopClusterDriver: a cluster driver's handle (and a submission's,
// found by its tag) is stopped through the master's REST API, and a
// second Stop of the ended driver succeeds.
func TestStopClusterDriver(t *testing.T) {
	cl := testenv.Spark(t)
	c := &spark.Client{RESTURL: cl.RESTURL, MasterUIURL: cl.MasterUI}
	since := time.Now()
	tests := []struct {
		name   string
		handle func(id, tag string) Handle
	}{
		{name: "driver", handle: func(id, _ string) Handle {
			return Handle{Kind: kindDriver, Version: handleVersion, DriverID: id, RESTURL: cl.RESTURL, MasterUI: cl.MasterUI}
		}},
		{name: "submission", handle: func(_, tag string) Handle {
			return Handle{Kind: kindSubmitting, Version: handleVersion, Submission: tag, SubmittedAt: since.UnixMilli(),
				RESTURL: cl.RESTURL, MasterUI: cl.MasterUI}
		}},
	}
	for _, tt := range tests {
		tag := fmt.Sprintf("stop-%s-%d", tt.name, time.Now().UnixNano())
		id := submitTagged(t, cl, c, tag, "512m")
		h, _ := json.Marshal(tt.handle(id, tag))
		var log testenv.SyncBuffer
		ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
		err := (Recoverer{}).Stop(ctx, stopTask(&log), h)
		cancel()
		if err != nil {
			t.Fatalf("%s: Stop: %v\n%s", tt.name, err, log.String())
		}
		st, err := c.Status(t.Context(), id)
		if err != nil && !errors.Is(err, spark.ErrNotFound) || err == nil && !st.Terminal() {
			t.Errorf("%s: driver %s after Stop: %+v %v", tt.name, id, st, err)
		}
		if err := (Recoverer{}).Stop(t.Context(), stopTask(&log), h); err != nil {
			t.Errorf("%s: a second Stop = %v, want nil", tt.name, err)
		}
	}
}

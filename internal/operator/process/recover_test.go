package process_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/operator"
	"github.com/sirocco-dev/sirocco/internal/operator/process"
	"github.com/sirocco-dev/sirocco/internal/testenv"
)

// stopTask is the task a recoverer gets to stop a gone worker's try.
func stopTask(grace time.Duration) (*operator.Task, *bytes.Buffer) {
	var log bytes.Buffer
	return &operator.Task{Log: &log, KillGrace: grace}, &log
}

// TestRecovererStopsTheHandlesGroupAndTheTrysOthers: Stop of a process
// handle kills its group (one that ignores SIGTERM gets SIGKILL after the
// grace) and every group that carries the handle's try identity, leaves
// another try's processes alone, and says what it did in the try's log;
// a second Stop finds nothing left and succeeds.
func TestRecovererStopsTheHandlesGroupAndTheTrysOthers(t *testing.T) {
	t.Parallel()
	id := "w-dead/dag/run/stop/" + strconv.Itoa(os.Getpid())
	leader := startGroup(t, `trap '' TERM; echo ready; while :; do sleep 0.05; done`, true)
	leader.out.waitFor(t, "ready\n", 10*time.Second)
	tagged := startTagged(t, id, "echo ready; exec sleep 60")
	tagged.out.waitFor(t, "ready\n", 10*time.Second)
	other := startTagged(t, id+"0", "echo ready; exec sleep 60")
	other.out.waitFor(t, "ready\n", 10*time.Second)

	h := localHandle(leader.pid, process.StartTime(leader.pid))
	h.TryID = id
	task, log := stopTask(300 * time.Millisecond)
	if err := (process.Recoverer{}).Stop(t.Context(), task, handleJSON(t, h)); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	leader.waitExit(t, 5*time.Second)
	tagged.waitExit(t, 5*time.Second)
	if !testenv.Alive(other.pid) {
		t.Error("Stop killed the processes of another try")
	}
	if !strings.Contains(log.String(), "stopped 2 process group(s)") {
		t.Errorf("the try's log does not say what was stopped: %q", log)
	}
	log.Reset()
	if err := (process.Recoverer{}).Stop(t.Context(), task, handleJSON(t, h)); err != nil || log.Len() > 0 {
		t.Errorf("Stop again = %v (log %q); want nil and nothing done: Stop is idempotent", err, log)
	}
}

// TestRecovererStopOfGoneWork: work that is already gone, whatever the
// handle says of it, is stopped without an error; a handle that cannot be
// trusted is an error, with nothing signalled.
func TestRecovererStopOfGoneWork(t *testing.T) {
	t.Parallel()
	gone := startGroup(t, "exit 0", true)
	gone.waitExit(t, 10*time.Second)
	host, _ := os.Hostname()
	tests := []struct {
		name, handle, wantErr string
	}{
		{name: "group gone", handle: string(handleJSON(t, localHandle(gone.pid, 12345)))},
		{name: "try identity only, no process left", handle: string(process.TryHandle("w-dead/none/none/none/1"))},
		{name: "saved before the process started", handle: `{"kind":"process","version":1}`},
		{name: "stored before kinds and versions", handle: `{"host":"` + host + `","pid":` + strconv.Itoa(gone.pid) + `,"pgid":` + strconv.Itoa(gone.pid) + `}`},
		{name: "another host", handle: `{"kind":"process","host":"` + host + `-elsewhere","pid":4242,"pgid":4242}`, wantErr: "runs on host"},
		{name: "group 1", handle: `{"kind":"process","host":"` + host + `","pid":4242,"pgid":1}`, wantErr: "above 1"},
		{name: "newer version", handle: `{"kind":"process","version":2,"host":"` + host + `"}`, wantErr: "version 2 is newer"},
		{name: "not a process handle", handle: `{"kind":"spark_driver","driver_id":"d"}`, wantErr: "not a process handle"},
		{name: "not JSON", handle: `{`, wantErr: "decode process handle"},
	}
	for _, tt := range tests {
		task, _ := stopTask(time.Second)
		err := (process.Recoverer{}).Stop(t.Context(), task, []byte(tt.handle))
		if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
			t.Errorf("%s: Stop = %v, want error containing %q", tt.name, err, tt.wantErr)
		}
	}
}

// TestRecovererStopWithinItsContext: a context that has ended leaves no
// grace: a group that ignores SIGTERM gets SIGKILL at once.
func TestRecovererStopWithinItsContext(t *testing.T) {
	t.Parallel()
	s := startGroup(t, `trap '' TERM; echo ready; while :; do sleep 0.05; done`, true)
	s.out.waitFor(t, "ready\n", 10*time.Second)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	task, _ := stopTask(time.Hour)
	start := time.Now()
	if err := (process.Recoverer{}).Stop(ctx, task, handleJSON(t, localHandle(s.pid, process.StartTime(s.pid)))); err != nil {
		t.Fatal(err)
	}
	s.waitExit(t, 5*time.Second)
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("Stop took %s with its context ended", took)
	}
}

// TestProcessHandleEnvelope: the handles Run writes, and those stored
// before kinds and versions existed, are dispatched to this package.
func TestProcessHandleEnvelope(t *testing.T) {
	t.Parallel()
	var noted []byte
	if err := process.Run(t.Context(), process.Spec{Argv: []string{"true"}, NoteHandle: func(b []byte) { noted = b }}); err != nil {
		t.Fatal(err)
	}
	for _, h := range [][]byte{noted, process.TryHandle("w/d/r/t/1"), []byte(`{"host":"h","pid":4242,"pgid":4242}`)} {
		kind, version, err := operator.HandleKind(h)
		if err != nil || kind != process.Kind || version != process.HandleVersion {
			t.Errorf("HandleKind(%s) = %q, %d, %v; want %q, %d", h, kind, version, err, process.Kind, process.HandleVersion)
		}
	}
	var h process.Handle
	if err := json.Unmarshal(noted, &h); err != nil || h.Version != process.HandleVersion {
		t.Errorf("Run's handle %s: version %d, %v", noted, h.Version, err)
	}
	if _, err := (process.Recoverer{}).Resume(t.Context(), &operator.Task{}, noted); !errors.Is(err, operator.ErrNotResumable) {
		t.Errorf("Resume = %v, want ErrNotResumable", err)
	}
}

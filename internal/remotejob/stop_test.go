package remotejob

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/testenv"
)

// startReady starts a job whose command writes "ready" to stdout once its
// processes are set up, and waits for that line.
func startReady(t *testing.T, command string) Handle {
	t.Helper()
	h := startJob(t, Spec{Command: command})
	out := newLineWatch("ready")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, _, err := Follow(ctx, Local{}, h, Offsets{}, Output{Stdout: out, Stderr: &bytes.Buffer{}})
		done <- err
	}()
	select {
	case <-out.seen:
	case err := <-done:
		t.Fatalf("the job ended before it was ready: %v\n%s", err, out.String())
	}
	cancel()
	<-done
	return h
}

func TestStopKillsTheWholeGroup(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, command string
		want          StopOutcome
		members       int // processes in the group once ready, at least
		codes         []int
	}{
		{
			name:    "plain command",
			command: "sleep 1000 & echo ready; wait",
			want:    StopTerminated, members: 3, // wrapper, job shell, sleep
			codes: []int{143}, // the wrapper records the job's death by SIGTERM
		},
		{
			name: "background child and a child that ignores SIGTERM",
			command: `sleep 1000 &
sh -c 'trap "" TERM; echo ready; while :; do sleep 1; done' &
wait`,
			want: StopKilled, members: 4, // and the inner shell's sleep, once it runs
			codes: []int{143, 137},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := startReady(t, tt.command)
			if got := groupMembers(t, h.PID); len(got) < tt.members {
				t.Fatalf("ps shows %d processes in group %d, want at least %d: %q", len(got), h.PID, tt.members, got)
			}
			began := time.Now()
			outcome, err := Stop(context.Background(), Local{}, h, 300*time.Millisecond)
			if err != nil || outcome != tt.want {
				t.Fatalf("stop: %q, %v; want %q", outcome, err, tt.want)
			}
			if tt.want == StopKilled && time.Since(began) < 300*time.Millisecond {
				t.Errorf("SIGKILL came after %v, before the grace", time.Since(began))
			}
			if got := groupMembers(t, h.PID); len(got) != 0 {
				t.Fatalf("ps shows group %d alive after stop: %q", h.PID, got)
			}
			if got := markedProcesses(t, h.Dir); len(got) != 0 {
				t.Fatalf("processes of the job survive: %v", got)
			}
			code, _, _ := follow(t, h)
			if !containsInt(tt.codes, code) {
				t.Fatalf("exit code after stop %d, want one of %v", code, tt.codes)
			}
			again, err := Stop(context.Background(), Local{}, h, time.Second)
			if err != nil || again != StopGone {
				t.Fatalf("second stop: %q, %v; want gone", again, err)
			}
		})
	}
}

func containsInt(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func TestStopOfAFinishedJobSucceeds(t *testing.T) {
	t.Parallel()
	h := startJob(t, Spec{Command: "exit 4"})
	if code, _, _ := follow(t, h); code != 4 {
		t.Fatalf("exit %d", code)
	}
	for range 2 {
		outcome, err := Stop(context.Background(), Local{}, h, time.Second)
		if err != nil || outcome != StopGone {
			t.Fatalf("stop of an ended job: %q, %v", outcome, err)
		}
	}
	if code, _, _ := follow(t, h); code != 4 {
		t.Fatalf("stop changed the recorded exit code to %d", code)
	}
	if err := Cleanup(context.Background(), Local{}, h); err != nil {
		t.Fatal(err)
	}
	if outcome, err := Stop(context.Background(), Local{}, h, time.Second); err != nil || outcome != StopGone {
		t.Fatalf("stop after cleanup: %q, %v", outcome, err)
	}
}

// foreignGroup starts a process group that is not a job: what the job's
// pid may belong to once the job is gone and the pid was reused.
func foreignGroup(t *testing.T) *exec.Cmd {
	t.Helper()
	cmd := exec.Command("sleep", "1000")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
	})
	return cmd
}

func TestStopSparesAReusedPid(t *testing.T) {
	t.Parallel()
	h := startJob(t, Spec{Command: "true"})
	follow(t, h)
	other := foreignGroup(t)
	reused := h
	reused.PID = other.Process.Pid // the job's pid now names another group
	outcome, err := Stop(context.Background(), Local{}, reused, 0)
	if err != nil || outcome != StopNotOurs {
		t.Fatalf("stop of a reused pid: %q, %v; want not_ours", outcome, err)
	}
	if err := syscall.Kill(other.Process.Pid, 0); err != nil {
		t.Fatalf("the unrelated process was killed: %v", err)
	}
	if len(groupMembers(t, other.Process.Pid)) != 1 {
		t.Fatal("ps no longer shows the unrelated process")
	}
	// Nor does that group keep the job's directory from being cleaned up.
	if err := Cleanup(context.Background(), Local{}, reused); err != nil {
		t.Fatalf("cleanup with a reused pid: %v", err)
	}
}

func TestFollowReportsALostJobAndStopEndsIt(t *testing.T) {
	t.Parallel()
	h := startReady(t, "sleep 1000 & echo ready; wait")
	// Something else than Stop kills the wrapper (the leader); the job's
	// sleep lives on in the group.
	if err := syscall.Kill(h.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	testenv.Eventually(t, "the wrapper to die", 10*time.Second, func() (bool, string) {
		_, _, err := Follow(context.Background(), Local{}, h, Offsets{}, Output{Stdout: &out, Stderr: &out})
		return errors.Is(err, ErrLost), fmt.Sprintf("follow: %v", err)
	})
	outcome, err := Stop(context.Background(), Local{}, h, 200*time.Millisecond)
	if err != nil || (outcome != StopTerminated && outcome != StopKilled) {
		t.Fatalf("stop of the rest of a lost job: %q, %v", outcome, err)
	}
	if got := groupMembers(t, h.PID); len(got) != 0 {
		t.Fatalf("ps shows the group after stop: %q", got)
	}
}

func TestStopRecordsTheKillWhenTheWrapperDies(t *testing.T) {
	t.Parallel()
	// The job's own shell ignores SIGTERM: the wrapper keeps waiting for it
	// and dies by SIGKILL with it, so Stop records the code.
	h := startReady(t, "trap '' TERM; echo ready; while :; do sleep 1; done")
	outcome, err := Stop(context.Background(), Local{}, h, 100*time.Millisecond)
	if err != nil || outcome != StopKilled {
		t.Fatalf("stop: %q, %v", outcome, err)
	}
	if code, _, _ := follow(t, h); code != 137 {
		t.Fatalf("exit code %d, want 137", code)
	}
}

func TestCleanup(t *testing.T) {
	t.Parallel()
	t.Run("removes an ended job's directory, and only it", func(t *testing.T) {
		t.Parallel()
		base := t.TempDir()
		sibling := filepath.Join(base, "sibling")
		if err := os.Mkdir(sibling, 0o700); err != nil {
			t.Fatal(err)
		}
		h := startJob(t, Spec{Command: "true", BaseDir: base})
		follow(t, h)
		if err := Cleanup(context.Background(), Local{}, h); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(h.Dir); !os.IsNotExist(err) {
			t.Fatalf("job directory after cleanup: %v", err)
		}
		if _, err := os.Stat(sibling); err != nil {
			t.Fatalf("cleanup touched a sibling: %v", err)
		}
		if err := Cleanup(context.Background(), Local{}, h); err != nil {
			t.Fatalf("second cleanup: %v", err)
		}
	})
	t.Run("refuses a running job", func(t *testing.T) {
		t.Parallel()
		h := startReady(t, "echo ready; sleep 1000")
		if err := Cleanup(context.Background(), Local{}, h); !errors.Is(err, ErrRunning) {
			t.Fatalf("cleanup of a running job: %v, want ErrRunning", err)
		}
		if _, err := os.Stat(filepath.Join(h.Dir, "pid")); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("refuses a directory that is not the job's", func(t *testing.T) {
		t.Parallel()
		base := t.TempDir()
		h := startJob(t, Spec{Command: "true", BaseDir: base, JobID: "real"})
		follow(t, h)
		other := filepath.Join(base, "precious")
		if err := os.MkdirAll(other, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(other, "data"), []byte("keep"), 0o600); err != nil {
			t.Fatal(err)
		}
		forged := h
		forged.JobID, forged.Dir = "precious", other
		if err := Cleanup(context.Background(), Local{}, forged); err == nil {
			t.Fatal("cleanup removed a directory without the job's marker")
		}
		if _, err := os.Stat(filepath.Join(other, "data")); err != nil {
			t.Fatalf("the foreign directory was touched: %v", err)
		}
	})
}

func TestFollowOfACleanedUpJob(t *testing.T) {
	t.Parallel()
	h := startJob(t, Spec{Command: "true"})
	follow(t, h)
	if err := Cleanup(context.Background(), Local{}, h); err != nil {
		t.Fatal(err)
	}
	_, _, err := Follow(context.Background(), Local{}, h, Offsets{}, Output{Stdout: &bytes.Buffer{}, Stderr: &bytes.Buffer{}})
	if !errors.Is(err, ErrGone) {
		t.Fatalf("follow after cleanup: %v, want ErrGone", err)
	}
}

func TestFollowReturnsPromptlyOnCancel(t *testing.T) {
	t.Parallel()
	h := startReady(t, "echo ready; sleep 1000")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, _, err := Follow(ctx, Local{}, h, Offsets{}, Output{Stdout: &bytes.Buffer{}, Stderr: &bytes.Buffer{}})
		done <- err
	}()
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("follow after cancel: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("follow did not return after its context ended")
	}
	if len(groupMembers(t, h.PID)) == 0 {
		t.Fatal("a cancelled follow stopped the job; only Stop may")
	}
}

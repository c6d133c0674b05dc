package process_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/operator/process"
	"github.com/sirocco-dev/sirocco/internal/testenv"
)

func bashSpec(script string, out *output) process.Spec {
	return process.Spec{Argv: []string{"bash", "-c", script}, Stdout: out, Stderr: out, Grace: 300 * time.Millisecond}
}

func TestRunExitOutcomes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		script     string
		wantErr    bool
		wantCode   int
		wantSignal string
		wantMsg    string
	}{
		{name: "success", script: "echo hi; exit 0"},
		{name: "exit code", script: "exit 3", wantErr: true, wantCode: 3, wantMsg: "process exited with code 3"},
		{name: "exit 255", script: "exit 255", wantErr: true, wantCode: 255, wantMsg: "process exited with code 255"},
		{name: "killed by SIGKILL", script: "kill -KILL $$", wantErr: true, wantCode: -1, wantSignal: "killed", wantMsg: "process killed by signal killed"},
		{name: "killed by SIGTERM", script: "kill -TERM $$", wantErr: true, wantCode: -1, wantSignal: "terminated", wantMsg: "process killed by signal terminated"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			out := newOutput()
			err := process.Run(context.Background(), bashSpec(tt.script, out))
			if !tt.wantErr {
				if err != nil {
					t.Fatalf("Run = %v, want nil", err)
				}
				return
			}
			var ee *process.ExitError
			if !errors.As(err, &ee) {
				t.Fatalf("Run = %v (%T), want *ExitError", err, err)
			}
			if ee.Code != tt.wantCode || ee.Signal != tt.wantSignal {
				t.Errorf("ExitError = %+v, want code %d signal %q", *ee, tt.wantCode, tt.wantSignal)
			}
			if err.Error() != tt.wantMsg {
				t.Errorf("message = %q, want %q", err.Error(), tt.wantMsg)
			}
		})
	}
}

func TestRunPassesDirEnvAndOutput(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	stdout, stderr := newOutput(), newOutput()
	err := process.Run(context.Background(), process.Spec{
		Argv:   []string{"bash", "-c", `pwd -P; echo "foo=$FOO args=$0,$1"; echo oops >&2`, "zero", "one"},
		Dir:    dir,
		Env:    []string{"FOO=bar"},
		Stdout: stdout,
		Stderr: stderr,
	})
	if err != nil {
		t.Fatal(err)
	}
	real, err := filepath.EvalSymlinks(dir)
	if err != nil {
		t.Fatal(err)
	}
	if want := real + "\nfoo=bar args=zero,one\n"; stdout.String() != want {
		t.Errorf("stdout = %q, want %q", stdout.String(), want)
	}
	if stderr.String() != "oops\n" {
		t.Errorf("stderr = %q, want %q", stderr.String(), "oops\n")
	}
}

func TestRunStartErrors(t *testing.T) {
	t.Parallel()
	if err := process.Run(context.Background(), process.Spec{}); err == nil || err.Error() != "empty command" {
		t.Errorf("empty argv: %v, want \"empty command\"", err)
	}
	err := process.Run(context.Background(), process.Spec{Argv: []string{"/nonexistent/sirocco-no-such-program"}})
	if err == nil || !strings.Contains(err.Error(), "start /nonexistent/sirocco-no-such-program") {
		t.Errorf("missing program: %v", err)
	}
	var ee *process.ExitError
	if errors.As(err, &ee) {
		t.Errorf("a start failure is not an exit: %v", err)
	}
	err = process.Run(context.Background(), process.Spec{Argv: []string{"true"}, Dir: filepath.Join(t.TempDir(), "missing")})
	if err == nil || !strings.Contains(err.Error(), "start true") {
		t.Errorf("missing dir: %v", err)
	}
}

// TestRunCancelTermsTheWholeGroup proves that SIGTERM reaches a grandchild:
// the subshell's trap runs and the leader, which waits for it, reports too.
func TestRunCancelTermsTheWholeGroup(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := newOutput()
	spec := bashSpec(`trap 'wait; echo "leader got TERM"; exit 0' TERM
( trap 'echo "sub got TERM"; exit 0' TERM; echo ready; while :; do sleep 0.05; done ) &
wait`, out)
	spec.Grace = 10 * time.Second // the traps must end it, not SIGKILL
	done := make(chan error, 1)
	go func() { done <- process.Run(ctx, spec) }()
	out.waitFor(t, "ready\n", 10*time.Second)
	start := time.Now()
	cancel()
	var err error
	select {
	case err = <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	if time.Since(start) > 3*time.Second {
		t.Errorf("Run took %s after cancel, want the trap to end it at once", time.Since(start))
	}
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Run = %v, want context.Canceled", err)
	}
	var ee *process.ExitError
	if errors.As(err, &ee) {
		t.Errorf("the leader exited 0 from its trap, got %v", ee)
	}
	got := out.String()
	if !strings.Contains(got, "sub got TERM\n") || !strings.Contains(got, "leader got TERM\n") {
		t.Errorf("both the leader and the grandchild should get SIGTERM; output:\n%s", got)
	}
}

func TestRunCancelKillsAfterGraceWhenTermIsIgnored(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := newOutput()
	spec := bashSpec(`trap '' TERM; sleep 30 & echo "child $!"; wait`, out)
	spec.Grace = 400 * time.Millisecond
	done := make(chan error, 1)
	go func() { done <- process.Run(ctx, spec) }()
	child := out.pidAfter(t, "child ", 10*time.Second)
	start := time.Now()
	cancel()
	var err error
	select {
	case err = <-done:
	case <-time.After(spec.Grace + 5*time.Second):
		t.Fatal("Run did not return within grace + 5s")
	}
	took := time.Since(start)
	if took < spec.Grace {
		t.Errorf("Run returned after %s, before the grace of %s: TERM is ignored, only SIGKILL ends it", took, spec.Grace)
	}
	if took > spec.Grace+2*time.Second {
		t.Errorf("Run returned after %s, want about the grace of %s", took, spec.Grace)
	}
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Run = %v, want context.Canceled", err)
	}
	var ee *process.ExitError
	if !errors.As(err, &ee) || ee.Signal != "killed" {
		t.Errorf("Run = %v, want the leader killed by SIGKILL", err)
	}
	testenv.EventuallyDead(t, child, 10*time.Second)
}

// TestRunKillsBackgroundGrandchild: when the leader exits, whatever it left
// in its process group is killed, whether or not it holds the output pipe.
func TestRunKillsBackgroundGrandchild(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		script string
	}{
		{name: "output redirected", script: `sleep 60 >/dev/null 2>&1 & echo "child $!"`},
		{name: "holding stdout", script: `sleep 60 & echo "child $!"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			out := newOutput()
			spec := bashSpec(tt.script, out)
			start := time.Now()
			if err := process.Run(context.Background(), spec); err != nil {
				t.Fatalf("Run = %v, want nil (the leader exited 0)", err)
			}
			if took := time.Since(start); took > spec.Grace+3*time.Second {
				t.Errorf("Run took %s, want at most about the grace %s", took, spec.Grace)
			}
			testenv.EventuallyDead(t, out.pidAfter(t, "child ", time.Second), 10*time.Second)
		})
	}
}

func TestRunSaveHandle(t *testing.T) {
	t.Parallel()
	type key struct{}
	ctx := context.WithValue(context.Background(), key{}, "run ctx")
	var (
		h         process.Handle
		raw       []byte
		startTime uint64
		pgid      int
		ctxValue  any
	)
	out := newOutput()
	spec := bashSpec("echo ok", out)
	spec.SaveHandle = func(ctx context.Context, data []byte) error {
		raw = data
		ctxValue = ctx.Value(key{})
		if err := json.Unmarshal(data, &h); err != nil {
			return err
		}
		// The child is alive until Run waits for it: read it now.
		startTime = process.StartTime(h.PID)
		var err error
		pgid, err = syscall.Getpgid(h.PID)
		return err
	}
	if err := process.Run(ctx, spec); err != nil {
		t.Fatal(err)
	}
	if raw == nil {
		t.Fatal("SaveHandle was not called")
	}
	host, _ := os.Hostname()
	if h.Kind != "process" || h.Host != host || h.PID <= 0 {
		t.Errorf("handle = %s, want kind process, host %s, a pid", raw, host)
	}
	if h.PGID != h.PID || pgid != h.PID {
		t.Errorf("pgid in handle %d, actual %d, pid %d: the child should lead its own group", h.PGID, pgid, h.PID)
	}
	if h.StartTime == 0 || h.StartTime != startTime {
		t.Errorf("start time in handle %d, from /proc %d", h.StartTime, startTime)
	}
	if ctxValue != "run ctx" {
		t.Errorf("SaveHandle got a context without Run's values (%v)", ctxValue)
	}
	var fields map[string]any
	if err := json.Unmarshal(raw, &fields); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"kind", "host", "pid", "pgid", "start_time"} {
		if _, ok := fields[k]; !ok {
			t.Errorf("handle JSON %s lacks %q", raw, k)
		}
	}
}

func TestRunSaveHandleErrorKillsTheChild(t *testing.T) {
	t.Parallel()
	errDown := errors.New("database is down")
	pid := 0
	spec := process.Spec{
		Argv:  []string{"sleep", "30"},
		Grace: 10 * time.Second,
		SaveHandle: func(_ context.Context, data []byte) error {
			var h process.Handle
			if err := json.Unmarshal(data, &h); err != nil {
				return err
			}
			pid = h.PID
			return errDown
		},
	}
	start := time.Now()
	err := process.Run(context.Background(), spec)
	if !errors.Is(err, errDown) || !strings.Contains(err.Error(), "save process handle") {
		t.Fatalf("Run = %v, want the SaveHandle error", err)
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("Run took %s: the child should be killed at once", took)
	}
	if pid == 0 {
		t.Fatal("SaveHandle was not called")
	}
	testenv.EventuallyDead(t, pid, 10*time.Second)
}

func TestStartTime(t *testing.T) {
	t.Parallel()
	self := process.StartTime(os.Getpid())
	if self == 0 {
		t.Fatal("StartTime of this process is 0")
	}
	if again := process.StartTime(os.Getpid()); again != self {
		t.Errorf("StartTime changed: %d then %d", self, again)
	}
	if got := process.StartTime(1 << 30); got != 0 {
		t.Errorf("StartTime of a pid that cannot exist = %d, want 0", got)
	}
}

// TestRunFindsAMovedProgram: the path of a bare program name is looked up
// once and remembered; when the program moves along PATH, the next run
// finds it where it is now.
func TestRunFindsAMovedProgram(t *testing.T) {
	first, second := t.TempDir(), t.TempDir()
	write := func(dir, says string) {
		t.Helper()
		script := "#!/bin/sh\necho " + says + "\n"
		if err := os.WriteFile(filepath.Join(dir, "sirocco-moved-prog"), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("PATH", first+string(os.PathListSeparator)+second+string(os.PathListSeparator)+os.Getenv("PATH"))
	run := func() string {
		t.Helper()
		var out strings.Builder
		if err := process.Run(t.Context(), process.Spec{Argv: []string{"sirocco-moved-prog"}, Stdout: &out, Stderr: &out}); err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(out.String())
	}
	write(first, "first")
	if got := run(); got != "first" {
		t.Fatalf("ran %q, want first", got)
	}
	if err := os.Remove(filepath.Join(first, "sirocco-moved-prog")); err != nil {
		t.Fatal(err)
	}
	write(second, "second")
	if got := run(); got != "second" {
		t.Fatalf("after the move ran %q, want second", got)
	}
}

// TestRunSavesTheHandleOfALongTryOnly: with a try identity, the process
// carries it and its handle is saved once it has run for HandleAfter, not
// for a process that ends sooner. Neither case depends on the machine's
// pace: the short process ends long before its HandleAfter, and the long
// one waits until its handle was saved.
func TestRunSavesTheHandleOfALongTryOnly(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "saved")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		script string
		after  time.Duration
		saved  bool
	}{
		{script: `echo "$` + process.TryIDVar + `"`, after: time.Hour, saved: false},
		{script: `echo "$` + process.TryIDVar + `"; read -r _ < ` + fifo, after: 10 * time.Millisecond, saved: true},
	} {
		var saved []process.Handle
		var noted int
		var out strings.Builder
		err := process.Run(t.Context(), process.Spec{Argv: []string{"bash", "-c", tt.script}, Stdout: &out, Stderr: &out,
			TryID: "w/d/r/t/1", HandleAfter: tt.after, NoteHandle: func([]byte) { noted++ },
			SaveHandle: func(_ context.Context, b []byte) error {
				var h process.Handle
				if err := json.Unmarshal(b, &h); err != nil {
					t.Error(err)
				}
				saved = append(saved, h)
				// Let the waiting process end (it is reading the FIFO).
				return os.WriteFile(fifo, []byte("saved\n"), 0o600)
			}})
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.TrimSpace(out.String()); got != "w/d/r/t/1" {
			t.Errorf("%s: the process saw %s=%q", tt.script, process.TryIDVar, got)
		}
		if noted != 1 {
			t.Errorf("%s: the handle was noted %d times, want once at the start", tt.script, noted)
		}
		switch {
		case !tt.saved && len(saved) != 0:
			t.Errorf("%s: a handle was saved for a process that ended at once: %+v", tt.script, saved)
		case tt.saved && (len(saved) != 1 || saved[0].PID <= 0 || saved[0].TryID != "w/d/r/t/1"):
			t.Errorf("%s: saved %+v, want one handle with the pid and the try id", tt.script, saved)
		}
	}
}

// TestRunStopsWaitingForOutputHeldOutsideTheGroup: a child that left the
// process group (setsid) is not killed with it and may hold the output
// open forever; Run gives the output the grace, then stops reading.
func TestRunStopsWaitingForOutputHeldOutsideTheGroup(t *testing.T) {
	t.Parallel()
	out := newOutput()
	spec := bashSpec(`setsid sleep 60 & echo "child $!"`, out)
	start := time.Now()
	if err := process.Run(context.Background(), spec); err != nil {
		t.Fatalf("Run = %v, want nil (the leader exited 0)", err)
	}
	took := time.Since(start)
	child := out.pidAfter(t, "child ", time.Second)
	t.Cleanup(func() { _ = syscall.Kill(child, syscall.SIGKILL) })
	if took < spec.Grace || took > spec.Grace+2*time.Second {
		t.Errorf("Run took %s, want about the grace %s", took, spec.Grace)
	}
}

// TestRunDeliversTheOutputOfTheWholeGroup: output that passes through
// another member of the group (bash's process substitution, a logging
// pipe) after the leader's last line is all in the log when Run returns.
func TestRunDeliversTheOutputOfTheWholeGroup(t *testing.T) {
	t.Parallel()
	for range 10 {
		out := newOutput()
		spec := bashSpec(`exec > >(sed 's/^/out: /'); echo first; echo LAST`, out)
		spec.Grace = time.Minute // bounds a broken run only: Run returns when sed's output ends
		if err := process.Run(context.Background(), spec); err != nil {
			t.Fatal(err)
		}
		if got := out.String(); !strings.Contains(got, "out: LAST") {
			t.Fatalf("output %q lacks the last line passed through sed", got)
		}
	}
}

// TestRunCancelGivesTheGroupItsGrace: on a cancel, the leader's children
// get the grace to run their SIGTERM handlers, even once the leader is gone.
func TestRunCancelGivesTheGroupItsGrace(t *testing.T) {
	t.Parallel()
	out := newOutput()
	spec := bashSpec(`bash -c 'trap "sleep 0.3; echo cleaned up; exit 0" TERM; echo ready; sleep 60 & wait' & wait`, out)
	spec.Grace = 5 * time.Second
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- process.Run(ctx, spec) }()
	out.waitFor(t, "ready\n", 10*time.Second)
	cancel()
	<-done
	if !strings.Contains(out.String(), "cleaned up") {
		t.Errorf("the child's SIGTERM handler was cut short: output %q", out.String())
	}
}

// TestRunChildDescriptors: the child reads /dev/null and writes to
// blocking pipes, as exec gives them, although Run makes its pipes and
// stdin itself.
func TestRunChildDescriptors(t *testing.T) {
	t.Parallel()
	out := newOutput()
	script := `readlink /proc/$$/fd/0; for fd in 1 2; do echo "fd$fd $(readlink /proc/$$/fd/$fd | cut -d: -f1) $(awk '/^flags/ {print $2}' /proc/$$/fdinfo/$fd)"; done`
	if err := process.Run(context.Background(), bashSpec(script, out)); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 3 || lines[0] != os.DevNull {
		t.Fatalf("want stdin %s and two descriptor lines, got %q", os.DevNull, lines)
	}
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		if len(f) != 3 || f[1] != "pipe" {
			t.Fatalf("want a pipe: %q", l)
		}
		flags, err := strconv.ParseUint(f[2], 8, 64)
		if err != nil || flags&syscall.O_NONBLOCK != 0 {
			t.Errorf("%s: flags %s; want a blocking descriptor", f[0], f[2])
		}
	}
}

// noteFirst is an output that records whether any output came before the
// handle was noted.
type noteFirst struct {
	mu    sync.Mutex
	noted bool
	early int
}

func (n *noteFirst) Write(p []byte) (int, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if !n.noted {
		n.early++
	}
	return len(p), nil
}

func (n *noteFirst) note([]byte) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.noted = true
}

// TestRunNotesTheHandleBeforeAnyOutput: recovery trusts the first handle
// line of a try's log as Sirocco's own note, so no output of the process
// may reach the log before it (a task printing a handle line of its own,
// or a copy of another try's log, would have recovery kill the group that
// line names). A process that writes at once must not beat the note, on
// any of many starts.
func TestRunNotesTheHandleBeforeAnyOutput(t *testing.T) {
	t.Parallel()
	early := 0
	for range 300 {
		n := &noteFirst{}
		if err := process.Run(t.Context(), process.Spec{Argv: []string{"echo", "sirocco: process handle {}"},
			Stdout: n, Stderr: n, NoteHandle: n.note}); err != nil {
			t.Fatal(err)
		}
		early += n.early
	}
	if early > 0 {
		t.Errorf("output reached the log before the handle was noted in %d of 300 starts", early)
	}
}

package ssh

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/operator"
	"github.com/sirocco-dev/sirocco/internal/remotejob"
	"github.com/sirocco-dev/sirocco/internal/testenv"
)

// detachMidRun starts a try of command, waits for line in its log, then
// lets go of it as a shutdown does (cause ErrDetach), and returns the
// handle it stored last.
func detachMidRun(t *testing.T, r *rig, command, line string) (*run, []byte) {
	t.Helper()
	ru := r.newRun(t, "long", map[string]any{"command": command, "kill_grace": "1s"})
	ctx, cancel := context.WithCancelCause(t.Context())
	defer cancel(nil)
	done := ru.execute(ctx)
	ru.log.waitFor(t, line, time.Minute)
	cancel(fmt.Errorf("%w: Sirocco is shutting down", operator.ErrDetach))
	res := await(t, done, time.Minute)
	if !errors.Is(res.err, operator.ErrDetach) {
		t.Fatalf("err = %v, want a detach\n%s", res.err, ru.log)
	}
	if len(r.srv.SessionProcesses()) == 0 {
		t.Fatal("a detach must leave the remote job running")
	}
	return ru, ru.lastHandle(t)
}

// TestQuietJobHasItsOffsetsStored: output followed by silence is covered
// by a stored handle within about saveEvery, not only when more output
// comes: a restart during the silence would otherwise log it all again.
func TestQuietJobHasItsOffsetsStored(t *testing.T) {
	r := newRig(t)
	gate := filepath.Join(r.work, "go")
	ru := r.newRun(t, "quiet", map[string]any{"command": "echo begin; while [ ! -e " + gate + " ]; do sleep 0.05; done; echo end"})
	done := ru.execute(t.Context())
	ru.log.waitFor(t, "begin", time.Minute)
	testenv.Eventually(t, "the offsets past \"begin\" stored while the job is quiet", 30*time.Second, func() (bool, string) {
		hs := ru.handles(t)
		if len(hs) == 0 {
			return false, "no handle stored"
		}
		last := hs[len(hs)-1]
		return last.Job != nil && last.Offsets.Stdout >= int64(len("begin\n")), fmt.Sprintf("last stored offsets %+v", last.Offsets)
	})
	if err := os.WriteFile(gate, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if res := await(t, done, time.Minute); res.err != nil {
		t.Fatalf("err = %v\n%s", res.err, ru.log)
	}
}

// TestResumeContinuesTheLogAndTakesTheExitCode: a try let go of at a
// shutdown stored its offsets; the recoverer, from that handle alone,
// follows the same job from there (the log goes on without repeating
// what was read), picks its exit code up, and never starts the command
// again.
func TestResumeContinuesTheLogAndTakesTheExitCode(t *testing.T) {
	r := newRig(t)
	gate, count := filepath.Join(r.work, "go"), filepath.Join(r.work, "count")
	command := "echo ran >> " + count + "; echo one; " + waitForFile(gate) + "; echo two; exit 3"
	first, h := detachMidRun(t, r, command, "one\n")
	if !Recoverer.CanResume(Recoverer{}, h) {
		t.Fatalf("CanResume(%s) = false", h)
	}
	stored, _ := decodeHandle(h)
	if stored.Offsets.Stdout != int64(len("one\n")) {
		t.Fatalf("stored offsets %+v: the detach should store what was read", stored.Offsets)
	}
	touch(t, gate)
	second := r.newRun(t, "long", map[string]any{"command": command, "skip_on_exit_code": []any{3}})
	_, err := Recoverer{}.Resume(t.Context(), second.task, h)
	if !errors.Is(err, operator.ErrSkip) {
		t.Fatalf("Resume = %v, want the skip of exit code 3\n%s", err, second.log)
	}
	if log := second.log.String(); strings.Contains(log, "one\n") || !strings.Contains(log, "two\n") || !strings.Contains(log, "reattaching") {
		t.Errorf("the resumed log should go on from the offsets:\n%s", log)
	}
	if n := counter(t, count); n != 1 {
		t.Errorf("the command ran %d times, want 1", n)
	}
	if !strings.Contains(first.log.String(), "letting go") {
		t.Errorf("the first try's log should say it let go:\n%s", first.log)
	}
	r.waitGone(t, 10*time.Second)
}

// TestResumeOfAPendingHandle: Sirocco died after storing the job id and
// before Start answered. Resume starts with the same job id, which finds
// the job the first Start launched instead of launching another; a
// pending handle whose Start never ran starts the job then.
func TestResumeOfAPendingHandle(t *testing.T) {
	r := newRig(t)
	count := filepath.Join(r.work, "count")
	command := "echo ran >> " + count + "; echo done"
	ru := r.newRun(t, "pending", map[string]any{"command": command})
	pending := Handle{Kind: HandleKind, Version: handleVersion, ConnID: "edge", Host: r.srv.Host, Port: r.srv.Port, User: r.srv.User,
		JobID: remotejob.JobID(ru.task.DagID, ru.task.RunID, ru.task.TaskID, 1), BaseDir: r.base, Cleanup: CleanupNever}
	// Never started: Resume starts it, once.
	res, err := Recoverer{}.Resume(t.Context(), ru.task, pending.encode())
	if err != nil || res.ReturnValue == nil || *res.ReturnValue != "done" || counter(t, count) != 1 {
		t.Fatalf("Resume of a never-started job = %+v, %v, ran %d times\n%s", res, err, counter(t, count), ru.log)
	}
	// Started (and ended) already: Resume finds it.
	again := r.newRun(t, "pending", map[string]any{"command": command})
	if _, err := (Recoverer{}).Resume(t.Context(), again.task, pending.encode()); err != nil {
		t.Fatal(err)
	}
	if n := counter(t, count); n != 1 || !strings.Contains(again.log.String(), "already started") {
		t.Errorf("the command ran %d times, want 1\n%s", n, again.log)
	}
}

// TestResumeOfAPendingHandleWithMaskedFields: the fields a resumed try
// gets are those stored at its start, with secrets masked. A job whose
// start was never confirmed is followed if it ran, but never started from
// such fields: it would run with "***" in place of the secret.
func TestResumeOfAPendingHandleWithMaskedFields(t *testing.T) {
	r := newRig(t)
	count := filepath.Join(r.work, "count")
	masked := "echo *** >> " + count + "; echo done"
	ru := r.newRun(t, "masked", map[string]any{"command": masked})
	pending := Handle{Kind: HandleKind, Version: handleVersion, ConnID: "edge", Host: r.srv.Host, Port: r.srv.Port, User: r.srv.User,
		JobID: remotejob.JobID(ru.task.DagID, ru.task.RunID, ru.task.TaskID, 1), BaseDir: r.base, Cleanup: CleanupNever}
	_, err := Recoverer{}.Resume(t.Context(), ru.task, pending.encode())
	if err == nil || !strings.Contains(err.Error(), "masked secrets") {
		t.Fatalf("Resume of a never-started job from masked fields = %v, want a refusal", err)
	}
	if _, serr := os.Stat(count); !errors.Is(serr, os.ErrNotExist) {
		t.Fatalf("the command ran from masked fields (stat %s: %v)\n%s", count, serr, ru.log)
	}
	// The first start did run it (with the real secret): Resume follows it.
	real := r.newRun(t, "masked", map[string]any{"command": "echo s3cret >> " + count + "; echo done"})
	if res, err := (Recoverer{}).Resume(t.Context(), real.task, pending.encode()); err != nil || res.ReturnValue == nil || *res.ReturnValue != "done" {
		t.Fatalf("first start = %+v, %v\n%s", res, err, real.log)
	}
	again := r.newRun(t, "masked", map[string]any{"command": masked})
	res, err := Recoverer{}.Resume(t.Context(), again.task, pending.encode())
	if err != nil || res.ReturnValue == nil || *res.ReturnValue != "done" {
		t.Fatalf("Resume of a started job from masked fields = %+v, %v\n%s", res, err, again.log)
	}
	if n := counter(t, count); n != 1 || !strings.Contains(again.log.String(), "reattaching") {
		t.Errorf("the command ran %d times, want 1\n%s", n, again.log)
	}
}

// TestRecovererStop: the stopper reaches a job left running by a dead
// Sirocco through its handle alone and kills its group (the remote side
// has nothing left); again, it is no error; a pending handle whose job
// never started stops nothing.
func TestRecovererStop(t *testing.T) {
	r := newRig(t)
	_, h := detachMidRun(t, r, `sh -c 'trap "" TERM; sleep 300' & echo up; wait`, "up\n")
	stopper := r.newRun(t, "long", map[string]any{})
	stopper.task.Args = nil // as the engine's stop: no fields
	if err := (Recoverer{}).Stop(t.Context(), stopper.task, h); err != nil {
		t.Fatalf("Stop: %v\n%s", err, stopper.log)
	}
	if pids := r.srv.SessionProcesses(); len(pids) > 0 {
		t.Fatalf("remote processes left:\n%s", psOf(pids))
	}
	if log := stopper.log.String(); !strings.Contains(log, "SIGKILL") {
		t.Errorf("the log should say what was done:\n%s", log)
	}
	if err := (Recoverer{}).Stop(t.Context(), stopper.task, h); err != nil {
		t.Errorf("a second Stop: %v", err)
	}
	pending := Handle{Kind: HandleKind, Version: handleVersion, ConnID: "edge", Host: r.srv.Host, Port: r.srv.Port, User: r.srv.User,
		JobID: "never_started", BaseDir: r.base, Cleanup: CleanupOnSuccess}
	if err := (Recoverer{}).Stop(t.Context(), stopper.task, pending.encode()); err != nil || !strings.Contains(stopper.log.String(), "never started") {
		t.Errorf("Stop of a never-started job: %v\n%s", err, stopper.log)
	}
}

// TestResumeWithAnEndedRunStopsTheJob: a resume whose context is already
// cancelled (the run ended while nobody tracked the try) stops the job.
func TestResumeWithAnEndedRunStopsTheJob(t *testing.T) {
	r := newRig(t)
	_, h := detachMidRun(t, r, `echo up; sleep 300`, "up\n")
	ctx, cancel := context.WithCancelCause(t.Context())
	cancel(errors.New("run r is failed"))
	ru := r.newRun(t, "long", map[string]any{"command": "ignored"})
	if _, err := (Recoverer{}).Resume(ctx, ru.task, h); err == nil {
		t.Fatal("Resume of an ended run succeeded")
	}
	if pids := r.srv.SessionProcesses(); len(pids) > 0 {
		t.Fatalf("remote processes left:\n%s\n%s", psOf(pids), ru.log)
	}
}

// TestDecodeHandleRejectsDamage: a handle that could point a kill or an
// rm elsewhere is refused with what is wrong.
func TestDecodeHandleRejectsDamage(t *testing.T) {
	good := Handle{Kind: HandleKind, Version: 1, ConnID: "edge", Host: "h", Port: 22, User: "u", JobID: "j", Cleanup: CleanupNever}
	if _, err := decodeHandle(good.encode()); err != nil {
		t.Fatalf("a good handle: %v", err)
	}
	job := remotejob.Handle{Version: 1, JobID: "j", Dir: "/x/j", PID: 42}
	tests := map[string]func(h *Handle){
		"other kind":      func(h *Handle) { h.Kind = "process" },
		"version 2":       func(h *Handle) { h.Version = 2 },
		"no host":         func(h *Handle) { h.Host = "" },
		"port":            func(h *Handle) { h.Port = 70000 },
		"job id":          func(h *Handle) { h.JobID = "../etc" },
		"job dir":         func(h *Handle) { j := job; j.Dir = "/"; h.Job = &j },
		"pid 1":           func(h *Handle) { j := job; j.PID = 1; h.Job = &j },
		"other job":       func(h *Handle) { j := job; j.JobID, j.Dir = "k", "/x/k"; h.Job = &j },
		"negative offset": func(h *Handle) { h.Offsets.Stdout = -1 },
		"cleanup":         func(h *Handle) { h.Cleanup = "sometimes" },
	}
	for name, damage := range tests {
		h := good
		damage(&h)
		if _, err := decodeHandle(h.encode()); err == nil {
			t.Errorf("%s: accepted %s", name, h.encode())
		}
	}
	if _, err := decodeHandle([]byte("[1]")); err == nil {
		t.Error("a JSON array was accepted")
	}
}

// TestGetPtyRunsAttached: get_pty gives the command a terminal; output
// and the last line come back; a cancel hangs the terminal up and the
// remote command dies.
func TestGetPtyRunsAttached(t *testing.T) {
	r := newRig(t)
	ru := r.newRun(t, "pty", map[string]any{"command": `if [ -t 1 ]; then echo "tty $X"; fi; echo last`,
		"get_pty": true, "environment": map[string]any{"X": "it's $(x)"}})
	res := await(t, ru.execute(t.Context()), time.Minute)
	if res.err != nil || res.res.ReturnValue == nil || *res.res.ReturnValue != "last" || !strings.Contains(ru.log.String(), "tty it's $(x)\n") {
		t.Fatalf("Execute = %+v, %v\n%s", res.res, res.err, ru.log)
	}
	if left, _ := filepath.Glob(filepath.Join(os.TempDir(), "sirocco-pty.*")); len(left) > 0 {
		t.Errorf("the uploaded scripts are left: %v", left)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	long := r.newRun(t, "pty_long", map[string]any{"command": "echo up; sleep 300", "get_pty": true})
	done := long.execute(ctx)
	long.log.waitFor(t, "up\n", time.Minute)
	cancel()
	if res := await(t, done, time.Minute); !errors.Is(res.err, context.Canceled) {
		t.Fatalf("err = %v, want canceled", res.err)
	}
	r.waitGone(t, 10*time.Second)
}

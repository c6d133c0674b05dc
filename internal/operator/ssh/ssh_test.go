package ssh

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/operator"
)

// TestOutputStreamsLiveAndLastLineIsPushed: the first line of a running
// job is in the task log before the job ends; the job's handle (with its
// pid) was stored before that, after the pending one; exit 0 succeeds with
// the last stdout line as return value; stderr reaches the log too; the
// directory is removed (cleanup: on_success); nothing is left running.
func TestOutputStreamsLiveAndLastLineIsPushed(t *testing.T) {
	r := newRig(t)
	gate := filepath.Join(r.work, "go")
	ru := r.newRun(t, "live", map[string]any{"command": "echo first; echo to-stderr >&2; " + waitForFile(gate) + "; echo last"})
	done := ru.execute(t.Context())
	ru.log.waitFor(t, "first\n", time.Minute)
	select {
	case res := <-done:
		t.Fatalf("the try ended before the job was let go on: %+v", res)
	default:
	}
	hs := ru.handles(t)
	if len(hs) < 2 || hs[0].Job != nil || hs[1].Job == nil || hs[1].Job.PID <= 1 || hs[0].JobID != hs[1].JobID {
		t.Fatalf("stored handles %+v: want the pending one (job id), then the job's", hs)
	}
	touch(t, gate)
	res := await(t, done, time.Minute)
	if res.err != nil || res.res.ReturnValue == nil || *res.res.ReturnValue != "last" {
		t.Fatalf("Execute = %+v, %v; want success with return value \"last\"\n%s", res.res, res.err, ru.log)
	}
	log := ru.log.String()
	for _, want := range []string{"to-stderr\n", "exited with code 0", "remote job started in " + hs[1].Job.Dir} {
		if !strings.Contains(log, want) {
			t.Errorf("the log lacks %q:\n%s", want, log)
		}
	}
	waitRemoved(t, hs[1].Job.Dir) // cleanup: on_success, in the background
	r.waitGone(t, 10*time.Second)
}

// TestExitCodeDecides: 0 succeeds, a skip_on_exit_code skips, others fail
// naming the code (99 too: Airflow's SSHOperator skips nothing by
// default); do_xcom_push false pushes nothing; cleanup keeps or removes
// the job's directory as asked.
func TestExitCodeDecides(t *testing.T) {
	r := newRig(t)
	tests := []struct {
		name     string
		args     map[string]any
		wantErr  string
		skipped  bool
		xcom     string
		keepsDir bool
	}{
		{name: "success", args: map[string]any{"command": "echo out"}, xcom: "out"},
		{name: "no xcom", args: map[string]any{"command": "echo out", "do_xcom_push": false}},
		{name: "failure", args: map[string]any{"command": "exit 3"}, wantErr: "exited with code 3", keepsDir: true},
		{name: "99 fails by default", args: map[string]any{"command": "exit 99"}, wantErr: "exited with code 99", keepsDir: true},
		{name: "skip", args: map[string]any{"command": "exit 42", "skip_on_exit_code": []any{41, 42}}, skipped: true, keepsDir: true},
		{name: "failure cleaned always", args: map[string]any{"command": "exit 5", "cleanup": "always"}, wantErr: "code 5"},
		{name: "success kept", args: map[string]any{"command": "true", "cleanup": "never"}, keepsDir: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ru := r.newRun(t, strings.ReplaceAll(tt.name, " ", "_"), tt.args)
			res := await(t, ru.execute(t.Context()), time.Minute)
			switch {
			case tt.skipped:
				if !errors.Is(res.err, operator.ErrSkip) {
					t.Fatalf("err = %v, want a skip", res.err)
				}
			case tt.wantErr != "":
				if res.err == nil || errors.Is(res.err, operator.ErrSkip) || !strings.Contains(res.err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want a failure with %q", res.err, tt.wantErr)
				}
			case res.err != nil:
				t.Fatalf("err = %v\n%s", res.err, ru.log)
			}
			got := ""
			if res.res.ReturnValue != nil {
				got = *res.res.ReturnValue
			}
			if got != tt.xcom {
				t.Errorf("return value %q, want %q", got, tt.xcom)
			}
			hs := ru.handles(t)
			dir := hs[len(hs)-1].Job.Dir
			if !tt.keepsDir {
				waitRemoved(t, dir)
			} else if _, err := os.Stat(dir); err != nil {
				t.Errorf("job directory: %v, want it kept", err)
			}
		})
	}
}

// TestHostileValuesArriveUnchanged: environment values, the task's env,
// cwd and the command with quotes, $(...), backquotes, globs and newlines
// reach the remote command as written, and SIROCCO_CTX_* is set.
func TestHostileValuesArriveUnchanged(t *testing.T) {
	r := newRig(t)
	hostile := "it's \"$(touch pwned)\" `id` $HOME * \\n\nline2 ; exit 7"
	cwd := filepath.Join(r.work, "a dir with 'quotes' and $(x)")
	if err := os.MkdirAll(cwd, 0o777); err != nil {
		t.Fatal(err)
	}
	ru := r.newRun(t, "hostile", map[string]any{
		"command":     `printf '%s|%s|%s|%s' "$HOSTILE" "$FROM_ENV" "$(pwd)" "$SIROCCO_CTX_TASK_ID" > out.txt`,
		"environment": map[string]any{"HOSTILE": hostile},
		"cwd":         cwd,
	})
	ru.task.Env = map[string]string{"FROM_ENV": "$(also) 'not' run"}
	if res := await(t, ru.execute(t.Context()), time.Minute); res.err != nil {
		t.Fatalf("Execute: %v\n%s", res.err, ru.log)
	}
	got, err := os.ReadFile(filepath.Join(cwd, "out.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if want := hostile + "|$(also) 'not' run|" + cwd + "|hostile"; string(got) != want {
		t.Errorf("the command saw\n%q\nwant\n%q", got, want)
	}
	if _, err := os.Stat(filepath.Join(cwd, "pwned")); err == nil {
		t.Error("a value was run as a command")
	}
}

// TestCancelAndTimeoutKillTheProcessGroup: a cancel (clear, kill) and an
// execution_timeout stop the whole remote process group: SIGTERM, and
// SIGKILL after kill_grace for a child that ignores SIGTERM. The remote
// side is checked: no process of the session is left.
func TestCancelAndTimeoutKillTheProcessGroup(t *testing.T) {
	r := newRig(t)
	tests := []struct {
		name    string
		command string
		// stop returns the try's context and what ends it (nothing for a
		// timeout, which ends it by itself).
		stop func(context.Context) (context.Context, func(), context.CancelFunc)
		want string
	}{
		{name: "cancel, TERM-ignoring child", command: `sh -c 'trap "" TERM; echo child; sleep 300' & sleep 300 & echo running; wait`,
			stop: func(ctx context.Context) (context.Context, func(), context.CancelFunc) {
				c, cancel := context.WithCancelCause(ctx)
				return c, func() { cancel(errors.New("task cleared")) }, func() { cancel(nil) }
			}, want: "SIGKILL"},
		{name: "execution timeout", command: `echo running; sleep 300`,
			stop: func(ctx context.Context) (context.Context, func(), context.CancelFunc) {
				c, cancel := context.WithTimeoutCause(ctx, 5*time.Second, errors.New("execution_timeout exceeded"))
				return c, func() {}, cancel
			}, want: "ended after SIGTERM"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ru := r.newRun(t, "stop", map[string]any{"command": tt.command, "kill_grace": "1s"})
			ctx, stop, cancel := tt.stop(t.Context())
			defer cancel()
			done := ru.execute(ctx)
			ru.log.waitFor(t, "running\n", time.Minute)
			if strings.Contains(tt.name, "child") {
				ru.log.waitFor(t, "child\n", time.Minute)
			}
			if len(r.srv.SessionProcesses()) == 0 {
				t.Fatalf("precondition: the job runs on the remote side\n%s", ru.log)
			}
			stop()
			res := await(t, done, time.Minute)
			if res.err == nil || ctx.Err() == nil || !errors.Is(res.err, context.Cause(ctx)) {
				t.Fatalf("err = %v, want the cancel's cause %v", res.err, context.Cause(ctx))
			}
			if pids := r.srv.SessionProcesses(); len(pids) > 0 {
				t.Fatalf("remote processes left after the stop returned:\n%s\nlog:\n%s", psOf(pids), ru.log)
			}
			if log := ru.log.String(); !strings.Contains(log, tt.want) {
				t.Errorf("the log does not say %q:\n%s", tt.want, log)
			}
		})
	}
}

// TestCmdTimeoutFiresOnSilence: output keeps cmd_timeout away; silence
// longer than it fails the try and stops the job.
func TestCmdTimeoutFiresOnSilence(t *testing.T) {
	r := newRig(t)
	ru := r.newRun(t, "quiet", map[string]any{
		"command":     `for i in 1 2 3 4 5 6; do echo tick $i; sleep 0.4; done; echo silent; sleep 300`,
		"cmd_timeout": "1500ms", "kill_grace": "1s",
	})
	res := await(t, ru.execute(t.Context()), time.Minute)
	if !errors.Is(res.err, ErrCmdTimeout) {
		t.Fatalf("err = %v, want cmd_timeout\n%s", res.err, ru.log)
	}
	if log := ru.log.String(); !strings.Contains(log, "tick 6\nsilent\n") {
		t.Errorf("2.4 s of regular output should not time out (1.5 s of silence does):\n%s", log)
	}
	if pids := r.srv.SessionProcesses(); len(pids) > 0 {
		t.Fatalf("remote processes left:\n%s", psOf(pids))
	}
}

// TestCmdTimeoutFromTheConnection: without the field, the connection's
// cmd_timeout extra applies.
func TestCmdTimeoutFromTheConnection(t *testing.T) {
	r := newRig(t)
	c := r.conns["edge"]
	c.Extra["cmd_timeout"] = "1"
	r.conns["edge"] = c
	ru := r.newRun(t, "quiet", map[string]any{"command": `sleep 300`, "kill_grace": "1s"})
	if res := await(t, ru.execute(t.Context()), time.Minute); !errors.Is(res.err, ErrCmdTimeout) {
		t.Fatalf("err = %v, want cmd_timeout", res.err)
	}
	r.waitGone(t, 10*time.Second)
}

// TestDroppedConnectionReattaches: the connection drops while the job
// runs (killed; or frozen until keepalives give up on it, so that a poll
// fails mid-way and the host cannot be reached for a while); the try
// reconnects, follows the same job from its offsets and finishes with the
// whole output, once; the command ran once.
func TestDroppedConnectionReattaches(t *testing.T) {
	r := newRig(t)
	c := r.conns["edge"]
	c.Extra["keepalive_interval"], c.Extra["keepalive_count_max"], c.Extra["connect_timeout"] = "1", "2", "2"
	tests := []struct {
		name string
		cut  func(t *testing.T, ru *run)
	}{
		{name: "killed", cut: func(t *testing.T, ru *run) { r.srv.DropConnections() }},
		{name: "frozen", cut: func(t *testing.T, ru *run) {
			thaw := r.srv.Freeze(t)
			ru.log.waitFor(t, "connection to "+r.srv.Host+" lost", time.Minute)
			thaw()
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			gate, count := filepath.Join(r.work, tt.name+".go"), filepath.Join(r.work, tt.name+".count")
			ru := r.newRun(t, "drop", map[string]any{"command": "echo ran >> " + count + "; echo before; " + waitForFile(gate) + "; echo after"})
			dials := r.pool.Stats().Dials
			done := ru.execute(t.Context())
			ru.log.waitFor(t, "before\n", time.Minute)
			tt.cut(t, ru)
			touch(t, gate)
			res := await(t, done, time.Minute)
			if res.err != nil || res.res.ReturnValue == nil || *res.res.ReturnValue != "after" {
				t.Fatalf("Execute = %+v, %v\n%s", res.res, res.err, ru.log)
			}
			log := ru.log.String()
			if strings.Count(log, "before\n") != 1 || strings.Count(log, "after\n") != 1 {
				t.Errorf("the output should appear once, complete:\n%s", log)
			}
			if n := counter(t, count); n != 1 {
				t.Errorf("the command ran %d times, want 1", n)
			}
			if got := r.pool.Stats().Dials - dials; got < 1 {
				t.Errorf("the pool dialed %d times during the try; the cut should have made it dial again", got)
			}
		})
	}
}

// TestUnknownHostKeyRunsNothing: a host missing from known_hosts fails
// the try before anything runs (no login, no process, no job directory),
// and the error names the offered key's fingerprint.
func TestUnknownHostKeyRunsNothing(t *testing.T) {
	r := newRig(t)
	empty := filepath.Join(t.TempDir(), "known_hosts")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	c := r.conns["edge"]
	c.Extra["known_hosts"] = empty
	r.conns["edge"] = c
	ru := r.newRun(t, "unknown", map[string]any{"command": "touch " + filepath.Join(r.work, "ran")})
	res := await(t, ru.execute(t.Context()), time.Minute)
	fp := strings.Fields(r.srv.HostKey)
	if res.err == nil || !strings.Contains(res.err.Error(), "is not known") || !strings.Contains(res.err.Error(), fingerprint(t, r.srv.HostKey)) {
		t.Fatalf("err = %v, want an unknown host naming the fingerprint of %s", res.err, fp[0])
	}
	if r.srv.Logins() != 0 || len(r.srv.SessionProcesses()) != 0 {
		t.Errorf("logins %d, processes %v: want none", r.srv.Logins(), r.srv.SessionProcesses())
	}
	if _, err := os.Stat(r.base); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the job base directory exists: %v", err)
	}
	if _, err := os.Stat(filepath.Join(r.work, "ran")); err == nil {
		t.Error("the command ran")
	}
}

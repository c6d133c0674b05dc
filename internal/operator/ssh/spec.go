// Package ssh is Airflow's SSHOperator done as its SSHRemoteJobOperator:
// the command runs on the connection's host as a detached job
// (internal/remotejob) whose handle is stored before Sirocco waits on it,
// so cancel, timeouts, a dropped connection and a restart of Sirocco all
// reach the same remote job, and it never runs twice for one try.
//
//	Execute: resolve the connection → store a pending handle (job id)
//	  → remotejob.Start → store the handle (pid, directory)
//	  → Follow (log streamed, offsets stored now and then)
//	     ├ exit code → success | skipped | failed, cleanup queued: the
//	     │  next call to the host removes the directory first (or an
//	     │  idle flush, or the pool's Close), never the job's own calls
//	     ├ connection lost → reconnect, Follow again from the offsets
//	     ├ ErrDetach (shutdown) → leave the job, store the offsets
//	     └ cancel, execution_timeout, cmd_timeout → Stop (TERM, kill_grace, KILL)
//	Resume (after a restart): Follow from the stored offsets (or Start
//	  again with the same job id, which finds the job, if only the
//	  pending handle was stored), then the same end.
//
// A stop or an error with cleanup: always removes the directory at once,
// in the try. get_pty runs the command attached instead (see pty.go).
package ssh

import (
	"fmt"
	"slices"
	"time"

	"github.com/sirocco-dev/sirocco/internal/dag"
	"github.com/sirocco-dev/sirocco/internal/operator"
)

// Cleanup modes: when the job's directory on the host is removed.
const (
	CleanupOnSuccess = "on_success"
	CleanupAlways    = "always"
	CleanupNever     = "never"
)

var cleanupModes = []string{CleanupOnSuccess, CleanupAlways, CleanupNever}

// Spec declares the operator's fields, with Airflow's SSHOperator names.
var Spec = dag.OperatorSpec{
	Name: "ssh",
	Description: "Run a command on a remote host over SSH as a detached job (its own session, pid, output and exit code " +
		"in a directory on the host): followed live, stopped on cancel or timeout, reattached after a restart; " +
		"exit 0 is success, skip_on_exit_code skips, anything else fails.",
	Fields: []dag.FieldSpec{
		{Name: "ssh_conn_id", Kind: dag.FieldString, Required: true, Description: "id of an ssh connection"},
		{Name: "command", Kind: dag.FieldString, Required: true, Templated: true,
			Description: "shell command line, run by /bin/sh on the host (use the shquote filter for values)"},
		{Name: "environment", Kind: dag.FieldStringMap, Templated: true,
			Description: "environment variables for the command, added to the task's env (sent inside the job, not as ssh env requests)"},
		{Name: "cwd", Kind: dag.FieldString, Templated: true, Description: "working directory on the host (~/... is the remote home); default: the login directory"},
		{Name: "get_pty", Kind: dag.FieldBool, Default: false,
			Description: "run attached in a pseudo-terminal instead of as a detached job: no reattach after a restart, stdout and stderr merged, a cancel hangs the terminal up"},
		{Name: "skip_on_exit_code", Kind: dag.FieldIntList, Default: []int{}, Description: "exit codes that mark the task skipped (Airflow's default: none)"},
		{Name: "do_xcom_push", Kind: dag.FieldBool, Default: true, Description: "push the last stdout line as return_value"},
		{Name: "cmd_timeout", Kind: dag.FieldDuration,
			Description: "fail the try and stop the job after this long without output (Airflow's meaning); default: the connection's cmd_timeout extra, else none; 0: none"},
		{Name: "kill_grace", Kind: dag.FieldDuration, Description: "SIGTERM → SIGKILL delay when the job is stopped; default: Sirocco's kill_grace"},
		{Name: "cleanup", Kind: dag.FieldString, Default: CleanupOnSuccess,
			Description: "when to remove the job's directory on the host: on_success, always or never"},
		{Name: "remote_base_dir", Kind: dag.FieldString, Description: "where job directories go on the host; default: ~/.sirocco/jobs"},
	},
}

// Factory registers the operator and the recoverer of its handles.
var Factory = operator.Factory{Spec: Spec, New: func() operator.Operator { return Operator{} }, Recoverer: Recoverer{}}

// config is a try's fields, read through Spec.
type config struct {
	connID     string
	command    string
	env        map[string]string
	cwd        string
	pty        bool
	skip       []int
	xcom       bool
	cmdTimeout *time.Duration // nil: the connection's
	killGrace  time.Duration
	cleanup    string
	baseDir    string
}

// readConfig reads t's fields, rejecting values the loader cannot check
// (the loader checks kinds only).
func readConfig(t *operator.Task) (config, error) {
	f := operator.FieldsOf(Spec, t.Args)
	c := config{
		connID:  f.String("ssh_conn_id"),
		command: f.String("command"),
		cwd:     f.String("cwd"),
		pty:     f.Bool("get_pty"),
		skip:    f.Ints("skip_on_exit_code"),
		xcom:    f.Bool("do_xcom_push"),
		cleanup: f.String("cleanup"),
		baseDir: f.String("remote_base_dir"),
	}
	c.env = mergeEnv(t.Env, f.StringMap("environment"), t.CtxEnv)
	if _, ok := t.Args["cmd_timeout"]; ok {
		d := f.Duration("cmd_timeout")
		if d < 0 {
			return c, fmt.Errorf("field cmd_timeout: %s is negative", d)
		}
		c.cmdTimeout = &d
	}
	c.killGrace = t.KillGrace
	if _, ok := t.Args["kill_grace"]; ok {
		c.killGrace = f.Duration("kill_grace")
		if c.killGrace < 0 {
			return c, fmt.Errorf("field kill_grace: %s is negative", c.killGrace)
		}
	}
	if !slices.Contains(cleanupModes, c.cleanup) {
		return c, fmt.Errorf("field cleanup: %q, want on_success, always or never", c.cleanup)
	}
	if c.connID == "" {
		return c, fmt.Errorf("field ssh_conn_id: empty")
	}
	return c, nil
}

// mergeEnv layers the job's environment: the task's env, then the
// operator's environment, then SIROCCO_CTX_* (as for local tasks, the
// context wins).
func mergeEnv(layers ...map[string]string) map[string]string {
	out := map[string]string{}
	for _, l := range layers {
		for k, v := range l {
			out[k] = v
		}
	}
	return out
}

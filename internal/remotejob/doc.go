// Package remotejob runs a command on another host as a detached job with a
// handle, over any transport that can run a sh script there (Shell: the ssh
// client, or Local). It is Airflow's SSHRemoteJobOperator model, done by
// default: the job lives in its own session, outlives the connection and
// Sirocco, and is found again, followed, stopped and cleaned up by its
// handle, without ever starting the command twice.
//
// # On the job's host
//
// Each try has a directory, <base>/<job id> (base defaults to
// ~/.sirocco/jobs, mode 0700):
//
//	sirocco-job  marker: "sirocco-remotejob v1 <job id>" (Cleanup removes only such a directory)
//	job          environment exports, cd, then the command verbatim (arrives on stdin)
//	run          the wrapper: writes pid, runs "sh job", writes exit
//	started      epoch seconds of the start
//	pid          the wrapper's pid = the job's session and process group id
//	stdout       the job's output (appended)
//	stderr
//	exit         the job's exit code, written (tmp + mv) when it ends
//
// Every process of the job carries SIROCCO_REMOTE_JOB_DIR=<dir> in its
// environment: that marker, read from /proc/<pid>/environ, is how Stop
// tells the job's process group from processes that reused its number.
//
// # Protocol
//
// Each operation is one Shell.Run of a script (scripts/*.sh: variables, the
// shared functions of common.sh, then the operation), which answers one
// line "sirocco-remotejob v1 ..." on stdout, or exits 90 with its reason on
// stderr:
//
//	start    mkdir the directory (the claim: atomic, so only one start
//	         launches), check the job arrived whole (its size), launch
//	         "setsid sh run" detached (stdin /dev/null, output to files),
//	         wait for pid  → "started|existing <pid> <epoch> <dir>"
//	         An existing directory means an earlier start: its job is
//	         reported, not started again. StartQuick lingers a little for
//	         the job to end and appends a first poll's answer (one round
//	         trip for a short job); Find (nostart=1) reports a job without
//	         starting one, or "absent".
//	poll     exit file first, then the wrapper's liveness, then the sizes
//	         of stdout and stderr → "<running|exited|lost|gone> <code>
//	         <stdout size> <stderr size> <n out> <n err>" followed by the
//	         new bytes (at most 1 MiB of each) from the offsets asked for
//	stop     SIGTERM to the group, grace, SIGKILL, each only if a member of
//	         the group carries the marker → "gone|not_ours|terminated|killed"
//	cleanup  rm -rf the directory if its marker names the job and the job
//	         is not running → "removed|gone|running"
//	sweep    a prelude any of the above may carry (Sweeper): the cleanup of
//	         other, ended jobs of the same host, each in a subshell, before
//	         the script's own work; one line each ahead of the own answer →
//	         "swept removed|gone|running <job id>" or
//	         "swept failed <job id> <reason>"
//
// # How the ssh operator uses it
//
//	h, fresh, err := remotejob.Start(ctx, shell, remotejob.Spec{
//		Command: cmd, Env: env, Cwd: cwd,
//		JobID: remotejob.JobID(t.DagID, t.RunID, t.TaskID, t.TryNumber),
//	})
//	// before waiting: the handle, with the host it is valid on
//	t.SaveHandle(ctx, json(sshJob{Kind: "ssh_job", Conn: id, Host: host, Job: h}))
//	code, at, err := remotejob.Follow(ctx, shell, h, remotejob.Offsets{}, remotejob.Output{
//		Stdout: t.Log, Stderr: t.Log,
//		Progress: func(o remotejob.Offsets) { /* now and then: save the handle with o */ },
//	})
//
// On a cancel, clear or timeout (ctx done, cause not operator.ErrDetach):
// Stop(context.WithoutCancel(ctx), shell, h, killGrace), then Follow once
// more for the exit code if wanted. Resume after a restart or a dropped
// connection is Follow from the stored offsets: the log continues where it
// was, the exit code is picked up even if the job ended meanwhile. A start
// whose answer was lost is retried with the same JobID and finds the same
// job. At the end, cleanup: on_success|always|never decides whether to
// remove the directory: Sweeper.Defer queues it, and the next call to the
// same host through Sweeper.Shell removes it first (never a job's own
// calls: a resumed start must find its job), or an idle flush does, in one
// session; Cleanup removes it at once (after a stop).
//
// Output is at least once across a crash: bytes written to the log after
// the last saved offsets are written again on resume.
package remotejob

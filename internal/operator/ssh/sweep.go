package ssh

import (
	"fmt"

	"github.com/sirocco-dev/sirocco/internal/operator"
	"github.com/sirocco-dev/sirocco/internal/remotejob"
	"github.com/sirocco-dev/sirocco/internal/sshclient"
)

// sweeperKey is the pool's attachment (sshclient.Pool.Attach) that holds
// the pending cleanups of ended jobs: one queue per process, shared by
// every try that uses the pool, flushed when the pool closes (shutdown).
type sweeperKey struct{}

// sweeperOf is the pool's sweeper, made with remotejob's idle delay on
// first use.
func sweeperOf(p *sshclient.Pool) *remotejob.Sweeper {
	return p.Attach(sweeperKey{}, func() sshclient.Flusher { return remotejob.NewSweeper(0) }).(*remotejob.Sweeper)
}

// target names the account a job runs as, for the sweeper: connection id
// (a bastion may put the same address elsewhere) and user@host:port.
func target(s *sshclient.Settings) string {
	return s.ConnID + " " + s.User + "@" + s.Addr()
}

// jobShell is the transport of job own's remote calls on s's host: each
// call first removes the directories of ended jobs pending on that host
// (never own's), then does its own work.
func jobShell(t *operator.Task, s *sshclient.Settings, own string) shell {
	base := sshclient.Shell{Pool: t.SSH, Settings: s}
	return shell{sweeperOf(t.SSH).Shell(target(s), base, own)}
}

// deferCleanup queues the removal of the ended job's directory: the next
// call to the same host removes it before its own work, or an idle flush
// does (remotejob.Sweeper). A failure is said in the service log (the
// try's log may be closed by then) and changes nothing for the try. A job
// whose handle could not be stored keeps its directory: after a crash the
// stored job id finds the job only by it.
func (j *job) deferCleanup() {
	h := *j.h.Job
	if !j.jobSaved {
		fmt.Fprintf(j.t.Log, "sirocco: keeping the remote job directory %s: the job's handle was not stored, and a resumed try finds the job by it\n", h.Dir)
		return
	}
	s := j.settings
	err := sweeperOf(j.t.SSH).Defer(target(s), sshclient.Shell{Pool: j.t.SSH, Settings: s}, h, j.reportCleanup(h))
	if err != nil {
		j.reportCleanup(h)(err)
	}
}

// reportCleanup logs a cleanup of h that failed.
func (j *job) reportCleanup(h remotejob.Handle) func(error) {
	return func(err error) {
		if j.t.Logger != nil {
			j.t.Logger.Warn("could not remove a remote job's directory", "dag_id", j.t.DagID, "run_id", j.t.RunID,
				"task_id", j.t.TaskID, "try", j.t.TryNumber, "host", j.h.Host, "dir", h.Dir, "err", err)
		}
	}
}

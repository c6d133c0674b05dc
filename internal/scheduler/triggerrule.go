package scheduler

import (
	"github.com/sirocco-dev/sirocco/internal/dag"
	"github.com/sirocco-dev/sirocco/internal/store"
)

// upstreamCounts summarises the states of a task's direct upstream tasks.
type upstreamCounts struct {
	total, success, skipped, failed, upstreamFailed, done int
}

// countUpstream counts the states of a task's upstream instances. A
// removed one (an instance of a mapped task beyond its list, after a
// clear expanded it again over a shorter list) is not counted, as
// Airflow's trigger rules leave removed instances out.
func countUpstream(states []store.TaskState) upstreamCounts {
	var c upstreamCounts
	for _, s := range states {
		if s == store.StateRemoved {
			continue
		}
		c.total++
		switch s {
		case store.StateSuccess:
			c.success++
		case store.StateSkipped:
			c.skipped++
		case store.StateFailed:
			c.failed++
		case store.StateUpstreamFailed:
			c.upstreamFailed++
		}
		if s.Finished() {
			c.done++
		}
	}
	return c
}

// verdict is what a trigger rule says about a waiting task.
type verdict int

const (
	wait verdict = iota
	ready
	markSkipped
	markUpstreamFailed
)

// evaluate applies Airflow's trigger-rule semantics (TriggerRuleDep) to the
// upstream states of one task.
func evaluate(rule dag.TriggerRule, c upstreamCounts) verdict {
	if c.total == 0 || rule == dag.Always {
		return ready
	}
	allDone := c.done == c.total
	failures := c.failed + c.upstreamFailed
	switch rule {
	case dag.AllSuccess:
		if failures > 0 {
			return markUpstreamFailed
		}
		if c.skipped > 0 {
			return markSkipped
		}
		if c.success == c.total {
			return ready
		}
	case dag.AllFailed:
		if c.success+c.skipped > 0 {
			return markSkipped
		}
		if failures == c.total {
			return ready
		}
	case dag.AllDone:
		if allDone {
			return ready
		}
	case dag.AllDoneMinOneSuccess:
		if allDone {
			if c.success > 0 {
				return ready
			}
			return markSkipped
		}
	case dag.OneSuccess:
		if c.success > 0 {
			return ready
		}
		if allDone {
			// Airflow: skipped when every upstream task was skipped,
			// upstream_failed when some failed and none succeeded.
			if c.skipped == c.done {
				return markSkipped
			}
			return markUpstreamFailed
		}
	case dag.OneFailed:
		if failures > 0 {
			return ready
		}
		if allDone {
			return markSkipped
		}
	case dag.OneDone:
		// Airflow counts a success or a failure of the upstream task
		// itself; an upstream_failed one did not run.
		if c.success+c.failed > 0 {
			return ready
		}
		if allDone {
			return markSkipped
		}
	case dag.NoneFailed, dag.NoneFailedMinOneSuccess:
		if failures > 0 {
			return markUpstreamFailed
		}
		if allDone {
			if rule == dag.NoneFailedMinOneSuccess && c.success == 0 {
				return markSkipped
			}
			return ready
		}
	case dag.NoneSkipped:
		if c.skipped > 0 {
			return markSkipped
		}
		if allDone {
			return ready
		}
	case dag.AllSkipped:
		if c.done-c.skipped > 0 {
			return markSkipped
		}
		if c.skipped == c.total {
			return ready
		}
	}
	return wait
}

package executor

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/sirocco-dev/sirocco/internal/dag"
	"github.com/sirocco-dev/sirocco/internal/operator"
	"github.com/sirocco-dev/sirocco/internal/preflight"
)

// wantsPreflight reports whether a try of t must check connections first:
// the task asks for it, or the DAG does and t is one of its first tasks.
// It is the only cost of preflight on a try that has none.
func wantsPreflight(d *dag.DAG, t *dag.Task) bool {
	return t.Preflight || len(d.Preflight) > 0 && len(t.DependsOn) == 0
}

// preflight checks the connections of the try ot of t (preflightIDs) as
// `sirocco connections test` does, writing each report to the try's log,
// and returns an error naming the first failure: the try fails at once
// (retries apply) instead of timing out inside its operator. The checks
// run under the try's context, so execution_timeout and kill bound them.
func (r *Runner) preflight(ctx context.Context, d *dag.DAG, t *dag.Task, ot *operator.Task) error {
	ids := preflightIDs(d, t, ot.Args)
	if len(ids) == 0 {
		fmt.Fprintf(ot.Log, "sirocco: preflight: the task uses no connection (no conn_id field); nothing to check\n")
		return nil
	}
	ck := preflight.Checker{}
	if r.Preflight != nil {
		ck = *r.Preflight
	}
	ck.Lookup = ot.Connection // masks each connection's secrets in the log
	if ck.Kube == nil {
		ck.Kube = ot.Kube // the clients the kubernetes operators use
	}
	fmt.Fprintf(ot.Log, "sirocco: preflight: checking connection(s) %s\n", strings.Join(ids, ", "))
	reports, ok := ck.CheckIDs(ctx, ids)
	for _, rep := range reports {
		_ = rep.WriteText(ot.Log) // the log writer reports its own failures at the try's end
	}
	if ok {
		return nil
	}
	var failed []string
	for _, rep := range reports {
		if f := rep.Failure(); f != nil {
			failed = append(failed, fmt.Sprintf("connection %s: %s at %s: %s", rep.ConnID, f.Outcome, f.Name, f.Detail))
		}
	}
	return fmt.Errorf("preflight: %s", strings.Join(failed, "; "))
}

// preflightIDs are the connections a try checks: the DAG's preflight for
// its first tasks, then the task's own conn_id, ssh_conn_id and other
// *_conn_id fields (as rendered) when it asks for preflight.
func preflightIDs(d *dag.DAG, t *dag.Task, args map[string]any) []string {
	var ids []string
	if len(t.DependsOn) == 0 {
		ids = append(ids, d.Preflight...)
	}
	if !t.Preflight {
		return ids
	}
	names := make([]string, 0, len(args))
	for name := range args {
		if name == "conn_id" || strings.HasSuffix(name, "_conn_id") {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	for _, name := range names {
		if id, ok := args[name].(string); ok && id != "" && !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	return ids
}

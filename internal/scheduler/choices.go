package scheduler

import (
	"context"
	"errors"
	"time"

	"github.com/sirocco-dev/sirocco/internal/dag"
	"github.com/sirocco-dev/sirocco/internal/store"
)

// choiceCache keeps the choices read for successful branching tries. A
// try's result never changes once its success is written, so an entry
// holds as long as the row's try and end date do (a clear and a new try,
// or a user's mark, change them); the cache keeps only the tries the last
// tick needed.
type choiceCache map[store.TaskKey]cachedChoice

type cachedChoice struct {
	try int
	end time.Time
	c   Choice
}

// choices returns what the successful branch and short_circuit tries of
// the snapshot decided, read from their stored return_value. One that
// cannot be read now is left out, so its downstream tasks wait for the
// next tick rather than run on a guess.
func (l *Loop) choices(ctx context.Context, snap Snapshot) map[store.TaskKey]Choice {
	var out map[store.TaskKey]Choice
	var next choiceCache
	// A run's rows are next to each other: a DAG without branching tasks
	// costs a comparison per row.
	var lastDAG string
	var d *dag.DAG
	for i := range snap.TIs {
		ti := &snap.TIs[i]
		if ti.State != store.StateSuccess {
			continue
		}
		if ti.DagID != lastDAG || i == 0 {
			lastDAG, d = ti.DagID, snap.DAGs[ti.DagID]
			if d != nil && !l.branchy(d) {
				d = nil
			}
		}
		if d == nil {
			continue
		}
		t := d.Task(ti.TaskID)
		if t == nil || !Branching(t.Operator) {
			continue
		}
		e, ok := l.choiceCache[ti.TaskKey]
		if !ok || e.try != ti.TryNumber || !e.end.Equal(ti.EndDate) {
			c, err := l.readChoice(ctx, t.Operator, ti.TaskKey)
			if err != nil {
				l.opts.Logger.Error("cannot read a branch task's result; its downstream tasks wait",
					"dag_id", ti.DagID, "run_id", ti.RunID, "task_id", ti.TaskID, "err", err)
				continue
			}
			e = cachedChoice{try: ti.TryNumber, end: ti.EndDate, c: c}
		}
		if out == nil {
			out, next = map[store.TaskKey]Choice{}, choiceCache{}
		}
		next[ti.TaskKey] = e
		out[ti.TaskKey] = e.c
	}
	l.choiceCache = next
	return out
}

// readChoice reads one successful try's choice. A try with no stored
// result was marked success by hand and skips nothing, as in Airflow; a
// result that does not decode (written by something else than the
// operator) skips nothing either, and says so.
func (l *Loop) readChoice(ctx context.Context, op string, k store.TaskKey) (Choice, error) {
	x, err := l.opts.Store.GetXCom(ctx, k, "return_value")
	if errors.Is(err, store.ErrNotFound) {
		return Choice{All: true}, nil
	}
	if err != nil {
		return Choice{}, err
	}
	c, err := DecodeChoice(op, x.Value)
	if err != nil {
		l.opts.Logger.Warn("a branch task's stored result does not say which tasks to follow; none is skipped",
			"dag_id", k.DagID, "run_id", k.RunID, "task_id", k.TaskID, "err", err)
		return Choice{All: true}, nil
	}
	return c, nil
}

// branchy reports whether d has a branch or short_circuit task,
// remembered per loaded DAG (a reload makes a new *dag.DAG).
func (l *Loop) branchy(d *dag.DAG) bool {
	if b, ok := l.branchyDAGs[d]; ok {
		return b
	}
	if l.branchyDAGs == nil || len(l.branchyDAGs) > 4096 {
		l.branchyDAGs = map[*dag.DAG]bool{} // old versions of reloaded DAGs go
	}
	b := false
	for _, t := range d.Tasks {
		b = b || Branching(t.Operator)
	}
	l.branchyDAGs[d] = b
	return b
}

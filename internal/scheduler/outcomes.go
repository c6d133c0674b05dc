package scheduler

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/sirocco-dev/sirocco/internal/store"
)

// A try's outcome and the hand-off it allows are written together: the
// executor gives the outcome to the loop (Record) instead of writing it, the
// next tick decides as if it were written, and one transaction writes the
// outcome, then the downstream task's claim, which requires the outcome
// (store.TaskUpdate.Requires). A chain's hand-off then costs one round trip
// to the store instead of two, as Airflow's "mini scheduler" queues a
// finished task's downstream tasks in the task's own process.

// outcome is a try's final write waiting for a tick.
type outcome struct {
	u    store.TaskUpdate
	w    store.Written
	err  error
	done chan struct{}
}

// assumed is an outcome the tick decided on before writing it.
type assumed struct {
	o   *outcome
	at  int                // its row's position in the active set
	old store.TaskInstance // the row before, put back if the write loses
}

// Record writes a try's outcome u in the next tick, in one transaction with
// what it allows at once, and returns the write's answer as
// Store.UpdateTaskRow does. Once the loop has stopped it writes u itself.
func (l *Loop) Record(ctx context.Context, u store.TaskUpdate) (store.Written, error) {
	o := &outcome{u: u, done: make(chan struct{})}
	l.reportMu.Lock()
	if l.stopped {
		l.reportMu.Unlock()
		return l.opts.Store.UpdateTaskRow(ctx, u)
	}
	l.outcomes = append(l.outcomes, o)
	l.reportMu.Unlock()
	l.Wake()
	select {
	case <-o.done:
		return o.w, o.err
	case <-ctx.Done():
	}
	l.reportMu.Lock()
	if i := slices.Index(l.outcomes, o); i >= 0 {
		// No tick took it in time (a long resync, a slow store): write it
		// alone rather than lose it, and let the loop know.
		l.outcomes = slices.Delete(l.outcomes, i, i+1)
		l.reportMu.Unlock()
		wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), outcomeTimeout)
		defer cancel()
		w, err := l.opts.Store.UpdateTaskRow(wctx, u)
		if err != nil {
			k := u.Key
			return w, fmt.Errorf("record %s of %s/%s/%s: %w", u.To, k.DagID, k.RunID, k.TaskID, err)
		}
		if w.OK {
			l.Report(w.Row)
		} else {
			l.Wake()
		}
		return w, nil
	}
	l.reportMu.Unlock()
	<-o.done // a tick has it: its answer comes
	return o.w, o.err
}

// takeOutcomes returns the outcomes recorded since the last call.
func (l *Loop) takeOutcomes() []*outcome {
	l.reportMu.Lock()
	defer l.reportMu.Unlock()
	outs := l.outcomes
	l.outcomes = nil
	return outs
}

// stop makes Record write directly from now on and writes what is queued.
func (l *Loop) stop() {
	l.reportMu.Lock()
	l.stopped = true
	outs := l.outcomes
	l.outcomes = nil
	l.reportMu.Unlock()
	l.writeAlone(outs)
}

// outcomeTimeout bounds the write of outcomes, which goes on while Sirocco
// shuts down.
const outcomeTimeout = 10 * time.Second

// writeAlone writes outcomes without a hand-off: when the loop stops, or
// cannot read its snapshot.
func (l *Loop) writeAlone(outs []*outcome) {
	if len(outs) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), outcomeTimeout)
	defer cancel()
	for _, o := range outs {
		o.w, o.err = l.opts.Store.UpdateTaskRow(ctx, o.u)
		if o.w.OK {
			l.active.set(o.w.Row)
		}
		close(o.done)
	}
}

// assume applies each outcome to the active set, as written, when its
// conditions hold on the row the set has; Decide then sees it. The others
// are written all the same, and simply allow nothing.
func (l *Loop) assume(outs []*outcome) []assumed {
	var as []assumed
	for _, o := range outs {
		at, ok := l.active.index[o.u.Key]
		if !ok {
			continue
		}
		row, holds := o.u.Apply(l.active.tis[at])
		if !holds {
			continue
		}
		as = append(as, assumed{o: o, at: at, old: l.active.tis[at]})
		l.active.tis[at] = row
	}
	return as
}

// requirements gives each write of the plan the assumed outcomes it rests
// on: those of its upstream tasks, and, through upstream tasks the same
// plan decides (a skip or upstream_failed cascades down a chain within one
// tick), those of theirs. The write must not apply without them.
func requirements(snap Snapshot, as []assumed, us []store.TaskUpdate) [][]store.TaskCondition {
	reqs := make([][]store.TaskCondition, len(us))
	if len(as) == 0 {
		return reqs
	}
	outcome := make(map[store.TaskKey]store.TaskCondition, len(as))
	for _, a := range as {
		row := snap.TIs[a.at]
		outcome[a.o.u.Key] = store.TaskCondition{Key: a.o.u.Key, State: row.State, Try: row.TryNumber}
	}
	planned := make(map[store.TaskKey]int, len(us))
	for i, u := range us {
		planned[u.Key] = i
	}
	memo := make(map[store.TaskKey][]store.TaskCondition, len(us))
	var of func(k store.TaskKey) []store.TaskCondition
	of = func(k store.TaskKey) []store.TaskCondition {
		if r, ok := memo[k]; ok {
			return r
		}
		memo[k] = nil // a cycle cannot happen in a loaded DAG; this only guards the recursion
		d := snap.DAGs[k.DagID]
		if d == nil || d.Task(k.TaskID) == nil {
			return nil
		}
		var req []store.TaskCondition
		for _, up := range d.Task(k.TaskID).DependsOn {
			uk := store.TaskKey{DagID: k.DagID, RunID: k.RunID, TaskID: up}
			if c, ok := outcome[uk]; ok {
				req = append(req, c)
			}
			if _, ok := planned[uk]; ok {
				for _, c := range of(uk) {
					if !slices.Contains(req, c) {
						req = append(req, c)
					}
				}
			}
		}
		memo[k] = req
		return req
	}
	for i, u := range us {
		reqs[i] = of(u.Key)
	}
	return reqs
}

// settle answers each outcome's caller once the batch is written. An
// assumed outcome that was not written puts its old row back and makes the
// next tick read the store; it reports the runs whose decisions rested on
// such an outcome, whose run updates must wait for that tick.
func (l *Loop) settle(outs []*outcome, as []assumed, ws []store.Written, errs []error) map[runKey]bool {
	var tainted map[runKey]bool
	for _, a := range as {
		i := slices.Index(outs, a.o)
		if ws[i].OK {
			// The set holds the assumed row already: the try's end is
			// told against the row it replaced.
			if l.active.ended != nil && tryEnded(a.old, ws[i].Row) {
				l.active.ended(ws[i].Row)
			}
			continue
		}
		l.active.tis[a.at] = a.old
		l.active.markFeedStale()
		if tainted == nil {
			tainted = map[runKey]bool{}
		}
		tainted[runKey{a.o.u.Key.DagID, a.o.u.Key.RunID}] = true
	}
	for i, o := range outs {
		o.w, o.err = ws[i], errs[i]
		if o.w.OK {
			l.active.set(o.w.Row)
		}
		close(o.done)
	}
	return tainted
}

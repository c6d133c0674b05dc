package scheduler

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/sirocco-dev/sirocco/internal/store"
)

// updateBatch bounds how many task transitions share one transaction, so a
// big tick never holds SQLite's single writer away from the executors for
// long.
const updateBatch = 256

// updateTasks writes task transitions, a batch per transaction, and
// returns each one's answer and error. A batch that fails is retried one
// write at a time, so one bad row never stalls the hand-offs of every other
// DAG. befores holds, where known, the row each write was decided on: a
// batch can fail after its commit (a connection lost before the answer),
// and a retry that then finds its condition gone checks whether the row
// is exactly what the write would have made of it (confirm).
func (l *Loop) updateTasks(ctx context.Context, us []store.TaskUpdate, befores []*store.TaskInstance) ([]store.Written, []error) {
	st := l.opts.Store
	ws := make([]store.Written, len(us))
	errs := make([]error, len(us))
	one := func(i int, afterFailure bool) {
		w, err := st.UpdateTaskRow(ctx, us[i])
		if (err != nil || (!w.OK && afterFailure)) && befores[i] != nil {
			if row, ok := l.confirm(ctx, us[i], *befores[i]); ok {
				w, err = store.Written{Row: row, OK: true}, nil
			}
		}
		if err != nil {
			u := us[i]
			err = fmt.Errorf("update task %s/%s/%s to %s: %w", u.Key.DagID, u.Key.RunID, u.Key.TaskID, u.To, err)
		}
		ws[i], errs[i] = w, err
	}
	for start := 0; start < len(us); start += updateBatch {
		end := min(start+updateBatch, len(us))
		if end-start == 1 {
			one(start, false)
			continue
		}
		batch, err := st.UpdateTasks(ctx, us[start:end])
		if err == nil {
			copy(ws[start:end], batch)
			continue
		}
		if ctx.Err() != nil {
			for i := start; i < len(us); i++ {
				errs[i] = err
			}
			return ws, errs
		}
		for i := start; i < end; i++ {
			one(i, true)
		}
	}
	// A write that a later write of the same row rested on (an outcome,
	// then the retry it allows) was written if that later one was: its
	// condition was the row this one made.
	for i := range us {
		if ws[i].OK || befores[i] == nil {
			continue
		}
		want, holds := us[i].Apply(*befores[i])
		for j := i + 1; holds && j < len(us); j++ {
			if us[j].Key == us[i].Key && ws[j].OK && befores[j] != nil && sameWrite(*befores[j], want) {
				ws[i], errs[i] = store.Written{Row: want, OK: true}, nil
				break
			}
		}
	}
	return ws, errs
}

// sameWrite reports whether two copies of a row agree on everything a
// write sets, so that one can stand for the other having been written.
func sameWrite(a, b store.TaskInstance) bool {
	return a.TaskKey == b.TaskKey && a.Version == b.Version && a.State == b.State && a.TryNumber == b.TryNumber &&
		a.MaxTries == b.MaxTries && a.InfraReruns == b.InfraReruns &&
		a.WorkerID == b.WorkerID && a.Hostname == b.Hostname && a.QueuedAt.Equal(b.QueuedAt) &&
		a.StartDate.Equal(b.StartDate) && a.EndDate.Equal(b.EndDate) && a.NextRetryAt.Equal(b.NextRetryAt) &&
		a.HeartbeatAt.Equal(b.HeartbeatAt) && bytes.Equal(a.Handle, b.Handle) && bytes.Equal(a.Rendered, b.Rendered)
}

// confirm reads the row of u and reports whether it is what u would have
// made of before, one write later and in every field u sets: then u was
// written (by a batch whose answer was lost), and the row is returned.
func (l *Loop) confirm(ctx context.Context, u store.TaskUpdate, before store.TaskInstance) (store.TaskInstance, bool) {
	want, holds := u.Apply(before)
	if !holds {
		return store.TaskInstance{}, false
	}
	got, err := l.opts.Store.GetTaskInstance(ctx, u.Key)
	if err != nil || !sameWrite(got, want) {
		return store.TaskInstance{}, false
	}
	return got, true
}

// createRuns creates the plan's scheduled runs, in order, and logs one line
// per DAG and tick: a catchup backlog is created a page a tick, and a line
// per run would flood the log. A DAG's page stops at its first write that
// fails: the last scheduled interval then stays before it, so the next tick
// creates it again and nothing is skipped. A run that exists already
// (another scheduler made it) counts as created.
func (l *Loop) createRuns(ctx context.Context, snap Snapshot, nrs []NewRun) []error {
	if len(nrs) == 0 {
		return nil
	}
	l.active.markRunsChanged()
	var errs []error
	for i := 0; i < len(nrs); {
		id := nrs[i].DagID
		end := i + 1
		for end < len(nrs) && nrs[end].DagID == id {
			end++
		}
		var first, last string
		n := 0
		for _, nr := range nrs[i:end] {
			run, tis := NewRunRecords(snap.DAGs[id], store.RunScheduled, nr.Interval, nil, snap.Now)
			err := l.opts.Store.CreateRun(ctx, run, tis)
			if err != nil && !errors.Is(err, store.ErrExists) {
				errs = append(errs, fmt.Errorf("create run %s/%s: %w", run.DagID, run.RunID, err))
				break
			}
			l.meta.lastScheduled[id] = nr.Interval
			if err == nil {
				if n == 0 {
					first = run.RunID
				}
				last = run.RunID
				n++
			}
		}
		switch {
		case n == 1:
			l.opts.Logger.Info("created run", "dag_id", id, "run_id", first)
		case n > 1:
			l.opts.Logger.Info("created runs", "dag_id", id, "count", n, "first_run_id", first, "last_run_id", last)
		}
		i = end
	}
	return errs
}

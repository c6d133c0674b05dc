package executor

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/sirocco-dev/sirocco/internal/operator"
	"github.com/sirocco-dev/sirocco/internal/operator/process"
	"github.com/sirocco-dev/sirocco/internal/store"
	"github.com/sirocco-dev/sirocco/internal/tasklog"
)

// LeftHandle returns the handle of the work a dead worker's try left: the
// one stored on its row, else the one noted in its log (a try that ran
// less than process.HandleAfter saved none), else one naming only the
// try's identity, which the local processes of every try carry
// (Task.TryID), so they are found even when the worker died before
// noting anything.
func LeftHandle(logsDir string, ti store.TaskInstance) []byte {
	if len(ti.Handle) > 0 {
		return ti.Handle
	}
	if h := NotedHandle(logsDir, ti); len(h) > 0 {
		return h
	}
	return process.TryHandle(TryID(ti.WorkerID, ti.TaskKey, ti.TryNumber))
}

// StopLeft stops the work a dead worker's try left (LeftHandle) through
// the recoverer that owns the handle's kind, which writes what it did
// into the try's log. It returns the handle's kind, for messages, and an
// error when the handle cannot be read, no registered operator owns its
// kind, or the stop failed: the work may then still run, and the caller
// must say so loudly. ctx bounds the stop.
func (r *Runner) StopLeft(ctx context.Context, ti store.TaskInstance) (kind string, err error) {
	handle := LeftHandle(r.LogsDir, ti)
	rec, kind, err := r.Operators.RecovererOf(handle)
	if err != nil {
		return kind, err
	}
	t := &operator.Task{
		DagID: ti.DagID, RunID: ti.RunID, TaskID: ti.TaskID, TryNumber: ti.TryNumber,
		TryID: TryID(ti.WorkerID, ti.TaskKey, ti.TryNumber), Logger: r.Logger, KillGrace: r.KillGrace, SSH: r.SSH, Kube: r.Kube,
		Log: io.Discard, Mask: func(string) {}, NoteHandle: func([]byte) {},
		SaveHandle: func(context.Context, []byte) error { return errors.New("a try being stopped saves no handle") },
	}
	lw, lerr := tasklog.Create(tasklog.MapPath(r.LogsDir, ti.DagID, ti.RunID, ti.TaskID, ti.MapIndex(), ti.TryNumber))
	if lerr == nil {
		defer lw.Close()
		t.Log, t.Mask = lw, lw.AddSecret
		lw.Printf("sirocco: the Sirocco that ran this try is gone; stopping what the try left (a %s handle)", kind)
	}
	t.Connection = r.connection(t.Mask)
	if err := rec.Stop(ctx, t, handle); err != nil {
		if lw != nil {
			lw.Printf("sirocco: could not stop what the try left; it may still run: %v", err)
		}
		return kind, fmt.Errorf("stop the %s work of try %d of %s: %w", kind, ti.TryNumber, ti.TaskID, err)
	}
	return kind, nil
}

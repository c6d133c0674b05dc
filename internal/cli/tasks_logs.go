package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/sirocco-dev/sirocco/internal/store"
	"github.com/sirocco-dev/sirocco/internal/tasklog"
)

// pollEvery is how often `tasks logs --follow` reads a task instance it
// waits for: the writer may be another process.
const pollEvery = 200 * time.Millisecond

func (a *app) tasksLogs() *cobra.Command {
	var try, mapIndex int
	var follow bool
	cmd := &cobra.Command{
		Use: "logs DAG_ID RUN_ID TASK_ID", Short: "Print a try's log (default: the latest try)", Args: cobra.ExactArgs(3),
		RunE: func(cmd *cobra.Command, args []string) error {
			if cmd.Flags().Changed("try") && try < 1 {
				return fmt.Errorf("--try %d: tries are numbered from 1 (leave --try out for the latest)", try)
			}
			ctx := cmd.Context()
			e, err := a.openUnloaded(ctx)
			if err != nil {
				return err
			}
			defer e.close()
			key := store.TaskKey{DagID: args[0], RunID: args[1], TaskID: args[2]}.WithMapIndex(mapIndex)
			ti, err := a.logInstance(ctx, e, key, follow)
			if err != nil {
				return err
			}
			if ti.TryNumber == 0 && ti.State.Finished() {
				return noTry(ti)
			}
			n := ti.TryNumber
			if try > 0 {
				n = try
			}
			if n == 0 && !follow {
				return notStarted(ti)
			}
			if follow {
				return a.followLog(ctx, e.st, e.cfg.LogsDir(), key, max(n, 1), newWaitNotes(a.stderr))
			}
			data, err := os.ReadFile(tasklog.MapPath(e.cfg.LogsDir(), key.DagID, key.RunID, key.TaskID, key.MapIndex(), n))
			if os.IsNotExist(err) {
				return noLog(ti, n)
			}
			if err != nil {
				return fmt.Errorf("read log of try %d: %w", n, err)
			}
			_, err = a.stdout.Write(data)
			return err
		},
	}
	cmd.Flags().IntVar(&try, "try", 0, "try number (default: latest)")
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "keep printing while the try runs")
	mapIndexFlag(cmd, &mapIndex)
	return cmd
}

// logInstance reads the instance whose log `tasks logs` prints. A mapped
// task's log is an instance's, as Airflow's `tasks logs` needs a map
// index for one: its placeholder answers how to name an instance, and
// with follow an instance named before its task expanded is waited for.
func (a *app) logInstance(ctx context.Context, e *env, key store.TaskKey, follow bool) (store.TaskInstance, error) {
	ti, err := e.st.GetTaskInstance(ctx, key)
	switch {
	case errors.Is(err, store.ErrNotFound) && key.Mapped() && a.plainTask(ctx, e, key):
		// Its one instance is not instance N: do not wait for one.
		err = ended("task %s is not mapped: its log is named without --map-index", key.TaskID)
	case errors.Is(err, store.ErrNotFound) && key.Mapped():
		ti, err = waitInstance(ctx, e.st, key, err, follow, newWaitNotes(a.stderr))
	case err == nil && !key.Mapped() && !ti.State.Finished() && (ti.TryNumber == 0 || !logExists(e, ti)) && a.mappedTask(ctx, e, key):
		// A placeholder cleared after a list that became empty skipped
		// it keeps the old instance 0's tries, whose logs are not its own.
		err = placeholderLog(ctx, e.st, ti, follow, newWaitNotes(a.stderr))
	case err == nil && !key.Mapped() && ti.State.Finished() && ti.TryNumber > 0 && !logExists(e, ti) && a.mappedTask(ctx, e, key):
		// A placeholder skipped by a clear over a list that became empty
		// is the old instance 0: its tries are that instance's, and so
		// are their logs (under map_index=0/, back if the list grows).
		ti.TryNumber = 0
		err = noTry(ti)
	}
	if err != nil {
		var done *endedError
		if errors.As(err, &done) || errors.Is(err, context.Canceled) {
			return ti, err
		}
		return ti, e.instanceError(ctx, key, err)
	}
	return ti, nil
}

// logExists reports whether the log of ti's latest try is there.
func logExists(e *env, ti store.TaskInstance) bool {
	_, err := os.Stat(tasklog.MapPath(e.cfg.LogsDir(), ti.DagID, ti.RunID, ti.TaskID, ti.MapIndex(), ti.TryNumber))
	return err == nil
}

// endedError is an answer about a task instance, complete as it is.
type endedError struct{ msg string }

func (e *endedError) Error() string { return e.msg }

func ended(format string, args ...any) error { return &endedError{msg: fmt.Sprintf(format, args...)} }

// mappedTask reports whether key's task is mapped in its DAG: a
// placeholder in the store looks like a plain task that has not run.
func (a *app) mappedTask(ctx context.Context, e *env, key store.TaskKey) bool {
	mapped, known := taskMapping(ctx, e, key)
	return known && mapped
}

// plainTask reports whether key's task is known not to be mapped: its
// only instance has no map index, so none named is coming.
func (a *app) plainTask(ctx context.Context, e *env, key store.TaskKey) bool {
	mapped, known := taskMapping(ctx, e, key)
	return known && !mapped
}

// taskMapping reads whether key's task is mapped from the DAG file a
// scheduler recorded (else the DAGs folder). known is false when the DAG
// does not load or has no such task any more: the store alone cannot tell.
func taskMapping(ctx context.Context, e *env, key store.TaskKey) (mapped, known bool) {
	d := e.recordedDAG(ctx, key.DagID)
	if d == nil {
		if err := e.bag.Reload(); err != nil {
			return false, false
		}
		d = e.bag.DAGs()[key.DagID]
	}
	if d == nil {
		return false, false
	}
	t := d.Task(key.TaskID)
	if t == nil {
		return false, false
	}
	return t.Mapped(), true
}

// placeholderLog answers `tasks logs` of a mapped task named without a map
// index before it expanded: it has no log of its own. With follow it
// waits until the task expands (then says to name an instance) or ends
// without expanding (then says why), saying on notes why it waits.
func placeholderLog(ctx context.Context, st store.Store, ph store.TaskInstance, follow bool, notes *waitNotes) error {
	if !follow {
		return ended("task %s is mapped and has not expanded yet (state %s)%s; its instances' logs are named with "+
			"--map-index N, and --follow waits for one", ph.TaskID, stateName(ph.State), noteSuffix(ph))
	}
	last, expanded, err := waitPlaceholder(ctx, st, ph.TaskKey, notes)
	switch {
	case err != nil:
		return err
	case expanded:
		return ended("task %s is mapped and has expanded; name one of its instances with --map-index N", ph.TaskID)
	}
	return noTry(last)
}

// waitInstance answers for instance key of a mapped task that is not
// there: when the task has not expanded yet (its placeholder is there,
// unfinished), follow waits for the expansion and reads it; when it ended
// without expanding, noTry says why. missing is the error of the first
// read, returned when the task has no placeholder either.
func waitInstance(ctx context.Context, st store.Store, key store.TaskKey, missing error, follow bool, notes *waitNotes) (store.TaskInstance, error) {
	ph, err := st.GetTaskInstance(ctx, key.WithMapIndex(-1))
	switch {
	case err != nil:
		return store.TaskInstance{}, missing
	case ph.State.Finished():
		return ph, noTry(ph)
	case !follow:
		return ph, ended("task %s has not expanded yet (state %s)%s; use --follow to wait for its instance [%d]",
			key.TaskID, stateName(ph.State), noteSuffix(ph), key.MapIndex())
	}
	last, expanded, err := waitPlaceholder(ctx, st, ph.TaskKey, notes)
	switch {
	case err != nil:
		return store.TaskInstance{}, err
	case !expanded:
		return last, noTry(last)
	}
	return st.GetTaskInstance(ctx, key)
}

// waitPlaceholder polls the placeholder k of a mapped task until it is
// gone (the task expanded: expanded is true) or finished (it ended
// without expanding: last is how), saying on notes why it waits.
func waitPlaceholder(ctx context.Context, st store.Store, k store.TaskKey, notes *waitNotes) (last store.TaskInstance, expanded bool, err error) {
	for {
		last, err = st.GetTaskInstance(ctx, k)
		if errors.Is(err, store.ErrNotFound) {
			return last, true, nil
		}
		if err != nil || last.State.Finished() {
			return last, false, err
		}
		notes.see(last, func(why string) string { return fmt.Sprintf("waiting for %s to expand: %s", k.TaskID, why) })
		select {
		case <-ctx.Done():
			return last, false, ctx.Err()
		case <-time.After(pollEvery):
		}
	}
}

// followLog prints try n's log of k as it grows until the try ends. A
// task that ends without reaching try n (skipped, upstream_failed, a
// mapped task that could not expand) ends the wait with noTry; one that
// reached it without leaving its log, with noLog. While the task has not
// started, notes says why it waits (its note), once per reason.
func (a *app) followLog(ctx context.Context, st store.Store, logsDir string, k store.TaskKey, n int, notes *waitNotes) error {
	var last store.TaskInstance
	var readErr error // the instance could not be read: gone (a placeholder that expanded), or the store failed
	short := func() bool { return last.State.Finished() && last.TryNumber < n }
	done := func() bool {
		cur, err := st.GetTaskInstance(ctx, k)
		if err != nil {
			readErr = err
			return true
		}
		last = cur
		notes.see(cur, func(why string) string { return fmt.Sprintf("waiting for %s to start: %s", instName(k), why) })
		return short() || cur.TryNumber > n || cur.TryNumber == n && !tryGoesOn(cur)
	}
	path := tasklog.MapPath(logsDir, k.DagID, k.RunID, k.TaskID, k.MapIndex(), n)
	err := tasklog.Follow(path, a.stdout, done, ctx.Done())
	if readErr != nil && ctx.Err() == nil {
		return instanceError(k, readErr)
	}
	if short() {
		if last.TryNumber == 0 {
			return noTry(last)
		}
		return ended("task %s ended %s after try %d, without running try %d", instName(last.TaskKey), stateName(last.State), last.TryNumber, n)
	}
	if _, serr := os.Stat(path); err != nil && os.IsNotExist(serr) && last.TaskID != "" {
		return noLog(last, n)
	}
	return err
}

// tryGoesOn reports whether ti's latest try (TryNumber) may still write
// to its log: it runs, a reschedule-mode sensor waits for its next poke
// (which appends to the same try's log, also once scheduled or queued),
// or a cleared try is being stopped. A try is counted when it starts
// running, so any other instance scheduled or queued waits for its next
// try, whose log is another file.
func tryGoesOn(ti store.TaskInstance) bool {
	switch ti.State {
	case store.StateRunning, store.StateUpForReschedule, store.StateRestarting:
		return true
	case store.StateScheduled, store.StateQueued:
		return ti.Pokes > 0
	}
	return false
}

// noteSuffix is ": note" for an instance with a note, to put after its
// state in a message (why it waits), else nothing.
func noteSuffix(ti store.TaskInstance) string {
	if ti.Note == "" {
		return ""
	}
	return ": " + ti.Note
}

// notStarted is the answer of `tasks logs` for a task that has not run a
// try yet: its note, when it has one, says why it waits (depends_on_past).
func notStarted(ti store.TaskInstance) error {
	if ti.Note != "" {
		return fmt.Errorf("task %s has not started yet (state %s): %s; use --follow to wait for it",
			instName(ti.TaskKey), stateName(ti.State), ti.Note)
	}
	return fmt.Errorf("task %s has not started yet (state %s); use --follow to wait for it", instName(ti.TaskKey), stateName(ti.State))
}

// noTry is the answer of `tasks logs` for a task that finished without
// running a try, so it has no log: its note says why, when it has one.
func noTry(ti store.TaskInstance) error {
	if ti.Note != "" {
		return ended("task %s ended %s without running a try: %s", instName(ti.TaskKey), stateName(ti.State), ti.Note)
	}
	return ended("task %s ended %s without running a try, so it has no log", instName(ti.TaskKey), stateName(ti.State))
}

// noLog is the answer of `tasks logs` for try n of ti when its log file
// is not there: a try that has not started, or whose log is gone.
func noLog(ti store.TaskInstance, n int) error {
	if n > ti.TryNumber {
		return ended("task %s has no log for try %d: it has had %s (state %s)", instName(ti.TaskKey), n, tries(ti.TryNumber), stateName(ti.State))
	}
	return ended("task %s has no log for try %d (state %s)", instName(ti.TaskKey), n, stateName(ti.State))
}

// tries counts tries in a message: "1 try", "2 tries".
func tries(n int) string {
	if n == 1 {
		return "1 try"
	}
	return fmt.Sprintf("%d tries", n)
}

// instName names a task instance in messages: "task" or "task [i]".
func instName(k store.TaskKey) string { return k.TaskID + mapSuffix(k) }

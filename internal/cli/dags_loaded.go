package cli

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/sirocco-dev/sirocco/internal/config"
	"github.com/sirocco-dev/sirocco/internal/dag"
	"github.com/sirocco-dev/sirocco/internal/store"
)

// The CLI loads the DAGs folder that sirocco.yaml names now; a running
// scheduler loaded the one it named when the scheduler started, and
// records each DAG it loads in the store (the dags table: its file and
// when it was parsed). A run of a DAG the scheduler does not have stays
// queued with no word from anyone, so `dags trigger` compares the two
// views and says so (a user changed dags_folder while standalone ran, and
// `dags trigger --wait` sat at "[0/6] queued").

// restartHint is what to do about a scheduler that has not loaded a DAG.
func restartHint(rescan time.Duration) string {
	return fmt.Sprintf("A running `sirocco standalone` or `sirocco scheduler` reads sirocco.yaml only when it starts: "+
		"restart it after changing dags_folder (or any setting). A file new in its DAGs folder is loaded "+
		"within dag_dir_list_interval (%s).", rescan)
}

// notLoaded says why the scheduler may not run d as this command loaded
// it, and what that means, or "" when a scheduler recorded d from the
// same file, or has yet to scan a file new in the DAGs folder (folder)
// it is known to read (newFileSoon).
func notLoaded(ctx context.Context, st store.Store, d *dag.DAG, folder string) (reason, consequence string, err error) {
	rec, err := st.GetDAG(ctx, d.ID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		if newFileSoon(ctx, st, d, folder) {
			return "", "", nil
		}
		return fmt.Sprintf("no scheduler has recorded DAG %s (%s)", d.ID, d.FileLoc),
			"the running scheduler has not loaded it, so its runs stay queued", nil
	case err != nil:
		return "", "", fmt.Errorf("read the scheduler's record of DAG %s: %w", d.ID, err)
	case rec.FileLoc != d.FileLoc:
		parsed := ""
		if !rec.LastParsed.IsZero() {
			parsed = ", parsed " + rec.LastParsed.UTC().Format(time.RFC3339)
		}
		return fmt.Sprintf("the scheduler recorded DAG %s from %s%s, not from %s as this command read it",
				d.ID, rec.FileLoc, parsed, d.FileLoc),
			"the running scheduler has not loaded this file (it runs the DAG as the other file says, if it still has it)", nil
	}
	return "", "", nil
}

// newFileSoon reports whether d, which no scheduler has recorded, comes
// from a file in folder where a scheduler has recorded other DAGs: that
// scheduler reads this folder and loads the new file within
// dag_dir_list_interval, so its runs start then and nothing needs a
// restart.
func newFileSoon(ctx context.Context, st store.Store, d *dag.DAG, folder string) bool {
	if !inFolder(d.FileLoc, folder) {
		return false
	}
	recs, err := st.ListDAGs(ctx)
	if err != nil {
		return false
	}
	for _, r := range recs {
		if inFolder(r.FileLoc, folder) {
			return true
		}
	}
	return false
}

// openDAG is open for a command about one DAG (trigger): when a scheduler
// recorded the DAG from a file in this command's DAGs folder, only that
// file is parsed (a folder of a thousand DAGs takes a tenth of a second);
// otherwise, or if that file no longer defines the DAG, the whole folder is
// loaded and lookupDAG says what is wrong. recorded reports that the DAG
// came from the scheduler's own file, so notLoaded has nothing to say.
func (a *app) openDAG(ctx context.Context, id string) (e *env, d *dag.DAG, recorded bool, err error) {
	e, err = a.openUnloaded(ctx)
	if err != nil {
		return nil, nil, false, err
	}
	if d := e.recordedDAG(ctx, id); d != nil {
		return e, d, true, nil
	}
	if err := e.bag.Reload(); err != nil {
		e.close()
		return nil, nil, false, err
	}
	if d, err = e.lookupDAG(id); err != nil {
		e.close()
		return nil, nil, false, err
	}
	return e, d, false, nil
}

// recordedDAG loads id from the file a scheduler recorded for it, if that
// file is in e's DAGs folder and still defines id without errors; nil
// otherwise.
func (e *env) recordedDAG(ctx context.Context, id string) *dag.DAG {
	rec, err := e.st.GetDAG(ctx, id)
	if err != nil || !inFolder(rec.FileLoc, e.cfg.DagsFolder) {
		return nil
	}
	d, err := dag.LoadFile(rec.FileLoc, e.bag.LoadOptions())
	if err != nil || d.ID != id || d.FileLoc != rec.FileLoc {
		return nil
	}
	return d
}

// inFolder reports whether file is a path inside dir (as given, not
// following links: a scheduler records the paths it walked).
func inFolder(file, dir string) bool {
	if file == "" || dir == "" {
		return false
	}
	rel, err := filepath.Rel(filepath.Clean(dir), filepath.Clean(file))
	return err == nil && rel != "." && !filepath.IsAbs(rel) && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// warnNotLoaded prints notLoaded's warning on stderr. A store that cannot
// answer is no reason to fail a trigger that worked: that is a warning too.
func (a *app) warnNotLoaded(ctx context.Context, e *env, d *dag.DAG) {
	reason, consequence, err := notLoaded(ctx, e.st, d, e.cfg.DagsFolder)
	switch {
	case err != nil:
		fmt.Fprintf(a.stderr, "Warning: %v\n", err)
	case reason != "":
		fmt.Fprintf(a.stderr, "Warning: %s: %s. %s\n", reason, consequence, restartHint(e.cfg.DagRescan))
	}
}

// stallWatch decides when --wait says that a run has not started: still
// queued, no task started, for longer than a few poll intervals.
type stallWatch struct {
	since  time.Time
	after  time.Duration
	warned bool
}

// stallPolls is how many poll intervals a run may stay queued before
// --wait says so; minStall is the least wait, so that a short
// poll_interval does not make the hint fire on a busy machine.
const (
	stallPolls = 5
	minStall   = 2 * time.Second
)

// withStallHint has --wait say, on stderr, why a run stays queued with no
// task started for longer than a few of cfg's poll intervals.
func (w runWatch) withStallHint(cfg config.Config) runWatch {
	w.stall = max(stallPolls*cfg.PollInterval, minStall)
	w.rescan = cfg.DagRescan
	w.folder = cfg.DagsFolder
	return w
}

// newStallWatch starts the clock of a wait; nil when w gives no hints.
func (w runWatch) newStallWatch(now time.Time) *stallWatch {
	if w.stall <= 0 {
		return nil
	}
	return &stallWatch{since: now, after: w.stall}
}

// due reports, once, whether the run has been waiting too long without a
// start.
func (s *stallWatch) due(run store.DagRun, tis []store.TaskInstance, now time.Time) bool {
	if s == nil || s.warned || run.State != store.RunQueued || anyStarted(tis) || now.Sub(s.since) < s.after {
		return false
	}
	s.warned = true
	return true
}

// anyStarted reports whether a task instance has left none and scheduled.
func anyStarted(tis []store.TaskInstance) bool {
	for _, ti := range tis {
		switch ti.State {
		case store.StateNone, store.StateScheduled:
		default:
			return true
		}
	}
	return false
}

// stallHint says why run may still be queued: the DAG's active runs fill
// max_active_runs, or the scheduler does not have the DAG (notLoaded, of
// which the trigger warned already), or no scheduler runs at all.
func stallHint(ctx context.Context, st store.Store, d *dag.DAG, run store.DagRun, waited, rescan time.Duration, folder string) string {
	head := fmt.Sprintf("run %s is still queued after %s and none of its tasks has started", run.RunID, waited.Round(time.Second))
	active, err := st.ListRuns(ctx, store.RunFilter{DagID: d.ID, States: []store.RunState{store.RunRunning}})
	if err == nil && d.MaxActiveRuns > 0 && len(active) >= d.MaxActiveRuns {
		return fmt.Sprintf("%s: %d run(s) of %s are running, its max_active_runs; it starts when one ends", head, len(active), d.ID)
	}
	if reason, _, err := notLoaded(ctx, st, d, folder); err == nil && reason != "" {
		return fmt.Sprintf("%s: %s; restart the scheduler (see the warning above)", head, reason)
	}
	if _, err := st.GetDAG(ctx, d.ID); errors.Is(err, store.ErrNotFound) {
		return fmt.Sprintf("%s: the scheduler has not loaded %s yet; it loads a file new in its DAGs folder within "+
			"dag_dir_list_interval (%s), and the run starts then", head, d.FileLoc, rescan)
	}
	return fmt.Sprintf("%s: is a scheduler (`sirocco standalone` or `sirocco scheduler`) running on this database "+
		"with DAG %s loaded? %s", head, d.ID, restartHint(rescan))
}

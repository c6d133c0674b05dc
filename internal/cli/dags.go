package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/sirocco-dev/sirocco/internal/actions"
	"github.com/sirocco-dev/sirocco/internal/dag"
	"github.com/sirocco-dev/sirocco/internal/store"
)

func (a *app) dagsCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "dags", Short: "List, inspect, trigger and test DAGs"}
	cmd.AddCommand(a.dagsList(), a.dagsShow(), a.dagsTrigger(), a.dagsPause(true), a.dagsPause(false),
		a.dagsTest(), a.dagsBackfill(), a.dagsValidate(), a.dagsListRuns(), a.dagsState(),
		a.dagsImportErrors(), a.dagsSchema(), a.dagsImportAirflow())
	return cmd
}

// lookupDAG finds a loaded DAG or explains why it is not there.
func (e *env) lookupDAG(id string) (*dag.DAG, error) {
	if d := e.bag.DAGs()[id]; d != nil {
		return d, nil
	}
	for file, err := range e.bag.Errors() {
		if strings.Contains(err.Error(), id) {
			return nil, fmt.Errorf("DAG %q is not loaded: %s has errors:\n%w", id, file, err)
		}
	}
	ids := make([]string, 0, len(e.bag.DAGs()))
	for id := range e.bag.DAGs() {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return nil, fmt.Errorf("DAG %q not found in %s (loaded: %s)", id, e.cfg.DagsFolder, strings.Join(ids, ", "))
}

func (a *app) dagsList() *cobra.Command {
	return &cobra.Command{
		Use: "list", Short: "List the DAGs in the DAGs folder", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			e, err := a.open(ctx)
			if err != nil {
				return err
			}
			defer e.close()
			recs, err := e.st.ListDAGs(ctx)
			if err != nil {
				return err
			}
			paused := map[string]bool{}
			for _, r := range recs {
				paused[r.DagID] = r.Paused
			}
			t := &table{headers: []string{"dag_id", "schedule", "paused", "tasks", "tags", "fileloc"}}
			for _, id := range sortedIDs(e.bag.DAGs()) {
				d := e.bag.DAGs()[id]
				t.add(map[string]any{"dag_id": id, "schedule": d.ScheduleSpec, "paused": paused[id],
					"tasks": len(d.Tasks), "tags": d.Tags, "fileloc": d.FileLoc})
			}
			if err := a.print(t); err != nil {
				return err
			}
			if n := len(e.bag.Errors()); n > 0 && a.output == "table" {
				fmt.Fprintf(a.stderr, "%d DAG file(s) failed to load: see `sirocco dags list-import-errors`\n", n)
			}
			return nil
		},
	}
}

func sortedIDs(m map[string]*dag.DAG) []string {
	ids := make([]string, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

func (a *app) dagsTrigger() *cobra.Command {
	var conf, runID, logical string
	var wait bool
	cmd := &cobra.Command{
		Use: "trigger DAG_ID", Short: "Create a manual run (the scheduler runs it)", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			e, d, recorded, err := a.openDAG(ctx, args[0])
			if err != nil {
				return err
			}
			defer e.close()
			run, err := e.createManualRun(ctx, d, store.RunManual, conf, runID, logical)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "Created run %s of %s (logical date %s)\n", run.RunID, d.ID, run.LogicalDate.Format(time.RFC3339))
			if !recorded {
				a.warnNotLoaded(ctx, e, d)
			}
			if !wait {
				return nil
			}
			return a.waitRun(ctx, e.st, d, run.RunID, watchRuns(ctx, e.st, e.cfg.PollInterval).withStallHint(e.cfg))
		},
	}
	cmd.Flags().StringVarP(&conf, "conf", "c", "", "JSON object passed as dag_run.conf and checked against params")
	cmd.Flags().StringVarP(&runID, "run-id", "r", "",
		"run id: at most 250 letters, digits and _ . ~ : + - (default manual__<logical date>)")
	cmd.Flags().StringVarP(&logical, "logical-date", "l", "", "logical date, YYYY-MM-DD or RFC 3339 in years 1-9999 (default now)")
	cmd.Flags().BoolVarP(&wait, "wait", "w", false, "follow the run and exit 0 only if it succeeds")
	return cmd
}

// createManualRun decodes the --conf JSON and creates a queued run
// (actions.CreateRun checks it against the DAG's params).
func (e *env) createManualRun(ctx context.Context, d *dag.DAG, typ store.RunType, confJSON, runID, logical string) (store.DagRun, error) {
	var conf map[string]any
	if confJSON != "" {
		if err := json.Unmarshal([]byte(confJSON), &conf); err != nil {
			return store.DagRun{}, fmt.Errorf("--conf must be a JSON object: %w", err)
		}
	}
	return actions.CreateRun(ctx, e.st, d, actions.RunRequest{Type: typ, RunID: runID, LogicalDate: logical, Conf: conf},
		time.Now().UTC())
}

// runWatch tells --wait when to look at a run again: when another process
// (the scheduler) notified a change through the store, which it does when
// a run starts or ends and when a try ends as up_for_retry or failed, and
// every poll otherwise. Task progress is therefore printed at those
// changes (a retry while it waits out its retry_delay) and every poll
// interval; a chain of successes shows at the run's end.
type runWatch struct {
	wakes <-chan struct{} // nil: no notifications, poll only
	poll  time.Duration
	// stall, when set, is how long a run may stay queued with no task
	// started before the wait says why on stderr (withStallHint); rescan
	// is the scheduler's dag_dir_list_interval, which the hint names.
	stall, rescan time.Duration
	folder        string // the DAGs folder, where a new file is loaded within rescan
	// summary says the caller lists every task once the run ends (dags
	// test); otherwise the wait's end lists the tasks that ended with a
	// note (why one ended without a try).
	summary bool
}

// unwatchedPoll is how often --wait looks when the store cannot notify.
const unwatchedPoll = 100 * time.Millisecond

// watchRuns starts watching st; call it before the first read of the run,
// so no change after that read goes unnoticed. poll is the configured
// poll_interval, the safety net.
func watchRuns(ctx context.Context, st store.Store, poll time.Duration) runWatch {
	wakes, err := st.Watch(ctx)
	if err != nil || wakes == nil {
		return runWatch{poll: min(poll, unwatchedPoll)}
	}
	return runWatch{wakes: wakes, poll: poll}
}

// next waits until the run may have changed.
func (w runWatch) next(ctx context.Context) error {
	t := time.NewTimer(w.poll)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-w.wakes:
	case <-t.C:
	}
	return nil
}

// waitRun prints progress until the run ends; non-success is exit code 1.
// A task instance that waits for the previous run (its note says why) is
// said on stderr once per reason: a run held by the past does not move,
// and its progress line alone does not say why.
func (a *app) waitRun(ctx context.Context, st store.Store, d *dag.DAG, runID string, w runWatch) error {
	last := ""
	stall := w.newStallWatch(time.Now())
	notes := newWaitNotes(a.stderr)
	for {
		run, err := st.GetRun(ctx, d.ID, runID)
		if err != nil {
			return err
		}
		tis, err := st.ListTaskInstances(ctx, d.ID, runID)
		if err != nil {
			return err
		}
		line := progressLine(run, tis)
		if line != last {
			fmt.Fprintln(a.stdout, line)
			last = line
		}
		for _, ti := range tis {
			notes.see(ti, func(why string) string { return instanceName(ti.TaskKey) + " waits: " + why })
		}
		if now := time.Now(); stall.due(run, tis, now) {
			fmt.Fprintf(a.stderr, "Hint: %s\n", stallHint(ctx, st, d, run, now.Sub(stall.since), w.rescan, w.folder))
		}
		if run.State.Finished() {
			fmt.Fprintf(a.stdout, "Run %s %s%s\n", runID, run.State, timedOut(d, run))
			if !w.summary {
				a.printNotes(tis)
			}
			if run.State != store.RunSuccess {
				return exitCode(1)
			}
			return nil
		}
		if err := w.next(ctx); err != nil {
			return err
		}
	}
}

// timedOut is ": dagrun_timeout D exceeded" for a run of d that failed as
// it went on longer than d's dagrun_timeout (the scheduler fails a run
// only then before its tasks end), else nothing: the run records no
// reason of its own.
func timedOut(d *dag.DAG, run store.DagRun) string {
	if d.DagrunTimeout <= 0 || run.State != store.RunFailed || run.StartDate.IsZero() || run.EndDate.IsZero() ||
		run.EndDate.Sub(run.StartDate) <= d.DagrunTimeout {
		return ""
	}
	return fmt.Sprintf(": dagrun_timeout %s exceeded", d.DagrunTimeout)
}

// printNotes lists the task instances of an ended run that carry a note:
// why each ended without a try (a mapped task that could not expand),
// which the progress lines' states alone do not say.
func (a *app) printNotes(tis []store.TaskInstance) {
	for _, ti := range tis {
		if ti.TryNumber == 0 && ti.Note != "" {
			fmt.Fprintf(a.stdout, "  %-24s %-16s %s\n", instanceName(ti.TaskKey), stateName(ti.State), ti.Note)
		}
	}
}

// progressLine is a line of --wait and dags test: "[done/tasks] state:"
// then each instance as task=state, one of a mapped task as task[N]=state.
// It counts tasks, not instances, so the denominator stays put while
// mapped tasks expand: a task is done when every instance of it has
// finished (removed ones included).
func progressLine(run store.DagRun, tis []store.TaskInstance) string {
	var tasks []string
	pending := map[string]bool{}
	parts := make([]string, 0, len(tis))
	for _, ti := range tis {
		if _, seen := pending[ti.TaskID]; !seen {
			tasks = append(tasks, ti.TaskID)
			pending[ti.TaskID] = false
		}
		if !ti.State.Finished() {
			pending[ti.TaskID] = true
		}
		state := string(ti.State)
		if state == "" {
			state = "none"
		}
		parts = append(parts, instanceName(ti.TaskKey)+"="+state)
	}
	done := 0
	for _, id := range tasks {
		if !pending[id] {
			done++
		}
	}
	return fmt.Sprintf("[%d/%d] %s: %s", done, len(tasks), run.State, strings.Join(parts, " "))
}

// instanceName names a task instance in progress lines and summaries:
// its task id, with [N] after it for an instance of a mapped task.
func instanceName(k store.TaskKey) string {
	if !k.Mapped() {
		return k.TaskID
	}
	return fmt.Sprintf("%s[%d]", k.TaskID, k.MapIndex())
}

func (a *app) dagsPause(pause bool) *cobra.Command {
	use, short := "unpause DAG_ID", "Let the scheduler create runs for a DAG again"
	if pause {
		use, short = "pause DAG_ID", "Stop creating scheduled runs for a DAG"
	}
	return &cobra.Command{
		Use: use, Short: short, Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			e, err := a.open(ctx)
			if err != nil {
				return err
			}
			defer e.close()
			d, err := e.lookupDAG(args[0])
			if err != nil {
				return err
			}
			if err := actions.SetPaused(ctx, e.st, d, pause, time.Now().UTC()); err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "Dag: %s, paused: %v\n", d.ID, pause)
			return nil
		},
	}
}

func (a *app) dagsBackfill() *cobra.Command {
	var from, to, conf string
	var wait bool
	cmd := &cobra.Command{
		Use: "backfill DAG_ID --from DATE --to DATE", Short: "Create runs for every data interval starting in [from, to]",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			e, err := a.open(ctx)
			if err != nil {
				return err
			}
			defer e.close()
			d, err := e.lookupDAG(args[0])
			if err != nil {
				return err
			}
			start, err := actions.ParseDate(from)
			if err != nil {
				return fmt.Errorf("--from: %w", err)
			}
			end, err := actions.ParseDate(to)
			if err != nil {
				return fmt.Errorf("--to: %w", err)
			}
			if err := actions.Backfillable(d); err != nil {
				return err
			}
			var confMap map[string]any
			if conf != "" {
				if err := json.Unmarshal([]byte(conf), &confMap); err != nil {
					return fmt.Errorf("--conf must be a JSON object: %w", err)
				}
			}
			runs, err := actions.Backfill(ctx, e.st, d, start, end, confMap, time.Now().UTC())
			var created []string
			for _, r := range runs {
				if r.Existed {
					fmt.Fprintf(a.stdout, "Skipped %s: a run for that logical date exists\n", r.LogicalDate.Format(time.RFC3339))
					continue
				}
				created = append(created, r.RunID)
				fmt.Fprintf(a.stdout, "Created run %s\n", r.RunID)
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "%d backfill run(s) created; the scheduler runs them (max_active_runs=%d)\n", len(created), d.MaxActiveRuns)
			if len(created) > 0 {
				a.warnNotLoaded(ctx, e, d)
			}
			if !wait {
				return nil
			}
			failed := false
			w := watchRuns(ctx, e.st, e.cfg.PollInterval).withStallHint(e.cfg)
			for _, id := range created {
				if err := a.waitRun(ctx, e.st, d, id, w); err != nil {
					var code exitCode
					if !errors.As(err, &code) {
						return err
					}
					failed = true
				}
			}
			if failed {
				return exitCode(1)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&from, "from", "", "first logical date (YYYY-MM-DD or RFC 3339, years 1-9999)")
	cmd.Flags().StringVar(&to, "to", "", "last logical date (inclusive, not before --from)")
	cmd.Flags().StringVarP(&conf, "conf", "c", "", "JSON conf for every run")
	cmd.Flags().BoolVarP(&wait, "wait", "w", false, "wait for the runs to finish")
	_ = cmd.MarkFlagRequired("from")
	_ = cmd.MarkFlagRequired("to")
	return cmd
}

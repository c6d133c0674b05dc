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

	"github.com/sirocco-dev/sirocco/internal/dag"
	"github.com/sirocco-dev/sirocco/internal/scheduler"
	"github.com/sirocco-dev/sirocco/internal/store"
)

func (a *app) dagsCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "dags", Short: "List, inspect, trigger and test DAGs"}
	cmd.AddCommand(a.dagsList(), a.dagsShow(), a.dagsTrigger(), a.dagsPause(true), a.dagsPause(false),
		a.dagsTest(), a.dagsBackfill(), a.dagsValidate(), a.dagsListRuns(), a.dagsState(),
		a.dagsImportErrors(), a.dagsSchema())
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

func (a *app) dagsShow() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use: "show DAG_ID", Short: "Print a DAG's graph as a tree or in Graphviz dot", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := a.open(cmd.Context())
			if err != nil {
				return err
			}
			defer e.close()
			d, err := e.lookupDAG(args[0])
			if err != nil {
				return err
			}
			switch format {
			case "dot":
				fmt.Fprint(a.stdout, dotGraph(d))
			case "tree", "":
				fmt.Fprint(a.stdout, treeGraph(d))
			default:
				return fmt.Errorf("unknown format %q (expected tree or dot)", format)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&format, "format", "tree", "tree or dot")
	return cmd
}

func dotGraph(d *dag.DAG) string {
	var b strings.Builder
	fmt.Fprintf(&b, "digraph %q {\n  rankdir=LR;\n", d.ID)
	for _, t := range d.Tasks {
		fmt.Fprintf(&b, "  %q [label=%q shape=box];\n", t.ID, t.ID+"\\n("+t.Operator+")")
	}
	for _, t := range d.Tasks {
		for _, up := range t.DependsOn {
			fmt.Fprintf(&b, "  %q -> %q;\n", up, t.ID)
		}
	}
	b.WriteString("}\n")
	return b.String()
}

// treeGraph prints each root and, indented below it, what depends on it; a
// task with several parents appears under each (marked as seen after the first).
func treeGraph(d *dag.DAG) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s (schedule: %s)\n", d.ID, d.ScheduleSpec)
	seen := map[string]bool{}
	var walk func(id, prefix string, last bool)
	walk = func(id, prefix string, last bool) {
		branch, next := "├── ", "│   "
		if last {
			branch, next = "└── ", "    "
		}
		t := d.Task(id)
		label := fmt.Sprintf("%s [%s]", id, t.Operator)
		if t.TriggerRule != dag.AllSuccess {
			label += " (" + string(t.TriggerRule) + ")"
		}
		if seen[id] {
			fmt.Fprintf(&b, "%s%s%s ↑\n", prefix, branch, id)
			return
		}
		seen[id] = true
		fmt.Fprintf(&b, "%s%s%s\n", prefix, branch, label)
		downs := d.Downstream(id)
		for i, down := range downs {
			walk(down, prefix+next, i == len(downs)-1)
		}
	}
	var roots []string
	for _, t := range d.Tasks {
		if len(t.DependsOn) == 0 {
			roots = append(roots, t.ID)
		}
	}
	for i, r := range roots {
		walk(r, "", i == len(roots)-1)
	}
	return b.String()
}

func (a *app) dagsTrigger() *cobra.Command {
	var conf, runID, logical string
	var wait bool
	cmd := &cobra.Command{
		Use: "trigger DAG_ID", Short: "Create a manual run (the scheduler runs it)", Args: cobra.ExactArgs(1),
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
			run, err := e.createManualRun(ctx, d, store.RunManual, conf, runID, logical)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "Created run %s of %s (logical date %s)\n", run.RunID, d.ID, run.LogicalDate.Format(time.RFC3339))
			if !wait {
				return nil
			}
			return a.waitRun(ctx, e.st, d, run.RunID)
		},
	}
	cmd.Flags().StringVarP(&conf, "conf", "c", "", "JSON object passed as dag_run.conf and checked against params")
	cmd.Flags().StringVarP(&runID, "run-id", "r", "", "run id (default manual__<logical date>)")
	cmd.Flags().StringVarP(&logical, "logical-date", "l", "", "logical date (default now)")
	cmd.Flags().BoolVarP(&wait, "wait", "w", false, "follow the run and exit 0 only if it succeeds")
	return cmd
}

// createManualRun validates conf against params and inserts a queued run.
func (e *env) createManualRun(ctx context.Context, d *dag.DAG, typ store.RunType, confJSON, runID, logical string) (store.DagRun, error) {
	var conf map[string]any
	if confJSON != "" {
		if err := json.Unmarshal([]byte(confJSON), &conf); err != nil {
			return store.DagRun{}, fmt.Errorf("--conf must be a JSON object: %w", err)
		}
	}
	if _, err := d.ResolveParams(conf); err != nil {
		return store.DagRun{}, fmt.Errorf("conf does not match the DAG's params: %w", err)
	}
	at := time.Now().UTC()
	if logical != "" {
		t, err := parseDate(logical)
		if err != nil {
			return store.DagRun{}, err
		}
		at = t
	}
	run, tis := scheduler.NewRunRecords(d, typ, dag.Interval{Start: at, End: at}, conf, time.Now().UTC())
	if runID != "" {
		run.RunID = runID
		for i := range tis {
			tis[i].RunID = runID
		}
	}
	if err := e.st.CreateRun(ctx, run, tis); err != nil {
		if errors.Is(err, store.ErrExists) {
			return run, fmt.Errorf("a run of %s with run id %s or logical date %s already exists", d.ID, run.RunID, at.Format(time.RFC3339))
		}
		return run, err
	}
	return run, nil
}

// parseDate accepts YYYY-MM-DD or RFC 3339.
func parseDate(s string) (time.Time, error) {
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t.UTC(), nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC(), nil
	}
	return time.Time{}, fmt.Errorf("bad date %q (expected YYYY-MM-DD or RFC 3339)", s)
}

// waitRun prints progress until the run ends; non-success is exit code 1.
func (a *app) waitRun(ctx context.Context, st store.Store, d *dag.DAG, runID string) error {
	last := ""
	for {
		run, err := st.GetRun(ctx, d.ID, runID)
		if err != nil {
			return err
		}
		tis, err := st.ListTaskInstances(ctx, d.ID, runID)
		if err != nil {
			return err
		}
		done := 0
		parts := make([]string, 0, len(tis))
		for _, ti := range tis {
			if ti.State.Finished() {
				done++
			}
			state := string(ti.State)
			if state == "" {
				state = "none"
			}
			parts = append(parts, ti.TaskID+"="+state)
		}
		line := fmt.Sprintf("[%d/%d] %s: %s", done, len(tis), run.State, strings.Join(parts, " "))
		if line != last {
			fmt.Fprintln(a.stdout, line)
			last = line
		}
		if run.State.Finished() {
			fmt.Fprintf(a.stdout, "Run %s %s\n", runID, run.State)
			if run.State != store.RunSuccess {
				return exitCode(1)
			}
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
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
			if err := e.st.UpsertDAG(ctx, store.DAGRecord{DagID: d.ID, FileLoc: d.FileLoc, LastParsed: time.Now().UTC()}); err != nil {
				return err
			}
			if err := e.st.SetPaused(ctx, d.ID, pause); err != nil {
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
			start, err := parseDate(from)
			if err != nil {
				return fmt.Errorf("--from: %w", err)
			}
			end, err := parseDate(to)
			if err != nil {
				return fmt.Errorf("--to: %w", err)
			}
			if !dag.IsPeriodic(d.Schedule) {
				return fmt.Errorf("DAG %s has no schedule, so it has no data intervals to backfill", d.ID)
			}
			var confMap map[string]any
			if conf != "" {
				if err := json.Unmarshal([]byte(conf), &confMap); err != nil {
					return fmt.Errorf("--conf must be a JSON object: %w", err)
				}
			}
			if _, err := d.ResolveParams(confMap); err != nil {
				return err
			}
			var created []string
			iv, ok := d.Schedule.First(start.In(d.Timezone))
			for ; ok && !iv.Start.After(end); iv, ok = d.Schedule.Next(iv) {
				run, tis := scheduler.NewRunRecords(d, store.RunBackfill, iv, confMap, time.Now().UTC())
				err := e.st.CreateRun(ctx, run, tis)
				if errors.Is(err, store.ErrExists) {
					fmt.Fprintf(a.stdout, "Skipped %s: a run for that logical date exists\n", iv.Start.Format(time.RFC3339))
					continue
				}
				if err != nil {
					return err
				}
				created = append(created, run.RunID)
				fmt.Fprintf(a.stdout, "Created run %s\n", run.RunID)
			}
			fmt.Fprintf(a.stdout, "%d backfill run(s) created; the scheduler runs them (max_active_runs=%d)\n", len(created), d.MaxActiveRuns)
			if !wait {
				return nil
			}
			failed := false
			for _, id := range created {
				if err := a.waitRun(ctx, e.st, d, id); err != nil {
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
	cmd.Flags().StringVar(&from, "from", "", "first logical date (YYYY-MM-DD or RFC 3339)")
	cmd.Flags().StringVar(&to, "to", "", "last logical date (inclusive)")
	cmd.Flags().StringVarP(&conf, "conf", "c", "", "JSON conf for every run")
	cmd.Flags().BoolVarP(&wait, "wait", "w", false, "wait for the runs to finish")
	_ = cmd.MarkFlagRequired("from")
	_ = cmd.MarkFlagRequired("to")
	return cmd
}

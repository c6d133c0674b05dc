package cli

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"os/signal"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/sirocco-dev/sirocco/internal/dag"
	"github.com/sirocco-dev/sirocco/internal/engine"
	"github.com/sirocco-dev/sirocco/internal/store"
)

func (a *app) dagsTest() *cobra.Command {
	var conf string
	cmd := &cobra.Command{
		Use:   "test DAG_ID [LOGICAL_DATE]",
		Short: "Run one DAG run in this process, without a scheduler, and report each task",
		Args:  cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			// Ctrl-C stops the tries and fails the run (endInterrupted)
			// rather than leave both to the next start's recovery.
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			e, err := a.open(ctx)
			if err != nil {
				return err
			}
			defer e.close()
			d, err := e.lookupDAG(args[0])
			if err != nil {
				return err
			}
			logical := ""
			if len(args) == 2 {
				logical = args[1]
			}
			// A test run belongs to this process: the schedulers of other
			// processes on the same database leave it alone.
			run, err := e.createManualRun(ctx, d, store.RunTest, conf, "", logical)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "Testing %s, run %s\n", d.ID, run.RunID)
			return a.runInProcess(ctx, e, d, run.RunID)
		},
	}
	cmd.Flags().StringVarP(&conf, "conf", "c", "", "JSON conf for the run")
	return cmd
}

// runInProcess runs one DAG run with an engine limited to it, printing
// progress, until the run ends.
func (a *app) runInProcess(parent context.Context, e *env, d *dag.DAG, runID string) error {
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	only := store.TaskKey{DagID: d.ID, RunID: runID}
	eng, err := engine.New(ctx, engine.Options{Config: e.cfg, Store: e.st, Operators: a.operators, Logger: e.log, OnlyRun: &only})
	if err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- eng.Run(ctx) }()
	// The engine writes through e.st itself, whose watch never reports its
	// own handle's changes: poll.
	waitErr := a.waitRun(ctx, e.st, d, runID, runWatch{poll: unwatchedPoll, summary: true})
	if parent.Err() == nil { // the run's callbacks go before the process does
		if err := eng.Outbox.Drain(ctx, drainCallbacks); err != nil {
			fmt.Fprintf(a.stderr, "callbacks: %v\n", err)
		}
	}
	cancel()
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	interrupted := parent.Err() != nil
	if interrupted {
		a.endInterrupted(e, d, runID)
	}
	if tis, err := e.st.ListTaskInstances(context.WithoutCancel(parent), d.ID, runID); err == nil {
		a.printTestSummary(e, d, tis)
	}
	if interrupted {
		return exitCode(130) // 128 + SIGINT, as a shell reports it
	}
	return waitErr
}

// drainCallbacks bounds the wait for a tested run's callbacks.
const drainCallbacks = time.Minute

// endInterrupted fails a test run that dags test stops before its end
// (Ctrl-C): no scheduler runs another process's test run, so nothing else
// would ever end it. The engine has stopped its tries by now.
func (a *app) endInterrupted(e *env, d *dag.DAG, runID string) {
	ctx, cancel := context.WithTimeout(context.Background(), interruptedWriteTimeout)
	defer cancel()
	run, err := e.st.GetRun(ctx, d.ID, runID)
	if err != nil || run.State.Finished() {
		return
	}
	tis, err := e.st.ListTaskInstances(ctx, d.ID, runID)
	if err == nil {
		_, err = engine.FailTestRun(ctx, e.st, run, tis, time.Now().UTC(), nil)
	}
	if err != nil {
		fmt.Fprintf(a.stderr, "could not fail the interrupted test run %s: %v\n", runID, err)
		return
	}
	fmt.Fprintf(a.stdout, "Interrupted: test run %s is failed (no scheduler runs it)\n", runID)
}

// interruptedWriteTimeout bounds the writes that end an interrupted test run.
const interruptedWriteTimeout = 10 * time.Second

// printTestSummary lists every task instance of a tested run (one of a
// mapped task named task[N]): where each try's log
// is, why a failed task failed (the try's failure line and the last lines
// of its output, or the note of one that ended without a try), and which
// failed upstream held back an upstream_failed one.
func (a *app) printTestSummary(e *env, d *dag.DAG, tis []store.TaskInstance) {
	// failed: the tasks an instance of which failed (or was held back).
	failed := make(map[string]bool, len(tis))
	for _, ti := range tis {
		if ti.State == store.StateFailed || ti.State == store.StateUpstreamFailed {
			failed[ti.TaskID] = true
		}
	}
	for _, ti := range tis {
		name := instanceName(ti.TaskKey)
		switch {
		case ti.TryNumber == 0 && ti.Note != "":
			// Why it ended without a try (a mapped task that could not
			// expand) says more than its failed upstream tasks.
			fmt.Fprintf(a.stdout, "  %-24s %-16s %s\n", name, stateName(ti.State), ti.Note)
		case ti.State == store.StateUpstreamFailed:
			var ups []string
			if t := d.Task(ti.TaskID); t != nil {
				for _, up := range t.DependsOn {
					if failed[up] {
						ups = append(ups, up)
					}
				}
			}
			fmt.Fprintf(a.stdout, "  %-24s %-16s upstream failed: %s\n", name, ti.State, strings.Join(ups, ", "))
		case ti.TryNumber > 0:
			path := logPathOf(e, ti)
			fmt.Fprintf(a.stdout, "  %-24s %-16s log: %s\n", name, ti.State, path)
			if ti.State == store.StateFailed || ti.State == store.StateUpForRetry {
				reason, tail := failureOf(path)
				for _, line := range tail {
					fmt.Fprintf(a.stdout, "      | %s\n", line)
				}
				if reason != "" {
					fmt.Fprintf(a.stdout, "      reason: %s\n", reason)
				}
			}
		case ti.Note != "": // ended without a try, so no log: say why
			fmt.Fprintf(a.stdout, "  %-24s %-16s %s\n", name, stateName(ti.State), ti.Note)
		default:
			fmt.Fprintf(a.stdout, "  %-24s %s\n", name, stateName(ti.State))
		}
	}
}

// failureTailLines is how much of a failed try's output dags test repeats.
const failureTailLines = 5

// failureOf reads the end of a try's log and returns the runner's failure
// line ("task failed: ...") and the task's last output lines before it.
func failureOf(path string) (reason string, tail []string) {
	f, err := os.Open(path)
	if err != nil {
		return "", nil
	}
	defer f.Close()
	const window = 64 << 10
	if st, err := f.Stat(); err == nil && st.Size() > window {
		_, _ = f.Seek(st.Size()-window, io.SeekStart)
	}
	data, _ := io.ReadAll(io.LimitReader(f, window))
	for _, line := range strings.Split(strings.TrimRight(string(data), "\n"), "\n") {
		if _, rest, ok := strings.Cut(line, "] "); ok && strings.HasPrefix(line, "[") {
			line = rest
		}
		if r, ok := strings.CutPrefix(line, "sirocco: task failed: "); ok {
			reason = r
			continue
		}
		if strings.HasPrefix(line, "sirocco: ") {
			continue
		}
		if tail = append(tail, line); len(tail) > failureTailLines {
			tail = tail[1:]
		}
	}
	return reason, tail
}

func (a *app) dagsValidate() *cobra.Command {
	return &cobra.Command{
		Use: "validate [DIR]", Short: "Check every DAG file and list all errors (exit 1 if any)", Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := a.config()
			if err != nil {
				return err
			}
			dir := cfg.DagsFolder
			if len(args) == 1 {
				dir = args[0]
			}
			bag := engine.NewBag(dir, a.operators.Specs())
			if err := bag.Reload(); err != nil {
				return err
			}
			errs := map[string]error{}
			maps.Copy(errs, bag.Errors())
			long := tooLongMaps(bag.DAGs(), cmp.Or(cfg.MaxMapLength, dag.DefaultMaxMapLength))
			for f, err := range long {
				errs[f] = errors.Join(errs[f], err)
			}
			files := slices.Sorted(maps.Keys(errs))
			for _, f := range files {
				fmt.Fprintln(a.stdout, errs[f])
			}
			valid := 0
			for _, d := range bag.DAGs() {
				if long[d.FileLoc] == nil {
					valid++
				}
			}
			fmt.Fprintf(a.stdout, "%d DAG(s) valid, %d file(s) with errors in %s\n", valid, len(files), dir)
			if len(files) > 0 {
				return exitCode(1)
			}
			return nil
		},
	}
}

// tooLongMaps finds the mapped tasks whose lists are all written in the
// file and expand into more than maxLen instances: they would fail every
// run, so `dags validate` reports them, by file, as errors. (A list from
// an XCom is known only at run time.)
func tooLongMaps(dags map[string]*dag.DAG, maxLen int) map[string]error {
	out := map[string]error{}
	for _, id := range slices.Sorted(maps.Keys(dags)) {
		d := dags[id]
		for _, t := range d.Tasks {
			if !t.Mapped() {
				continue
			}
			if n, ok := t.Expand.LiteralLength(); ok && n > maxLen {
				count := strconv.Itoa(n)
				if n == math.MaxInt { // the product is too large for an int
					count = "at least " + count
				}
				out[d.FileLoc] = errors.Join(out[d.FileLoc], fmt.Errorf("%s: DAG %s: task %s: expands into %s instances, more than "+
					"max_map_length (%d): it would fail every run", d.FileLoc, d.ID, t.ID, count, maxLen))
			}
		}
	}
	return out
}

func (a *app) dagsListRuns() *cobra.Command {
	var state string
	var limit int
	cmd := &cobra.Command{
		Use: "list-runs DAG_ID", Short: "List a DAG's runs, newest first", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			cfg, err := a.config()
			if err != nil {
				return err
			}
			st, err := a.openStore(ctx, cfg)
			if err != nil {
				return err
			}
			defer st.Close()
			f := store.RunFilter{DagID: args[0], Limit: limit}
			if state != "" {
				f.States = []store.RunState{store.RunState(state)}
			}
			runs, err := st.ListRuns(ctx, f)
			if err != nil {
				return err
			}
			t := &table{headers: []string{"dag_id", "run_id", "state", "run_type", "logical_date", "start_date", "end_date"}}
			for _, r := range runs {
				t.add(map[string]any{"dag_id": r.DagID, "run_id": r.RunID, "state": r.State, "run_type": r.RunType,
					"logical_date": r.LogicalDate, "start_date": r.StartDate, "end_date": r.EndDate})
			}
			return a.print(t)
		},
	}
	cmd.Flags().StringVar(&state, "state", "", "only runs in this state")
	cmd.Flags().IntVar(&limit, "limit", 50, "at most this many runs")
	return cmd
}

func (a *app) dagsState() *cobra.Command {
	return &cobra.Command{
		Use: "state DAG_ID RUN_ID", Short: "Print a DAG run's state", Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			e, err := a.openUnloaded(ctx)
			if err != nil {
				return err
			}
			defer e.close()
			run, err := e.st.GetRun(ctx, args[0], args[1])
			if errors.Is(err, store.ErrNotFound) {
				if missing := e.missingRun(ctx, args[0], args[1]); missing != "" {
					return errors.New(missing)
				}
			}
			if err != nil {
				return fmt.Errorf("run %s of %s: %w", args[1], args[0], err)
			}
			if a.output == "table" {
				fmt.Fprintln(a.stdout, run.State)
				return nil
			}
			t := &table{headers: []string{"dag_id", "run_id", "state"}}
			t.add(map[string]any{"dag_id": run.DagID, "run_id": run.RunID, "state": run.State,
				"logical_date": run.LogicalDate, "start_date": run.StartDate, "end_date": run.EndDate, "conf": run.Conf})
			return a.print(t)
		},
	}
}

func (a *app) dagsImportErrors() *cobra.Command {
	return &cobra.Command{
		Use: "list-import-errors", Short: "List DAG files that failed to load, with every error", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			e, err := a.open(cmd.Context())
			if err != nil {
				return err
			}
			defer e.close()
			t := &table{headers: []string{"filepath", "error"}}
			files := make([]string, 0)
			for f := range e.bag.Errors() {
				files = append(files, f)
			}
			sort.Strings(files)
			for _, f := range files {
				t.add(map[string]any{"filepath": f, "error": e.bag.Errors()[f].Error(), "timestamp": time.Now().UTC()})
			}
			if a.output == "table" {
				for _, f := range files {
					fmt.Fprintf(a.stdout, "%s\n%v\n\n", f, e.bag.Errors()[f])
				}
				if len(files) == 0 {
					fmt.Fprintln(a.stdout, "No import errors.")
				}
				return nil
			}
			return a.print(t)
		},
	}
}

func (a *app) dagsSchema() *cobra.Command {
	return &cobra.Command{
		Use: "schema", Short: "Print the JSON Schema of DAG files, for editors", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			out, err := dag.Schema(a.operators.Specs())
			if err != nil {
				return err
			}
			_, err = fmt.Fprintln(a.stdout, string(out))
			return err
		},
	}
}

// dagsShow prints a DAG's graph: a tree of dependencies (then the task
// groups), Graphviz dot (a cluster per group), or JSON with the groups.
func (a *app) dagsShow() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use: "show DAG_ID", Short: "Print a DAG's graph as a tree, in Graphviz dot or as JSON", Args: cobra.ExactArgs(1),
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
			case "json":
				enc := json.NewEncoder(a.stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(graphJSONOf(d))
			default:
				return fmt.Errorf("unknown format %q (expected tree, dot or json)", format)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&format, "format", "tree", "tree, dot or json")
	return cmd
}

// dotGraph renders the DAG in Graphviz dot, each task group a cluster
// holding its tasks and nested groups, labelled with its id (and its
// tooltip as the cluster's tooltip, for SVG output).
func dotGraph(d *dag.DAG) string {
	var b strings.Builder
	fmt.Fprintf(&b, "digraph %s {\n  rankdir=LR;\n", dotString(d.ID))
	for _, t := range d.Tasks {
		if t.Group == "" {
			dotNode(&b, t, "  ")
		}
	}
	for _, g := range d.Groups {
		dotCluster(&b, d, g, "  ")
	}
	for _, t := range d.Tasks {
		for _, up := range t.DependsOn {
			fmt.Fprintf(&b, "  %s -> %s;\n", dotString(up), dotString(t.ID))
		}
	}
	b.WriteString("}\n")
	return b.String()
}

func dotNode(b *strings.Builder, t *dag.Task, indent string) {
	// Graphviz breaks a label's lines at \n inside the quoted string.
	label := dotString(t.ID, "("+t.Operator+")")
	fmt.Fprintf(b, "%s%s [label=%s shape=box];\n", indent, dotString(t.ID), label)
}

// dotCluster writes group g as a subgraph whose name starts with
// "cluster", which Graphviz draws as a box around its nodes.
func dotCluster(b *strings.Builder, d *dag.DAG, g *dag.TaskGroup, indent string) {
	fmt.Fprintf(b, "%ssubgraph %s {\n", indent, dotString("cluster_"+g.ID))
	in := indent + "  "
	fmt.Fprintf(b, "%slabel=%s;\n%sstyle=rounded;\n", in, dotString(g.ID), in)
	if g.Tooltip != "" {
		fmt.Fprintf(b, "%stooltip=%s;\n", in, dotString(g.Tooltip))
	}
	for _, id := range g.TaskIDs {
		if t := d.Task(id); t != nil {
			dotNode(b, t, in)
		}
	}
	for _, sub := range g.Groups {
		dotCluster(b, d, sub, in)
	}
	fmt.Fprintf(b, "%s}\n", indent)
}

// dotString quotes lines as one DOT string whose lines Graphviz renders
// one under the other. DOT escapes only the quote; a backslash starts a
// label escape (\n, \l, \N ...), so one in the text is doubled.
func dotString(lines ...string) string {
	esc := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	for i, l := range lines {
		lines[i] = esc.Replace(l)
	}
	return `"` + strings.Join(lines, `\n`) + `"`
}

// treeGraph prints each root and, indented below it, what depends on it; a
// task with several parents appears under each (marked as seen after the
// first). The task groups follow, as a tree of their own.
func treeGraph(d *dag.DAG) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s (schedule: %s)\n", d.ID, d.ScheduleSpec)
	seen := map[string]bool{}
	var walk func(id, prefix string, last bool)
	walk = func(id, prefix string, last bool) {
		branch, next := treeBranch(last)
		if seen[id] {
			fmt.Fprintf(&b, "%s%s%s ↑\n", prefix, branch, id)
			return
		}
		seen[id] = true
		fmt.Fprintf(&b, "%s%s%s\n", prefix, branch, taskLabel(d.Task(id)))
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
	if len(d.Groups) > 0 {
		b.WriteString("\ntask groups:\n")
		groupTree(&b, d, d.Groups, "")
	}
	return b.String()
}

func treeBranch(last bool) (branch, next string) {
	if last {
		return "└── ", "    "
	}
	return "├── ", "│   "
}

func taskLabel(t *dag.Task) string {
	label := fmt.Sprintf("%s [%s]", t.ID, t.Operator)
	if t.TriggerRule != dag.AllSuccess {
		label += " (" + string(t.TriggerRule) + ")"
	}
	return label
}

// groupTree prints groups and, below each, its tasks then its groups.
func groupTree(b *strings.Builder, d *dag.DAG, groups []*dag.TaskGroup, prefix string) {
	for i, g := range groups {
		branch, next := treeBranch(i == len(groups)-1)
		label := g.ID + " [group]"
		if g.Tooltip != "" {
			label += " " + strconv.Quote(g.Tooltip)
		}
		if len(g.DependsOn) > 0 {
			label += " (after " + strings.Join(g.DependsOn, ", ") + ")"
		}
		fmt.Fprintf(b, "%s%s%s\n", prefix, branch, label)
		for j, id := range g.TaskIDs {
			tb, _ := treeBranch(j == len(g.TaskIDs)-1 && len(g.Groups) == 0)
			fmt.Fprintf(b, "%s%s%s\n", prefix+next, tb, taskLabel(d.Task(id)))
		}
		groupTree(b, d, g.Groups, prefix+next)
	}
}

// graphJSON is what `dags show --format json` prints: the tasks with
// their group and dependencies, and the group tree.
type graphJSON struct {
	DagID  string      `json:"dag_id"`
	Tasks  []taskNode  `json:"tasks"`
	Groups []groupNode `json:"groups"`
}

type taskNode struct {
	TaskID      string   `json:"task_id"`
	Operator    string   `json:"operator"`
	GroupID     *string  `json:"group_id"`
	Upstream    []string `json:"upstream_task_ids"`
	Downstream  []string `json:"downstream_task_ids"`
	TriggerRule string   `json:"trigger_rule"`
}

type groupNode struct {
	GroupID       string      `json:"group_id"`
	Label         string      `json:"label"`
	Tooltip       string      `json:"tooltip"`
	PrefixGroupID bool        `json:"prefix_group_id"`
	DependsOn     []string    `json:"depends_on"`
	TaskIDs       []string    `json:"task_ids"`
	Groups        []groupNode `json:"groups"`
}

func graphJSONOf(d *dag.DAG) graphJSON {
	out := graphJSON{DagID: d.ID, Tasks: make([]taskNode, len(d.Tasks)), Groups: groupNodes(d.Groups)}
	for i, t := range d.Tasks {
		n := taskNode{TaskID: t.ID, Operator: t.Operator, Upstream: append([]string{}, t.DependsOn...),
			Downstream: append([]string{}, d.Downstream(t.ID)...), TriggerRule: string(t.TriggerRule)}
		if t.Group != "" {
			n.GroupID = &t.Group
		}
		out.Tasks[i] = n
	}
	return out
}

func groupNodes(gs []*dag.TaskGroup) []groupNode {
	out := make([]groupNode, len(gs))
	for i, g := range gs {
		out[i] = groupNode{GroupID: g.ID, Label: g.Label, Tooltip: g.Tooltip, PrefixGroupID: g.PrefixGroupID,
			DependsOn: append([]string{}, g.DependsOn...), TaskIDs: append([]string{}, g.TaskIDs...), Groups: groupNodes(g.Groups)}
	}
	return out
}

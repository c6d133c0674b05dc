package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/sirocco-dev/sirocco/internal/actions"
	"github.com/sirocco-dev/sirocco/internal/connection"
	"github.com/sirocco-dev/sirocco/internal/executor"
	"github.com/sirocco-dev/sirocco/internal/preflight"
	"github.com/sirocco-dev/sirocco/internal/scheduler"
	"github.com/sirocco-dev/sirocco/internal/sshclient"
	"github.com/sirocco-dev/sirocco/internal/store"
	"github.com/sirocco-dev/sirocco/internal/tasklog"
)

func (a *app) tasksCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "tasks", Short: "Test, inspect, clear and mark task instances"}
	cmd.AddCommand(a.tasksTest(), a.tasksRun(), a.tasksLogs(), a.tasksClear(), a.tasksState(), a.tasksRender(), a.tasksMark(), a.tasksList())
	return cmd
}

func logPathOf(e *env, ti store.TaskInstance) string {
	return tasklog.MapPath(e.cfg.LogsDir(), ti.DagID, ti.RunID, ti.TaskID, ti.MapIndex(), ti.TryNumber)
}

func (a *app) tasksList() *cobra.Command {
	return &cobra.Command{
		Use: "list DAG_ID", Short: "List a DAG's tasks", Args: cobra.ExactArgs(1),
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
			t := &table{headers: []string{"task_id", "operator", "depends_on", "trigger_rule", "retries", "pool"}}
			for _, task := range d.Tasks {
				t.add(map[string]any{"task_id": task.ID, "operator": task.Operator, "depends_on": task.DependsOn,
					"trigger_rule": task.TriggerRule, "retries": task.Retries, "pool": task.Pool})
			}
			return a.print(t)
		},
	}
}

func (a *app) tasksTest() *cobra.Command {
	var conf string
	cmd := &cobra.Command{
		Use:   "test DAG_ID TASK_ID [LOGICAL_DATE]",
		Short: "Run one task now, ignoring dependencies and recording no state; output goes to the terminal",
		Args:  cobra.RangeArgs(2, 3),
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
			task := d.Task(args[1])
			if task == nil {
				return fmt.Errorf("DAG %s has no task %q", d.ID, args[1])
			}
			logical := time.Now().UTC()
			if len(args) == 3 {
				if logical, err = actions.ParseDate(args[2]); err != nil {
					return err
				}
			}
			var confMap map[string]any
			if conf != "" {
				if err := json.Unmarshal([]byte(conf), &confMap); err != nil {
					return fmt.Errorf("--conf must be a JSON object: %w", err)
				}
			}
			runner := newTestRunner(e, a)
			defer runner.SSH.Close() // flushes the ssh job cleanups still pending
			if err := runner.Test(ctx, d, task, logical, confMap, a.stdout); err != nil {
				fmt.Fprintf(a.stdout, "Task %s failed: %v\n", task.ID, err)
				return exitCode(1)
			}
			fmt.Fprintf(a.stdout, "Task %s succeeded\n", task.ID)
			return nil
		},
	}
	cmd.Flags().StringVarP(&conf, "conf", "c", "", "JSON conf visible as dag_run.conf and params")
	return cmd
}

func (a *app) tasksClear() *cobra.Command {
	var tasks []string
	var mapIndex int
	var downstream, onlyFailed bool
	cmd := &cobra.Command{
		Use:   "clear DAG_ID RUN_ID",
		Short: "Run tasks of a run again (all, or --task ones, with --downstream their dependents)",
		Args:  cobra.ExactArgs(2),
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
			req := actions.ClearRequest{RunID: args[1], TaskIDs: tasks, Downstream: downstream, OnlyFailed: onlyFailed}
			if cmd.Flags().Changed("map-index") {
				req.MapIndex = &mapIndex
			}
			res, err := actions.Clear(ctx, e.st, d, req, time.Now().UTC())
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "Cleared %d task instance(s) of %s; the scheduler runs them again\n", res.Cleared, args[1])
			if res.Restarting > 0 {
				fmt.Fprintf(a.stdout, "%d running task instance(s) are being stopped and will run again\n", res.Restarting)
			}
			return nil
		},
	}
	cmd.Flags().StringSliceVarP(&tasks, "task", "t", nil, "task id to clear (repeatable; default all)")
	cmd.Flags().BoolVarP(&downstream, "downstream", "d", false, "also clear what depends on the given tasks")
	cmd.Flags().BoolVar(&onlyFailed, "only-failed", false, "only clear failed and upstream_failed tasks")
	mapIndexFlag(cmd, &mapIndex)
	return cmd
}

func (a *app) tasksState() *cobra.Command {
	var mapIndex int
	cmd := &cobra.Command{
		Use: "state DAG_ID RUN_ID [TASK_ID]", Short: "Print task instance states of a run", Args: cobra.RangeArgs(2, 3),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if len(args) < 3 && mapIndex >= 0 {
				return fmt.Errorf("--map-index names an instance of a task: give TASK_ID too")
			}
			e, err := a.openUnloaded(ctx)
			if err != nil {
				return err
			}
			defer e.close()
			tis, err := e.st.ListTaskInstances(ctx, args[0], args[1])
			if err != nil {
				return err
			}
			if len(tis) == 0 {
				// A run has its task instances from its creation: none
				// means no such run (an empty table would pass for one).
				if missing := e.missingRun(ctx, args[0], args[1]); missing != "" {
					return errors.New(missing)
				}
			}
			if len(args) == 3 {
				key := store.TaskKey{DagID: args[0], RunID: args[1], TaskID: args[2]}.WithMapIndex(mapIndex)
				if tis, err = taskRows(tis, key, mapIndex >= 0, a.output == "table"); errors.Is(err, store.ErrNotFound) {
					return e.instanceError(ctx, key, err)
				} else if err != nil {
					return err
				}
				if a.output == "table" {
					fmt.Fprintln(a.stdout, stateName(tis[0].State))
					return nil
				}
			}
			t := &table{headers: []string{"task_id", "state", "try_number", "start_date", "end_date", "next_retry_at", "pokes", "hostname"}}
			if slices.ContainsFunc(tis, func(ti store.TaskInstance) bool { return ti.Mapped() }) {
				t.headers = slices.Insert(t.headers, 1, "map_index")
			}
			if slices.ContainsFunc(tis, func(ti store.TaskInstance) bool { return ti.Note != "" }) {
				t.headers = append(t.headers, "note") // why a task ended without a try
			}
			for _, ti := range tis {
				rec := map[string]any{"dag_id": ti.DagID, "run_id": ti.RunID, "task_id": ti.TaskID, "map_index": ti.MapIndex(),
					"state": stateName(ti.State), "try_number": ti.TryNumber, "max_tries": ti.MaxTries,
					"start_date": ti.StartDate, "end_date": ti.EndDate, "hostname": ti.Hostname,
					"pool": ti.Pool, "queue": ti.Queue, "priority_weight": ti.PriorityWeight,
					"next_retry_at": waitingUntil(ti), "pokes": ti.Pokes, "first_poke_at": ti.FirstPokeAt, "note": ti.Note}
				if h, ok := decodeJSON(ti.Handle); ok {
					rec["handle"] = h
				}
				t.add(rec)
			}
			return a.print(t)
		},
	}
	mapIndexFlag(cmd, &mapIndex)
	return cmd
}

// taskRows picks from a run's rows those `tasks state` prints for key:
// the one instance named by its map index, or all the rows of a task named
// without one. A mapped task named without an index has no single state
// (Airflow's `tasks state` takes --map-index): when one state is asked
// for (single), the answer says how its instances stand and how to name
// one.
func taskRows(tis []store.TaskInstance, key store.TaskKey, indexed, single bool) ([]store.TaskInstance, error) {
	var rows []store.TaskInstance
	for _, ti := range tis {
		if ti.TaskID == key.TaskID && (!indexed || ti.Map == key.Map) {
			rows = append(rows, ti)
		}
	}
	switch {
	case len(rows) == 0:
		return nil, instanceError(key, store.ErrNotFound)
	case rows[0].Mapped() && !indexed && single:
		counts := map[string]int{}
		var names []string
		for _, ti := range rows {
			n := stateName(ti.State)
			if counts[n] == 0 {
				names = append(names, n)
			}
			counts[n]++
		}
		parts := make([]string, len(names))
		for i, n := range names {
			parts[i] = fmt.Sprintf("%d %s", counts[n], n)
		}
		return rows, fmt.Errorf("task %s is mapped (%d instances: %s): name one with --map-index N, or list them with -o json",
			key.TaskID, len(rows), strings.Join(parts, ", "))
	}
	return rows, nil
}

// waitingUntil is when a task up_for_retry is retried or one
// up_for_reschedule pokes next; the zero time in other states.
func waitingUntil(ti store.TaskInstance) time.Time {
	if ti.State == store.StateUpForRetry || ti.State == store.StateUpForReschedule {
		return ti.NextRetryAt
	}
	return time.Time{}
}

func stateName(s store.TaskState) string {
	if s == store.StateNone {
		return "none"
	}
	return string(s)
}

func (a *app) tasksRender() *cobra.Command {
	var mapIndex int
	cmd := &cobra.Command{
		Use: "render DAG_ID RUN_ID TASK_ID", Short: "Show a task's rendered templated fields", Args: cobra.ExactArgs(3),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			e, err := a.open(ctx)
			if err != nil {
				return err
			}
			defer e.close()
			key := store.TaskKey{DagID: args[0], RunID: args[1], TaskID: args[2]}.WithMapIndex(mapIndex)
			ti, err := e.st.GetTaskInstance(ctx, key)
			if err != nil {
				return e.instanceError(ctx, key, err)
			}
			rendered := ti.Rendered
			if len(rendered) == 0 {
				// Not run yet: render now from the run's context, as Airflow's CLI does.
				d, err := e.lookupDAG(key.DagID)
				if err != nil {
					return err
				}
				task := d.Task(key.TaskID)
				if task == nil {
					return fmt.Errorf("DAG %s has no task %q", d.ID, key.TaskID)
				}
				run, err := e.st.GetRun(ctx, key.DagID, key.RunID)
				if err != nil {
					return err
				}
				rendered, err = newTestRunner(e, a).Render(ctx, d, task, run, key, ti.TryNumber+1)
				if err != nil {
					return err
				}
			}
			var v map[string]any
			if err := json.Unmarshal(rendered, &v); err != nil {
				return fmt.Errorf("decode rendered fields: %w", err)
			}
			secrets, err := a.knownSecrets(ctx, e)
			if err != nil {
				return err
			}
			return printRendered(a, secrets.MaskValue(v).(map[string]any))
		},
	}
	mapIndexFlag(cmd, &mapIndex)
	return cmd
}

func (a *app) tasksMark() *cobra.Command {
	var mapIndex int
	cmd := &cobra.Command{
		Use: "mark DAG_ID RUN_ID TASK_ID success|failed|skipped", Short: "Set a task instance's state by hand",
		Args: cobra.ExactArgs(4),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			to := store.TaskState(args[3])
			if err := actions.CheckMarkState(args[3]); err != nil {
				return err
			}
			e, err := a.openUnloaded(ctx)
			if err != nil {
				return err
			}
			defer e.close()
			key := store.TaskKey{DagID: args[0], RunID: args[1], TaskID: args[2]}.WithMapIndex(mapIndex)
			was, err := actions.Mark(ctx, e.st, key, to, time.Now().UTC())
			if errors.Is(err, store.ErrNotFound) {
				return e.instanceError(ctx, key, err)
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "Marked %s%s %s (was %s)\n", key.TaskID, mapSuffix(key), to, stateName(was))
			return nil
		},
	}
	mapIndexFlag(cmd, &mapIndex)
	return cmd
}

// mapIndexFlag adds --map-index, naming one instance of a mapped task
// (Airflow's --map-index); -1, the default, names a task that is not
// mapped.
func mapIndexFlag(cmd *cobra.Command, v *int) {
	cmd.Flags().IntVar(v, "map-index", -1, "the instance of a mapped task (default: a task that is not mapped)")
}

// instanceError names the task instance a read did not find, and how a
// mapped task's instances are named when that may be why.
func instanceError(key store.TaskKey, err error) error {
	hint := ""
	if errors.Is(err, store.ErrNotFound) {
		err = store.ErrNotFound // the store's wrapping names the instance again
		if key.Mapped() {
			hint = " (is the map index in range?)"
		} else {
			hint = " (an expanded mapped task's instances are named with --map-index N)"
		}
	}
	return fmt.Errorf("task instance %s/%s/%s%s: %w%s", key.DagID, key.RunID, key.TaskID, mapSuffix(key), err, hint)
}

// instanceError is instanceError with the hint chosen from what e knows:
// whether the run exists, whether the DAG has the task and whether it is
// mapped (a hint at --map-index for a task that does not exist misled).
func (e *env) instanceError(ctx context.Context, key store.TaskKey, err error) error {
	if !errors.Is(err, store.ErrNotFound) {
		return instanceError(key, err)
	}
	hint := ""
	mapped, known := taskMapping(ctx, e, key)
	switch missing := e.missingRun(ctx, key.DagID, key.RunID); {
	case missing != "" && e.taskOf(ctx, key.DagID, key.RunID):
		// Airflow 2's order was DAG TASK RUN.
		hint = fmt.Sprintf(" (%s, but %s is a task of it: the arguments are DAG_ID RUN_ID TASK_ID)", missing, key.RunID)
	case missing != "":
		hint = " (" + missing + ")"
	case !known:
		hint = fmt.Sprintf(" (the DAG %s as loaded has no task %s)", key.DagID, key.TaskID)
	case mapped && !key.Mapped():
		hint = " (an expanded mapped task's instances are named with --map-index N)"
	case mapped:
		hint = " (is the map index in range?)"
	case key.Mapped():
		hint = fmt.Sprintf(" (task %s is not mapped: leave out --map-index)", key.TaskID)
	}
	return fmt.Errorf("task instance %s/%s/%s%s: %w%s", key.DagID, key.RunID, key.TaskID, mapSuffix(key), store.ErrNotFound, hint)
}

// missingRun says what is missing when run runID of dagID cannot be read:
// the DAG (neither loaded nor recorded by a scheduler) or only the run;
// "" when the run is there.
func (e *env) missingRun(ctx context.Context, dagID, runID string) string {
	_, err := e.st.GetRun(ctx, dagID, runID)
	if !errors.Is(err, store.ErrNotFound) {
		return ""
	}
	if _, derr := e.st.GetDAG(ctx, dagID); errors.Is(derr, store.ErrNotFound) {
		if e.bag.Reload() == nil && e.bag.DAGs()[dagID] == nil {
			return "no DAG " + dagID
		}
	}
	return fmt.Sprintf("DAG %s has no run %s", dagID, runID)
}

// taskOf reports whether id is a task of DAG dagID as loaded.
func (e *env) taskOf(ctx context.Context, dagID, id string) bool {
	_, known := taskMapping(ctx, e, store.TaskKey{DagID: dagID, TaskID: id})
	return known
}

// mapSuffix is " [i]" naming a mapped instance in messages, "" otherwise.
func mapSuffix(k store.TaskKey) string {
	if !k.Mapped() {
		return ""
	}
	return fmt.Sprintf(" [%d]", k.MapIndex())
}

func printRendered(a *app, v map[string]any) error {
	if a.output != "table" {
		t := &table{}
		t.records = []map[string]any{v}
		return a.print(t)
	}
	out, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	fmt.Fprintln(a.stdout, string(out))
	return nil
}

func newTestRunner(e *env, a *app) *executor.Runner {
	host, _ := os.Hostname()
	r := &executor.Runner{Store: e.st, DAGs: e.bag, Operators: a.operators, LogsDir: e.cfg.LogsDir(),
		WorkerID: "cli", Hostname: host, Clock: scheduler.SystemClock{}, Logger: e.log, KillGrace: e.cfg.KillGrace,
		Connections: &connection.Resolver{Store: e.st}, SSH: sshclient.NewPool(sshclient.PoolOptions{Logger: e.log}),
		Preflight: &preflight.Checker{Kinit: e.cfg.Kerberos.KinitPath},
		Runs:      &executor.RunControl{Store: e.st, DAGs: e.bag, Clock: scheduler.SystemClock{}}}
	if keys, _, err := connection.LoadKeyring(e.cfg.Home); err == nil {
		r.Connections.Keys = keys
	}
	return r
}

// knownSecrets is what `tasks render` masks, whatever the stored rendered
// fields hold (rows written before Sirocco masked them): the values of
// sensitive variables and connection secrets.
func (a *app) knownSecrets(ctx context.Context, e *env) (*tasklog.Secrets, error) {
	keys, err := a.loadKeyring(e.cfg)
	if err != nil {
		return nil, err
	}
	list, err := connection.KnownSecrets(ctx, e.st, keys, nil)
	if err != nil {
		return nil, err
	}
	out := &tasklog.Secrets{}
	for _, secret := range list {
		out.Add(secret)
	}
	return out, nil
}

package actions_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/actions"
	"github.com/sirocco-dev/sirocco/internal/dag"
	"github.com/sirocco-dev/sirocco/internal/operator/all"
	"github.com/sirocco-dev/sirocco/internal/store"
	"github.com/sirocco-dev/sirocco/internal/store/sqlstore"
	"github.com/sirocco-dev/sirocco/internal/template"
)

var now = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

const chainYAML = `dag_id: chain
schedule: "@daily"
start_date: 2026-01-01
params:
  n: {type: integer, default: 1}
  mode: {type: string, default: fast, enum: [fast, slow]}
tasks:
  - {id: a, operator: empty}
  - {id: b, operator: empty, depends_on: [a], retries: 3}
  - {id: c, operator: empty, depends_on: [b]}
  - {id: side, operator: empty}
`

// setup loads one DAG from YAML and opens a fresh SQLite store.
func setup(t *testing.T, yaml string) (store.Store, *dag.DAG) {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "d.yaml"), []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	bag, err := dag.LoadDir(dir, dag.LoadOptions{Operators: all.Registry().Specs(), CheckTemplate: template.Check})
	if err != nil || len(bag.Errors) > 0 || len(bag.DAGs) != 1 {
		t.Fatalf("load: %v %v", err, bag.Errors)
	}
	st, err := sqlstore.Open(t.Context(), "sqlite://"+filepath.Join(dir, "sirocco.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	for _, d := range bag.DAGs {
		return st, d
	}
	return nil, nil
}

func TestCreateRun(t *testing.T) {
	st, d := setup(t, chainYAML)
	ctx := t.Context()
	run, err := actions.CreateRun(ctx, st, d, actions.RunRequest{Conf: map[string]any{"n": 7}}, now)
	if err != nil {
		t.Fatal(err)
	}
	if run.RunID != "manual__2026-03-04T05:06:07Z" || run.State != store.RunQueued || !run.LogicalDate.Equal(now) {
		t.Errorf("run = %+v", run)
	}
	tis, err := st.ListTaskInstances(ctx, d.ID, run.RunID)
	if err != nil || len(tis) != 4 {
		t.Fatalf("task instances %v, %v", tis, err)
	}

	run, err = actions.CreateRun(ctx, st, d, actions.RunRequest{RunID: "mine", LogicalDate: "2026-02-01"}, now)
	if err != nil || run.RunID != "mine" || run.LogicalDate.Format(time.DateOnly) != "2026-02-01" {
		t.Fatalf("run %+v, %v", run, err)
	}
	_, err = actions.CreateRun(ctx, st, d, actions.RunRequest{RunID: "mine"}, now.Add(time.Hour))
	if !errors.Is(err, store.ErrExists) || !strings.Contains(err.Error(), "a run of chain with run id mine") {
		t.Errorf("duplicate run id: %v", err)
	}

	cases := []struct {
		name  string
		req   actions.RunRequest
		field string
		want  string
	}{
		{"wrong type", actions.RunRequest{Conf: map[string]any{"n": "seven"}}, "conf", `param "n"`},
		{"not in enum", actions.RunRequest{Conf: map[string]any{"mode": "medium"}}, "conf", "not one of the allowed values"},
		{"bad date", actions.RunRequest{LogicalDate: "yesterday"}, "logical_date", `bad date "yesterday"`},
	}
	for _, c := range cases {
		_, err := actions.CreateRun(ctx, st, d, c.req, now)
		var inv *actions.InvalidError
		if !errors.As(err, &inv) || inv.Field != c.field || !errors.Is(err, actions.ErrInvalid) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v (%#v), want an invalid %s mentioning %q", c.name, err, inv, c.field, c.want)
		}
	}
}

func TestBackfill(t *testing.T) {
	st, d := setup(t, chainYAML)
	ctx := t.Context()
	from, to := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 1, 3, 0, 0, 0, 0, time.UTC)
	if _, err := actions.CreateRun(ctx, st, d, actions.RunRequest{LogicalDate: "2026-01-02"}, now); err != nil {
		t.Fatal(err)
	}
	runs, err := actions.Backfill(ctx, st, d, from, to, nil, now)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range runs {
		got = append(got, r.RunID+map[bool]string{true: " (existed)"}[r.Existed])
	}
	want := "backfill__2026-01-01T00:00:00Z,backfill__2026-01-02T00:00:00Z (existed),backfill__2026-01-03T00:00:00Z"
	if strings.Join(got, ",") != want {
		t.Errorf("backfill = %v, want %s", got, want)
	}
	if _, err := actions.Backfill(ctx, st, d, from, to, map[string]any{"n": 1.5}, now); !errors.Is(err, actions.ErrInvalid) {
		t.Errorf("bad conf: %v", err)
	}
	st2, manual := setup(t, "dag_id: manual\ntasks:\n  - {id: a, operator: empty}\n")
	if _, err := actions.Backfill(ctx, st2, manual, from, to, nil, now); !errors.Is(err, actions.ErrInvalid) ||
		!strings.Contains(err.Error(), "has no schedule") {
		t.Errorf("unscheduled DAG: %v", err)
	}
}

// setStates moves the run's task instances to the given states, starting
// a try for each, as an executor would.
func setStates(t *testing.T, st store.Store, d *dag.DAG, runID string, states map[string]store.TaskState) {
	t.Helper()
	for task, state := range states {
		ok, err := st.UpdateTask(context.Background(), store.TaskUpdate{Key: store.TaskKey{DagID: d.ID, RunID: runID, TaskID: task},
			From: []store.TaskState{store.StateNone}, To: state, IncTry: true})
		if err != nil || !ok {
			t.Fatalf("set %s %s: %v %v", task, state, ok, err)
		}
	}
}

func states(t *testing.T, st store.Store, d *dag.DAG, runID string) map[string]store.TaskState {
	t.Helper()
	tis, err := st.ListTaskInstances(context.Background(), d.ID, runID)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]store.TaskState{}
	for _, ti := range tis {
		out[ti.TaskID] = ti.State
	}
	return out
}

func taskIDs(tis []store.TaskInstance) string {
	ids := make([]string, len(tis))
	for i, ti := range tis {
		ids[i] = ti.TaskID
	}
	return strings.Join(ids, ",")
}

func TestClear(t *testing.T) {
	st, d := setup(t, chainYAML)
	ctx := t.Context()
	run, err := actions.CreateRun(ctx, st, d, actions.RunRequest{RunID: "r"}, now)
	if err != nil {
		t.Fatal(err)
	}
	setStates(t, st, d, "r", map[string]store.TaskState{"a": store.StateSuccess, "b": store.StateFailed,
		"c": store.StateUpstreamFailed, "side": store.StateRunning})

	res, err := actions.Clear(ctx, st, d, actions.ClearRequest{RunID: run.RunID, OnlyFailed: true, DryRun: true}, now)
	if err != nil || res.Cleared != 0 || taskIDs(res.TaskInstances) != "b,c" {
		t.Fatalf("dry run = %+v, %v", res, err)
	}
	if got := states(t, st, d, "r"); got["b"] != store.StateFailed {
		t.Fatalf("a dry run changed states: %v", got)
	}

	res, err = actions.Clear(ctx, st, d, actions.ClearRequest{RunID: "r", TaskIDs: []string{"b"}, Downstream: true}, now)
	if err != nil || res.Cleared != 2 || res.Restarting != 0 || taskIDs(res.TaskInstances) != "b,c" {
		t.Fatalf("clear b downstream = %+v, %v", res, err)
	}
	got := states(t, st, d, "r")
	if got["a"] != store.StateSuccess || got["b"] != store.StateNone || got["c"] != store.StateNone || got["side"] != store.StateRunning {
		t.Errorf("after clear: %v", got)
	}
	ti, _ := st.GetTaskInstance(ctx, store.TaskKey{DagID: d.ID, RunID: "r", TaskID: "b"})
	if ti.MaxTries != ti.TryNumber+3 {
		t.Errorf("b's retries were not granted again: try %d, max_tries %d", ti.TryNumber, ti.MaxTries)
	}

	res, err = actions.Clear(ctx, st, d, actions.ClearRequest{RunID: "r", TaskIDs: []string{"side"}}, now)
	if err != nil || res.Restarting != 1 || res.Cleared != 0 {
		t.Fatalf("clear running = %+v, %v", res, err)
	}
	if got := states(t, st, d, "r"); got["side"] != store.StateRestarting {
		t.Errorf("a cleared running task must be restarting, is %q", got["side"])
	}

	_, err = actions.Clear(ctx, st, d, actions.ClearRequest{RunID: "r", TaskIDs: []string{"nope"}}, now)
	var inv *actions.InvalidError
	if !errors.As(err, &inv) || inv.Field != "task_ids" || err.Error() != `DAG chain has no task "nope"` {
		t.Errorf("unknown task: %v", err)
	}
	_, err = actions.Clear(ctx, st, d, actions.ClearRequest{RunID: "missing"}, now)
	if !errors.Is(err, store.ErrNotFound) || err.Error() != "run missing of chain not found" {
		t.Errorf("missing run: %v", err)
	}
}

func TestMark(t *testing.T) {
	st, d := setup(t, chainYAML)
	ctx := t.Context()
	if _, err := actions.CreateRun(ctx, st, d, actions.RunRequest{RunID: "r"}, now); err != nil {
		t.Fatal(err)
	}
	key := store.TaskKey{DagID: d.ID, RunID: "r", TaskID: "a"}
	if _, err := actions.Mark(ctx, st, key, "running", now); !errors.Is(err, actions.ErrInvalid) {
		t.Errorf("marking running: %v", err)
	}
	was, err := actions.Mark(ctx, st, key, store.StateSuccess, now)
	if err != nil || was != store.StateNone {
		t.Fatalf("mark = %q, %v", was, err)
	}
	ti, _ := st.GetTaskInstance(ctx, key)
	if ti.State != store.StateSuccess || !ti.EndDate.Equal(now) {
		t.Errorf("marked task = %+v", ti)
	}
	if _, err := actions.Mark(ctx, st, store.TaskKey{DagID: d.ID, RunID: "r", TaskID: "zz"}, store.StateFailed, now); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown task instance: %v", err)
	}

	// A finished run whose task is marked goes back to running.
	if ok, err := st.UpdateRun(ctx, store.RunUpdate{DagID: d.ID, RunID: "r", From: []store.RunState{store.RunQueued}, To: store.RunSuccess}); !ok || err != nil {
		t.Fatal(ok, err)
	}
	if _, err := actions.Mark(ctx, st, key, store.StateFailed, now); err != nil {
		t.Fatal(err)
	}
	if run, _ := st.GetRun(ctx, d.ID, "r"); run.State != store.RunRunning {
		t.Errorf("run after marking a task of a finished run: %s, want running", run.State)
	}
}

func TestSetPaused(t *testing.T) {
	st, d := setup(t, chainYAML)
	ctx := t.Context()
	for _, paused := range []bool{true, false, true} {
		if err := actions.SetPaused(ctx, st, d, paused, now); err != nil {
			t.Fatal(err)
		}
		rec, err := st.GetDAG(ctx, d.ID)
		if err != nil || rec.Paused != paused || rec.FileLoc != d.FileLoc {
			t.Errorf("after SetPaused(%v): %+v, %v", paused, rec, err)
		}
	}
}

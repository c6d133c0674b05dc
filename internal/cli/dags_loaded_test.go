package cli

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/config"
	"github.com/sirocco-dev/sirocco/internal/dag"
	"github.com/sirocco-dev/sirocco/internal/scheduler"
	"github.com/sirocco-dev/sirocco/internal/store"
	"github.com/sirocco-dev/sirocco/internal/store/sqlstore"
)

// TestStallHint: --wait's hint for a run that stays queued names what
// holds it: a scheduler that never recorded the DAG, one that has it from
// another file, max_active_runs filled by the DAG's running runs, or else
// asks whether a scheduler runs at all.
func TestStallHint(t *testing.T) {
	ctx := context.Background()
	d := &dag.DAG{ID: "d", FileLoc: "/new/d.yaml", MaxActiveRuns: 1,
		Tasks: []*dag.Task{{ID: "t", Operator: "empty", TriggerRule: dag.AllSuccess}}}
	for _, tc := range []struct {
		name    string
		fileloc string // the scheduler's record; "" for none
		running bool   // another run of d is running
		want    string
		other   string // the file of another DAG the scheduler recorded
	}{
		{"never recorded", "", false, "no scheduler has recorded DAG d (/new/d.yaml); restart the scheduler", ""},
		{"never recorded, in another folder", "", false, "no scheduler has recorded DAG d (/new/d.yaml); restart the scheduler", "/old/o.yaml"},
		{"new in the scheduler's folder", "", false, "the scheduler has not loaded /new/d.yaml yet; it loads a file new in its DAGs folder within dag_dir_list_interval (5s)", "/new/o.yaml"},
		{"recorded from another file", "/old/d.yaml", false, "the scheduler recorded DAG d from /old/d.yaml, parsed ", ""},
		{"max_active_runs", "/new/d.yaml", true, "1 run(s) of d are running, its max_active_runs; it starts when one ends", ""},
		{"no scheduler", "/new/d.yaml", false, "is a scheduler (`sirocco standalone` or `sirocco scheduler`) running on this database", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, err := sqlstore.OpenSQLite(filepath.Join(t.TempDir(), "s.db"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			if err := st.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			if tc.fileloc != "" {
				if err := st.UpsertDAG(ctx, store.DAGRecord{DagID: "d", FileLoc: tc.fileloc, LastParsed: now}); err != nil {
					t.Fatal(err)
				}
			}
			if tc.other != "" {
				if err := st.UpsertDAG(ctx, store.DAGRecord{DagID: "o", FileLoc: tc.other, LastParsed: now}); err != nil {
					t.Fatal(err)
				}
			}
			queued := createRun(t, st, d, now)
			if tc.running {
				other := createRun(t, st, d, now.Add(-time.Hour))
				if ok, err := st.UpdateRun(ctx, store.RunUpdate{DagID: "d", RunID: other.RunID,
					From: []store.RunState{store.RunQueued}, To: store.RunRunning}); err != nil || !ok {
					t.Fatalf("start the other run: %v %v", ok, err)
				}
			}
			got := stallHint(ctx, st, d, queued, 10*time.Second, 5*time.Second, "/new")
			if !strings.HasPrefix(got, "run "+queued.RunID+" is still queued after 10s and none of its tasks has started: ") ||
				!strings.Contains(got, tc.want) {
				t.Errorf("hint %q, want one saying %q", got, tc.want)
			}
			// The trigger's warning: a DAG new in a folder the scheduler
			// reads is loaded within dag_dir_list_interval; nothing to say.
			reason, _, err := notLoaded(ctx, st, d, "/new")
			if err != nil || (reason == "") != (tc.fileloc == "/new/d.yaml" || tc.other == "/new/o.yaml") {
				t.Errorf("trigger warning %q, %v", reason, err)
			}
		})
	}
}

func createRun(t *testing.T, st store.Store, d *dag.DAG, at time.Time) store.DagRun {
	t.Helper()
	run, tis := scheduler.NewRunRecords(d, store.RunManual, dag.Interval{Start: at, End: at}, nil, at)
	if err := st.CreateRun(context.Background(), run, tis); err != nil {
		t.Fatal(err)
	}
	return run
}

// TestStallWatch: the hint is due once, only for a run still queued with
// no task started, and only after the wait's threshold.
func TestStallWatch(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	queued := store.DagRun{State: store.RunQueued}
	idle := []store.TaskInstance{{State: store.StateNone}, {State: store.StateScheduled}}
	for _, tc := range []struct {
		name string
		run  store.DagRun
		tis  []store.TaskInstance
		at   time.Duration
		want bool
	}{
		{"too early", queued, idle, 4 * time.Second, false},
		{"queued, nothing started", queued, idle, 6 * time.Second, true},
		{"run started", store.DagRun{State: store.RunRunning}, idle, time.Minute, false},
		{"a task started", queued, []store.TaskInstance{{State: store.StateQueued}}, time.Minute, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := runWatch{}.withStallHint(configWithPoll(time.Second)).newStallWatch(t0)
			if got := w.due(tc.run, tc.tis, t0.Add(tc.at)); got != tc.want {
				t.Errorf("due = %v, want %v", got, tc.want)
			}
			if w.due(tc.run, tc.tis, t0.Add(tc.at)) {
				t.Error("due twice")
			}
		})
	}
	if w := (runWatch{poll: time.Second}).newStallWatch(t0); w.due(queued, idle, t0.Add(time.Hour)) {
		t.Error("a wait without withStallHint gave a hint (dags test runs its run itself)")
	}
}

func configWithPoll(poll time.Duration) config.Config {
	c := config.Defaults()
	c.PollInterval = poll
	return c
}

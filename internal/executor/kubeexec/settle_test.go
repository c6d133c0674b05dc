package kubeexec

import (
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/dag"
	"github.com/sirocco-dev/sirocco/internal/executor"
	"github.com/sirocco-dev/sirocco/internal/scheduler"
	"github.com/sirocco-dev/sirocco/internal/store"
	"github.com/sirocco-dev/sirocco/internal/store/sqlstore"
	"github.com/sirocco-dev/sirocco/internal/tasklog"
	"github.com/sirocco-dev/sirocco/internal/testenv"
)

func TestMain(m *testing.M) { testenv.RunMain(m) }

// noDAGs is a DAG source with none loaded.
type noDAGs struct{}

func (noDAGs) DAGs() map[string]*dag.DAG { return nil }

// TestSettleOfASensorsPod: on SQLite and PostgreSQL, the end of a
// reschedule-mode sensor's pod settles its own poke only: a cleared
// sensor (restarting) is handed back without its progress, as under the
// local executor, and a row a later poke of the same try holds (running,
// same try number, another pod) is left alone, not failed as this pod's.
func TestSettleOfASensorsPod(t *testing.T) {
	for name, url := range map[string]func() string{
		"sqlite":   func() string { return "sqlite://" + filepath.Join(t.TempDir(), "s.db") },
		"postgres": func() string { return testenv.Postgres(t) },
	} {
		t.Run(name, func(t *testing.T) {
			ctx := t.Context()
			st, err := sqlstore.Open(ctx, url())
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			if err := st.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			now := time.Now().UTC()
			run := store.DagRun{DagID: "d", RunID: "r", RunType: store.RunManual, State: store.RunRunning, LogicalDate: now, QueuedAt: now}
			if err := st.CreateRun(ctx, run, []store.TaskInstance{{TaskKey: store.TaskKey{TaskID: "s"}, Pool: "default_pool", PoolSlots: 1, Queue: "default"}}); err != nil {
				t.Fatal(err)
			}
			k := store.TaskKey{DagID: "d", RunID: "r", TaskID: "s"}
			x := &Executor{r: &executor.Runner{Store: st, DAGs: noDAGs{}, Clock: scheduler.SystemClock{}, LogsDir: t.TempDir(), Logger: slog.New(slog.DiscardHandler)}}
			follow := func(pod string) *podFollow {
				lw, err := tasklog.Create(filepath.Join(t.TempDir(), "log"))
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { lw.Close() })
				h := Handle{Kind: HandleKind, Version: handleVersion, Namespace: "ns", Name: pod}
				return &podFollow{x: x, t: &try{key: k, n: 1, h: h}, lw: lw}
			}
			write := func(state store.TaskState, pod string) {
				t.Helper()
				h := Handle{Kind: HandleKind, Version: handleVersion, Namespace: "ns", Name: pod}.Encode()
				first, pokes := now.Add(-time.Minute), 2
				if _, err := st.UpdateTask(ctx, store.TaskUpdate{Key: k, To: state, Handle: &h, FirstPokeAt: &first, Pokes: &pokes}); err != nil {
					t.Fatal(err)
				}
			}
			// The first claim counts try 1.
			if _, err := st.UpdateTask(ctx, store.TaskUpdate{Key: k, To: store.StateRunning, IncTry: true}); err != nil {
				t.Fatal(err)
			}

			write(store.StateRunning, "poke-2") // the next poke holds the row
			if rows := follow("poke-1").settle("pod poke-1 Succeeded"); len(rows) != 0 {
				t.Errorf("poke-1's end wrote %+v", rows)
			}
			if ti, _ := st.GetTaskInstance(ctx, k); ti.State != store.StateRunning || ti.Pokes != 2 {
				t.Fatalf("the next poke's row after the previous pod's end: %s, %d pokes", ti.State, ti.Pokes)
			}

			write(store.StateRestarting, "poke-2") // cleared while poke-2 ran
			follow("poke-2").settle("pod poke-2 deleted")
			ti, err := st.GetTaskInstance(ctx, k)
			if err != nil || ti.State != store.StateNone || ti.Pokes != 0 || !ti.FirstPokeAt.IsZero() {
				t.Fatalf("the cleared sensor handed back: %s with %d pokes from %v (%v), want none without progress",
					ti.State, ti.Pokes, ti.FirstPokeAt, err)
			}
		})
	}
}

package storetest

import (
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/store"
)

func init() {
	register("CountStates", testCountStates)
}

// testCountStates: runs and task instances are counted by state, and
// queued and running tries by pool and queue, weighed by their pool slots.
func testCountStates(t *testing.T, s store.Store) {
	ctx := t.Context()
	empty, err := s.CountStates(ctx)
	if err != nil {
		t.Fatal(err)
	}
	same(t, "an empty store", empty, store.StateCounts{Runs: map[store.RunState]int{}, Tasks: map[store.TaskState]int{}})

	mustCreate(t, s, newRun("a", "r1", t0, store.RunRunning), "x", "y", "z")
	mustCreate(t, s, newRun("a", "r2", at(time.Hour), store.RunSuccess), "x")
	tis := newTIs("big", "small")
	tis[0].Pool, tis[0].PoolSlots, tis[0].Queue = "db", 3, "io"
	tis[1].Pool = "db"
	if err := s.CreateRun(ctx, newRun("b", "r1", t0, store.RunRunning), tis); err != nil {
		t.Fatal(err)
	}
	set := func(dag, run, task string, to store.TaskState) {
		mustUpdateTask(t, s, store.TaskUpdate{Key: store.TaskKey{DagID: dag, RunID: run, TaskID: task},
			From: []store.TaskState{store.StateNone}, To: to}, true)
	}
	set("a", "r1", "x", store.StateRunning)
	set("a", "r1", "y", store.StateQueued)
	set("a", "r2", "x", store.StateSuccess)
	set("b", "r1", "big", store.StateRunning)
	set("b", "r1", "small", store.StateQueued)

	got, err := s.CountStates(ctx)
	if err != nil {
		t.Fatal(err)
	}
	same(t, "counts", got, store.StateCounts{
		Runs:  map[store.RunState]int{store.RunRunning: 2, store.RunSuccess: 1},
		Tasks: map[store.TaskState]int{store.StateNone: 1, store.StateRunning: 2, store.StateQueued: 2, store.StateSuccess: 1},
		Slots: []store.SlotCount{
			{Pool: "db", Queue: "default", Queued: 1, QueuedSlots: 1},
			{Pool: "db", Queue: "io", Running: 1, RunSlots: 3},
			{Pool: "default_pool", Queue: "default", Queued: 1, Running: 1, QueuedSlots: 1, RunSlots: 1},
		},
	})
}

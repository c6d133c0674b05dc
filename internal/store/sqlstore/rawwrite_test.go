package sqlstore

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime/metrics"
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/store"
)

// openRawTest opens a migrated SQLite store with one running run of the
// tasks ids, all in state none.
func openRawTest(t *testing.T, ids ...string) *Store {
	t.Helper()
	s, err := OpenSQLite(filepath.Join(t.TempDir(), "raw.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	tis := make([]store.TaskInstance, len(ids))
	for i, id := range ids {
		tis[i].TaskID = id
	}
	if err := s.CreateRun(t.Context(), store.DagRun{DagID: "d", RunID: "r", RunType: store.RunManual, State: store.RunRunning}, tis); err != nil {
		t.Fatal(err)
	}
	return s
}

func rawKey(id string) store.TaskKey { return store.TaskKey{DagID: "d", RunID: "r", TaskID: id} }

// handOffAt is a chain's hand-off from task i to task i+1 by worker w:
// i's outcome, then i+1's claim, which requires it.
func handOffAt(ids []string, i int, w string) []store.TaskUpdate {
	now := time.Now()
	one := 1
	var none []byte
	return []store.TaskUpdate{
		{Key: rawKey(ids[i]), From: []store.TaskState{store.StateRunning}, FromWorker: &w, FromTry: &one,
			To: store.StateSuccess, EndDate: &now},
		{Key: rawKey(ids[i+1]), From: []store.TaskState{store.StateNone}, To: store.StateRunning, IncTry: true,
			QueuedAt: &now, StartDate: &now, WorkerID: &w, HeartbeatAt: &now, Handle: &none, Rendered: &none,
			Requires: []store.TaskCondition{{Key: rawKey(ids[i]), State: store.StateSuccess, Try: 1}}},
	}
}

// TestSQLiteHandOffStartsNoGoroutine: the write of a hand-off, with a
// context that can be cancelled as the scheduler's is, starts no
// goroutine. Through database/sql's transaction and the driver's context
// watch it started five or more (one per statement, BEGIN and COMMIT
// included, and one per transaction), each a wake-up of another thread on
// the hand-off's critical path.
func TestSQLiteHandOffStartsNoGoroutine(t *testing.T) {
	const n = 40
	ids := make([]string, n+1)
	for i := range ids {
		ids[i] = fmt.Sprintf("t%03d", i)
	}
	s := openRawTest(t, ids...)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	w := "w1"
	first := handOffAt(ids, 0, w)[1]
	first.Requires = nil
	first.Key = rawKey(ids[0])
	if _, err := s.UpdateTasks(ctx, []store.TaskUpdate{first}); err != nil {
		t.Fatal(err)
	}
	created := func() uint64 {
		m := []metrics.Sample{{Name: "/sched/goroutines-created:goroutines"}}
		metrics.Read(m)
		return m[0].Value.Uint64()
	}
	before := created()
	for i := range n {
		ws, err := s.UpdateTasks(ctx, handOffAt(ids, i, w))
		if err != nil || !ws[0].OK || !ws[1].OK {
			t.Fatalf("hand-off %d: %+v, %v", i, ws, err)
		}
	}
	// A few for the runtime itself (a GC's workers) at most.
	if got := created() - before; got > n/4 {
		t.Errorf("%d hand-offs started %d goroutines, want none", n, got)
	}
}

// TestSQLiteBatchIsAllOrNothing: a batch whose second update fails leaves
// the first unwritten, and the write connection usable afterwards (not
// left inside the failed transaction).
func TestSQLiteBatchIsAllOrNothing(t *testing.T) {
	s := openRawTest(t, "a", "b")
	ctx := t.Context()
	if _, err := s.db.ExecContext(ctx, `CREATE TRIGGER refuse_b BEFORE UPDATE ON task_instances
		WHEN NEW.task_id = 'b' BEGIN SELECT RAISE(ABORT, 'b is refused'); END`); err != nil {
		t.Fatal(err)
	}
	good := store.TaskUpdate{Key: rawKey("a"), From: []store.TaskState{store.StateNone}, To: store.StateQueued}
	bad := store.TaskUpdate{Key: rawKey("b"), From: []store.TaskState{store.StateNone}, To: store.StateQueued}
	if _, err := s.UpdateTasks(ctx, []store.TaskUpdate{good, bad}); err == nil {
		t.Fatal("a batch with a refused update reported no error")
	}
	if ti, err := s.GetTaskInstance(ctx, rawKey("a")); err != nil || ti.State != store.StateNone {
		t.Fatalf("after the failed batch a is %q (%v), want none: the batch must be all or nothing", ti.State, err)
	}
	if _, err := s.UpdateTaskRow(ctx, bad); err == nil {
		t.Error("the refused update alone reported no error")
	}
	w, err := s.UpdateTaskRow(ctx, good)
	if err != nil || !w.OK || w.Row.State != store.StateQueued || w.Row.Version != 1 {
		t.Fatalf("the valid update alone: %+v, %v", w, err)
	}
	if _, err := s.db.ExecContext(ctx, `DROP TRIGGER refuse_b`); err != nil {
		t.Fatalf("the write connection after the failures: %v", err)
	}
	ws, err := s.UpdateTasks(ctx, []store.TaskUpdate{bad, {Key: rawKey("a"), From: []store.TaskState{store.StateQueued}, To: store.StateRunning}})
	if err != nil || !ws[0].OK || !ws[1].OK {
		t.Fatalf("a batch after the failures: %+v, %v", ws, err)
	}
}

// TestSQLiteWriteHonoursContext: a write whose context has ended is not
// made.
func TestSQLiteWriteHonoursContext(t *testing.T) {
	s := openRawTest(t, "a")
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	u := store.TaskUpdate{Key: rawKey("a"), From: []store.TaskState{store.StateNone}, To: store.StateQueued}
	if _, err := s.UpdateTasks(ctx, []store.TaskUpdate{u, u}); err == nil {
		t.Error("UpdateTasks with an ended context reported no error")
	}
	if ti, err := s.GetTaskInstance(t.Context(), rawKey("a")); err != nil || ti.State != store.StateNone {
		t.Errorf("a is %q (%v) after a cancelled write, want none", ti.State, err)
	}
}

// TestRawRowScan: driver values of each kind land in scanTI's
// destinations, and a value of the wrong kind is an error, not a panic.
func TestRawRowScan(t *testing.T) {
	var ti store.TaskInstance
	at := time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC)
	row := rawRow{"d", "r", "t", int64(3), "running", int64(2), int64(3), "p", int64(1), int64(5), "q",
		at.UnixMicro(), nil, nil, nil, "h", "w", at.UnixMicro(), []byte("hd"), nil, int64(7), int64(1), at.UnixMicro(), int64(4), "why"}
	if err := scanTI(row, &ti); err != nil {
		t.Fatal(err)
	}
	if ti.TaskID != "t" || ti.MapIndex() != 3 || ti.State != store.StateRunning || ti.TryNumber != 2 || ti.PriorityWeight != 5 ||
		!ti.QueuedAt.Equal(at) || !ti.StartDate.IsZero() || string(ti.Handle) != "hd" || ti.Rendered != nil ||
		ti.Version != 7 || ti.InfraReruns != 1 || !ti.FirstPokeAt.Equal(at) || ti.Pokes != 4 || ti.Note != "why" {
		t.Errorf("scanned %+v", ti)
	}
	for i, bad := range []rawRow{
		append(append(rawRow{}, row[:5]...), append(rawRow{"two"}, row[6:]...)...),      // text for an integer
		append(append(rawRow{}, row[:18]...), append(rawRow{int64(1)}, row[19:]...)...), // integer for a blob
		append(rawRow{int64(1)}, row[1:]...),                                            // integer for text
		append(append(rawRow{}, row[:3]...), append(rawRow{"x"}, row[4:]...)...),        // text for the map index
		row[:24], // a column short
	} {
		if err := scanTI(bad, &ti); err == nil {
			t.Errorf("bad row %d scanned without an error", i)
		}
	}
}

// TestUpdateStatesAreQuotedLiterals: the states of an update's condition
// are written into its SQL as literals (a bound state made SQLite prepare
// the statement again on every use, see stateList); a state that is not
// one of the store's, quote included, stays a bound parameter that
// matches no row, not SQL.
func TestUpdateStatesAreQuotedLiterals(t *testing.T) {
	s := openRawTest(t, "a")
	odd := store.TaskState("x') OR ('1'='1")
	ws, err := s.UpdateTasks(t.Context(), []store.TaskUpdate{{Key: rawKey("a"), From: []store.TaskState{odd}, To: store.StateQueued}})
	if err != nil {
		t.Fatal(err)
	}
	if ws[0].OK {
		t.Fatalf("an update from state %q applied to a row in state none", odd)
	}
	ws, err = s.UpdateTasks(t.Context(), []store.TaskUpdate{{Key: rawKey("a"), From: []store.TaskState{store.StateNone}, To: store.StateQueued}})
	if err != nil || !ws[0].OK || ws[0].Row.State != store.StateQueued {
		t.Fatalf("update from none: %+v, %v", ws, err)
	}
}

package storetest

import (
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/store"
)

func init() {
	register("CreateRun", testCreateRun)
	register("CreateRunDuplicate", testCreateRunDuplicate)
	register("NotFound", testNotFound)
	register("UpdateRun", testUpdateRun)
	register("ListRuns", testListRuns)
	register("LastScheduledRun", testLastScheduledRun)
	register("TimeRoundTrip", testTimeRoundTrip)
}

// testCreateRun: a run and its task instances round-trip field by field,
// and the task instances come back in the order they were given.
func testCreateRun(t *testing.T, s store.Store) {
	ctx := t.Context()
	run := store.DagRun{
		DagID: "etl", RunID: "manual__1", RunType: store.RunManual, State: store.RunQueued,
		LogicalDate: t0, DataIntervalStart: at(-24 * time.Hour), DataIntervalEnd: t0,
		Conf:     map[string]any{"n": float64(3), "s": "x", "nested": map[string]any{"ok": true, "list": []any{"a", float64(1)}}},
		QueuedAt: at(time.Second),
	}
	tis := []store.TaskInstance{
		{TaskKey: store.TaskKey{TaskID: "extract"}, Pool: "default_pool", PoolSlots: 1, PriorityWeight: 3, Queue: "default", MaxTries: 2},
		{TaskKey: store.TaskKey{TaskID: "load"}, State: store.StateScheduled, Pool: "db", PoolSlots: 2, PriorityWeight: 1, Queue: "io",
			TryNumber: 1, MaxTries: 3, QueuedAt: at(time.Minute), Hostname: "h", WorkerID: "w", Handle: []byte{0, 1, 2}, Rendered: []byte(`{"cmd":"x"}`)},
		{TaskKey: store.TaskKey{TaskID: "check"}, Pool: "default_pool", PoolSlots: 1, PriorityWeight: 1, Queue: "default"},
	}
	if err := s.CreateRun(ctx, run, tis); err != nil {
		t.Fatal(err)
	}

	got := mustGetRun(t, s, "etl", "manual__1")
	want := run
	for _, p := range []*time.Time{&want.LogicalDate, &want.DataIntervalStart, &want.DataIntervalEnd, &want.QueuedAt} {
		*p = stored(*p)
	}
	same(t, "run", got, want)

	list, err := s.ListTaskInstances(ctx, "etl", "manual__1")
	if err != nil {
		t.Fatal(err)
	}
	wantTIs := make([]store.TaskInstance, len(tis))
	for i, ti := range tis {
		ti.DagID, ti.RunID = "etl", "manual__1"
		ti.QueuedAt = stored(ti.QueuedAt)
		wantTIs[i] = ti
	}
	same(t, "task instances in creation order", list, wantTIs)
	same(t, "one task instance", mustGetTI(t, s, store.TaskKey{DagID: "etl", RunID: "manual__1", TaskID: "load"}), wantTIs[1])

	if got, _ := s.ListTaskInstances(ctx, "etl", "other"); len(got) != 0 {
		t.Errorf("ListTaskInstances of an unknown run = %v, want none", keys(got))
	}

	// Runs without a logical date do not collide with each other.
	for _, id := range []string{"manual__a", "manual__b"} {
		r := store.DagRun{DagID: "etl", RunID: id, RunType: store.RunManual, State: store.RunQueued}
		if err := s.CreateRun(ctx, r, nil); err != nil {
			t.Errorf("CreateRun %s without logical date: %v", id, err)
		}
	}
	if got := mustGetRun(t, s, "etl", "manual__a"); !got.LogicalDate.IsZero() || got.Conf != nil {
		t.Errorf("run without logical date or conf came back as %+v", got)
	}
}

// testCreateRunDuplicate: either unique key gives ErrExists and the failed
// CreateRun leaves nothing behind.
func testCreateRunDuplicate(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustCreate(t, s, newRun("d", "r1", t0, store.RunQueued), "a", "b")

	err := s.CreateRun(ctx, newRun("d", "r1", at(time.Hour), store.RunQueued), newTIs("a"))
	wantErr(t, "same run id", err, store.ErrExists)

	err = s.CreateRun(ctx, newRun("d", "r2", t0, store.RunQueued), newTIs("x", "y"))
	wantErr(t, "same logical date", err, store.ErrExists)
	_, err = s.GetRun(ctx, "d", "r2")
	wantErr(t, "run of a failed CreateRun", err, store.ErrNotFound)
	if tis, _ := s.ListTaskInstances(ctx, "d", "r2"); len(tis) != 0 {
		t.Errorf("failed CreateRun left task instances %v", keys(tis))
	}

	err = s.CreateRun(ctx, newRun("d", "r3", at(2*time.Hour), store.RunQueued), newTIs("x", "x"))
	wantErr(t, "duplicate task id", err, store.ErrExists)
	_, err = s.GetRun(ctx, "d", "r3")
	wantErr(t, "run with duplicate task ids", err, store.ErrNotFound)

	// The same run id and logical date in another DAG are fine.
	mustCreate(t, s, newRun("other", "r1", t0, store.RunQueued), "a")
	if tis, _ := s.ListTaskInstances(ctx, "d", "r1"); len(tis) != 2 {
		t.Errorf("original run has %d task instances, want 2", len(tis))
	}
}

// testNotFound: every lookup of a missing row wraps ErrNotFound.
func testNotFound(t *testing.T, s store.Store) {
	ctx := t.Context()
	_, err := s.GetRun(ctx, "d", "r")
	wantErr(t, "GetRun", err, store.ErrNotFound)
	_, err = s.GetTaskInstance(ctx, store.TaskKey{DagID: "d", RunID: "r", TaskID: "t"})
	wantErr(t, "GetTaskInstance", err, store.ErrNotFound)
	_, err = s.LastScheduledRun(ctx, "d")
	wantErr(t, "LastScheduledRun", err, store.ErrNotFound)
	_, err = s.ClearTasks(ctx, "d", "r", map[string]int{"t": 1}, t0)
	wantErr(t, "ClearTasks", err, store.ErrNotFound)

	mustCreate(t, s, newRun("d", "r", t0, store.RunQueued), "t")
	_, err = s.GetTaskInstance(ctx, store.TaskKey{DagID: "d", RunID: "r", TaskID: "nope"})
	wantErr(t, "GetTaskInstance of an existing run", err, store.ErrNotFound)
	_, err = s.GetRun(ctx, "d", "nope")
	wantErr(t, "GetRun of an existing DAG", err, store.ErrNotFound)
}

// testUpdateRun: transitions apply only from the listed states, set only
// the given dates, and report whether they won.
func testUpdateRun(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustCreate(t, s, newRun("d", "r", t0, store.RunQueued), "t")
	update := func(u store.RunUpdate, want bool) {
		t.Helper()
		u.DagID, u.RunID = "d", "r"
		ok, err := s.UpdateRun(ctx, u)
		if err != nil {
			t.Fatalf("UpdateRun %+v: %v", u, err)
		}
		if ok != want {
			t.Fatalf("UpdateRun from %v to %s = %v, want %v", u.From, u.To, ok, want)
		}
	}
	update(store.RunUpdate{From: []store.RunState{store.RunRunning}, To: store.RunSuccess}, false)
	update(store.RunUpdate{From: []store.RunState{store.RunQueued}, To: store.RunRunning, StartDate: ptr(at(time.Minute))}, true)
	update(store.RunUpdate{From: []store.RunState{store.RunQueued}, To: store.RunRunning, StartDate: ptr(at(time.Hour))}, false)

	got := mustGetRun(t, s, "d", "r")
	if got.State != store.RunRunning || !got.StartDate.Equal(stored(at(time.Minute))) || !got.EndDate.IsZero() {
		t.Errorf("after queued->running: state %s start %v end %v", got.State, got.StartDate, got.EndDate)
	}
	update(store.RunUpdate{From: []store.RunState{store.RunQueued, store.RunRunning}, To: store.RunFailed, EndDate: ptr(at(2 * time.Minute))}, true)
	got = mustGetRun(t, s, "d", "r")
	if got.State != store.RunFailed || !got.StartDate.Equal(stored(at(time.Minute))) || !got.EndDate.Equal(stored(at(2*time.Minute))) {
		t.Errorf("after running->failed: state %s start %v end %v", got.State, got.StartDate, got.EndDate)
	}

	// Empty From means any state; a pointer to the zero time clears.
	update(store.RunUpdate{To: store.RunQueued, EndDate: ptr(time.Time{})}, true)
	got = mustGetRun(t, s, "d", "r")
	if got.State != store.RunQueued || !got.EndDate.IsZero() {
		t.Errorf("after forced requeue: state %s end %v", got.State, got.EndDate)
	}

	ok, err := s.UpdateRun(ctx, store.RunUpdate{DagID: "d", RunID: "missing", To: store.RunRunning})
	if ok || err != nil {
		t.Errorf("UpdateRun of a missing run = %v, %v; want false, nil", ok, err)
	}
}

// testListRuns: filters by DAG and states, newest logical date first, with
// a limit.
func testListRuns(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustCreate(t, s, newRun("a", "r1", at(1*time.Hour), store.RunSuccess))
	mustCreate(t, s, newRun("a", "r3", at(3*time.Hour), store.RunRunning))
	mustCreate(t, s, newRun("a", "r2", at(2*time.Hour), store.RunFailed))
	mustCreate(t, s, newRun("b", "r9", at(9*time.Hour), store.RunQueued))
	ids := func(runs []store.DagRun) []string {
		out := make([]string, len(runs))
		for i, r := range runs {
			out[i] = r.DagID + "/" + r.RunID
		}
		return out
	}
	for _, c := range []struct {
		f    store.RunFilter
		want []string
	}{
		{store.RunFilter{}, []string{"b/r9", "a/r3", "a/r2", "a/r1"}},
		{store.RunFilter{DagID: "a"}, []string{"a/r3", "a/r2", "a/r1"}},
		{store.RunFilter{DagID: "a", Limit: 2}, []string{"a/r3", "a/r2"}},
		{store.RunFilter{States: []store.RunState{store.RunSuccess, store.RunFailed}}, []string{"a/r2", "a/r1"}},
		{store.RunFilter{DagID: "b", States: []store.RunState{store.RunSuccess}}, []string{}},
	} {
		got, err := s.ListRuns(ctx, c.f)
		if err != nil {
			t.Fatalf("ListRuns %+v: %v", c.f, err)
		}
		same(t, "ListRuns", ids(got), c.want)
	}
	got, err := s.ListRuns(ctx, store.RunFilter{DagID: "a", Limit: 1})
	if err != nil || len(got) != 1 {
		t.Fatalf("ListRuns limit 1: %v, %v", got, err)
	}
	same(t, "listed run", got[0], mustGetRun(t, s, "a", "r3"))
}

// testLastScheduledRun: only scheduled runs count, the latest logical date
// wins regardless of insertion order.
func testLastScheduledRun(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustCreate(t, s, newRun("d", "scheduled__2", at(2*time.Hour), store.RunSuccess))
	mustCreate(t, s, newRun("d", "scheduled__1", at(1*time.Hour), store.RunSuccess))
	manual := newRun("d", "manual__9", at(9*time.Hour), store.RunQueued)
	manual.RunType = store.RunManual
	mustCreate(t, s, manual)
	backfill := newRun("d", "backfill__8", at(8*time.Hour), store.RunQueued)
	backfill.RunType = store.RunBackfill
	mustCreate(t, s, backfill)
	mustCreate(t, s, newRun("other", "scheduled__5", at(5*time.Hour), store.RunQueued))

	got, err := s.LastScheduledRun(ctx, "d")
	if err != nil {
		t.Fatal(err)
	}
	if got.RunID != "scheduled__2" || !got.LogicalDate.Equal(stored(at(2*time.Hour))) {
		t.Errorf("LastScheduledRun = %s at %v, want scheduled__2", got.RunID, got.LogicalDate)
	}
}

// testTimeRoundTrip: times keep microseconds, come back in UTC whatever
// zone they were written in, before 1970 too, and the zero time is stored
// as NULL and read back as zero.
func testTimeRoundTrip(t *testing.T, s store.Store) {
	ctx := t.Context()
	pre1970 := time.Date(1969, 12, 31, 23, 59, 59, 999999999, time.FixedZone("W", -5*3600))
	run := store.DagRun{
		DagID: "d", RunID: "r", RunType: store.RunManual, State: store.RunRunning,
		LogicalDate: t0, DataIntervalStart: pre1970, StartDate: at(time.Nanosecond),
	}
	tis := newTIs("t")
	tis[0].StartDate = at(210 * time.Nanosecond) // 123456999ns: truncated, not rounded
	tis[0].HeartbeatAt = pre1970
	if err := s.CreateRun(ctx, run, tis); err != nil {
		t.Fatal(err)
	}
	got := mustGetRun(t, s, "d", "r")
	same(t, "run times", got, store.DagRun{
		DagID: "d", RunID: "r", RunType: store.RunManual, State: store.RunRunning,
		LogicalDate: stored(t0), DataIntervalStart: stored(pre1970), StartDate: stored(t0),
	})
	if got.LogicalDate.Nanosecond() != 123456000 {
		t.Errorf("logical date keeps %dns, want 123456000 (microsecond precision)", got.LogicalDate.Nanosecond())
	}
	if !got.DataIntervalEnd.IsZero() || !got.QueuedAt.IsZero() || !got.EndDate.IsZero() {
		t.Errorf("zero times came back non-zero: %+v", got)
	}

	k := store.TaskKey{DagID: "d", RunID: "r", TaskID: "t"}
	ti := mustGetTI(t, s, k)
	if !ti.StartDate.Equal(stored(t0)) || !ti.HeartbeatAt.Equal(stored(pre1970)) || !ti.EndDate.IsZero() {
		t.Errorf("task times: start %v heartbeat %v end %v", ti.StartDate, ti.HeartbeatAt, ti.EndDate)
	}
	mustUpdateTask(t, s, store.TaskUpdate{Key: k, To: store.StateNone, StartDate: ptr(time.Time{}), EndDate: ptr(at(time.Microsecond))}, true)
	ti = mustGetTI(t, s, k)
	if !ti.StartDate.IsZero() || !ti.EndDate.Equal(stored(at(time.Microsecond))) || ti.EndDate.Location() != time.UTC {
		t.Errorf("after update: start %v (want zero) end %v", ti.StartDate, ti.EndDate)
	}
}

func init() { register("RecentRuns", testRecentRuns) }

// testRecentRuns: each DAG's latest runs in ListRuns' order, at most
// perDAG of them, and each DAG's latest scheduled run, as LastScheduledRun
// gives it; a DAG without runs is absent.
func testRecentRuns(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustCreate(t, s, newRun("a", "scheduled__1", at(1*time.Hour), store.RunSuccess))
	mustCreate(t, s, newRun("a", "scheduled__3", at(3*time.Hour), store.RunRunning))
	mustCreate(t, s, newRun("a", "scheduled__2", at(2*time.Hour), store.RunFailed))
	manual := newRun("a", "manual__9", at(9*time.Hour), store.RunQueued)
	manual.RunType = store.RunManual
	mustCreate(t, s, manual)
	only := newRun("b", "manual__5", at(5*time.Hour), store.RunQueued)
	only.RunType = store.RunManual
	mustCreate(t, s, only)
	recent, last, err := s.RecentRuns(ctx, 3)
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string][]string{}
	for dag, runs := range recent {
		for _, r := range runs {
			ids[dag] = append(ids[dag], r.RunID)
		}
	}
	same(t, "recent runs", ids, map[string][]string{"a": {"manual__9", "scheduled__3", "scheduled__2"}, "b": {"manual__5"}})
	same(t, "a recent run", recent["a"][1], mustGetRun(t, s, "a", "scheduled__3"))
	if len(last) != 1 || last["a"].RunID != "scheduled__3" {
		t.Errorf("last scheduled runs = %v, want a's scheduled__3 only", last)
	}
	want, err := s.LastScheduledRun(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	same(t, "last scheduled run", last["a"], want)
}

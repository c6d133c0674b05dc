package storetest

import (
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/store"
)

func init() {
	register("ExpandTask", testExpandTask)
	register("ExpandTaskRacers", testExpandTaskRacers)
	register("ExpandTaskEmptySkips", testExpandTaskEmptySkips)
	register("ExpandTaskRefusesAStalePlaceholder", testExpandTaskRefusesAStalePlaceholder)
	register("TaskNote", testTaskNote)
	register("MappedInstancesKeepTheirOwnXComs", testMappedInstancesKeepTheirOwnXComs)
	register("ClearMapIndex", testClearMapIndex)
	register("ClearedMappedTaskExpandsAgain", testClearedMappedTaskExpandsAgain)
	register("NotificationsPerMapIndex", testNotificationsPerMapIndex)
}

// testNotificationsPerMapIndex: each instance of a mapped task has its
// own callbacks: the same event, try and notifier of two instances are two
// notifications, and "one end per try" holds per instance.
func testNotificationsPerMapIndex(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustCreate(t, s, newRun("d", "r", t0, store.RunRunning), "mapped")
	k := store.TaskKey{DagID: "d", RunID: "r", TaskID: "mapped"}
	if ok, err := s.ExpandTask(ctx, k, 0, 2, t0); err != nil || !ok {
		t.Fatalf("ExpandTask = %v, %v", ok, err)
	}
	note := func(m int, ev string) store.Notification {
		return store.Notification{NotificationKey: store.NotificationKey{DagID: "d", RunID: "r", TaskID: "mapped", Map: m,
			Try: 1, Event: ev}, NextAt: t0, CreatedAt: t0}
	}
	n, err := s.EnqueueNotifications(ctx, []store.Notification{note(1, "success"), note(2, "success")})
	if err != nil || n != 2 {
		t.Fatalf("success of two instances: %d enqueued, %v; want 2", n, err)
	}
	if n, err := s.EnqueueNotifications(ctx, []store.Notification{note(1, "failure")}); err != nil || n != 0 {
		t.Fatalf("a second end of instance 0's try: %d enqueued, %v; want 0", n, err)
	}
	notes, err := s.ListNotifications(ctx, "d", "r")
	if err != nil || len(notes) != 2 || notes[0].Map != 1 || notes[1].Map != 2 {
		t.Fatalf("notifications = %+v, %v; want map indexes 0 and 1", notes, err)
	}
}

// testClearMapIndex: clearing one instance of a mapped task puts it alone
// back to none with its XComs gone and its retries granted again, and
// reopens the finished run; ClearTasks of the task clears every instance.
func testClearMapIndex(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustCreate(t, s, newRun("d", "r", t0, store.RunRunning), "mapped")
	k := store.TaskKey{DagID: "d", RunID: "r", TaskID: "mapped"}
	if ok, err := s.ExpandTask(ctx, k, 0, 3, t0); err != nil || !ok {
		t.Fatalf("ExpandTask = %v, %v", ok, err)
	}
	for i := range 3 {
		ki := k.WithMapIndex(i)
		mustUpdateTask(t, s, store.TaskUpdate{Key: ki, To: store.StateSuccess, IncTry: true}, true)
		pushAll(t, s, []string{"return_value"}, ki)
	}
	if _, err := s.UpdateRun(ctx, store.RunUpdate{DagID: "d", RunID: "r", To: store.RunSuccess}); err != nil {
		t.Fatal(err)
	}
	n, err := s.ClearMapIndex(ctx, k.WithMapIndex(1), 2, at(time.Hour))
	if err != nil || n != 1 {
		t.Fatalf("ClearMapIndex = %d, %v; want 1", n, err)
	}
	for i, want := range []store.TaskState{store.StateSuccess, store.StateNone, store.StateSuccess} {
		ti, err := s.GetTaskInstance(ctx, k.WithMapIndex(i))
		if err != nil || ti.State != want {
			t.Fatalf("instance %d = %q, %v; want %q", i, ti.State, err, want)
		}
		if wantX := map[bool]int{true: 0, false: 1}[i == 1]; xcomCount(t, s, k.WithMapIndex(i)) != wantX {
			t.Errorf("instance %d has %d XComs, want %d", i, xcomCount(t, s, k.WithMapIndex(i)), wantX)
		}
		if i == 1 && ti.MaxTries != ti.TryNumber+2 {
			t.Errorf("cleared instance: max_tries %d, try %d; want try + 2", ti.MaxTries, ti.TryNumber)
		}
	}
	run, err := s.GetRun(ctx, "d", "r")
	if err != nil || run.State != store.RunQueued {
		t.Fatalf("run after the clear = %q, %v; want queued", run.State, err)
	}
	if n, err := s.ClearTasks(ctx, "d", "r", map[string]int{"mapped": 0}, at(2*time.Hour)); err != nil || n != 3 {
		t.Fatalf("ClearTasks of the mapped task = %d, %v; want its 3 instances", n, err)
	}
}

// testExpandTask: the placeholder becomes map index 0 and indexes 1..n-1
// are copies of it in state none; the run lists them in map index order
// after the tasks before them; each is updated by its own key; the change
// feed shows them; a second expansion finds no placeholder.
func testExpandTask(t *testing.T, s store.Store) {
	ctx := t.Context()
	tis := newTIs("first", "mapped", "last")
	tis[1].MaxTries = 2
	tis[1].Pool = "p"
	mustCreate2(t, s, newRun("d", "r", t0, store.RunRunning), tis)
	cur, err := s.TaskChangeCursor(ctx)
	if err != nil {
		t.Fatal(err)
	}
	k := store.TaskKey{DagID: "d", RunID: "r", TaskID: "mapped"}
	ok, err := s.ExpandTask(ctx, k, 0, 3, t0)
	if err != nil || !ok {
		t.Fatalf("ExpandTask = %v, %v; want true", ok, err)
	}
	got, err := s.ListTaskInstances(ctx, "d", "r")
	if err != nil {
		t.Fatal(err)
	}
	var order []string
	for _, ti := range got {
		order = append(order, ti.TaskID+":"+itoa(ti.MapIndex()))
		if ti.TaskID == "mapped" && (ti.MaxTries != 2 || ti.Pool != "p" || ti.State != store.StateNone) {
			t.Errorf("instance %d = %+v; want the placeholder's max_tries and pool, state none", ti.MapIndex(), ti)
		}
	}
	if want := "first:-1 mapped:0 mapped:1 mapped:2 last:-1"; join(order) != want {
		t.Fatalf("instances = %s; want %s", join(order), want)
	}
	if _, err := s.GetTaskInstance(ctx, k); err == nil {
		t.Fatal("the placeholder (map index -1) still exists after the expansion")
	}
	changed, _, err := s.TaskInstancesChangedSince(ctx, cur)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int]bool{}
	for _, ti := range changed {
		if ti.TaskID == "mapped" {
			seen[ti.MapIndex()] = true
		}
	}
	if !seen[0] || !seen[1] || !seen[2] {
		t.Fatalf("change feed shows map indexes %v; want 0, 1, 2", seen)
	}
	start := at(time.Minute)
	ok, err = s.UpdateTask(ctx, store.TaskUpdate{Key: k.WithMapIndex(1), From: []store.TaskState{store.StateNone},
		To: store.StateQueued, QueuedAt: &start})
	if err != nil || !ok {
		t.Fatalf("queue map index 1 = %v, %v", ok, err)
	}
	for i, want := range []store.TaskState{store.StateNone, store.StateQueued, store.StateNone} {
		ti, err := s.GetTaskInstance(ctx, k.WithMapIndex(i))
		if err != nil || ti.State != want || ti.MapIndex() != i {
			t.Fatalf("map index %d = %+v, %v; want %q", i, ti, err, want)
		}
	}
	if ok, err := s.ExpandTask(ctx, k, 0, 5, t0); err != nil || ok {
		t.Fatalf("second ExpandTask = %v, %v; want false", ok, err)
	}
}

// testExpandTaskRefusesAStalePlaceholder: an expansion decided on the
// placeholder as it was before a clear (of its upstream, whose new list
// it has not read) wrote it is refused, though the placeholder is still
// in state none; at its current version it applies.
func testExpandTaskRefusesAStalePlaceholder(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustCreate(t, s, newRun("d", "r", t0, store.RunRunning), "up", "mapped")
	k := store.TaskKey{DagID: "d", RunID: "r", TaskID: "mapped"}
	read, err := s.GetTaskInstance(ctx, k)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := s.ClearTasks(ctx, "d", "r", map[string]int{"up": 0, "mapped": 0}, at(time.Minute)); err != nil || n == 0 {
		t.Fatalf("ClearTasks = %d, %v", n, err)
	}
	now, err := s.GetTaskInstance(ctx, k)
	if err != nil || now.State != store.StateNone || now.Version == read.Version {
		t.Fatalf("placeholder after the clear = %+v, %v; want state none at a new version", now, err)
	}
	if ok, err := s.ExpandTask(ctx, k, read.Version, 3, t0); err != nil || ok {
		t.Fatalf("ExpandTask at the version read before the clear = %v, %v; want false", ok, err)
	}
	if _, err := s.GetTaskInstance(ctx, k); err != nil {
		t.Fatalf("the refused expansion changed the placeholder: %v", err)
	}
	if ok, err := s.ExpandTask(ctx, k, now.Version, 2, t0); err != nil || !ok {
		t.Fatalf("ExpandTask at the current version = %v, %v; want true", ok, err)
	}
}

// testTaskNote: the note a failure without a try writes is read back by
// every listing (one instance, a run's, the change feed), an update that
// names no note keeps it, and a clear empties it. The write is refused at
// a version the row no longer has (FromVersion).
func testTaskNote(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustCreate(t, s, newRun("d", "r", t0, store.RunRunning), "mapped")
	k := store.TaskKey{DagID: "d", RunID: "r", TaskID: "mapped"}
	cur, err := s.TaskChangeCursor(ctx)
	if err != nil {
		t.Fatal(err)
	}
	why := `cannot expand: task "up" pushed no XCom "nope" to expand over`
	read := mustGetTI(t, s, k).Version
	stale := read - 1
	mustUpdateTask(t, s, store.TaskUpdate{Key: k, FromVersion: &stale, From: []store.TaskState{store.StateNone},
		To: store.StateFailed, Note: &why}, false)
	mustUpdateTask(t, s, store.TaskUpdate{Key: k, FromVersion: &read, From: []store.TaskState{store.StateNone},
		To: store.StateFailed, Note: &why}, true)
	if ti := mustGetTI(t, s, k); ti.Note != why {
		t.Fatalf("note = %q; want %q", ti.Note, why)
	}
	tis, err := s.ListTaskInstances(ctx, "d", "r")
	if err != nil || len(tis) != 1 || tis[0].Note != why {
		t.Fatalf("ListTaskInstances = %+v, %v; want the note", tis, err)
	}
	changed, _, err := s.TaskInstancesChangedSince(ctx, cur)
	if err != nil || len(changed) != 1 || changed[0].Note != why {
		t.Fatalf("change feed = %+v, %v; want the note", changed, err)
	}
	mustUpdateTask(t, s, store.TaskUpdate{Key: k, From: []store.TaskState{store.StateFailed}, To: store.StateFailed}, true)
	if ti := mustGetTI(t, s, k); ti.Note != why {
		t.Fatalf("an update naming no note left %q; want it kept", ti.Note)
	}
	if n, err := s.ClearTasks(ctx, "d", "r", map[string]int{"mapped": 0}, at(time.Minute)); err != nil || n != 1 {
		t.Fatalf("ClearTasks = %d, %v", n, err)
	}
	if ti := mustGetTI(t, s, k); ti.Note != "" || ti.State != store.StateNone {
		t.Fatalf("after the clear: state %q, note %q; want none and no note", ti.State, ti.Note)
	}
}

// testExpandTaskRacers: of four stores expanding the same placeholder at
// once, exactly one wins, and the task has the winner's instances once.
func testExpandTaskRacers(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustCreate(t, s, newRun("d", "r", t0, store.RunRunning), "up", "mapped")
	k := store.TaskKey{DagID: "d", RunID: "r", TaskID: "mapped"}
	var wg sync.WaitGroup
	wins := make(chan bool, 4)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok, err := s.ExpandTask(ctx, k, 0, 50, t0)
			if err != nil {
				t.Error(err)
			}
			wins <- ok
		}()
	}
	wg.Wait()
	close(wins)
	n := 0
	for ok := range wins {
		if ok {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d expansions won; want 1", n)
	}
	tis, err := s.ListTaskInstances(ctx, "d", "r")
	if err != nil {
		t.Fatal(err)
	}
	if len(tis) != 51 {
		t.Fatalf("%d task instances; want 51 (up and 50 mapped)", len(tis))
	}
}

// testExpandTaskEmptySkips: a task mapped over nothing is skipped, as in
// Airflow, and keeps its placeholder.
func testExpandTaskEmptySkips(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustCreate(t, s, newRun("d", "r", t0, store.RunRunning), "mapped")
	k := store.TaskKey{DagID: "d", RunID: "r", TaskID: "mapped"}
	if ok, err := s.ExpandTask(ctx, k, 0, 0, t0); err != nil || !ok {
		t.Fatalf("ExpandTask(0) = %v, %v", ok, err)
	}
	ti, err := s.GetTaskInstance(ctx, k)
	if err != nil || ti.State != store.StateSkipped || !ti.EndDate.Equal(stored(t0)) {
		t.Fatalf("placeholder = %+v, %v; want skipped at t0", ti, err)
	}
}

// testMappedInstancesKeepTheirOwnXComs: each instance pushes under the
// same key without overwriting another; MappedXComs lists them in map
// index order (not text order: 10 after 9); a push of a try is refused
// for an instance that try does not own.
func testMappedInstancesKeepTheirOwnXComs(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustCreate(t, s, newRun("d", "r", t0, store.RunRunning), "mapped")
	k := store.TaskKey{DagID: "d", RunID: "r", TaskID: "mapped"}
	if ok, err := s.ExpandTask(ctx, k, 0, 11, t0); err != nil || !ok {
		t.Fatalf("ExpandTask = %v, %v", ok, err)
	}
	worker := "w"
	for i := 10; i >= 0; i-- {
		ki := k.WithMapIndex(i)
		ok, err := s.UpdateTask(ctx, store.TaskUpdate{Key: ki, From: []store.TaskState{store.StateNone},
			To: store.StateRunning, IncTry: true, WorkerID: &worker})
		if err != nil || !ok {
			t.Fatalf("start %d: %v, %v", i, ok, err)
		}
		ok, err = s.PushXCom(ctx, store.XCom{TaskKey: ki, Key: "return_value", Value: itoa(i * 10)}, 1, worker)
		if err != nil || !ok {
			t.Fatalf("push %d: %v, %v", i, ok, err)
		}
	}
	// Map index 3's try 1 pushes for map index 4 under another worker: refused.
	if ok, err := s.PushXCom(ctx, store.XCom{TaskKey: k.WithMapIndex(4), Key: "return_value", Value: "0"}, 1, "other"); err != nil || ok {
		t.Fatalf("push by another worker = %v, %v; want refused", ok, err)
	}
	xs, err := s.MappedXComs(ctx, k, "return_value")
	if err != nil {
		t.Fatal(err)
	}
	var vals []string
	for _, x := range xs {
		vals = append(vals, x.Value)
	}
	if got, want := join(vals), "0 10 20 30 40 50 60 70 80 90 100"; got != want {
		t.Fatalf("MappedXComs = %s; want %s", got, want)
	}
	one, err := s.GetXCom(ctx, k.WithMapIndex(7), "return_value")
	if err != nil || one.Value != "70" || one.MapIndex() != 7 {
		t.Fatalf("GetXCom(7) = %+v, %v", one, err)
	}
	if _, err := s.GetXCom(ctx, k, "return_value"); err == nil {
		t.Fatal("the placeholder's key (map index -1) finds an instance's XCom")
	}
}

// mustCreate2 is mustCreate with the task instances given.
func mustCreate2(t *testing.T, s store.Store, run store.DagRun, tis []store.TaskInstance) {
	t.Helper()
	if err := s.CreateRun(t.Context(), run, tis); err != nil {
		t.Fatalf("CreateRun %s/%s: %v", run.DagID, run.RunID, err)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

func join(ss []string) string { return strings.Join(ss, " ") }

// testClearedMappedTaskExpandsAgain: a clear of every instance of a mapped
// task turns them back into the placeholder (map index 0 becomes -1, the
// others removed), so the next ExpandTask follows the list as it is now:
// a shorter one leaves the extra instances removed, a longer one brings
// the removed back with their tries and adds new ones, an empty one skips
// the placeholder. A task with an instance still running stays expanded.
func testClearedMappedTaskExpandsAgain(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustCreate(t, s, newRun("d", "r", t0, store.RunRunning), "mapped")
	k := store.TaskKey{DagID: "d", RunID: "r", TaskID: "mapped"}
	expand := func(n int) {
		t.Helper()
		ph, err := s.GetTaskInstance(ctx, k)
		if err != nil {
			t.Fatalf("placeholder: %v", err)
		}
		if ok, err := s.ExpandTask(ctx, k, ph.Version, n, t0); err != nil || !ok {
			t.Fatalf("ExpandTask(%d) = %v, %v", n, ok, err)
		}
	}
	succeed := func(idx ...int) {
		t.Helper()
		for _, i := range idx {
			mustUpdateTask(t, s, store.TaskUpdate{Key: k.WithMapIndex(i), To: store.StateSuccess, IncTry: true}, true)
		}
	}
	clear := func(want int) {
		t.Helper()
		if n, err := s.ClearTasks(ctx, "d", "r", map[string]int{"mapped": 0}, at(time.Hour)); err != nil || n != want {
			t.Fatalf("ClearTasks = %d, %v; want %d", n, err, want)
		}
	}
	rows := func(want string) {
		t.Helper()
		tis, err := s.ListTaskInstances(ctx, "d", "r")
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, ti := range tis {
			st := string(ti.State)
			if st == "" {
				st = "none"
			}
			got = append(got, itoa(ti.MapIndex())+":"+st+"/"+itoa(ti.TryNumber))
		}
		if strings.Join(got, " ") != want {
			t.Fatalf("instances = %s; want %s", strings.Join(got, " "), want)
		}
	}
	expand(3)
	succeed(0, 1, 2)
	pushAll(t, s, []string{"return_value"}, k.WithMapIndex(2))
	clear(3)
	rows("-1:none/1 1:removed/1 2:removed/1")
	if n := xcomCount(t, s, k.WithMapIndex(2)); n != 0 {
		t.Errorf("a cleared instance kept %d XComs", n)
	}
	expand(2)
	rows("0:none/1 1:none/1 2:removed/1")
	succeed(0, 1)
	clear(2)
	expand(4)
	rows("0:none/2 1:none/2 2:none/1 3:none/0")

	mustUpdateTask(t, s, store.TaskUpdate{Key: k.WithMapIndex(0), To: store.StateRunning, IncTry: true}, true)
	succeed(1, 2, 3)
	clear(3)
	rows("0:running/3 1:none/3 2:none/2 3:none/1")

	mustUpdateTask(t, s, store.TaskUpdate{Key: k.WithMapIndex(0), To: store.StateSuccess}, true)
	succeed(1, 2, 3)
	clear(4)
	expand(0)
	rows("-1:skipped/3 1:removed/4 2:removed/3 3:removed/2")
}

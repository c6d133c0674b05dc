package storetest

import (
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/store"
)

// This file tests the writes the REST API makes on behalf of a user:
// create (never replaces), update (never creates) and delete, for pools,
// variables and connections, and the listing of a task's XComs.

func init() {
	register("PoolCreateUpdateDelete", testPoolCreateUpdateDelete)
	register("VariableCreateUpdate", testVariableCreateUpdate)
	register("ConnectionUpdate", testConnectionUpdate)
	register("XComList", testXComList)
	register("XComTimestamp", testXComTimestamp)
}

// testPoolCreateUpdateDelete: CreatePool refuses an existing name,
// UpdatePool and DeletePool a missing one; none touches another pool.
func testPoolCreateUpdateDelete(t *testing.T, s store.Store) {
	ctx := t.Context()
	if err := s.CreatePool(ctx, store.Pool{Name: "gpu", Slots: 2, Description: "GPUs"}); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "CreatePool existing", s.CreatePool(ctx, store.Pool{Name: "gpu", Slots: 9}), store.ErrExists)
	wantErr(t, "CreatePool default_pool", s.CreatePool(ctx, store.Pool{Name: "default_pool", Slots: 1}), store.ErrExists)
	wantErr(t, "UpdatePool missing", s.UpdatePool(ctx, store.Pool{Name: "ghost", Slots: 1}), store.ErrNotFound)
	wantErr(t, "DeletePool missing", s.DeletePool(ctx, "ghost"), store.ErrNotFound)
	if err := s.UpdatePool(ctx, store.Pool{Name: "gpu", Slots: 0}); err != nil {
		t.Fatal(err)
	}
	got, err := s.ListPools(ctx)
	if err != nil {
		t.Fatal(err)
	}
	same(t, "pools after update", got, []store.Pool{
		{Name: "default_pool", Slots: 128, Description: "Default pool"},
		{Name: "gpu", Slots: 0},
	})
	if err := s.DeletePool(ctx, "gpu"); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "DeletePool again", s.DeletePool(ctx, "gpu"), store.ErrNotFound)
	got, err = s.ListPools(ctx)
	if err != nil {
		t.Fatal(err)
	}
	same(t, "pools after delete", got, []store.Pool{{Name: "default_pool", Slots: 128, Description: "Default pool"}})
}

// testVariableCreateUpdate: CreateVariable refuses an existing key and
// UpdateVariable a missing one; both keep the encrypted flag.
func testVariableCreateUpdate(t *testing.T, s store.Store) {
	ctx := t.Context()
	v := store.Variable{Key: "token", Value: "v1:00:c2VjcmV0", Description: "vendor", Encrypted: true}
	if err := s.CreateVariable(ctx, v); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "CreateVariable existing", s.CreateVariable(ctx, store.Variable{Key: "token", Value: "x"}), store.ErrExists)
	wantErr(t, "UpdateVariable missing", s.UpdateVariable(ctx, store.Variable{Key: "ghost", Value: "x"}), store.ErrNotFound)
	if _, err := s.GetVariable(ctx, "ghost"); err == nil {
		t.Error("UpdateVariable of a missing key created it")
	}
	got, err := s.GetVariable(ctx, "token")
	if err != nil {
		t.Fatal(err)
	}
	same(t, "created variable", got, v)

	upd := store.Variable{Key: "token", Value: "plain", Description: ""}
	if err := s.UpdateVariable(ctx, upd); err != nil {
		t.Fatal(err)
	}
	got, err = s.GetVariable(ctx, "token")
	if err != nil {
		t.Fatal(err)
	}
	same(t, "updated variable", got, upd)
}

// testConnectionUpdate: UpdateConnection replaces every column of an
// existing connection and refuses a missing one.
func testConnectionUpdate(t *testing.T, s store.Store) {
	ctx := t.Context()
	wantErr(t, "UpdateConnection missing", s.UpdateConnection(ctx, store.ConnectionRecord{ConnID: "ghost", ConnType: "http"}), store.ErrNotFound)
	if _, err := s.GetConnection(ctx, "ghost"); err == nil {
		t.Error("UpdateConnection of a missing id created it")
	}
	c := store.ConnectionRecord{ConnID: "wh", ConnType: "postgres", Host: "db", Port: 5432, Login: "u", Password: "ct1", Extra: "ct2"}
	if err := s.CreateConnection(ctx, c); err != nil {
		t.Fatal(err)
	}
	upd := store.ConnectionRecord{ConnID: "wh", ConnType: "mysql", Description: "moved", Host: "db2", Login: "v", Schema: "s"}
	if err := s.UpdateConnection(ctx, upd); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetConnection(ctx, "wh")
	if err != nil {
		t.Fatal(err)
	}
	same(t, "updated connection", got, upd)
}

// testXComList: ListXComs returns one task instance's XComs sorted by key,
// with their values as stored and their timestamps, and nothing of another
// task or run.
func testXComList(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustCreate(t, s, newRun("d", "r", t0, store.RunRunning), "push", "other")
	mustCreate(t, s, newRun("d", "r2", at(time.Hour), store.RunRunning), "push")
	k := store.TaskKey{DagID: "d", RunID: "r", TaskID: "push"}
	got, err := s.ListXComs(ctx, k)
	if err != nil {
		t.Fatal(err)
	}
	same(t, "no xcoms", len(got), 0)
	got, err = s.ListXComs(ctx, store.TaskKey{DagID: "d", RunID: "r", TaskID: "ghost"})
	if err != nil || len(got) != 0 {
		t.Errorf("ListXComs of a missing task = %+v, %v; want none, nil", got, err)
	}
	for _, x := range []store.XCom{
		{TaskKey: k, Key: "return_value", Value: `{"rows": 1}`, Timestamp: t0},
		{TaskKey: k, Key: "b", Value: `[1, 2]`, Timestamp: at(time.Second)},
		{TaskKey: store.TaskKey{DagID: "d", RunID: "r", TaskID: "other"}, Key: "a", Value: `"other"`},
		{TaskKey: store.TaskKey{DagID: "d", RunID: "r2", TaskID: "push"}, Key: "a", Value: `"later run"`},
	} {
		if err := s.SetXCom(ctx, x); err != nil {
			t.Fatal(err)
		}
	}
	got, err = s.ListXComs(ctx, k)
	if err != nil {
		t.Fatal(err)
	}
	same(t, "xcoms", got, []store.XCom{
		{TaskKey: k, Key: "b", Value: `[1, 2]`, Timestamp: stored(at(time.Second))},
		{TaskKey: k, Key: "return_value", Value: `{"rows": 1}`, Timestamp: stored(t0)},
	})
}

// testXComTimestamp: SetXCom keeps the push time (UTC, to the
// microsecond) and an overwrite takes the new one; no time is the zero
// time.
func testXComTimestamp(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustCreate(t, s, newRun("d", "r", t0, store.RunRunning), "push")
	k := store.TaskKey{DagID: "d", RunID: "r", TaskID: "push"}
	for _, c := range []struct {
		when time.Time
		want time.Time
	}{{t0, stored(t0)}, {at(time.Minute), stored(at(time.Minute))}, {time.Time{}, time.Time{}}} {
		if err := s.SetXCom(ctx, store.XCom{TaskKey: k, Key: "return_value", Value: "1", Timestamp: c.when}); err != nil {
			t.Fatal(err)
		}
		got, err := s.GetXCom(ctx, k, "return_value")
		if err != nil {
			t.Fatal(err)
		}
		same(t, "xcom pushed at "+c.when.String(), got, store.XCom{TaskKey: k, Key: "return_value", Value: "1", Timestamp: c.want})
	}
}

package sqlstore

import (
	"bytes"
	"path/filepath"
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/store"
)

// fuzzStates are the states a fuzzed update moves between; "" is none.
var fuzzStates = []store.TaskState{store.StateNone, store.StateQueued, store.StateRunning, store.StateSuccess,
	store.StateFailed, store.StateUpForRetry, store.StateRestarting, "any\x00text\xff"}

// FuzzRawUpdate: a conditional update written through the driver path
// (rawwrite.go), alone or in a transaction, applies exactly when
// store.TaskUpdate.Apply and its requirement say it does, on the row it
// found, and writes and returns the row Apply makes of it, which reads
// back the same through database/sql. The scheduler decides on Apply
// before the write is answered, so the two must agree on every field. Each
// input updates the row the previous ones left.
func FuzzRawUpdate(f *testing.F) {
	f.Add(uint8(0b1), uint8(2), uint16(0b1_0000_0001), "w1", int8(0), int64(1_700_000_000_000_000), []byte(nil), []byte(`{"args":{}}`), uint8(0), int8(0))
	f.Add(uint8(0b100), uint8(3), uint16(0b0110_0000_0110), "w1", int8(1), int64(1), []byte("h"), []byte(nil), uint8(3), int8(1))
	f.Add(uint8(0), uint8(7), uint16(0xffff), "", int8(-1), int64(-62135596800000000), []byte{}, []byte{0}, uint8(7), int8(-1))
	s, err := OpenSQLite(filepath.Join(f.TempDir(), "fuzz.db"))
	if err != nil {
		f.Fatal(err)
	}
	defer s.Close()
	ctx := f.Context()
	if err := s.Migrate(ctx); err != nil {
		f.Fatal(err)
	}
	run := store.DagRun{DagID: "d", RunID: "r", RunType: store.RunManual, State: store.RunRunning}
	if err := s.CreateRun(ctx, run, []store.TaskInstance{{TaskKey: store.TaskKey{TaskID: "a"}}, {TaskKey: store.TaskKey{TaskID: "b"}}}); err != nil {
		f.Fatal(err)
	}
	a, b := rawKey("a"), rawKey("b")
	f.Fuzz(func(t *testing.T, from, to uint8, flags uint16, worker string, try int8, micros int64, handle, rendered []byte, reqState uint8, reqTry int8) {
		u := store.TaskUpdate{Key: a, To: fuzzStates[int(to)%len(fuzzStates)],
			IncTry: flags&1 != 0, InfraRerun: flags&2 != 0}
		for i, st := range fuzzStates {
			if from&(1<<i) != 0 {
				u.From = append(u.From, st)
			}
		}
		at := time.UnixMicro(micros)
		tries := int(try)
		for bit, set := range map[uint16]func(){
			1 << 2:  func() { u.FromWorker = &worker },
			1 << 3:  func() { u.FromTry = &tries },
			1 << 4:  func() { u.QueuedAt = &at },
			1 << 5:  func() { u.StartDate = &at },
			1 << 6:  func() { u.EndDate = &at },
			1 << 7:  func() { u.NextRetryAt = &at },
			1 << 8:  func() { u.WorkerID = &worker },
			1 << 9:  func() { u.Hostname = &worker },
			1 << 10: func() { u.HeartbeatAt = &at },
			1 << 11: func() { u.Handle = &handle },
			1 << 12: func() { u.Rendered = &rendered },
			1 << 13: func() {
				u.Requires = []store.TaskCondition{{Key: b, State: fuzzStates[int(reqState)%len(fuzzStates)], Try: int(reqTry)}}
			},
		} {
			if flags&bit != 0 {
				set()
			}
		}
		before, err := s.GetTaskInstance(ctx, a)
		if err != nil {
			t.Fatal(err)
		}
		other, err := s.GetTaskInstance(ctx, b)
		if err != nil {
			t.Fatal(err)
		}
		want, holds := u.Apply(before)
		for _, c := range u.Requires {
			holds = holds && other.State == c.State && other.TryNumber == c.Try
		}
		var w store.Written
		if flags&(1<<14) != 0 {
			// In a transaction, after an update of b that changes nothing
			// the requirement looks at.
			ws, err := s.UpdateTasks(ctx, []store.TaskUpdate{{Key: b, From: []store.TaskState{"never"}, To: store.StateQueued}, u})
			if err != nil {
				t.Fatalf("UpdateTasks(%+v): %v", u, err)
			}
			w = ws[1]
		} else if w, err = s.UpdateTaskRow(ctx, u); err != nil {
			t.Fatalf("UpdateTaskRow(%+v): %v", u, err)
		}
		after, err := s.GetTaskInstance(ctx, a)
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case w.OK != holds:
			t.Fatalf("update %+v of %+v (b %s try %d): applied %v, Apply says %v", u, before, other.State, other.TryNumber, w.OK, holds)
		case !holds && !sameRow(after, before):
			t.Fatalf("update %+v did not apply but changed the row:\n%+v\nto\n%+v", u, before, after)
		case holds && (!sameRow(w.Row, want) || !sameRow(after, want)):
			t.Fatalf("update %+v of %+v:\nreturned %+v\nread     %+v\nApply    %+v", u, before, w.Row, after, want)
		}
	})
}

// sameRow compares two task instances field by field, times by instant
// and blobs by content.
func sameRow(x, y store.TaskInstance) bool {
	return x.TaskKey == y.TaskKey && x.State == y.State && x.TryNumber == y.TryNumber && x.MaxTries == y.MaxTries &&
		x.Pool == y.Pool && x.PoolSlots == y.PoolSlots && x.PriorityWeight == y.PriorityWeight && x.Queue == y.Queue &&
		x.QueuedAt.Equal(y.QueuedAt) && x.StartDate.Equal(y.StartDate) && x.EndDate.Equal(y.EndDate) &&
		x.NextRetryAt.Equal(y.NextRetryAt) && x.Hostname == y.Hostname && x.WorkerID == y.WorkerID &&
		x.HeartbeatAt.Equal(y.HeartbeatAt) && bytes.Equal(x.Handle, y.Handle) && bytes.Equal(x.Rendered, y.Rendered) &&
		x.Version == y.Version && x.InfraReruns == y.InfraReruns
}

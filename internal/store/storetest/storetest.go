package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/store"
)

// Run runs the whole suite, one subtest per behaviour, each on a store of
// its own. open must return a new, empty store and arrange for it to be
// closed when t ends (t.Cleanup); the suite migrates it itself. Subtests run
// in parallel, so open must be safe to call concurrently.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			s := open(t)
			if err := s.Migrate(t.Context()); err != nil {
				t.Fatalf("Migrate: %v", err)
			}
			c.fn(t, s)
		})
	}
}

// cases lists the suite's subtests; each file of the package adds its own.
var cases []testCase

type testCase struct {
	name string
	fn   func(t *testing.T, s store.Store)
}

func register(name string, fn func(t *testing.T, s store.Store)) {
	cases = append(cases, testCase{name, fn})
}

// t0 has nanoseconds and a non-UTC zone on purpose: stores must keep the
// instant to the microsecond and hand it back in UTC.
var t0 = time.Date(2025, 3, 4, 5, 6, 7, 123456789, time.FixedZone("UTC+2", 2*3600))

// at returns t0 plus d.
func at(d time.Duration) time.Time { return t0.Add(d) }

// stored is what a store must return for t: UTC, microsecond precision.
func stored(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.Truncate(time.Microsecond).UTC()
}

func ptr[T any](v T) *T { return &v }

// newRun returns a run of dagID with the given id, logical date and state.
func newRun(dagID, runID string, logical time.Time, state store.RunState) store.DagRun {
	return store.DagRun{
		DagID: dagID, RunID: runID, RunType: store.RunScheduled, State: state,
		LogicalDate: logical, DataIntervalStart: logical.Add(-time.Hour), DataIntervalEnd: logical,
		QueuedAt: logical,
	}
}

// newTIs returns task instances in state none for the task ids, in order.
func newTIs(taskIDs ...string) []store.TaskInstance {
	tis := make([]store.TaskInstance, len(taskIDs))
	for i, id := range taskIDs {
		tis[i] = store.TaskInstance{
			TaskKey: store.TaskKey{TaskID: id}, Pool: "default_pool", PoolSlots: 1,
			PriorityWeight: 1, Queue: "default",
		}
	}
	return tis
}

// mustCreate creates a run and its task instances or fails the test.
func mustCreate(t *testing.T, s store.Store, run store.DagRun, taskIDs ...string) {
	t.Helper()
	if err := s.CreateRun(t.Context(), run, newTIs(taskIDs...)); err != nil {
		t.Fatalf("CreateRun %s/%s: %v", run.DagID, run.RunID, err)
	}
}

// mustUpdateTask applies u and fails the test unless the result is want.
func mustUpdateTask(t *testing.T, s store.Store, u store.TaskUpdate, want bool) {
	t.Helper()
	ok, err := s.UpdateTask(t.Context(), u)
	if err != nil {
		t.Fatalf("UpdateTask %+v: %v", u.Key, err)
	}
	if ok != want {
		t.Fatalf("UpdateTask %v from %q to %q = %v, want %v", u.Key, u.From, u.To, ok, want)
	}
}

func mustGetTI(t *testing.T, s store.Store, k store.TaskKey) store.TaskInstance {
	t.Helper()
	ti, err := s.GetTaskInstance(t.Context(), k)
	if err != nil {
		t.Fatalf("GetTaskInstance %v: %v", k, err)
	}
	return ti
}

func mustGetRun(t *testing.T, s store.Store, dagID, runID string) store.DagRun {
	t.Helper()
	r, err := s.GetRun(t.Context(), dagID, runID)
	if err != nil {
		t.Fatalf("GetRun %s/%s: %v", dagID, runID, err)
	}
	return r
}

// wantErr fails the test unless errors.Is(err, target).
func wantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Errorf("%s: error %v, want one wrapping %v", what, err, target)
	}
}

// same fails the test unless got equals want field by field, where times
// compare as instants and must come back in UTC, and nil and empty byte
// slices are equal.
func same(t *testing.T, what string, got, want any) {
	t.Helper()
	if d := diff("", reflect.ValueOf(got), reflect.ValueOf(want)); d != "" {
		t.Errorf("%s: %s\n got: %+v\nwant: %+v", what, d, got, want)
	}
}

var timeType = reflect.TypeFor[time.Time]()

// diff describes the first difference between got and want, or "".
func diff(path string, got, want reflect.Value) string {
	if got.Type() != want.Type() {
		return fmt.Sprintf("%s: type %s, want %s", path, got.Type(), want.Type())
	}
	switch {
	case got.Type() == timeType:
		g, w := got.Interface().(time.Time), want.Interface().(time.Time)
		if !g.Equal(w) {
			return fmt.Sprintf("%s = %v, want %v", path, g, w)
		}
		if !g.IsZero() && g.Location() != time.UTC {
			return fmt.Sprintf("%s = %v: not in UTC", path, g)
		}
		return ""
	case got.Kind() == reflect.Struct:
		for i := range got.NumField() {
			name := path + "." + got.Type().Field(i).Name
			if d := diff(name, got.Field(i), want.Field(i)); d != "" {
				return d
			}
		}
		return ""
	case got.Kind() == reflect.Slice && got.Type().Elem().Kind() == reflect.Uint8:
		if !bytes.Equal(got.Bytes(), want.Bytes()) {
			return fmt.Sprintf("%s = %q, want %q", path, got.Bytes(), want.Bytes())
		}
		return ""
	case got.Kind() == reflect.Slice:
		if got.Len() != want.Len() {
			return fmt.Sprintf("%s: length %d, want %d", path, got.Len(), want.Len())
		}
		for i := range got.Len() {
			if d := diff(fmt.Sprintf("%s[%d]", path, i), got.Index(i), want.Index(i)); d != "" {
				return d
			}
		}
		return ""
	default:
		if !reflect.DeepEqual(got.Interface(), want.Interface()) {
			return fmt.Sprintf("%s = %v, want %v", path, got.Interface(), want.Interface())
		}
		return ""
	}
}

// keys returns "dag/run/task" of each task instance, for order checks.
func keys(tis []store.TaskInstance) []string {
	out := make([]string, len(tis))
	for i, ti := range tis {
		out[i] = ti.DagID + "/" + ti.RunID + "/" + ti.TaskID
	}
	return out
}

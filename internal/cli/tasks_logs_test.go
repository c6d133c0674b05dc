package cli

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/store"
	"github.com/sirocco-dev/sirocco/internal/store/sqlstore"
)

// logsHome is a migrated home whose DAG d has a mapped task m (over up's
// XCom) and a run r of it; run runs the CLI there.
func logsHome(t *testing.T) (st store.Store, run func(ctx context.Context, args ...string) (string, error)) {
	t.Helper()
	home := t.TempDir()
	dags := filepath.Join(home, "dags")
	if err := os.MkdirAll(dags, 0o755); err != nil {
		t.Fatal(err)
	}
	yaml := "dag_id: d\ntasks:\n  - {id: m, operator: bash, expand: {command: {xcom: up}}, depends_on: [up]}\n" +
		"  - {id: up, operator: bash, command: 'echo hi'}\n"
	if err := os.WriteFile(filepath.Join(dags, "d.yaml"), []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	db := "sqlite://" + filepath.Join(home, "sirocco.db")
	run = func(ctx context.Context, args ...string) (string, error) {
		var out bytes.Buffer
		root := NewRoot(&out, &out)
		root.SetArgs(append([]string{"--home", home, "--dags", dags, "--database-url", db}, args...))
		err := root.ExecuteContext(ctx)
		return out.String(), err
	}
	if out, err := run(t.Context(), "db", "migrate"); err != nil {
		t.Fatalf("migrate: %v\n%s", err, out)
	}
	if out, err := run(t.Context(), "dags", "trigger", "d", "--run-id", "r", "--logical-date", "2026-01-01"); err != nil {
		t.Fatalf("trigger: %v\n%s", err, out)
	}
	s, err := sqlstore.Open(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, run
}

// TestLogsOfAMappedTaskBeforeItExpands (trial11 #1): `tasks logs` of a
// mapped task that has not expanded never waits for a log that cannot
// exist. Without a map index it says to name an instance (Airflow's
// `tasks logs` needs one), after --follow waited for the expansion;
// `--map-index 0 --follow` waits for the expansion, then for the try.
func TestLogsOfAMappedTaskBeforeItExpands(t *testing.T) {
	st, run := logsHome(t)
	logs := func(ctx context.Context, args ...string) error {
		_, err := run(ctx, append([]string{"tasks", "logs", "d", "r", "m"}, args...)...)
		return err
	}
	want := func(what string, err error, text string) {
		t.Helper()
		if err == nil || !strings.Contains(err.Error(), text) {
			t.Errorf("%s: %v; want %q", what, err, text)
		}
	}
	want("no index", logs(t.Context()), "task m is mapped and has not expanded yet (state none); its instances' logs are named with --map-index N")
	want("an index", logs(t.Context(), "--map-index", "0"), "task m has not expanded yet (state none); use --follow to wait for its instance [0]")

	k := store.TaskKey{DagID: "d", RunID: "r", TaskID: "m"}
	ph, err := st.GetTaskInstance(t.Context(), k)
	if err != nil {
		t.Fatal(err)
	}
	// Both wait (each saw the placeholder waiting before the expansion).
	polled, polledOne := &firstRead{Store: st, seen: make(chan struct{})}, &firstRead{Store: st, seen: make(chan struct{})}
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second) // a bound on a hang, not a wait
	defer cancel()
	hint, inst := make(chan error, 1), make(chan error, 1)
	go func() { hint <- placeholderLog(ctx, polled, ph, true, newWaitNotes(io.Discard)) }()
	go func() {
		_, err := waitInstance(ctx, polledOne, k.WithMapIndex(1), store.ErrNotFound, true, newWaitNotes(io.Discard))
		inst <- err
	}()
	<-polled.seen
	<-polledOne.seen
	if ok, err := st.ExpandTask(t.Context(), k, ph.Version, 2, time.Now()); err != nil || !ok {
		t.Fatalf("expand: %v, %v", ok, err)
	}
	want("--follow, no index", <-hint, "task m is mapped and has expanded; name one of its instances with --map-index N")
	if err := <-inst; err != nil {
		t.Errorf("--follow --map-index 1 before the expansion: %v; want m[1] once expanded", err)
	}
	one := k.WithMapIndex(1)
	if ok, err := st.UpdateTask(t.Context(), store.TaskUpdate{Key: one, To: store.StateFailed, IncTry: true}); err != nil || !ok {
		t.Fatalf("fail m[1]: %v, %v", ok, err)
	}
	want("--follow of a try without its log", logs(t.Context(), "--follow", "--map-index", "1"), "task m [1] has no log for try 1 (state failed)")
	want("a try without its log", logs(t.Context(), "--map-index", "1"), "task m [1] has no log for try 1 (state failed)")
	want("--try of a try not run", logs(t.Context(), "--map-index", "1", "--try", "2"), "task m [1] has no log for try 2: it has had 1 try (state failed)")
	want("--try 0", logs(t.Context(), "--map-index", "1", "--try", "0"), "--try 0: tries are numbered from 1")
	want("expanded, no index", logs(t.Context()), "task instance d/r/m: not found (an expanded mapped task's instances are named with --map-index N)")
}

// TestLogsOfAMappedTaskThatEnded: a mapped task that ended without
// expanding answers why, also to --follow --map-index 0 (no instance will
// come), and --try N of a task that never ran answers the same, not a
// missing file (trial11 #1, #9).
func TestLogsOfAMappedTaskThatEnded(t *testing.T) {
	st, run := logsHome(t)
	why := `cannot expand: XCom "return_value" of task "up": "hi" is not a list`
	k := store.TaskKey{DagID: "d", RunID: "r", TaskID: "m"}
	if ok, err := st.UpdateTask(t.Context(), store.TaskUpdate{Key: k, To: store.StateFailed, Note: &why}); err != nil || !ok {
		t.Fatalf("fail m: %v, %v", ok, err)
	}
	for _, args := range [][]string{{"--follow", "--map-index", "0"}, {"--map-index", "0"}, {"--try", "1"}, {"--follow", "--try", "2"}} {
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second) // a bound on a hang, not a wait
		_, err := run(ctx, append([]string{"tasks", "logs", "d", "r", "m"}, args...)...)
		cancel()
		if want := "task m ended failed without running a try: " + why; err == nil || err.Error() != want {
			t.Errorf("tasks logs %v: %v; want %q", args, err, want)
		}
	}
}

// TestLogsOfAMappedTaskShrunkToEmpty (trial11 #2): a clear over a list
// that became empty skips the task through its placeholder, the old
// instance 0 with its tries; its logs answer that it ended skipped
// without a try of its own, not a raw missing file.
func TestLogsOfAMappedTaskShrunkToEmpty(t *testing.T) {
	st, run := logsHome(t)
	ctx := t.Context()
	k := store.TaskKey{DagID: "d", RunID: "r", TaskID: "m"}
	ph, err := st.GetTaskInstance(ctx, k)
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := st.ExpandTask(ctx, k, ph.Version, 2, time.Now()); err != nil || !ok {
		t.Fatalf("expand: %v, %v", ok, err)
	}
	for i := range 2 {
		if ok, err := st.UpdateTask(ctx, store.TaskUpdate{Key: k.WithMapIndex(i), To: store.StateSuccess, IncTry: true}); err != nil || !ok {
			t.Fatalf("m[%d]: %v, %v", i, ok, err)
		}
	}
	if _, err := st.ClearTasks(ctx, "d", "r", map[string]int{"m": 0}, time.Now()); err != nil {
		t.Fatal(err)
	}
	if ph, err = st.GetTaskInstance(ctx, k); err != nil {
		t.Fatal(err)
	}
	if ok, err := st.ExpandTask(ctx, k, ph.Version, 0, time.Now()); err != nil || !ok {
		t.Fatalf("expand over nothing: %v, %v", ok, err)
	}
	for _, args := range [][]string{{}, {"--follow"}} {
		tctx, cancel := context.WithTimeout(ctx, 30*time.Second) // a bound on a hang, not a wait
		_, err := run(tctx, append([]string{"tasks", "logs", "d", "r", "m"}, args...)...)
		cancel()
		if want := "task m ended skipped without running a try, so it has no log"; err == nil || err.Error() != want {
			t.Errorf("tasks logs %v: %v; want %q", args, err, want)
		}
	}
}

// TestNotFoundSaysWhatIsMissing (trial11b): `tasks logs` and `tasks
// render` of an instance that is not there say whether the run, the task
// or the map index is wrong; a task that does not exist got the hint to
// add --map-index.
func TestNotFoundSaysWhatIsMissing(t *testing.T) {
	_, run := logsHome(t)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"tasks", "logs", "d", "r", "nosuch"}, "task instance d/r/nosuch: not found (the DAG d as loaded has no task nosuch)"},
		{[]string{"tasks", "logs", "d", "r2", "up"}, "task instance d/r2/up: not found (DAG d has no run r2)"},
		{[]string{"tasks", "logs", "d", "r", "up", "--map-index", "3"}, "task up is not mapped"},
		{[]string{"tasks", "render", "d", "r", "nosuch"}, "task instance d/r/nosuch: not found (the DAG d as loaded has no task nosuch)"},
		{[]string{"tasks", "render", "d", "r", "m", "--map-index", "3"}, "task instance d/r/m [3]: not found (is the map index in range?)"},
	} {
		_, err := run(t.Context(), c.args...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v; want %q", c.args, err, c.want)
		}
		if err != nil && strings.Contains(c.want, "has no") && strings.Contains(err.Error(), "--map-index") {
			t.Errorf("%v: %v hints at --map-index", c.args, err)
		}
	}
}

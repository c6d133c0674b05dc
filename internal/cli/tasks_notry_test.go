package cli

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/store"
	"github.com/sirocco-dev/sirocco/internal/store/sqlstore"
)

// TestLogsOfATaskThatRanNoTry: `tasks logs` of a task that finished
// without running a try says so, with its note when it has one (a mapped
// task that could not expand: trial10b #2), instead of "has not started
// yet ... use --follow"; --follow returns for such a task, also when it
// ends while followed, instead of waiting forever; `tasks state` shows
// the note.
func TestLogsOfATaskThatRanNoTry(t *testing.T) {
	home := t.TempDir()
	dags := filepath.Join(home, "dags")
	if err := os.MkdirAll(dags, 0o755); err != nil {
		t.Fatal(err)
	}
	yaml := "dag_id: d\ntasks:\n  - {id: m, operator: bash, expand: {command: {xcom: up}}, depends_on: [up]}\n" +
		"  - {id: up, operator: bash, command: 'echo hi'}\n  - {id: sk, operator: empty}\n  - {id: later, operator: empty}\n"
	if err := os.WriteFile(filepath.Join(dags, "d.yaml"), []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	db := "sqlite://" + filepath.Join(home, "sirocco.db")
	run := func(ctx context.Context, args ...string) (string, error) {
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
	st, err := sqlstore.Open(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	key := func(id string) store.TaskKey { return store.TaskKey{DagID: "d", RunID: "r", TaskID: id} }
	set := func(id string, to store.TaskState, note string) {
		t.Helper()
		if ok, err := st.UpdateTask(t.Context(), store.TaskUpdate{Key: key(id), To: to, Note: &note}); err != nil || !ok {
			t.Fatalf("set %s %s: %v, %v", id, to, ok, err)
		}
	}
	why := `cannot expand: XCom "return_value" of task "up": it is a string, not a list`
	set("m", store.StateFailed, why)
	set("sk", store.StateSkipped, "")

	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"m"}, "task m ended failed without running a try: " + why},
		{[]string{"m", "--follow"}, "task m ended failed without running a try: " + why},
		{[]string{"sk"}, "task sk ended skipped without running a try, so it has no log"},
		{[]string{"sk", "--follow"}, "task sk ended skipped without running a try, so it has no log"},
	} {
		ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second) // a bound on a hang, not a wait
		_, err := run(ctx, append([]string{"tasks", "logs", "d", "r"}, c.args...)...)
		cancel()
		if err == nil || err.Error() != c.want {
			t.Errorf("tasks logs %v: %v; want %q", c.args, err, c.want)
		}
	}

	// Followed while it waits, the task then ends without a try.
	polled := &firstRead{Store: st, seen: make(chan struct{})}
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		done <- (&app{stdout: &bytes.Buffer{}}).followLog(ctx, polled, filepath.Join(home, "logs"), key("later"), 1, newWaitNotes(io.Discard))
	}()
	<-polled.seen // it saw the task waiting
	set("later", store.StateUpstreamFailed, "")
	if err, want := <-done, "task later ended upstream_failed without running a try, so it has no log"; err == nil || err.Error() != want {
		t.Errorf("followLog of a task that ended while followed: %v; want %q", err, want)
	}

	table, err := run(t.Context(), "tasks", "state", "d", "r")
	if err != nil || !strings.Contains(table, "NOTE") || !strings.Contains(table, "not a list") {
		t.Errorf("tasks state: %v; want a NOTE column with m's note:\n%s", err, table)
	}
	js, err := run(t.Context(), "tasks", "state", "d", "r", "m", "-o", "json")
	if err != nil || !strings.Contains(js, `"note": "cannot expand: XCom \"return_value\"`) {
		t.Errorf("tasks state -o json: %v; want the note:\n%s", err, js)
	}
}

// firstRead is a store that tells when a task instance is first read.
type firstRead struct {
	store.Store
	once sync.Once
	seen chan struct{}
}

func (f *firstRead) GetTaskInstance(ctx context.Context, k store.TaskKey) (store.TaskInstance, error) {
	ti, err := f.Store.GetTaskInstance(ctx, k)
	f.once.Do(func() { close(f.seen) })
	return ti, err
}

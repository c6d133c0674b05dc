package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sirocco-dev/sirocco/internal/store"
	"github.com/sirocco-dev/sirocco/internal/store/sqlstore"
)

// TestLogsOfATaskThatWaitsForThePast: `tasks logs` of a task that has not
// started says why it waits when its note says so (the scheduler writes a
// depends_on_past reason there), and `tasks state` shows that note.
func TestLogsOfATaskThatWaitsForThePast(t *testing.T) {
	home := t.TempDir()
	dags := filepath.Join(home, "dags")
	if err := os.MkdirAll(dags, 0o755); err != nil {
		t.Fatal(err)
	}
	yaml := "dag_id: d\ntasks:\n  - {id: load, operator: empty, depends_on_past: true}\n  - {id: other, operator: empty}\n"
	if err := os.WriteFile(filepath.Join(dags, "d.yaml"), []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	db := "sqlite://" + filepath.Join(home, "sirocco.db")
	run := func(args ...string) (string, error) {
		var out bytes.Buffer
		root := NewRoot(&out, &out)
		root.SetArgs(append([]string{"--home", home, "--dags", dags, "--database-url", db}, args...))
		err := root.ExecuteContext(t.Context())
		return out.String(), err
	}
	if out, err := run("db", "migrate"); err != nil {
		t.Fatalf("migrate: %v\n%s", err, out)
	}
	if out, err := run("dags", "trigger", "d", "--run-id", "r", "--logical-date", "2026-01-02"); err != nil {
		t.Fatalf("trigger: %v\n%s", err, out)
	}
	st, err := sqlstore.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	why := "depends_on_past: load in the previous run manual__2026-01-01T00:00:00+00:00 is failed, not success or skipped"
	if ok, err := st.UpdateTask(t.Context(), store.TaskUpdate{Key: store.TaskKey{DagID: "d", RunID: "r", TaskID: "load"},
		From: []store.TaskState{store.StateNone}, To: store.StateNone, Note: &why}); err != nil || !ok {
		t.Fatalf("note: %v, %v", ok, err)
	}
	want := "task load has not started yet (state none): " + why + "; use --follow to wait for it"
	if _, err := run("tasks", "logs", "d", "r", "load"); err == nil || err.Error() != want {
		t.Errorf("tasks logs: %v; want %q", err, want)
	}
	want = "task other has not started yet (state none); use --follow to wait for it"
	if _, err := run("tasks", "logs", "d", "r", "other"); err == nil || err.Error() != want {
		t.Errorf("tasks logs of a task without a note: %v; want %q", err, want)
	}
	table, err := run("tasks", "state", "d", "r")
	if err != nil || !strings.Contains(table, "NOTE") || !strings.Contains(table, why) {
		t.Errorf("tasks state: %v; want a NOTE column with load's note:\n%s", err, table)
	}
}

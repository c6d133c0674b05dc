package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/store"
	"github.com/sirocco-dev/sirocco/internal/store/sqlstore"
)

// TestTasksStateShowsTheNextPoke: `tasks state` shows when a sensor
// waiting up_for_reschedule pokes next and its pokes so far, in the table
// and in JSON; a task in another state shows no next_retry_at.
func TestTasksStateShowsTheNextPoke(t *testing.T) {
	home := t.TempDir()
	dags := filepath.Join(home, "dags")
	if err := os.MkdirAll(dags, 0o755); err != nil {
		t.Fatal(err)
	}
	yaml := "dag_id: d\ntasks:\n  - {id: wait, operator: bash_sensor, command: 'false', mode: reschedule}\n  - {id: other, operator: empty}\n"
	if err := os.WriteFile(filepath.Join(dags, "d.yaml"), []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	db := "sqlite://" + filepath.Join(home, "sirocco.db")
	run := func(args ...string) string {
		t.Helper()
		var out bytes.Buffer
		root := NewRoot(&out, &out)
		root.SetArgs(append([]string{"--home", home, "--dags", dags, "--database-url", db}, args...))
		if err := root.ExecuteContext(t.Context()); err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out.String())
		}
		return out.String()
	}
	run("db", "migrate")
	run("dags", "trigger", "d", "--run-id", "r", "--logical-date", "2026-01-01")
	st, err := sqlstore.Open(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	next := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	first, pokes := next.Add(-time.Hour), 4
	_, err = st.UpdateTask(t.Context(), store.TaskUpdate{Key: store.TaskKey{DagID: "d", RunID: "r", TaskID: "wait"},
		To: store.StateUpForReschedule, NextRetryAt: &next, FirstPokeAt: &first, Pokes: &pokes})
	if err == nil {
		_, err = st.UpdateTask(t.Context(), store.TaskUpdate{Key: store.TaskKey{DagID: "d", RunID: "r", TaskID: "other"},
			To: store.StateSuccess, NextRetryAt: &next})
	}
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	table := run("tasks", "state", "d", "r")
	if !strings.Contains(table, "NEXT_RETRY_AT") || !strings.Contains(table, "2030-01-02T03:04:05Z") {
		t.Errorf("the table does not show the next poke:\n%s", table)
	}
	if strings.Count(table, "2030-01-02T03:04:05Z") != 1 {
		t.Errorf("a task not waiting shows a next_retry_at:\n%s", table)
	}
	js := run("tasks", "state", "d", "r", "wait", "-o", "json")
	for _, want := range []string{`"next_retry_at": "2030-01-02T03:04:05Z"`, `"pokes": 4`, `"first_poke_at": "2030-01-02T02:04:05Z"`} {
		if !strings.Contains(js, want) {
			t.Errorf("JSON lacks %s:\n%s", want, js)
		}
	}
}

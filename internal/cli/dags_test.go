package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sirocco-dev/sirocco/internal/store"
	"github.com/sirocco-dev/sirocco/internal/store/sqlstore"
)

// TestTriggerAndBackfillCheckInput runs `dags trigger` and `dags backfill`
// with run ids and dates a store or the logs folder cannot hold: each is
// an error naming what is wrong, and no run is created.
func TestTriggerAndBackfillCheckInput(t *testing.T) {
	home := t.TempDir()
	dags := filepath.Join(home, "dags")
	if err := os.MkdirAll(dags, 0o755); err != nil {
		t.Fatal(err)
	}
	yaml := "dag_id: d\nschedule: \"@daily\"\nstart_date: 2026-01-01\ntasks:\n  - {id: a, operator: empty}\n"
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
		t.Fatalf("db migrate: %v\n%s", err, out)
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"dags", "trigger", "d", "--run-id", strings.Repeat("r", 300)}, "300 characters; at most 250"},
		{[]string{"dags", "trigger", "d", "--run-id", "col/lide"}, `'/'`},
		{[]string{"dags", "trigger", "d", "--run-id", "two words"}, `' '`},
		{[]string{"dags", "trigger", "d", "--run-id", ".."}, "only dots"},
		{[]string{"dags", "trigger", "d", "--run-id", "backfill__2026-01-01"}, "reserved for backfill runs"},
		{[]string{"dags", "trigger", "d", "--logical-date", "0001-01-01"}, "zero time"},
		{[]string{"dags", "trigger", "d", "--logical-date", "0000-12-31T23:00:00Z"}, "out of range"},
		{[]string{"dags", "backfill", "d", "--from", "0000-01-01", "--to", "2026-01-01"}, "--from: date \"0000-01-01\" is out of range"},
		{[]string{"dags", "backfill", "d", "--from", "2026-01-01", "--to", "9999-12-31T23:00:00-02:00"}, "--to: date"},
		{[]string{"dags", "backfill", "d", "--from", "2026-02-01", "--to", "2026-01-01"}, "ends (2026-01-01T00:00:00Z) before it starts"},
	} {
		out, err := run(tt.args...)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want an error saying %q\n%s", strings.Join(tt.args, " "), err, tt.want, out)
		}
	}
	st, err := sqlstore.Open(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	runs, err := st.ListRuns(t.Context(), store.RunFilter{DagID: "d"})
	if err != nil || len(runs) != 0 {
		t.Errorf("runs created: %v %v", runs, err)
	}
	if out, err := run("dags", "trigger", "d", "--run-id", "nightly.2026-01-01+fix~2", "--logical-date", "2026-01-01"); err != nil {
		t.Errorf("a valid run id: %v\n%s", err, out)
	}
}

package sqlstore_test

import (
	"testing"

	"github.com/sirocco-dev/sirocco/internal/store"
	"github.com/sirocco-dev/sirocco/internal/store/sqlstore"
	"github.com/sirocco-dev/sirocco/internal/testenv"
)

// TestMapIndexMigrationKeepsRows: a database filled at schema version 12
// keeps its task instances, XComs, notifications and asset events through
// migration 13 (SQLite rebuilds three tables), each with map index -1, and
// the keys then tell map indexes apart.
func TestMapIndexMigrationKeepsRows(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { testMapIndexMigration(t, openSQLite(t)) })
	t.Run("postgres", func(t *testing.T) { testMapIndexMigration(t, openPostgres(t, testenv.Postgres(t))) })
}

func testMapIndexMigration(t *testing.T, s *sqlstore.Store) {
	ctx := t.Context()
	if err := s.MigrateTo(ctx, 12); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`INSERT INTO dag_runs (dag_id, run_id, run_type, state) VALUES ('d', 'r', 'manual', 'running')`,
		`INSERT INTO task_instances (dag_id, run_id, task_id, seq, state, try_number, max_tries, worker_id, row_version)
			VALUES ('d', 'r', 'a', 0, 'success', 1, 2, 'w', 3), ('d', 'r', 'b', 1, 'running', 2, 2, 'w', 5)`,
		`INSERT INTO xcoms (dag_id, run_id, task_id, key, value) VALUES ('d', 'r', 'a', 'return_value', '[1,2]')`,
		`INSERT INTO notifications (dag_id, run_id, task_id, try_number, event, idx, state) VALUES ('d', 'r', 'a', 1, 'success', 0, 'pending')`,
		`INSERT INTO assets (uri, created_at) VALUES ('s3://x', ` + nowSQL(s) + `)`,
		`INSERT INTO asset_events (uri, extra, source_dag_id, source_run_id, source_task_id, source_try, timestamp)
			VALUES ('s3://x', '{}', 'd', 'r', 'a', 1, ` + nowSQL(s) + `)`,
	} {
		if err := s.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	tis, err := s.ListTaskInstances(ctx, "d", "r")
	if err != nil {
		t.Fatal(err)
	}
	if len(tis) != 2 || tis[0].TaskID != "a" || tis[0].State != store.StateSuccess || tis[0].MaxTries != 2 || tis[0].Version != 3 ||
		tis[1].TaskID != "b" || tis[1].State != store.StateRunning || tis[1].TryNumber != 2 || tis[0].MapIndex() != -1 || tis[1].MapIndex() != -1 {
		t.Fatalf("task instances after the migration = %+v", tis)
	}
	ka := store.TaskKey{DagID: "d", RunID: "r", TaskID: "a"}
	x, err := s.GetXCom(ctx, ka, "return_value")
	if err != nil || x.Value != "[1,2]" || x.MapIndex() != -1 {
		t.Fatalf("xcom after the migration = %+v, %v", x, err)
	}
	notes, err := s.ListNotifications(ctx, "d", "r")
	if err != nil || len(notes) != 1 || notes[0].TaskID != "a" || notes[0].Map != 0 {
		t.Fatalf("notifications after the migration = %+v, %v", notes, err)
	}
	evs, err := s.ListAssetEvents(ctx, store.AssetEventFilter{})
	if err != nil || len(evs) != 1 || evs[0].SourceTaskID != "a" || evs[0].SourceMap != 0 {
		t.Fatalf("asset events after the migration = %+v, %v", evs, err)
	}
	// The XCom's foreign key follows the rebuilt table.
	if err := s.SetXCom(ctx, store.XCom{TaskKey: ka.WithMapIndex(5), Key: "k", Value: "1"}); err == nil {
		t.Fatal("an XCom of a task instance that does not exist was stored")
	}
}

// nowSQL is a time literal of the store's dialect.
func nowSQL(s *sqlstore.Store) string {
	if s.Dialect() == sqlstore.DialectPostgres {
		return "now()"
	}
	return "1700000000000000"
}

package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/config"
	"github.com/sirocco-dev/sirocco/internal/operator/all"
	"github.com/sirocco-dev/sirocco/internal/store"
	"github.com/sirocco-dev/sirocco/internal/tasklog"
)

// TestTriggerLoadsTheRecordedFile: `dags trigger` parses only the file a
// scheduler recorded for the DAG when it is in the DAGs folder and still
// defines the DAG (the rest of the folder is not read); otherwise it loads
// the whole folder, so what is wrong is said as before.
func TestTriggerLoadsTheRecordedFile(t *testing.T) {
	home := t.TempDir()
	dags := filepath.Join(home, "dags")
	if err := os.MkdirAll(dags, 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(name, body string) string {
		t.Helper()
		p := filepath.Join(dags, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	dFile := write("d.yaml", "dag_id: d\ntasks:\n  - {id: a, operator: empty}\n")
	otherFile := write("other.yaml", "dag_id: other\ntasks:\n  - {id: b, operator: empty}\n")
	brokenFile := write("broken.yaml", "dag_id: broken\ntasks:\n  - {id: c, operator: no_such_operator}\n")
	db := "sqlite://" + filepath.Join(home, "sirocco.db")
	var out bytes.Buffer
	a := &app{flags: map[string]*string{"home": &home, "dags_folder": &dags, "database_url": &db},
		stdout: &out, stderr: &out, operators: all.Registry(), secrets: &tasklog.Secrets{}}
	st, err := a.migrateStore(t.Context(), mustConfig(t, a))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })

	for _, tc := range []struct {
		name, id, fileloc string // fileloc: the scheduler's record of id, "" for none
		recorded          bool   // loaded from the recorded file alone
		wantErr           string
	}{
		{"never recorded", "d", "", false, ""}, // first: the records below stay
		{"recorded in the folder", "d", dFile, true, ""},
		{"recorded from another folder", "d", "/elsewhere/d.yaml", false, ""},
		{"the recorded file defines another DAG now", "d", otherFile, false, ""},
		{"the recorded file is broken", "broken", brokenFile, false, "has errors"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.fileloc != "" {
				if err := st.UpsertDAG(t.Context(), store.DAGRecord{DagID: tc.id, FileLoc: tc.fileloc, LastParsed: time.Now()}); err != nil {
					t.Fatal(err)
				}
			}
			e, d, recorded, err := a.openDAG(t.Context(), tc.id)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("openDAG(%s) = %v, want an error saying %q", tc.id, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("openDAG(%s): %v", tc.id, err)
			}
			defer e.close()
			if d.ID != tc.id || d.FileLoc != dFile || recorded != tc.recorded {
				t.Errorf("openDAG(%s) = %s from %s, recorded %v; want it from %s, recorded %v", tc.id, d.ID, d.FileLoc, recorded, dFile, tc.recorded)
			}
			if loaded := len(e.bag.DAGs()); recorded && loaded != 0 || !recorded && loaded != 2 {
				t.Errorf("the folder's %d DAGs were loaded (recorded %v)", loaded, recorded)
			}
		})
	}
}

func mustConfig(t *testing.T, a *app) config.Config {
	t.Helper()
	cfg, err := a.config()
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

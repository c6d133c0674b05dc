package cli

import (
	"bytes"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/store"
	"github.com/sirocco-dev/sirocco/internal/store/sqlstore"
)

// TestTasksRenderMasksSecrets: `tasks render` shows a sensitive variable
// as ***, plain or base64, both when it renders a task that has not run
// and when it prints rendered fields stored in clear (by a Sirocco that
// did not mask them yet); an ordinary variable is shown.
func TestTasksRenderMasksSecrets(t *testing.T) {
	home := t.TempDir()
	dags := filepath.Join(home, "dags")
	if err := os.MkdirAll(dags, 0o755); err != nil {
		t.Fatal(err)
	}
	yaml := `dag_id: d
tasks:
  - id: call
    operator: bash
    env: {API_KEY: "{{ var.value.vendor_api_key }}"}
    command: echo {{ var.value.greeting }} "$API_KEY"
  - id: old
    operator: empty
`
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
	const secret = "vendor-Key-9c41d7e2"
	b64 := base64.StdEncoding.EncodeToString([]byte(secret))
	run("db", "migrate")
	run("variables", "set", "vendor_api_key", secret)
	run("variables", "set", "greeting", "hello-there")
	run("dags", "trigger", "d", "--run-id", "r", "--logical-date", "2026-01-01")

	st, err := sqlstore.Open(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	clear := []byte(`{"args": {"command": "curl -H 'Authorization: Basic ` + b64 + `'"}, "env": {"K": "` + secret + `"}}`)
	_, err = st.UpdateTask(t.Context(), store.TaskUpdate{Key: store.TaskKey{DagID: "d", RunID: "r", TaskID: "old"},
		From: []store.TaskState{store.StateNone}, To: store.StateSuccess, Rendered: &clear, EndDate: ptrTime(time.Now())})
	st.Close()
	if err != nil {
		t.Fatal(err)
	}

	fresh := run("tasks", "render", "d", "r", "call")
	if !strings.Contains(fresh, `"API_KEY": "***"`) || !strings.Contains(fresh, "hello-there") {
		t.Errorf("render of a task not run yet:\n%s", fresh)
	}
	stored := run("tasks", "render", "d", "r", "old")
	if !strings.Contains(stored, `"K": "***"`) {
		t.Errorf("render of fields stored in clear:\n%s", stored)
	}
	for what, out := range map[string]string{"fresh": fresh, "stored": stored} {
		if strings.Contains(out, secret) || strings.Contains(out, b64) {
			t.Errorf("%s render shows the secret:\n%s", what, out)
		}
	}
}

func ptrTime(t time.Time) *time.Time { return &t }

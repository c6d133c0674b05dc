package ui_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/connection"
	"github.com/sirocco-dev/sirocco/internal/store"
	"github.com/sirocco-dev/sirocco/internal/tasklog"
	"github.com/sirocco-dev/sirocco/internal/ui"
)

// TestTaskInstanceMasksRenderedSecrets: the UI review's finding 1. Task
// b's rendered command holds a sensitive variable's value that reached it
// through ti.xcom_pull (so the runner of the time did not mask it) and a
// connection's password: /ui/api/ti, which a Viewer reads, shows *** for
// both, as `tasks render` and the API's XComs do. When the secrets cannot
// be read (no key for an encrypted variable) the fields are refused, not
// shown unmasked.
func TestTaskInstanceMasksRenderedSecrets(t *testing.T) {
	const secret, connPass = "Hunter2SuperSecret", "conn-Pa55-0b9e"
	keys, err := connection.NewKeyring(bytes.Repeat([]byte{7}, connection.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	environ := func() []string { return []string{"SIROCCO_CONN_WH=postgres://u:" + connPass + "@wh/db"} }
	s := newSite(t, map[string]string{"etl.yaml": etlYAML}, func(o *ui.Options) { o.Keys, o.Environ = keys, environ })
	if err := (&connection.Variables{Store: s.st, Keys: keys}).Set(t.Context(), store.Variable{Key: "db_password", Value: secret}); err != nil {
		t.Fatal(err)
	}
	s.createRun("etl", "r1", time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), map[string]store.TaskState{"load": store.StateSuccess}, "load")
	rendered := []byte(`{"args":{"command":"echo got ` + secret + `","port":5432},"env":{"` + connPass + `":"x"}}`)
	if _, err := s.st.UpdateTask(t.Context(), store.TaskUpdate{Key: store.TaskKey{DagID: "etl", RunID: "r1", TaskID: "load"},
		To: store.StateSuccess, Rendered: &rendered}); err != nil {
		t.Fatal(err)
	}
	status, body, _ := s.get("/ui/api/ti?dag_id=etl&run_id=r1&task_id=load")
	if status != http.StatusOK || strings.Contains(body, secret) || strings.Contains(body, connPass) ||
		!strings.Contains(body, `"command":"echo got ***"`) || !strings.Contains(body, `"port":5432`) {
		t.Errorf("/ui/api/ti: %d %s", status, body)
	}

	noKeys := newSite(t, map[string]string{"etl.yaml": etlYAML})
	if err := (&connection.Variables{Store: noKeys.st, Keys: keys}).Set(t.Context(), store.Variable{Key: "db_password", Value: secret}); err != nil {
		t.Fatal(err)
	}
	noKeys.createRun("etl", "r1", time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), nil, "load")
	if _, err := noKeys.st.UpdateTask(t.Context(), store.TaskUpdate{Key: store.TaskKey{DagID: "etl", RunID: "r1", TaskID: "load"},
		To: store.StateSuccess, IncTry: true, Rendered: &rendered}); err != nil {
		t.Fatal(err)
	}
	status, body, _ = noKeys.get("/ui/api/ti?dag_id=etl&run_id=r1&task_id=load")
	if status != http.StatusInternalServerError || strings.Contains(body, secret) || !strings.Contains(body, "secrets to mask") {
		t.Errorf("/ui/api/ti without the key: %d %s, want 500 saying the secrets cannot be read", status, body)
	}
}

// TestTriesReadOnlyEarlierLogsOnce: the latest try's log is not read (its
// state is the row's), and an earlier try's summary is read once and kept
// while its file is unchanged; a changed file is read again.
func TestTriesReadOnlyEarlierLogsOnce(t *testing.T) {
	s := newSite(t, map[string]string{"etl.yaml": etlYAML})
	s.createRun("etl", "r1", time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), nil, "load")
	key := store.TaskKey{DagID: "etl", RunID: "r1", TaskID: "load"}
	log1 := tasklog.Path(s.cfg.LogsDir(), "etl", "r1", "load", 1)
	if err := os.MkdirAll(filepath.Dir(log1), 0o755); err != nil {
		t.Fatal(err)
	}
	first := "[2026-01-01T00:00:00.000Z] sirocco: starting try 1\n[2026-01-01T00:00:05.000Z] sirocco: task failed: exit 1\n"
	if err := os.WriteFile(log1, []byte(first), 0o644); err != nil {
		t.Fatal(err)
	}
	s.setState(key, store.StateUpForRetry, nil)
	s.setState(key, store.StateRunning, nil)
	// The latest try's "log" cannot be read at all: only its presence counts.
	if err := os.Mkdir(tasklog.Path(s.cfg.LogsDir(), "etl", "r1", "load", 2), 0o755); err != nil {
		t.Fatal(err)
	}
	type tries struct {
		Tries []struct {
			State  string `json:"state"`
			HasLog bool   `json:"has_log"`
		} `json:"tries"`
	}
	read := func() tries {
		t.Helper()
		status, body, _ := s.get("/ui/api/ti?dag_id=etl&run_id=r1&task_id=load")
		var got tries
		if err := json.Unmarshal([]byte(body), &got); status != http.StatusOK || err != nil || len(got.Tries) != 2 {
			t.Fatalf("/ui/api/ti: %d %s", status, body)
		}
		return got
	}
	if got := read(); got.Tries[0].State != "failed" || got.Tries[1].State != "running" || !got.Tries[1].HasLog {
		t.Errorf("tries = %+v", got.Tries)
	}
	st, err := os.Stat(log1)
	if err != nil {
		t.Fatal(err)
	}
	same := strings.Replace(first, "task failed: exit 1", "task stopped: exit.", 1) // same size
	if err := os.WriteFile(log1, []byte(same), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(log1, st.ModTime(), st.ModTime()); err != nil {
		t.Fatal(err)
	}
	if got := read(); got.Tries[0].State != "failed" {
		t.Errorf("an unchanged file was read again: try 1 %+v", got.Tries[0])
	}
	if err := os.WriteFile(log1, []byte(same+"[2026-01-01T00:00:06.000Z] more\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := read(); got.Tries[0].State != "stopped" {
		t.Errorf("a changed file was not read again: try 1 %+v", got.Tries[0])
	}
}

// TestRenderedFinalCheck: a secret a template split over two values of a
// list, or over an object's key and value, shows in the field's text
// although no string holds it: the field is shown as *** whole, the other
// fields as they are.
func TestRenderedFinalCheck(t *testing.T) {
	const split, keyed = `abcd","efgh`, `user":"pw-77`
	environ := func() []string {
		return []string{"SIROCCO_VAR_LIST_SECRET=" + split, "SIROCCO_VAR_KEYED_SECRET=" + keyed}
	}
	s := newSite(t, map[string]string{"etl.yaml": etlYAML}, func(o *ui.Options) { o.Environ = environ })
	s.createRun("etl", "r1", time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), nil, "load")
	rendered := []byte(`{"hosts":["abcd","efgh"],"auth":{"user":"pw-77"},"command":"echo ok"}`)
	if _, err := s.st.UpdateTask(t.Context(), store.TaskUpdate{Key: store.TaskKey{DagID: "etl", RunID: "r1", TaskID: "load"},
		To: store.StateSuccess, Rendered: &rendered}); err != nil {
		t.Fatal(err)
	}
	status, body, _ := s.get("/ui/api/ti?dag_id=etl&run_id=r1&task_id=load")
	var ti struct {
		Rendered map[string]any `json:"rendered"`
	}
	if err := json.Unmarshal([]byte(body), &ti); err != nil || status != http.StatusOK {
		t.Fatalf("/ui/api/ti: %d %s", status, body)
	}
	if strings.Contains(body, split) || strings.Contains(body, keyed) || ti.Rendered["hosts"] != "***" ||
		ti.Rendered["auth"] != "***" || ti.Rendered["command"] != "echo ok" {
		t.Errorf("rendered fields: %s", body)
	}
}

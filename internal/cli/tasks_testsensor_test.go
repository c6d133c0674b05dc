package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestTasksTestRunsSensors: `tasks test` of an external_task_sensor reads
// the store; one of a reschedule-mode sensor waits out each reschedule
// in-process and pokes again until the condition holds, or fails at its
// timeout.
func TestTasksTestRunsSensors(t *testing.T) {
	home := t.TempDir()
	dags := filepath.Join(home, "dags")
	if err := os.MkdirAll(dags, 0o755); err != nil {
		t.Fatal(err)
	}
	count := filepath.Join(home, "count")
	files := map[string]string{
		"up.yaml": "dag_id: up\ntasks:\n  - {id: a, operator: empty}\n",
		"w.yaml": `dag_id: w
tasks:
  - {id: ext, operator: external_task_sensor, external_dag_id: up, external_task_id: a, poke_interval: 100ms, timeout: 10s}
  - id: resched
    operator: bash_sensor
    command: 'n=$(cat ` + count + ` 2>/dev/null || echo 0); echo $((n+1)) > ` + count + `; [ "$n" -ge 2 ]'
    mode: reschedule
    poke_interval: 100ms
    timeout: 30s
  - {id: never, operator: bash_sensor, command: 'false', mode: reschedule, poke_interval: 100ms, timeout: 500ms}
`,
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dags, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	db := "sqlite://" + filepath.Join(home, "sirocco.db")
	run := func(args ...string) (string, error) {
		t.Helper()
		var out bytes.Buffer
		root := NewRoot(&out, &out)
		root.SetArgs(append([]string{"--home", home, "--dags", dags, "--database-url", db}, args...))
		err := root.ExecuteContext(t.Context())
		return out.String(), err
	}
	must := func(args ...string) string {
		t.Helper()
		out, err := run(args...)
		if err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return out
	}
	must("db", "migrate")
	must("dags", "trigger", "up", "--run-id", "r", "--logical-date", "2026-01-01")
	must("tasks", "mark", "up", "r", "a", "success")

	if out := must("tasks", "test", "w", "ext", "2026-01-01"); !strings.Contains(out, "Task ext succeeded") {
		t.Errorf("external_task_sensor:\n%s", out)
	}
	out := must("tasks", "test", "w", "resched", "2026-01-01")
	if !strings.Contains(out, "Task resched succeeded") || !strings.Contains(out, "condition met at poke 3") ||
		strings.Count(out, "rescheduled to") != 2 {
		t.Errorf("reschedule-mode sensor:\n%s", out)
	}
	if out, err := run("tasks", "test", "w", "never", "2026-01-01"); err == nil || !strings.Contains(out, "sensor timed out") {
		t.Errorf("a reschedule-mode sensor that times out: %v\n%s", err, out)
	}
}

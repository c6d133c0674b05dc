package sensor

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/connection"
	"github.com/sirocco-dev/sirocco/internal/dag"
	"github.com/sirocco-dev/sirocco/internal/operator"
	"github.com/sirocco-dev/sirocco/internal/sshclient"
	"github.com/sirocco-dev/sirocco/internal/store"
	"github.com/sirocco-dev/sirocco/internal/store/sqlstore"
	"github.com/sirocco-dev/sirocco/internal/testenv"
)

// poke runs one poke of a built-in sensor.
func poke(t *testing.T, sp dag.OperatorSpec, mk func(dag.OperatorSpec) PokeFunc, task *operator.Task) (bool, error) {
	t.Helper()
	return mk(sp)(t.Context(), task)
}

// TestBashSensor runs real commands: exit 0 holds, another code is not
// yet, and with retry_exit_code only that code is.
func TestBashSensor(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args map[string]any
		ok   bool
		err  string
	}{
		{"exit 0", map[string]any{"command": "echo fine"}, true, ""},
		{"exit 1", map[string]any{"command": "exit 1"}, false, ""},
		{"exit 99 is no skip", map[string]any{"command": "exit 99"}, false, ""},
		{"retry_exit_code", map[string]any{"command": "exit 4", "retry_exit_code": 4}, false, ""},
		{"another code fails", map[string]any{"command": "exit 5", "retry_exit_code": 4}, false, "not retry_exit_code 4"},
		{"in the DAG's folder", map[string]any{"command": `test "$PWD" = "$DIR"`}, true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			task, log := newTask(t, tt.args)
			task.Env = map[string]string{"DIR": task.DagDir}
			ok, err := poke(t, BashSpec, bashPoke, task)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err %v, want one saying %q", err, tt.err)
				}
				return
			}
			if err != nil || ok != tt.ok {
				t.Fatalf("poke = %v, %v; want %v\n%s", ok, err, tt.ok, log)
			}
		})
	}
}

// TestFileSensorLocal: a path or a glob matching a file holds; a folder
// holds once it has a file at any depth; a bad glob is an error naming
// the field; a relative path is under the DAG's folder.
func TestFileSensorLocal(t *testing.T) {
	t.Parallel()
	task, _ := newTask(t, nil)
	dir := task.DagDir
	check := func(pattern string, want bool) {
		t.Helper()
		task.Args = map[string]any{"filepath": pattern}
		if ok, err := poke(t, FileSpec, filePoke, task); err != nil || ok != want {
			t.Errorf("%s: %v, %v; want %v", pattern, ok, err, want)
		}
	}
	check(filepath.Join(dir, "data.csv"), false)
	check("data.csv", false)
	if err := os.WriteFile(filepath.Join(dir, "data.csv"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	check(filepath.Join(dir, "data.csv"), true)
	check("data.csv", true)
	check(filepath.Join(dir, "*.csv"), true)
	check(filepath.Join(dir, "*.json"), false)
	if err := os.MkdirAll(filepath.Join(dir, "out", "part", "deep"), 0o755); err != nil {
		t.Fatal(err)
	}
	check(filepath.Join(dir, "out"), false)
	if err := os.WriteFile(filepath.Join(dir, "out", "part", "deep", "_SUCCESS"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	check(filepath.Join(dir, "out"), true)
	// A wildcard does not match a dotfile (nor a dot folder), as the shell's glob.
	for _, p := range []string{".hidden.json", filepath.Join(".cache", "x.json")} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, p), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	check(filepath.Join(dir, "*.json"), false)
	check(filepath.Join(dir, "?hidden.json"), false)
	check(filepath.Join(dir, "*", "x.json"), false)
	check(filepath.Join(dir, ".*.json"), true)
	check(filepath.Join(dir, ".cache", "*.json"), true)
	task.Args = map[string]any{"filepath": filepath.Join(dir, "[")}
	if _, err := poke(t, FileSpec, filePoke, task); err == nil || !strings.Contains(err.Error(), "field filepath") {
		t.Errorf("a bad glob: %v", err)
	}
}

// TestFileSensorOverSSH looks for the file on a real sshd's host, with
// the same rules as locally.
func TestFileSensorOverSSH(t *testing.T) {
	srv := testenv.SSHD(t)
	pool := sshclient.NewPool(sshclient.PoolOptions{})
	t.Cleanup(func() { _ = pool.Close() })
	work, err := os.MkdirTemp("", "sirocco-filesensor-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(work) })
	if err := os.Chmod(work, 0o777); err != nil {
		t.Fatal(err)
	}
	conn := connection.Connection{ID: "edge", Type: "ssh", Host: srv.Host, Port: srv.Port, Login: srv.User,
		Extra: map[string]string{"key_file": srv.KeyFile, "known_hosts": srv.KnownHostsFile, "look_for_keys": "false", "use_agent": "false"}}
	task, log := newTask(t, nil)
	task.SSH = pool
	task.Connection = func(_ context.Context, id string) (connection.Connection, error) {
		if id != "edge" {
			return connection.Connection{}, store.ErrNotFound
		}
		return conn, nil
	}
	check := func(pattern string, want bool) {
		t.Helper()
		task.Args = map[string]any{"filepath": pattern, "ssh_conn_id": "edge"}
		if ok, err := poke(t, FileSpec, filePoke, task); err != nil || ok != want {
			t.Errorf("%s: %v, %v; want %v\n%s", pattern, ok, err, want, log)
		}
	}
	check(filepath.Join(work, "*.csv"), false)
	check(filepath.Join(work, "a b.csv"), false)
	if err := os.WriteFile(filepath.Join(work, ".hidden.csv"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	check(filepath.Join(work, "*.csv"), false) // a wildcard does not match a dotfile
	check(filepath.Join(work, ".*.csv"), true)
	if err := os.WriteFile(filepath.Join(work, "a b.csv"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	check(filepath.Join(work, "*.csv"), true)
	check(filepath.Join(work, "a b.csv"), true)
	check(filepath.Join(work, "a b.csv; touch "+filepath.Join(work, "pwned")), false)
	if _, err := os.Stat(filepath.Join(work, "pwned")); err == nil {
		t.Error("the pattern ran as a command")
	}
	if err := os.MkdirAll(filepath.Join(work, "out", "x"), 0o755); err != nil {
		t.Fatal(err)
	}
	check(filepath.Join(work, "out"), false)
	if err := os.WriteFile(filepath.Join(work, "out", "x", "_SUCCESS"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	check(filepath.Join(work, "ou?"), true)
	task.Args = map[string]any{"filepath": "x", "ssh_conn_id": "nope"}
	if _, err := poke(t, FileSpec, filePoke, task); err == nil || !strings.Contains(err.Error(), "ssh_conn_id nope") {
		t.Errorf("a missing connection: %v", err)
	}
}

// TestTimeSensors: time_delta_sensor holds delta after data_interval_end,
// date_time_sensor at target_time; a bad target_time names the field.
func TestTimeSensors(t *testing.T) {
	t.Parallel()
	c := &clock{t: time.Date(2026, 2, 3, 0, 0, 30, 0, time.UTC)}
	task, _ := newTask(t, map[string]any{"delta": "1m"})
	if ok, err := poke(t, TimeDeltaSpec, timeDeltaPoke(c.now), task); ok || err != nil {
		t.Errorf("30s after the end, delta 1m: %v, %v", ok, err)
	}
	c.add(30 * time.Second)
	if ok, err := poke(t, TimeDeltaSpec, timeDeltaPoke(c.now), task); !ok || err != nil {
		t.Errorf("1m after the end, delta 1m: %v, %v", ok, err)
	}
	for _, tt := range []struct {
		target string
		ok     bool
		err    string
	}{
		{"2026-02-03T00:01:00Z", true, ""},
		{"2026-02-03T01:01:00+01:00", true, ""},
		{"2026-02-03 00:01:01", false, ""},
		{"2026-02-03", true, ""},
		{"2026-02-04", false, ""},
		{"tomorrow", false, `field target_time: "tomorrow" is not a date-time`},
		{"", false, "field target_time: empty"},
	} {
		task.Args = map[string]any{"target_time": tt.target}
		ok, err := poke(t, DateTimeSpec, dateTimePoke(c.now), task)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%q: %v, want an error saying %q", tt.target, err, tt.err)
			}
			continue
		}
		if ok != tt.ok || err != nil {
			t.Errorf("%q: %v, %v; want %v", tt.target, ok, err, tt.ok)
		}
	}
}

// TestExternalTaskSensor reads a real store: tasks or a whole run of the
// other DAG at the matching logical date (the same, execution_delta
// before, or execution_date), allowed and failed states.
func TestExternalTaskSensor(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	st, err := sqlstore.Open(ctx, "sqlite://"+filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	day := time.Date(2026, 2, 3, 0, 0, 0, 0, time.UTC)
	mk := func(runID string, at time.Time, state store.RunState, tasks map[string]store.TaskState) {
		run := store.DagRun{DagID: "up", RunID: runID, RunType: store.RunManual, State: store.RunRunning, LogicalDate: at, QueuedAt: at}
		var tis []store.TaskInstance
		for id := range tasks {
			tis = append(tis, store.TaskInstance{TaskKey: store.TaskKey{TaskID: id}, Pool: "default_pool", PoolSlots: 1, Queue: "default"})
		}
		if err := st.CreateRun(ctx, run, tis); err != nil {
			t.Fatal(err)
		}
		for id, s := range tasks {
			if _, err := st.UpdateTask(ctx, store.TaskUpdate{Key: store.TaskKey{DagID: "up", RunID: runID, TaskID: id}, To: s}); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := st.UpdateRun(ctx, store.RunUpdate{DagID: "up", RunID: runID, To: state}); err != nil {
			t.Fatal(err)
		}
	}
	mk("today", day, store.RunRunning, map[string]store.TaskState{"a": store.StateSuccess, "b": store.StateRunning, "c": store.StateFailed})
	mk("yesterday", day.Add(-24*time.Hour), store.RunSuccess, map[string]store.TaskState{"a": store.StateSuccess})
	tests := []struct {
		name string
		args map[string]any
		ok   bool
		err  string
	}{
		{"one task done", map[string]any{"external_task_id": "a"}, true, ""},
		{"one task running", map[string]any{"external_task_id": "b"}, false, ""},
		{"tasks, one running", map[string]any{"external_task_ids": []any{"a", "b"}}, false, ""},
		{"allowed states", map[string]any{"external_task_ids": []any{"a", "b"}, "allowed_states": []any{"success", "running"}}, true, ""},
		{"a missing task waits", map[string]any{"external_task_id": "zz"}, false, ""},
		{"failed_states", map[string]any{"external_task_ids": []any{"a", "c"}, "failed_states": []any{"failed"}}, false,
			"task c of up at 2026-02-03T00:00:00Z is failed (failed_states)"},
		{"the whole run, running", map[string]any{}, false, ""},
		{"the whole run, yesterday", map[string]any{"execution_delta": "24h"}, true, ""},
		{"execution_date", map[string]any{"execution_date": "2026-02-02"}, true, ""},
		{"no run that day", map[string]any{"execution_delta": "48h"}, false, ""},
		{"both ids", map[string]any{"external_task_id": "a", "external_task_ids": []any{"b"}}, false, "give one, not both"},
		{"both dates", map[string]any{"execution_delta": "1h", "execution_date": "2026-01-01"}, false, "give one, not both"},
		{"a state in both lists", map[string]any{"failed_states": []any{"success"}}, false, "a state is in both"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.args["external_dag_id"] = "up"
			task, log := newTask(t, tt.args)
			task.RunStates = st
			ok, err := poke(t, ExternalTaskSpec, externalPoke, task)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err %v, want one saying %q", err, tt.err)
				}
				return
			}
			if err != nil || ok != tt.ok {
				t.Fatalf("poke = %v, %v; want %v\n%s", ok, err, tt.ok, log)
			}
		})
	}
	task, _ := newTask(t, map[string]any{"external_dag_id": "up", "external_task_id": "c", "failed_states": []any{"failed"}, "soft_fail": true})
	task.RunStates = st
	if _, err := poke(t, ExternalTaskSpec, externalPoke, task); !errors.Is(err, operator.ErrSkip) {
		t.Errorf("failed_states with soft_fail: %v, want a skip", err)
	}
}

// TestSensorFieldsAreCheckedAtLoad: the loader rejects a bad mode,
// poke_interval or http_sensor json_path at the field's line (a templated
// one is left to the try).
func TestSensorFieldsAreCheckedAtLoad(t *testing.T) {
	t.Parallel()
	specs := map[string]dag.OperatorSpec{}
	for _, f := range Factories() {
		specs[f.Spec.Name] = f.Spec
	}
	_, err := dag.Parse("s.yaml", []byte(`
dag_id: s
tasks:
  - id: a
    operator: file_sensor
    filepath: /x
    mode: deferrable
  - id: b
    operator: bash_sensor
    command: "true"
    poke_interval: 0s
  - id: c
    operator: http_sensor
    endpoint: /status
    response_check: {json_path: "$.status[", equals: ready}
  - id: templated
    operator: http_sensor
    response_check: {json_path: "{{ params.path }}"}
    endpoint: "{{ params.dir }}/../x"
  - id: d
    operator: http_sensor
    endpoint: ../etc/passwd
  - id: e
    operator: http_sensor
    endpoint: https://api.example.com/v1/%2e%2e/admin
  - id: ok
    operator: http_sensor
    endpoint: https://api.example.com/v1/status?x=..
`), dag.LoadOptions{Operators: specs})
	for _, want := range []string{"s.yaml:7", "want poke or reschedule", "s.yaml:11", "poke_interval must be more than 0",
		`s.yaml:15:21: tasks[c].response_check: response_check.json_path: "$.status[" is not a JSONPath`,
		`s.yaml:22:15: tasks[d].endpoint: "../etc/passwd" holds a '..' path segment`,
		`s.yaml:25:15: tasks[e].endpoint: "https://api.example.com/v1/%2e%2e/admin" holds a '..' path segment`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("load error %v, want one saying %q", err, want)
		}
	}
	if err != nil && (strings.Contains(err.Error(), "tasks[templated]") || strings.Contains(err.Error(), "tasks[ok]")) {
		t.Errorf("a templated response_check is checked before rendering: %v", err)
	}
}

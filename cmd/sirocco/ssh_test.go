package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/testenv"
)

// TestSSHJobReattachAfterKill9: a standalone running an ssh task is
// killed with SIGKILL mid-run; the job runs on, on the remote host. A
// second standalone reattaches to the same job by its stored handle,
// continues the log (nothing lost; what was written after the last stored
// offsets may appear twice), picks up the exit code, and the command ran
// exactly once. The connection logs in with an encrypted inline key and
// its passphrase: neither appears in the task log, `sirocco tasks` output,
// the API's task instance, or `ps` while the job runs.
func TestSSHJobReattachAfterKill9(t *testing.T) {
	srv := testenv.SSHD(t)
	work, err := os.MkdirTemp("", "sirocco-e2e-ssh-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(work) })
	gate, count := filepath.Join(work, "go"), filepath.Join(work, "count")
	key, err := os.ReadFile(srv.EncryptedKeyFile)
	if err != nil {
		t.Fatal(err)
	}
	conn, _ := json.Marshal(map[string]any{"conn_type": "ssh", "host": srv.Host, "port": srv.Port, "login": srv.User,
		"extra": map[string]any{"private_key": string(key), "passphrase": srv.Passphrase, "known_hosts": srv.KnownHostsFile,
			"look_for_keys": false, "use_agent": false}})
	s := newSite(t, map[string]string{"remote.yaml": fmt.Sprintf(`dag_id: remote
tasks:
  - id: job
    operator: ssh
    ssh_conn_id: edge
    remote_base_dir: %[1]s/jobs
    command: |
      echo ran >> %[2]s
      for i in 1 2 3 4 5; do echo "line $i"; done
      while [ ! -e %[3]s ]; do sleep 0.05; done
      echo "line 6"
      exit 0
`, work, count, gate)})
	s.extraEnv = []string{"SIROCCO_CONN_EDGE=" + string(conn), "SIROCCO_API_TOKEN=" + e2eToken}

	srv1 := s.startServer()
	s.mustRun("dags", "trigger", "remote", "--run-id", "r")
	var pid float64
	testenv.Eventually(t, "the job's handle with its pid", time.Minute, func() (bool, string) {
		h := handleOf(s, "remote", "r", "job")
		j, _ := h["job"].(map[string]any)
		pid, _ = j["pid"].(float64)
		return pid > 1, fmt.Sprintf("handle %v", h)
	})
	testenv.Eventually(t, "the first lines in the log", time.Minute, func() (bool, string) {
		out, _, _ := s.run("tasks", "logs", "remote", "r", "job")
		return strings.Contains(out, "line 5"), out
	})
	ps, err := exec.Command("ps", "-eo", "args").Output()
	if err != nil {
		t.Fatal(err)
	}
	srv1.kill9()
	if len(srv.SessionProcesses()) == 0 {
		t.Fatal("precondition: the remote job outlives a SIGKILLed Sirocco")
	}
	reattachStart := time.Now()
	srv2 := s.startServer()
	testenv.Eventually(t, "the reattachment", time.Minute, func() (bool, string) {
		out, _, _ := s.run("tasks", "logs", "remote", "r", "job")
		return strings.Contains(out, "reattaching to remote job"), out
	})
	t.Logf("reattached %s after the second start began", time.Since(reattachStart))
	if err := os.WriteFile(gate, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	s.waitRunSuccess("remote", "r", time.Minute)
	log := s.mustRun("tasks", "logs", "remote", "r", "job")
	for i := 1; i <= 6; i++ {
		if !strings.Contains(log, fmt.Sprintf("line %d\n", i)) {
			t.Errorf("the log lost line %d:\n%s", i, log)
		}
	}
	if !strings.Contains(log, "exited with code 0") {
		t.Errorf("the log should show the exit code picked up:\n%s", log)
	}
	data, _ := os.ReadFile(count)
	if n := strings.Count(string(data), "ran"); n != 1 {
		t.Errorf("the command ran %d times, want exactly 1", n)
	}
	state := s.mustRun("tasks", "state", "remote", "r", "job", "-o", "json")
	_, ti := (&apiClient{t: t, base: "http://" + srv2.addr + "/api/v1", token: e2eToken}).call("GET", "/dags/remote/dagRuns/r/taskInstances/job", nil)
	apiJSON, _ := json.Marshal(ti)
	api := string(apiJSON)
	if !strings.Contains(api, "ssh_job") {
		t.Errorf("the API's task instance should show the handle: %s", api)
	}
	for what, text := range map[string]string{"task log": log, "tasks state": state, "API task instance": api, "ps": string(ps)} {
		for _, secret := range []string{srv.Passphrase, strings.Split(strings.TrimSpace(string(key)), "\n")[1]} {
			if strings.Contains(text, secret) {
				t.Errorf("the %s shows a secret of the connection", what)
			}
		}
	}
	srv.Stop() // nothing of the job may be left: checked by the count above and Stop's kill
}

// handleOf reads a task instance's stored handle through the CLI.
func handleOf(s *site, dagID, runID, taskID string) map[string]any {
	out, _, _ := s.run("tasks", "state", dagID, runID, taskID, "-o", "json")
	var tis []map[string]any
	if json.Unmarshal([]byte(out), &tis) != nil || len(tis) != 1 {
		return nil
	}
	h, _ := tis[0]["handle"].(map[string]any)
	return h
}

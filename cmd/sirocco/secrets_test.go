package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSecretsEndToEnd runs the real binary: the API token in Sirocco's
// environment never reaches a task's log; a sensitive variable is stored
// encrypted, listed as ***, passed to the task through env (off its
// command line) and masked in its log, in `tasks render` and `tasks test`;
// rotate-key re-encrypts variables too; a blank token is refused.
func TestSecretsEndToEnd(t *testing.T) {
	const token, secret = "api-Tok3n-e2e-77c1", "vendor-Key-e2e-5b9d"
	s := newSite(t, map[string]string{"sec.yaml": `dag_id: sec
tasks:
  - id: call
    operator: bash
    append_env: true
    env: {API_KEY: "{{ var.value.vendor_api_key }}"}
    command: 'echo "key=$API_KEY token=${SIROCCO_API_TOKEN:-none}"; env | grep -c ^SIROCCO_ || true'
`})
	s.extraEnv = []string{"SIROCCO_API_TOKEN=" + token}

	s.mustRun("variables", "set", "vendor_api_key", secret)
	s.mustRun("variables", "set", "region", "eu-west-1")
	if list := s.mustRun("variables", "list"); strings.Contains(list, secret) || !strings.Contains(list, "***") || !strings.Contains(list, "eu-west-1") {
		t.Errorf("variables list:\n%s", list)
	}
	if got := strings.TrimSpace(s.mustRun("variables", "get", "vendor_api_key")); got != secret {
		t.Errorf("variables get = %q", got)
	}
	for _, name := range []string{"sirocco.db", "sirocco.db-wal"} {
		if data, err := os.ReadFile(filepath.Join(s.home, name)); err == nil && bytes.Contains(data, []byte(secret)) {
			t.Errorf("%s holds the variable in clear", name)
		}
	}

	srv := s.startServer()
	s.mustRun("dags", "trigger", "sec", "--wait", "--run-id", "r1")
	log := s.mustRun("tasks", "logs", "sec", "r1", "call")
	if !strings.Contains(log, "key=*** token=none") {
		t.Errorf("task log:\n%s", log)
	}
	if rendered := s.mustRun("tasks", "render", "sec", "r1", "call"); strings.Contains(rendered, secret) || !strings.Contains(rendered, "***") {
		t.Errorf("tasks render:\n%s", rendered)
	}
	if out := s.mustRun("tasks", "test", "sec", "call"); !strings.Contains(out, "key=*** token=none") {
		t.Errorf("tasks test:\n%s", out)
	}
	srv.stop()
	for what, text := range map[string]string{"task log": log, "service log": srv.log.String()} {
		if strings.Contains(text, token) || strings.Contains(text, secret) {
			t.Errorf("the %s shows a secret:\n%s", what, text)
		}
	}
	if out := s.mustRun("connections", "rotate-key"); !strings.Contains(out, "of 2 variable(s)") {
		t.Errorf("rotate-key:\n%s", out)
	}

	s.extraEnv = []string{"SIROCCO_API_TOKEN=  "}
	if _, errOut, code := s.run("dags", "list"); code == 0 || !strings.Contains(errOut, "api_token is set but blank") {
		t.Errorf("a blank token: exit %d, stderr %s", code, errOut)
	}
}

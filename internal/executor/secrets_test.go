package executor_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sirocco-dev/sirocco/internal/connection"
	"github.com/sirocco-dev/sirocco/internal/store"
)

// TestTaskLogNeverShowsSiroccoSecrets: end to end, a task that prints its
// whole environment (append_env, as a task that wants everything would)
// leaves none of Sirocco's own secrets in its log.
func TestTaskLogNeverShowsSiroccoSecrets(t *testing.T) {
	secrets := map[string]string{
		"SIROCCO_API_TOKEN": "api-Tok3n-5e2f91", "SIROCCO_SECRET_KEY": "c2VjcmV0LWtleS0xMjM0NTY3ODkwMTIzNDU2Nzg5MA==",
		"SIROCCO_DATABASE_URL": "postgres://s:db-Pass-81@db/s", "SIROCCO_CONN_WH": "postgres://u:conn-Pass-27@wh/db",
	}
	for k, v := range secrets {
		t.Setenv(k, v)
	}
	e := newEnv(t, `
dag_id: leaky
tasks:
  - id: show
    operator: bash
    append_env: true
    env: {MINE: mine}
    command: 'env; echo "token=${SIROCCO_API_TOKEN:-none}"'
`)
	k := e.queue(e.createRun(nil), "show")
	if err := e.runner.Run(context.Background(), k); err != nil {
		t.Fatal(err)
	}
	log := e.log(k, 1)
	if !strings.Contains(log, "MINE=mine") || !strings.Contains(log, "token=none") {
		t.Fatalf("the task did not run as expected:\n%s", log)
	}
	for name, value := range secrets {
		if strings.Contains(log, value) || strings.Contains(log, name+"=") {
			t.Errorf("the task log shows %s:\n%s", name, log)
		}
	}
}

// TestSensitiveVariablesMaskedInLogAndRenderedFields: a sensitive variable
// (stored encrypted) passed through env reaches the task intact, off its
// command line, while its value, plain or base64, is masked in the try's
// log, in the stored rendered fields and in `tasks test` output; a
// variable with an ordinary name is shown.
func TestSensitiveVariablesMaskedInLogAndRenderedFields(t *testing.T) {
	t.Parallel()
	const secret = "vendor-Key-9c41d7e2"
	e := newEnv(t, `
dag_id: vars
params: {out: ""}
tasks:
  - id: call
    operator: bash
    env: {API_KEY: "{{ var.value.vendor_api_key }}"}
    command: >-
      echo "key=$API_KEY b64=$(printf %s "$API_KEY" | base64) greeting={{ var.value.greeting }}";
      printf %s "$API_KEY" > {{ params.out }}/got; tr '\0' ' ' < /proc/$$/cmdline > {{ params.out }}/cmdline
`)
	keys, err := connection.NewKeyring(bytes.Repeat([]byte{3}, connection.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	e.runner.Connections = &connection.Resolver{Store: e.st, Keys: keys}
	ctx := context.Background()
	vars := &connection.Variables{Store: e.st, Keys: keys}
	for _, v := range []store.Variable{{Key: "vendor_api_key", Value: secret}, {Key: "greeting", Value: "hello"}} {
		if err := vars.Set(ctx, v); err != nil {
			t.Fatal(err)
		}
	}
	out := t.TempDir()
	k := e.queue(e.createRun(map[string]any{"out": out}), "call")
	if err := e.runner.Run(ctx, k); err != nil {
		t.Fatal(err)
	}
	ti := e.ti(k)
	log := e.log(k, 1)
	if ti.State != store.StateSuccess || !strings.Contains(log, "key=*** b64=*** greeting=hello") {
		t.Fatalf("state %s, log:\n%s", ti.State, log)
	}
	b64 := base64.StdEncoding.EncodeToString([]byte(secret))
	for what, text := range map[string]string{"log": log, "rendered fields": string(ti.Rendered)} {
		if strings.Contains(text, secret) || strings.Contains(text, b64) {
			t.Errorf("the %s show the secret:\n%s", what, text)
		}
	}
	if got, _ := os.ReadFile(filepath.Join(out, "got")); string(got) != secret {
		t.Errorf("the task got API_KEY=%q, want the variable's value", got)
	}
	if cmdline, _ := os.ReadFile(filepath.Join(out, "cmdline")); len(cmdline) == 0 || strings.Contains(string(cmdline), secret) {
		t.Errorf("the task's command line (what ps shows) is %q: want it without the secret", cmdline)
	}
	var test bytes.Buffer
	if err := e.runner.Test(ctx, e.d, e.d.Task("call"), logicalDate, map[string]any{"out": out}, &test); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(test.String(), "key=*** b64=***") || strings.Contains(test.String(), secret) {
		t.Errorf("tasks test output:\n%s", test.String())
	}
}

// TestSecretPulledFromXComMaskedDownstream: the UI review's reproduction.
// Task a prints a sensitive variable (masked in its log) and so pushes it
// as its return value, which the XCom keeps in clear; task b pulls it into
// its command. b's log and b's stored rendered fields mask it, although
// b's templates never read the variable themselves; so does a connection
// password pulled the same way.
func TestSecretPulledFromXComMaskedDownstream(t *testing.T) {
	t.Parallel()
	const secret, connPass = "Hunter2SuperSecret", "conn-Pa55-0b9e"
	e := newEnv(t, `
dag_id: leak
tasks:
  - {id: a, operator: bash, command: 'echo "{{ var.value.db_password }}"'}
  - {id: c, operator: bash, command: 'echo `+connPass+`'}
  - id: b
    operator: bash
    depends_on: [a, c]
    command: 'echo got {{ ti.xcom_pull("a") }} and {{ ti.xcom_pull("c") }}'
`)
	keys, err := connection.NewKeyring(bytes.Repeat([]byte{5}, connection.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	e.runner.Connections = &connection.Resolver{Store: e.st, Keys: keys, Environ: func() []string {
		return []string{"SIROCCO_CONN_WH=postgres://u:" + connPass + "@wh/db"}
	}}
	ctx := context.Background()
	if err := (&connection.Variables{Store: e.st, Keys: keys}).Set(ctx, store.Variable{Key: "db_password", Value: secret}); err != nil {
		t.Fatal(err)
	}
	runID := e.createRun(nil)
	for _, task := range []string{"a", "c", "b"} {
		if err := e.runner.Run(ctx, e.queue(runID, task)); err != nil {
			t.Fatal(err)
		}
	}
	b := store.TaskKey{DagID: "leak", RunID: runID, TaskID: "b"}
	ti, log := e.ti(b), e.log(b, 1)
	if ti.State != store.StateSuccess || !strings.Contains(log, "got *** and ***") {
		t.Fatalf("b: state %s, log:\n%s", ti.State, log)
	}
	for what, text := range map[string]string{"log": log, "rendered fields": string(ti.Rendered)} {
		if strings.Contains(text, secret) || strings.Contains(text, connPass) {
			t.Errorf("b's %s show a secret pulled from XCom:\n%s", what, text)
		}
	}
}

package python_test

import (
	"os"
	"strings"
	"testing"
)

// TestPythonTaskNeverSeesSiroccoSecrets: a Python script listing its
// environment finds none of Sirocco's settings or secrets, whether the
// task's env is appended (the default) or replaces the environment.
func TestPythonTaskNeverSeesSiroccoSecrets(t *testing.T) {
	t.Setenv("SIROCCO_API_TOKEN", "tok-3f9a1c77e2")
	t.Setenv("SIROCCO_SECRET_KEY", "c2VjcmV0LWtleS0xMjM0NTY3ODkwMTIzNDU2Nzg5MA==")
	t.Setenv("SIROCCO_CONN_WH", "postgres://u:connpass-12@wh/db")
	t.Setenv("SIROCCO_VAR_PASSWORD", "varsecret-99")
	dir := dagFolder(t)
	script := dir + "/jobs/env.py"
	body := "import os\nfor k in sorted(os.environ): print(k + '=' + os.environ[k])\n"
	if err := writeFile(script, body); err != nil {
		t.Fatal(err)
	}
	for _, appendEnv := range []bool{true, false} {
		_, log, err := run(t, dir, map[string]any{"script": "jobs/env.py", "append_env": appendEnv}, map[string]string{"FOO": "bar"})
		if err != nil {
			t.Fatalf("append_env %v: %v\n%s", appendEnv, err, log)
		}
		for _, leak := range []string{"SIROCCO_API_TOKEN", "tok-3f9a1c77e2", "SIROCCO_SECRET_KEY", "SIROCCO_CONN_WH", "connpass-12", "SIROCCO_VAR_", "varsecret-99"} {
			if strings.Contains(log, leak) {
				t.Errorf("append_env %v: the script sees %s:\n%s", appendEnv, leak, log)
			}
		}
		if !strings.Contains(log, "FOO=bar\n") || !strings.Contains(log, "SIROCCO_CTX_DAG_ID=d\n") {
			t.Errorf("append_env %v: the task's own and context variables are missing:\n%s", appendEnv, log)
		}
	}
}

func writeFile(path, body string) error { return os.WriteFile(path, []byte(body), 0o644) }

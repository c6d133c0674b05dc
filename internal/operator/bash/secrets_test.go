package bash_test

import (
	"context"
	"strings"
	"testing"

	"github.com/sirocco-dev/sirocco/internal/operator/bash"
)

// TestBashTaskNeverSeesSiroccoSecrets: `env` in a bash task prints none of
// Sirocco's settings or secrets, with append_env or without, with a task
// env or without; the task's own variables and the inherited rest pass.
func TestBashTaskNeverSeesSiroccoSecrets(t *testing.T) {
	secrets := map[string]string{
		"SIROCCO_API_TOKEN": "tok-3f9a1c77e2", "SIROCCO_SECRET_KEY": "c2VjcmV0LWtleS0xMjM0NTY3ODkwMTIzNDU2Nzg5MA==",
		"SIROCCO_SECRET_KEY_OLD": "b2xkLWtleQ==-old", "SIROCCO_DATABASE_URL": "postgres://s:dbpass-77@db/s",
		"SIROCCO_CONN_WH": "postgres://u:connpass-12@wh/db", "SIROCCO_VAR_API_KEY": "varsecret-99",
	}
	for k, v := range secrets {
		t.Setenv(k, v)
	}
	t.Setenv("SPARK_HOME", "/opt/spark-for-tasks")
	tests := []struct {
		name        string
		appendEnv   any
		env         map[string]string
		wantInherit bool
	}{
		{name: "no env", wantInherit: true},
		{name: "env replaces", env: map[string]string{"FOO": "bar"}},
		{name: "append_env", appendEnv: true, env: map[string]string{"FOO": "bar"}, wantInherit: true},
		{name: "append_env false", appendEnv: false, env: map[string]string{"FOO": "bar"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			log := newLog()
			args := map[string]any{"command": "env"}
			if tt.appendEnv != nil {
				args["append_env"] = tt.appendEnv
			}
			task := newTask(args, tt.env, log)
			task.TryID = "w/d/r/t/1"
			if _, err := bash.Factory.New().Execute(context.Background(), task); err != nil {
				t.Fatal(err)
			}
			got := log.String()
			for name, value := range secrets {
				if strings.Contains(got, name+"=") || strings.Contains(got, value) {
					t.Errorf("the task's env shows %s:\n%s", name, got)
				}
			}
			for _, want := range []string{"SIROCCO_CTX_DAG_ID=d\n", "SIROCCO_TRY_ID=w/d/r/t/1\n"} {
				if !strings.Contains(got, want) {
					t.Errorf("the task's env lacks %q:\n%s", want, got)
				}
			}
			if tt.env != nil && !strings.Contains(got, "FOO=bar\n") {
				t.Errorf("the task's own variable is missing:\n%s", got)
			}
			if strings.Contains(got, "SPARK_HOME=/opt/spark-for-tasks\n") != tt.wantInherit {
				t.Errorf("SPARK_HOME inherited: want %v:\n%s", tt.wantInherit, got)
			}
		})
	}
}

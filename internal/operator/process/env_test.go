package process_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/sirocco-dev/sirocco/internal/operator/process"
)

// siroccoSecrets are set in Sirocco's own environment by
// setSiroccoSecrets; no task process may see one of them.
var siroccoSecrets = map[string]string{
	"SIROCCO_API_TOKEN":      "tok-3f9a1c77e2",
	"SIROCCO_SECRET_KEY":     "a2V5LWtleS1rZXkta2V5LWtleS1rZXkta2V5LWtleTA=",
	"SIROCCO_SECRET_KEY_OLD": "b2xkLWtleS1vbGQta2V5LW9sZC1rZXktb2xkLWtleTA=",
	"SIROCCO_DATABASE_URL":   "postgres://sirocco:dbpass-77@db/sirocco",
	"SIROCCO_CONN_WAREHOUSE": "postgres://u:connpass-12@wh/db",
	"SIROCCO_VAR_API_KEY":    "varsecret-99",
	"SIROCCO_HOME":           "/srv/sirocco",
	"SIROCCO_CTX_DAG_ID":     "parent-dag", // a parent Sirocco's context is not this try's
	"SIROCCO_TRY_ID":         "parent-try",
	"PGPASSWORD":             "pgpass-55",
}

// setSiroccoSecrets puts Sirocco's settings and secrets, and a variable a
// task must inherit, into the test process's environment.
func setSiroccoSecrets(t *testing.T) {
	t.Helper()
	for k, v := range siroccoSecrets {
		t.Setenv(k, v)
	}
	t.Setenv("JAVA_HOME", "/opt/java-for-tasks")
}

// childEnviron runs `env -0` as a task process with spec's environment
// and returns what the child saw, by name.
func childEnviron(t *testing.T, env []string, tryID string) map[string]string {
	t.Helper()
	out := newOutput()
	err := process.Run(t.Context(), process.Spec{Argv: []string{"env", "-0"}, Env: env, TryID: tryID, Stdout: out, Stderr: out})
	if err != nil {
		t.Fatalf("env: %v\n%s", err, out.String())
	}
	got := map[string]string{}
	for kv := range strings.SplitSeq(strings.TrimSuffix(out.String(), "\x00"), "\x00") {
		k, v, _ := strings.Cut(kv, "=")
		got[k] = v
	}
	return got
}

// TestTaskEnvironmentHasNoSiroccoSecrets: whatever env and append_env say,
// a real child process sees none of Sirocco's settings or secrets, only
// the context variables of its own try; the rest of the environment
// (JAVA_HOME) is inherited as Airflow users expect.
func TestTaskEnvironmentHasNoSiroccoSecrets(t *testing.T) {
	setSiroccoSecrets(t)
	ctxEnv := map[string]string{"SIROCCO_CTX_DAG_ID": "d", "SIROCCO_CTX_TASK_ID": "t"}
	tests := []struct {
		name        string
		env         []string
		tryID       string
		wantInherit bool
	}{
		{name: "spec without env", env: nil, wantInherit: true},
		{name: "spec without env, with a try id", env: nil, tryID: "w/d/r/t/1", wantInherit: true},
		{name: "no task env", env: process.Environ(nil, ctxEnv, false), wantInherit: true},
		{name: "task env replaces", env: process.Environ(map[string]string{"A": "1"}, ctxEnv, false)},
		{name: "append_env", env: process.Environ(map[string]string{"A": "1"}, ctxEnv, true), wantInherit: true},
		{name: "append_env with a try id", env: process.Environ(map[string]string{"A": "1"}, ctxEnv, true), tryID: "w/d/r/t/1", wantInherit: true},
		{name: "hand-built env with secrets", env: []string{"SIROCCO_API_TOKEN=x", "SIROCCO_CONN_A=y", "SIROCCO_CTX_TASK_ID=t"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := childEnviron(t, tt.env, tt.tryID)
			for name, secret := range siroccoSecrets {
				if v, ok := got[name]; ok && !(name == "SIROCCO_CTX_DAG_ID" && v == "d") && !(name == "SIROCCO_TRY_ID" && v == tt.tryID) {
					t.Errorf("the task sees %s=%s", name, v)
				}
				for k, v := range got {
					if strings.Contains(v, secret) {
						t.Errorf("the task sees the value of %s in %s", name, k)
					}
				}
			}
			if tt.tryID != "" && got["SIROCCO_TRY_ID"] != tt.tryID {
				t.Errorf("SIROCCO_TRY_ID = %q, want %q", got["SIROCCO_TRY_ID"], tt.tryID)
			}
			if (got["JAVA_HOME"] == "/opt/java-for-tasks") != tt.wantInherit {
				t.Errorf("JAVA_HOME = %q, inherited want %v", got["JAVA_HOME"], tt.wantInherit)
			}
		})
	}
}

// TestInheritedDropsOnlySiroccoSettings: Inherited is Sirocco's environment
// less SIROCCO_* and the database password, in order.
func TestInheritedDropsOnlySiroccoSettings(t *testing.T) {
	setSiroccoSecrets(t)
	got := process.Inherited()
	for _, kv := range got {
		name, _, _ := strings.Cut(kv, "=")
		if _, secret := siroccoSecrets[name]; secret {
			t.Errorf("Inherited has %s", kv)
		}
	}
	if !slices.Contains(got, "JAVA_HOME=/opt/java-for-tasks") {
		t.Errorf("Inherited lacks JAVA_HOME: %q", got)
	}
}

// TestTaskEnvironmentIsAnAllowList: a task inherits what programs, Spark
// and Hadoop need, not the rest of Sirocco's environment (a cloud key of
// the account Sirocco runs under), unless SIROCCO_TASK_ENV_ALLOW names it.
func TestTaskEnvironmentIsAnAllowList(t *testing.T) {
	t.Setenv("SPARK_CONF_DIR", "/etc/spark/conf")
	t.Setenv("HADOOP_CONF_DIR", "/etc/hadoop/conf")
	t.Setenv("LC_TIME", "C")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "aws-secret-1")
	t.Setenv("GITHUB_TOKEN", "gh-token-2")
	t.Setenv("PGPASSWORD", "pg-3")
	t.Setenv(process.AllowVar, "")
	got := childEnviron(t, nil, "")
	for _, name := range []string{"PATH", "SPARK_CONF_DIR", "HADOOP_CONF_DIR", "LC_TIME"} {
		if _, ok := got[name]; !ok {
			t.Errorf("the task does not inherit %s", name)
		}
	}
	for _, name := range []string{"AWS_SECRET_ACCESS_KEY", "GITHUB_TOKEN", "PGPASSWORD"} {
		if v, ok := got[name]; ok {
			t.Errorf("the task inherits %s=%s, which is not on the allow-list", name, v)
		}
	}

	t.Setenv(process.AllowVar, "AWS_*, PGPASSWORD,SIROCCO_*")
	t.Setenv("SIROCCO_API_TOKEN", "tok-4")
	got = childEnviron(t, nil, "")
	if got["AWS_SECRET_ACCESS_KEY"] != "aws-secret-1" {
		t.Errorf("AWS_* in %s did not pass AWS_SECRET_ACCESS_KEY through", process.AllowVar)
	}
	if _, ok := got["GITHUB_TOKEN"]; ok {
		t.Error("a variable the allow-list does not name was inherited")
	}
	for _, name := range []string{"PGPASSWORD", "SIROCCO_API_TOKEN", process.AllowVar} {
		if _, ok := got[name]; ok {
			t.Errorf("%s reached the task although Sirocco's secrets never do, allowed or not", name)
		}
	}
}

// TestInheritedFollowsTheEnvironment: Inherited remembers its last answer,
// yet a variable changed since is seen at once, and a caller that changes
// the slice it got changes no later answer.
func TestInheritedFollowsTheEnvironment(t *testing.T) {
	t.Setenv("TZ", "Europe/Paris")
	first := process.Inherited()
	if !slices.Contains(first, "TZ=Europe/Paris") {
		t.Fatalf("Inherited lacks TZ: %q", first)
	}
	for i := range first {
		first[i] = "SCRIBBLED=1"
	}
	t.Setenv("TZ", "Asia/Tokyo")
	second := process.Inherited()
	if !slices.Contains(second, "TZ=Asia/Tokyo") || slices.Contains(second, "TZ=Europe/Paris") || slices.Contains(second, "SCRIBBLED=1") {
		t.Errorf("after TZ changed, Inherited = %q", second)
	}
	for i := range second {
		second[i] = "SCRIBBLED=1"
	}
	if third := process.Inherited(); slices.Contains(third, "SCRIBBLED=1") || !slices.Contains(third, "TZ=Asia/Tokyo") {
		t.Errorf("a caller's changes reached the next answer: %q", third)
	}
}

package process

import (
	"os"
	"slices"
	"strings"
)

// This file decides the environment every task process gets. Whatever
// path builds it (bash, python, spark-submit, a kill command), Sirocco's
// own settings never reach a task: its API token, encryption keys,
// database URL and SIROCCO_CONN_* / SIROCCO_VAR_* secrets would otherwise
// be one `env` away from the task's log.

// reservedPrefix starts the names of Sirocco's own settings and secrets.
// A task process receives none of them, except the SIROCCO_CTX_* variables
// and SIROCCO_TRY_ID that Sirocco sets for it.
const reservedPrefix = "SIROCCO_"

// ctxPrefix starts the names of the try's context variables (Airflow's
// AIRFLOW_CTX_*), which Sirocco sets for every task.
const ctxPrefix = "SIROCCO_CTX_"

// libpqSecrets are variables the PostgreSQL driver reads when the database
// URL has no password: Sirocco's database credential may live there.
var libpqSecrets = []string{"PGPASSWORD"}

// reserved reports whether a task must not receive the variable name:
// one of Sirocco's settings, or a SIROCCO_CTX_* / SIROCCO_TRY_ID that does
// not come from this try.
func reserved(name string) bool {
	return strings.HasPrefix(name, reservedPrefix)
}

// Inherited returns the part of Sirocco's environment a task inherits:
// all of it (PATH, HOME, JAVA_HOME, SPARK_HOME, HADOOP_CONF_DIR, proxies,
// ...) but every SIROCCO_* variable and the database password variables.
// Commands Sirocco runs for a task outside Run (a remote kill) use it too.
func Inherited() []string {
	own := os.Environ()
	out := make([]string, 0, len(own))
	for _, kv := range own {
		name, _, _ := strings.Cut(kv, "=")
		if reserved(name) || slices.Contains(libpqSecrets, name) {
			continue
		}
		out = append(out, kv)
	}
	return out
}

// Environ builds a child's environment as Airflow does: the task's env
// replaces the inherited environment (Inherited) unless appendEnv (or env
// is empty), and the SIROCCO_CTX_* variables are always present. A task's
// own variable overrides an inherited one of the same name (it comes
// later; os/exec keeps the last).
func Environ(env, ctxEnv map[string]string, appendEnv bool) []string {
	var out []string
	if len(env) == 0 || appendEnv {
		out = Inherited()
	}
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	for k, v := range ctxEnv {
		out = append(out, k+"="+v)
	}
	return out
}

// childEnv is the environment a process of Run gets: env (nil: Inherited)
// less every reserved variable that is not a context variable, plus the
// try's identity. It is the one place every task process's environment
// passes through, so no way of building env can hand a task Sirocco's
// secrets.
func childEnv(env []string, tryID string) []string {
	if env == nil {
		env = Inherited()
	}
	out := make([]string, 0, len(env)+1)
	for _, kv := range env {
		name, _, _ := strings.Cut(kv, "=")
		if reserved(name) && !strings.HasPrefix(name, ctxPrefix) {
			continue
		}
		out = append(out, kv)
	}
	if tryID != "" {
		out = append(out, TryIDVar+"="+tryID)
	}
	return out
}

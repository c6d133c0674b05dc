package process

import (
	"os"
	"slices"
	"strings"
	"sync"
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

// inheritedNames is the allow-list of Sirocco's environment a task
// inherits: what programs need to run (paths, locale, time zone, temporary
// folders, proxies and CA bundles) and what Spark, Hadoop, YARN, Hive,
// Kerberos, Java, Python and Kubernetes clients read. A name ending in *
// is a prefix. Anything else of Sirocco's environment (a cloud key, a
// token of the account it runs under) stays out of tasks unless the
// operator lists it in SIROCCO_TASK_ENV_ALLOW.
var inheritedNames = []string{
	"PATH", "HOME", "USER", "LOGNAME", "SHELL", "HOSTNAME", "TERM",
	"LANG", "LANGUAGE", "LC_*", "TZ", "TZDIR", "TMPDIR", "TMP", "TEMP",
	"LD_LIBRARY_PATH",
	"http_proxy", "https_proxy", "no_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "ALL_PROXY",
	"SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE",
	"JAVA_HOME", "JAVA_TOOL_OPTIONS", "JDK_JAVA_OPTIONS", "_JAVA_OPTIONS",
	"SPARK_*", "PYSPARK_*", "HADOOP_*", "YARN_*", "HIVE_*", "HDFS_*",
	"KRB5*", "KUBECONFIG",
	"PYTHONPATH", "PYTHONHOME", "PYTHONUNBUFFERED", "VIRTUAL_ENV", "CONDA_*",
}

// AllowVar names the setting that widens the allow-list: a comma-separated
// list of names and NAME* prefixes (e.g. "AWS_*,MY_TOOL_HOME").
const AllowVar = "SIROCCO_TASK_ENV_ALLOW"

// allowed reports whether name matches one of the patterns.
func allowed(name string, patterns []string) bool {
	for _, p := range patterns {
		if prefix, ok := strings.CutSuffix(p, "*"); ok {
			if prefix != "" && strings.HasPrefix(name, prefix) {
				return true
			}
		} else if name == p {
			return true
		}
	}
	return false
}

// Inherited returns the part of Sirocco's environment a task inherits:
// the variables of the allow-list (inheritedNames, widened by
// SIROCCO_TASK_ENV_ALLOW), never a SIROCCO_* variable nor the database
// password variables, even when allowed. Commands Sirocco runs for a task
// outside Run (a remote kill) use it too.
func Inherited() []string {
	own := os.Environ()
	inherited.mu.Lock()
	defer inherited.mu.Unlock()
	if !slices.Equal(own, inherited.from) {
		inherited.from, inherited.out = own, filterInherited(own)
	}
	return slices.Clone(inherited.out)
}

// inherited remembers Inherited's last answer and the environment it came
// from: every task's start asks, the filter matches every pattern against
// every variable, and Sirocco's environment does not change while it runs
// (when it does, the next call filters again).
var inherited struct {
	mu   sync.Mutex
	from []string
	out  []string
}

// filterInherited is Inherited's filter over own, Sirocco's environment.
func filterInherited(own []string) []string {
	patterns := inheritedNames
	for _, kv := range own {
		if extra, ok := strings.CutPrefix(kv, AllowVar+"="); ok {
			if extra != "" { // the first, as os.Getenv
				patterns = slices.Concat(patterns, strings.Split(strings.ReplaceAll(extra, " ", ""), ","))
			}
			break
		}
	}
	out := make([]string, 0, len(own))
	for _, kv := range own {
		name, _, _ := strings.Cut(kv, "=")
		if reserved(name) || slices.Contains(libpqSecrets, name) || !allowed(name, patterns) {
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

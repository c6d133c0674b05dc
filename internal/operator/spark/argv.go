package spark

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/sirocco-dev/sirocco/internal/operator"
)

// submitArgv builds spark-submit's argv from the settings and the task's
// rendered fields, option by option as Airflow's SparkSubmitHook does. It is
// a list, never a shell line, so values need no quoting.
func submitArgv(s settings, a operator.Fields, dagID, taskID string) ([]string, map[string]string, error) {
	app := a.String("application")
	if app == "" {
		return nil, nil, errors.New("application is required")
	}
	argv := []string{s.SparkBinary, "--master", s.Master}
	conf := a.StringMap("conf")
	keys := make([]string, 0, len(conf))
	for k := range conf {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		argv = append(argv, "--conf", k+"="+conf[k])
	}
	for _, k := range slices.Sorted(maps.Keys(s.Conf)) {
		argv = append(argv, "--conf", k+"="+s.Conf[k])
	}
	// env_vars reach the driver differently per cluster manager; in client
	// mode (and local) the spark-submit process's environment is the driver's.
	procEnv := map[string]string{}
	envVars := a.StringMap("env_vars")
	envKeys := make([]string, 0, len(envVars))
	for k := range envVars {
		envKeys = append(envKeys, k)
	}
	sort.Strings(envKeys)
	for _, k := range envKeys {
		v := envVars[k]
		switch {
		case s.DeployMode == "cluster" && s.isYARN():
			argv = append(argv, "--conf", "spark.yarn.appMasterEnv."+k+"="+v)
		case s.DeployMode == "cluster" && s.isK8s():
			argv = append(argv, "--conf", "spark.kubernetes.driverEnv."+k+"="+v)
		case s.DeployMode == "cluster" && s.isStandalone():
			return nil, nil, errors.New("env_vars cannot reach the driver with spark-submit in standalone cluster mode; use the spark_rest operator, which sends them with the submission")
		default:
			procEnv[k] = v
		}
		argv = append(argv, "--conf", "spark.executorEnv."+k+"="+v)
	}
	if s.isK8s() && s.Namespace != "" {
		argv = append(argv, "--conf", "spark.kubernetes.namespace="+s.Namespace)
	}
	list := func(flag, field string) {
		if v := a.Strings(field); len(v) > 0 {
			argv = append(argv, flag, strings.Join(v, ","))
		}
	}
	one := func(flag, value string) {
		if value != "" {
			argv = append(argv, flag, value)
		}
	}
	list("--files", "files")
	list("--py-files", "py_files")
	list("--archives", "archives")
	one("--driver-class-path", a.String("driver_class_path"))
	list("--jars", "jars")
	list("--packages", "packages")
	list("--exclude-packages", "exclude_packages")
	list("--repositories", "repositories")
	one("--num-executors", a.String("num_executors"))
	one("--total-executor-cores", a.String("total_executor_cores"))
	one("--executor-cores", a.String("executor_cores"))
	one("--executor-memory", a.String("executor_memory"))
	one("--driver-memory", a.String("driver_memory"))
	one("--driver-cores", a.String("driver_cores"))
	one("--keytab", s.Keytab)
	one("--principal", s.Principal)
	one("--proxy-user", a.String("proxy_user"))
	one("--name", appName(a, dagID, taskID))
	one("--class", a.String("java_class"))
	if a.Bool("verbose") {
		argv = append(argv, "--verbose")
	}
	if s.isYARN() {
		one("--queue", s.Queue)
	}
	one("--properties-file", a.String("properties_file"))
	argv = append(argv, "--deploy-mode", s.DeployMode)
	if s.isStandalone() && s.DeployMode == "cluster" && strings.HasSuffix(app, ".py") {
		return nil, nil, fmt.Errorf("spark-submit cannot run a Python application (%s) in standalone cluster mode; use the spark_rest operator or client mode", app)
	}
	argv = append(argv, app)
	argv = append(argv, a.Strings("application_args")...)
	return argv, procEnv, nil
}

// appName is the application's name: the task's name field, else
// dag_id.task_id (a default that depends on the task, so not in the spec).
func appName(a operator.Fields, dagID, taskID string) string {
	if name := a.String("name"); name != "" {
		return name
	}
	return dagID + "." + taskID
}

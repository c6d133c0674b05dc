package spark

import (
	"net"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/sirocco-dev/sirocco/internal/operator"
)

func TestSubmitArgvHasEveryAirflowOption(t *testing.T) {
	s := settings{Master: "yarn", DeployMode: "cluster", SparkBinary: "/opt/spark/bin/spark-submit", Queue: "etl",
		Principal: "etl@EXAMPLE.COM", Keytab: "/etc/etl.keytab"}
	a := operator.FieldsOf(submitSpec, map[string]any{
		"application": "/jobs/wc.py", "application_args": []any{"in", "out dir"},
		"conf": map[string]any{"spark.b": "2", "spark.a": "1"}, "env_vars": map[string]any{"MODE": "x"},
		"files": []any{"f1", "f2"}, "py_files": []any{"deps.zip"}, "archives": []any{"env.tgz#env"},
		"driver_class_path": "/cp", "jars": []any{"a.jar", "b.jar"}, "packages": []any{"g:a:1"},
		"exclude_packages": []any{"g:b"}, "repositories": []any{"https://repo"}, "num_executors": "3",
		"total_executor_cores": "6", "executor_cores": 2, "executor_memory": "2g", "driver_memory": "1g",
		"driver_cores": "1", "proxy_user": "bob", "name": "wc", "java_class": "Main", "verbose": true,
		"properties_file": "/p.conf",
	})
	argv, env, err := submitArgv(s, a, "d", "t")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"/opt/spark/bin/spark-submit", "--master", "yarn",
		"--conf", "spark.a=1", "--conf", "spark.b=2",
		"--conf", "spark.yarn.appMasterEnv.MODE=x", "--conf", "spark.executorEnv.MODE=x",
		"--files", "f1,f2", "--py-files", "deps.zip", "--archives", "env.tgz#env", "--driver-class-path", "/cp",
		"--jars", "a.jar,b.jar", "--packages", "g:a:1", "--exclude-packages", "g:b", "--repositories", "https://repo",
		"--num-executors", "3", "--total-executor-cores", "6", "--executor-cores", "2", "--executor-memory", "2g",
		"--driver-memory", "1g", "--driver-cores", "1", "--keytab", "/etc/etl.keytab", "--principal", "etl@EXAMPLE.COM",
		"--proxy-user", "bob", "--name", "wc", "--class", "Main", "--verbose", "--queue", "etl",
		"--properties-file", "/p.conf", "--deploy-mode", "cluster", "/jobs/wc.py", "in", "out dir"}
	if !slices.Equal(argv, want) {
		t.Errorf("argv:\n got %q\nwant %q", argv, want)
	}
	if len(env) != 0 {
		t.Errorf("cluster mode on YARN must not pass env_vars to the local process: %v", env)
	}
}

func TestSubmitArgvEnvAndModes(t *testing.T) {
	a := operator.FieldsOf(submitSpec, map[string]any{"application": "job.py", "env_vars": map[string]any{"K": "v"}})
	_, env, err := submitArgv(settings{Master: "spark://127.0.0.1:7077", DeployMode: "client", SparkBinary: "spark-submit"}, a, "d", "t")
	if err != nil || env["K"] != "v" {
		t.Errorf("client mode: env %v, err %v; the driver is spark-submit, so env goes to its process", env, err)
	}
	argv, _, err := submitArgv(settings{Master: "k8s://https://k:6443", DeployMode: "cluster", SparkBinary: "spark-submit", Namespace: "spark"}, a, "d", "t")
	if err != nil || !slices.Contains(argv, "spark.kubernetes.driverEnv.K=v") || !slices.Contains(argv, "spark.kubernetes.namespace=spark") {
		t.Errorf("k8s cluster argv %q, err %v", argv, err)
	}
	_, _, err = submitArgv(settings{Master: "spark://127.0.0.1:7077", DeployMode: "cluster", SparkBinary: "spark-submit"}, a, "d", "t")
	if err == nil || !strings.Contains(err.Error(), "spark_rest") {
		t.Errorf("standalone cluster with env_vars: err %v, want advice to use spark_rest", err)
	}
	_, _, err = submitArgv(settings{Master: "spark://127.0.0.1:7077", DeployMode: "cluster", SparkBinary: "spark-submit"}, operator.FieldsOf(submitSpec, map[string]any{"application": "job.py"}), "d", "t")
	if err == nil || !strings.Contains(err.Error(), "Python application") {
		t.Errorf("standalone cluster .py: err %v", err)
	}
	if _, _, err := submitArgv(settings{Master: "local[2]", SparkBinary: "spark-submit", DeployMode: "client"}, operator.FieldsOf(submitSpec, nil), "d", "t"); err == nil {
		t.Error("missing application must be an error")
	}
}

func TestParseSparkSubmitOutput(t *testing.T) {
	lines := []string{
		"26/11/24 20:46:21 INFO RestSubmissionClient: Submission successfully created as driver-20261124204621-0000. Polling submission state...",
		"26/11/24 INFO Client: Submitted application application_1700000000000_0042",
		"26/11/24 INFO StandaloneSchedulerBackend: Connected to Spark cluster with app ID app-20261124204608-0001",
		"26/11/24 INFO SparkUI: Bound SparkUI to 127.0.0.1, and started at http://127.0.0.1:4040",
		"pod name: wc-driver-abc",
		"Exit code: 1",
	}
	var f found
	for _, l := range lines {
		parseLine(l, &f)
	}
	if f.DriverID != "driver-20261124204621-0000" || f.AppID != "application_1700000000000_0042" ||
		f.SparkUI != "http://127.0.0.1:4040" || f.DriverPod != "wc-driver-abc" || f.ExitCode != "1" {
		t.Errorf("found %+v", f)
	}
	// Spark 4 no longer prints "Bound SparkUI ... started at".
	var f4 found
	parseLine("26/11/24 23:33:21 INFO JettyUtils: Start Jetty 127.0.0.1:4040 for SparkUI", &f4)
	if f4.SparkUI != "http://127.0.0.1:4040" {
		t.Errorf("Spark 4 UI line: found %+v", f4)
	}
	// A UI bound to every interface is linked by this host's name.
	var all found
	parseLine("26/11/24 23:33:21 INFO JettyUtils: Start Jetty 0.0.0.0:4041 for SparkUI", &all)
	host, _ := os.Hostname()
	if want := "http://" + net.JoinHostPort(host, "4041"); all.SparkUI != want {
		t.Errorf("UI bound to 0.0.0.0: found %q, want %q", all.SparkUI, want)
	}
	// spark-submit on an edge node: its UI is on that host.
	var remote found
	parseLineOn("26/11/24 23:33:21 INFO JettyUtils: Start Jetty 0.0.0.0:4042 for SparkUI", &remote, "edge.example.com")
	if remote.SparkUI != "http://edge.example.com:4042" {
		t.Errorf("UI of a remote spark-submit bound to 0.0.0.0: found %q, want the ssh host's", remote.SparkUI)
	}
}

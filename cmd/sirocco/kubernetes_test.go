package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/testenv"
)

// TestKubernetesPodReattachAfterKill9: a standalone running the seed's
// Example 2 as a kubernetes_pod task is killed with SIGKILL while the pod
// runs. A second standalone reattaches to the same pod by its stored
// handle, continues its log from the stored position (each line once;
// lines written within a second before the kill, whose position was not
// stored yet, would appear twice) and takes the pod's end:
// the run succeeds, and the try had exactly one pod, listed through the
// apiserver.
func TestKubernetesPodReattachAfterKill9(t *testing.T) {
	k := testenv.StartKube(t)
	ns := k.Namespace(t)
	podLog := filepath.Join(t.TempDir(), "pod.log")
	k.ServeLogs(t, ns, podLog)
	s := newSite(t, map[string]string{"pods.yaml": fmt.Sprintf(`dag_id: remote_pyspark_dag
tasks:
  - id: run_pyspark
    operator: kubernetes_pod
    name: pyspark-job
    namespace: %s
    image: your-spark-image:your-spark-version
    cmds: [/bin/bash, -c]
    arguments: ["spark-submit --class YourMainClass your-spark-jar.jar --arg1 value1 --arg2 {{ ds }}"]
    resources: {request_cpu: "1", request_memory: 2Gi}
    image_pull_secrets: [{name: your-registry-secret}]
    on_finish_action: keep_pod
    annotations: {kwok.sirocco.dev/run-for: 20s}
`, ns)})
	conn, _ := json.Marshal(map[string]any{"conn_type": "kubernetes", "extra": map[string]any{"kube_config_path": k.Kubeconfig}})
	s.extraEnv = []string{"SIROCCO_CONN_KUBERNETES_DEFAULT=" + string(conn)}

	srv1 := s.startServer()
	s.mustRun("dags", "trigger", "remote_pyspark_dag", "--run-id", "r")
	var name, uid string
	testenv.Eventually(t, "the pod's handle with its UID", time.Minute, func() (bool, string) {
		h := handleOf(s, "remote_pyspark_dag", "r", "run_pyspark")
		name, _ = h["name"].(string)
		uid, _ = h["uid"].(string)
		return uid != "" && strings.HasPrefix(name, "pyspark-job-"), fmt.Sprintf("handle %v", h)
	})
	appendLine(t, podLog, "spark says 1")
	testenv.Eventually(t, "the pod's log in the task log, its position stored", time.Minute, func() (bool, string) {
		out, _, _ := s.run("tasks", "logs", "remote_pyspark_dag", "r", "run_pyspark")
		pos, _ := handleOf(s, "remote_pyspark_dag", "r", "run_pyspark")["log"].(map[string]any)
		return strings.Contains(out, "spark says 1") && pos["seen"] != nil, fmt.Sprintf("position %v, log:\n%s", pos, out)
	})
	srv1.kill9()
	appendLine(t, podLog, "spark says 2")

	s.startServer()
	testenv.Eventually(t, "the reattachment", time.Minute, func() (bool, string) {
		out, _, _ := s.run("tasks", "logs", "remote_pyspark_dag", "r", "run_pyspark")
		return strings.Contains(out, "reattaching to pod "+ns+"/"+name), out
	})
	s.waitRunSuccess("remote_pyspark_dag", "r", 2*time.Minute)
	log := s.mustRun("tasks", "logs", "remote_pyspark_dag", "r", "run_pyspark")
	for _, l := range []string{"spark says 1\n", "spark says 2\n"} {
		if n := strings.Count(log, l); n != 1 {
			t.Errorf("%q is %d times in the task log:\n%s", l, n, log)
		}
	}
	pods := k.Pods(t, ns, "dag_id=remote_pyspark_dag,task_id=run_pyspark,try_number=1")
	if len(pods) != 1 || pods[0].Name != name || string(pods[0].UID) != uid {
		t.Errorf("the try's pods: %d, want exactly the one created first (%s)", len(pods), name)
	}
	if h := handleOf(s, "remote_pyspark_dag", "r", "run_pyspark"); h["uid"] != uid {
		t.Errorf("the final handle names another pod: %v", h)
	}
}

func appendLine(t *testing.T, file, line string) {
	t.Helper()
	f, err := os.OpenFile(file, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(line + "\n"); err != nil {
		t.Fatal(err)
	}
}

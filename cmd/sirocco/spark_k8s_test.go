package main

import (
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/sirocco-dev/sirocco/internal/testenv"
)

// TestSparkOnKubernetesReattachAfterKill9: spark_submit on a k8s:// master
// in cluster mode against the Kubernetes test bed. spark-submit's own
// submission client creates the driver pod through the real apiserver;
// `sirocco standalone` is killed with SIGKILL while kwok runs the pod, and
// the restarted Sirocco reattaches to the same pod by its stored name: one
// spark-submit, one driver pod for the try, the run succeeds, and the
// driver's log is in the try's log once.
func TestSparkOnKubernetesReattachAfterKill9(t *testing.T) {
	venv, err := testenv.PySparkVenv()
	if err != nil {
		testenv.RequireCI(t, "PySpark (scripts/spark.sh install)", err)
	}
	homes, _ := filepath.Glob(filepath.Join(venv, "lib", "python3*", "site-packages", "pyspark"))
	if len(homes) == 0 {
		t.Fatalf("no pyspark package in %s", venv)
	}
	k := testenv.StartKube(t)
	ns := k.Namespace(t)
	const logLine = "Pi is roughly 3.14"
	logFile := filepath.Join(t.TempDir(), "driver.log")
	if err := os.WriteFile(logFile, []byte("driver starting\n"+logLine+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	k.ServeLogs(t, ns, logFile)

	s := newSite(t, map[string]string{"k8s.yaml": `dag_id: reattach_k8s
tasks:
  - id: pi
    operator: spark_submit
    conn_id: spark_k8s
    application: local:///opt/spark/examples/jars/spark-examples.jar
    java_class: org.apache.spark.examples.SparkPi
    application_args: ["10"]
    conf:
      spark.kubernetes.container.image: apache/spark:4.0.1
      spark.kubernetes.driver.annotation.kwok.sirocco.dev/run-for: 20s
`})
	s.extraEnv = append(s.extraEnv, "SPARK_LOCAL_IP=127.0.0.1",
		"SIROCCO_CONN_K8S_BED=kubernetes://?kube_config_path="+url.QueryEscape(k.Kubeconfig)+"&namespace="+ns,
		"SIROCCO_CONN_SPARK_K8S=spark://?master="+url.QueryEscape("k8s://")+"&deploy_mode=cluster&kubernetes_conn_id=k8s_bed&spark_home="+url.QueryEscape(homes[0]))
	selector := "dag_id=reattach_k8s,task_id=pi,run_id=r,try_number=1"

	srv := s.startServer()
	s.mustRun("dags", "trigger", "reattach_k8s", "--run-id", "r")
	var pod, uid string
	testenv.Eventually(t, "the driver pod and its log's position to be stored", 5*time.Minute, func() (bool, string) {
		out, _, _ := s.run("tasks", "state", "reattach_k8s", "r", "pi", "-o", "json")
		var tis []struct {
			State  string `json:"state"`
			Handle struct {
				DriverPod string `json:"driver_pod"`
				Kube      struct {
					UID string `json:"uid"`
					Log struct {
						Time time.Time `json:"time"`
					} `json:"log"`
				} `json:"k8s"`
			} `json:"handle"`
		}
		if json.Unmarshal([]byte(out), &tis) != nil || len(tis) != 1 {
			return false, out
		}
		if st := tis[0].State; st == "success" || st == "failed" || st == "up_for_retry" {
			t.Fatalf("the try ended before Sirocco was killed: %s", out)
		}
		h := tis[0].Handle
		pod, uid = h.DriverPod, h.Kube.UID
		return uid != "" && !h.Kube.Log.Time.IsZero(), out
	})
	srv.kill9()
	if pods := k.Pods(t, ns, selector); len(pods) != 1 || pods[0].Name != pod || string(pods[0].UID) != uid {
		t.Fatalf("after the kill, the try's pods are %v; want driver pod %s (uid %s) running on", podNames(pods), pod, uid)
	}
	s.startServer()

	s.waitRunSuccess("reattach_k8s", "r", 3*time.Minute)
	pods := k.Pods(t, ns, selector)
	if len(pods) != 1 || string(pods[0].UID) != uid {
		t.Errorf("the try has pods %v, want only %s (uid %s): a second submission", podNames(pods), pod, uid)
	}
	log := s.mustRun("tasks", "logs", "reattach_k8s", "r", "pi")
	submits := regexp.MustCompile(`(?m)/spark-submit --master k8s://https://`).FindAllString(log, -1)
	if len(submits) != 1 || !strings.Contains(log, "resuming try 1") || !strings.Contains(log, "reattaching to driver pod "+ns+"/"+pod) ||
		strings.Count(log, logLine) != 1 || !strings.Contains(log, "driver pod "+ns+"/"+pod+" succeeded") {
		t.Errorf("the try's log should show one spark-submit (%d), the reattachment, the driver's log once and its end:\n%s", len(submits), log)
	}
}

// podNames names pods for messages.
func podNames(pods []corev1.Pod) []string {
	names := make([]string, len(pods))
	for i, p := range pods {
		names[i] = p.Name + " (uid " + string(p.UID) + ")"
	}
	return names
}

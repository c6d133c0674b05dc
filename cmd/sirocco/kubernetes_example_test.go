package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/kubebed"
	"github.com/sirocco-dev/sirocco/internal/testenv"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// exampleSite is a Sirocco home whose DAGs folder is examples/dags, as
// scripts/run.sh sets it up.
func exampleSite(t *testing.T) *site {
	t.Helper()
	dags, err := filepath.Abs("../../examples/dags")
	if err != nil {
		t.Fatal(err)
	}
	s := &site{t: t, home: t.TempDir(), dags: dags}
	s.mustRun("db", "migrate")
	return s
}

// TestKubernetesExampleOnTheTestBed follows the README: `scripts/k8s.sh
// up` starts the test bed (a real kube-apiserver and kube-scheduler, kwok
// faking the node) and prints the connection, which is imported; the
// shipped seed Example 2 (examples/dags/remote_pyspark_k8s.yaml), triggered
// and waited for, succeeds with its pod run on the fake node and deleted
// after; `scripts/k8s.sh down` stops every component of the bed.
func TestKubernetesExampleOnTheTestBed(t *testing.T) {
	out, err := exec.Command("bash", "../../scripts/k8s.sh", "bin").Output()
	if err == nil {
		_, err = kubebed.FindBinaries(strings.TrimSpace(string(out)))
	}
	if dir := os.Getenv("SIROCCO_K8S_BIN"); dir != "" {
		_, err = kubebed.FindBinaries(dir)
	}
	testenv.RequireCI(t, "Kubernetes test bed (scripts/k8s.sh install)", err)

	s := exampleSite(t)
	env := []string{"SIROCCO_HOME=" + s.home}
	state := filepath.Join(s.home, "k8s", "bed.json")
	t.Cleanup(func() {
		recorded, err := kubebed.LoadState(state)
		if msg, code := runScript(t, 2*time.Minute, env, "scripts/k8s.sh", "down"); code != 0 {
			t.Errorf("k8s.sh down: exit %d\n%s", code, msg)
		}
		if err != nil {
			t.Errorf("no bed state to check the stop against: %v", err)
			return
		}
		if running := recorded.Running(); len(running) > 0 {
			t.Errorf("still running after k8s.sh down: %v", running)
		}
	})
	up, code := runScript(t, 15*time.Minute, env, "scripts/k8s.sh", "up")
	if code != 0 || !strings.Contains(up, "export SIROCCO_CONN_KUBERNETES_DEFAULT='kubernetes://?kube_config_path=") {
		t.Fatalf("k8s.sh up: exit %d\n%s", code, up)
	}
	if msg, code := runScript(t, time.Minute, env, "scripts/k8s.sh", "status"); code != 0 {
		t.Fatalf("k8s.sh status after up: exit %d\n%s", code, msg)
	}
	s.mustRun("connections", "import", filepath.Join(s.home, "k8s", "conn.env"), "--file-format", "env", "--overwrite")

	s.startServer()
	s.mustRun("dags", "trigger", "remote_pyspark_dag", "--run-id", "r", "--wait")
	log := s.mustRun("tasks", "logs", "remote_pyspark_dag", "r", "run_pyspark")
	for _, want := range []string{"image apache/spark:4.0.1", "Running on node " + kubebed.NodeName,
		"this pod ran no container", "succeeded", "deleted (on_finish_action delete_pod)"} {
		if !strings.Contains(log, want) {
			t.Errorf("the task log lacks %q:\n%s", want, log)
		}
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", filepath.Join(s.home, "k8s", "bed", "kubeconfig"))
	if err != nil {
		t.Fatal(err)
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	pods, err := client.CoreV1().Pods("default").List(t.Context(), metav1.ListOptions{LabelSelector: "dag_id=remote_pyspark_dag"})
	if err != nil || len(pods.Items) != 0 {
		t.Errorf("the example's pods left in the apiserver: %v (%v)", pods, err)
	}
}

// TestKubernetesExampleWithoutConnection: the example loads without a
// kubernetes connection or kubeconfig (dags validate passes); only a run
// fails, naming the connection and what is missing.
func TestKubernetesExampleWithoutConnection(t *testing.T) {
	s := exampleSite(t)
	s.extraEnv = []string{"HOME=" + t.TempDir(), "KUBECONFIG=", "KUBERNETES_SERVICE_HOST="}
	if out := s.mustRun("dags", "validate", s.dags); !strings.Contains(out, "0 file(s) with errors") {
		t.Fatalf("dags validate of the examples:\n%s", out)
	}
	out, errOut, code := s.run("tasks", "test", "remote_pyspark_dag", "run_pyspark")
	msg := out + errOut
	if code == 0 || !strings.Contains(msg, "kubernetes connection kubernetes_default") ||
		!strings.Contains(msg, "no configuration has been provided") {
		t.Fatalf("tasks test without a connection: exit %d\n%s", code, msg)
	}
}

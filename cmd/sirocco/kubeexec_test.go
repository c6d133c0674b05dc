package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/sirocco-dev/sirocco/internal/testenv"
)

// Tests of the Kubernetes executor against the real test bed: apiserver,
// scheduler and kwok's fake node, with the test kubelet (kubelet_test.go)
// running each worker pod's `sirocco tasks run` as a local process
// against the same PostgreSQL store.

// kubeSite is a Sirocco home whose executor runs tries as worker pods in
// a fresh namespace, with the test kubelet running them.
type kubeSite struct {
	*site
	k  *testenv.Kube
	ns string
	kl *testKubelet
}

// newKubeSite writes sirocco.yaml (executor, PostgreSQL, the cluster, a
// test-only pod template that holds each pod Running for the test
// kubelet) and the DAGs, and migrates the store. extra is added to the
// kubernetes_executor section.
func newKubeSite(t *testing.T, executor string, dags map[string]string, extra string) *kubeSite {
	t.Helper()
	k := testenv.StartKube(t)
	ns := k.Namespace(t)
	dsn := testenv.Postgres(t)
	home := t.TempDir()
	s := &site{t: t, home: home, dags: filepath.Join(home, "dags")}
	if err := os.MkdirAll(s.dags, 0o755); err != nil {
		t.Fatal(err)
	}
	template := fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  annotations: {%s: "true"}
spec:
  containers:
  - name: base
    env:
    - {name: SIROCCO_HOME, value: %q}
`, testenv.KubeHoldAnnotation, home)
	writeFile(t, filepath.Join(home, "worker-pod.yaml"), template)
	writeFile(t, filepath.Join(home, "sirocco.yaml"), fmt.Sprintf(`executor: %s
database_url: %q
kubernetes_executor:
  config_file: %q
  namespace: %s
  image: sirocco:test
  pod_template_file: worker-pod.yaml
  worker_pods_pending_timeout: 1m
%s`, executor, dsn, k.Kubeconfig, ns, extra))
	for name, body := range dags {
		s.write(name, body)
	}
	s.mustRun("db", "migrate")
	return &kubeSite{site: s, k: k, ns: ns, kl: startKubelet(t, k, ns)}
}

func writeFile(t *testing.T, path, body string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestKubernetesExecutorRunsADAGInPods: every task of a DAG runs as its
// own worker pod: states, XCom from one pod's task to the next, each
// try's log holding the pod's output and the executor's notes, the pod's
// labels and command, and the task's executor_config in its pod's spec.
func TestKubernetesExecutorRunsADAGInPods(t *testing.T) {
	s := newKubeSite(t, "kubernetes", map[string]string{"pods.yaml": `dag_id: in_pods
tasks:
  - id: extract
    operator: bash
    command: echo "rows for {{ ds }}"; echo 42
  - id: report
    operator: bash
    depends_on: [extract]
    command: echo "got {{ ti.xcom_pull('extract') }} from the pod before"
    executor_config:
      image: custom-image:2
      resources: {request_cpu: 250m, limit_memory: 1Gi}
      node_selector: {type: kwok}
      tolerations: [{key: dedicated, operator: Equal, value: sirocco, effect: NoSchedule}]
      labels: {team: data}
      annotations: {owner: me}
`}, "  delete_worker_pods: false\n")
	srv := s.startServer()
	defer func() {
		if t.Failed() {
			t.Logf("standalone's log:\n%s", srv.log)
		}
	}()
	s.mustRun("dags", "trigger", "in_pods", "--run-id", "r1")
	s.waitRunSuccess("in_pods", "r1", 2*time.Minute)

	if x := s.mustRun("tasks", "logs", "in_pods", "r1", "report"); !strings.Contains(x, "got 42 from the pod before") {
		t.Errorf("report's log lacks the pulled XCom:\n%s", x)
	}
	for _, task := range []string{"extract", "report"} {
		log := s.mustRun("tasks", "logs", "in_pods", "r1", task)
		if ok, missing := containsAll(log, "worker pod "+s.ns+"/in-pods-"+strings.ReplaceAll(task, "_", "-"),
			"starting try 1 of "+task, "task succeeded", "Succeeded"); !ok {
			t.Errorf("%s's log lacks %q:\n%s", task, missing, log)
		}
		if n := strings.Count(log, "starting try 1 of "+task); n != 1 {
			t.Errorf("%s's log has the pod's first line %d times:\n%s", task, n, log)
		}
		pods := podsOf(t, s.k, s.ns, "in_pods", task)
		if len(pods) != 1 {
			t.Fatalf("%s had %d worker pods, want 1", task, len(pods))
		}
		p := pods[0]
		if p.Labels["task_id"] != task || p.Labels["try_number"] != "1" || p.Labels["run_id"] != "r1" {
			t.Errorf("%s's pod labels: %v", task, p.Labels)
		}
		want := []string{"sirocco", "tasks", "run", "in_pods", "r1", task, "--try", "1"}
		if got := p.Spec.Containers[0].Command; strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("%s's pod runs %q, want %q", task, got, want)
		}
	}
	p := podsOf(t, s.k, s.ns, "in_pods", "report")[0]
	c := p.Spec.Containers[0]
	checks := []struct {
		what      string
		got, want string
	}{
		{"image", c.Image, "custom-image:2"},
		{"cpu request", c.Resources.Requests.Cpu().String(), "250m"},
		{"memory limit", c.Resources.Limits.Memory().String(), "1Gi"},
		{"node selector", p.Spec.NodeSelector["type"], "kwok"},
		{"label", p.Labels["team"], "data"},
		{"annotation", p.Annotations["owner"], "me"},
		{"template annotation", p.Annotations[testenv.KubeHoldAnnotation], "false"},
		{"restart policy", string(p.Spec.RestartPolicy), "Never"},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("report's pod %s = %q, want %q", ch.what, ch.got, ch.want)
		}
	}
	if !hasToleration(p.Spec.Tolerations, "dedicated", "sirocco") {
		t.Errorf("report's pod lacks the toleration: %v", p.Spec.Tolerations)
	}
	if e := podsOf(t, s.k, s.ns, "in_pods", "extract")[0].Spec.Containers[0]; e.Image != "sirocco:test" {
		t.Errorf("extract's pod image = %q, want the executor's", e.Image)
	}
}

func hasToleration(ts []corev1.Toleration, key, value string) bool {
	for _, t := range ts {
		if t.Key == key && t.Value == value && t.Operator == corev1.TolerationOpEqual && t.Effect == corev1.TaintEffectNoSchedule {
			return true
		}
	}
	return false
}

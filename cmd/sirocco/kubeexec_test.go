package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sirocco-dev/sirocco/internal/tasklog"
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
	// podHome is the worker pods' SIROCCO_HOME: not the scheduler's, so
	// nothing (the secret key) comes to them from its files.
	podHome string
}

// newKubeSite writes sirocco.yaml (executor, PostgreSQL with a password,
// the cluster, a test-only pod template that holds each pod Running for
// the test kubelet and gives it a home of its own) and the DAGs, and
// migrates the store. extra is added to the
// kubernetes_executor section.
func newKubeSite(t *testing.T, executor string, dags map[string]string, extra string) *kubeSite {
	t.Helper()
	k := testenv.StartKube(t)
	ns := k.Namespace(t)
	// The test server trusts every local connection: the password is
	// there to show where it goes (a Secret, never the pod's spec).
	dsn := strings.Replace(testenv.Postgres(t), "postgres@", "postgres:"+kubeDBPassword+"@", 1)
	home, podHome := t.TempDir(), t.TempDir()
	s := &site{t: t, home: home, dags: filepath.Join(home, "dags")}
	if err := os.MkdirAll(s.dags, 0o755); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(extra, "worker_pods_pending_timeout:") {
		extra += "  worker_pods_pending_timeout: 1m\n"
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
`, testenv.KubeHoldAnnotation, podHome)
	writeFile(t, filepath.Join(home, "worker-pod.yaml"), template)
	writeFile(t, filepath.Join(home, "sirocco.yaml"), fmt.Sprintf(`executor: %s
database_url: %q
kubernetes_executor:
  config_file: %q
  namespace: %s
  image: sirocco:test
  pod_template_file: worker-pod.yaml
%s`, executor, dsn, k.Kubeconfig, ns, extra))
	for name, body := range dags {
		s.write(name, body)
	}
	s.mustRun("db", "migrate")
	return &kubeSite{site: s, k: k, ns: ns, kl: startKubelet(t, k, ns), podHome: podHome}
}

// kubeDBPassword is the database password of a kubeSite's URL.
const kubeDBPassword = "db-pw-never-in-a-pod-spec"

// waitLog waits until a try's log holds every part and returns it. The
// pod records its try's outcome before its last lines reach the task log
// (the scheduler copies them from the pod's log until the pod ends), so
// a test reads the log once it is complete rather than at the run's end.
func (s *site) waitLog(dagID, runID, taskID string, try int, parts ...string) string {
	s.t.Helper()
	var log string
	testenv.Eventually(s.t, fmt.Sprintf("the log of try %d of %s to hold %q", try, taskID, parts), time.Minute, func() (bool, string) {
		log, _, _ = s.run("tasks", "logs", dagID, runID, taskID, "--try", fmt.Sprint(try))
		ok, _ := containsAll(log, parts...)
		return ok, log
	})
	return log
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

	s.waitLog("in_pods", "r1", "report", 1, "got 42 from the pod before")
	for _, task := range []string{"extract", "report"} {
		log := s.waitLog("in_pods", "r1", task, 1, "task succeeded")
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
	s.checkPodSecrets(c)
}

// checkPodSecrets: the database URL (it has a password) and the secret
// key of connections reach the worker container from a Secret, the key
// being the scheduler's; nothing in the spec holds the password; and the
// pod generated no key of its own.
func (s *kubeSite) checkPodSecrets(c corev1.Container) {
	t := s.t
	t.Helper()
	key, err := os.ReadFile(filepath.Join(s.home, "secret.key"))
	if err != nil {
		t.Fatal(err)
	}
	from := map[string]*corev1.SecretKeySelector{}
	for _, e := range c.Env {
		if strings.Contains(e.Value, kubeDBPassword) {
			t.Errorf("the pod spec holds the database password in %s", e.Name)
		}
		if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
			from[e.Name] = e.ValueFrom.SecretKeyRef
		}
	}
	for _, name := range []string{"SIROCCO_DATABASE_URL", "SIROCCO_SECRET_KEY"} {
		ref := from[name]
		if ref == nil {
			t.Errorf("the pod's %s is not read from a Secret: %+v", name, c.Env)
			continue
		}
		sec, err := s.k.Client.CoreV1().Secrets(s.ns).Get(context.Background(), ref.Name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		got := string(sec.Data[ref.Key])
		if name == "SIROCCO_SECRET_KEY" && got != strings.TrimSpace(string(key)) {
			t.Errorf("the Secret's %s is not the scheduler's key", name)
		}
		if name == "SIROCCO_DATABASE_URL" && !strings.Contains(got, kubeDBPassword) {
			t.Errorf("the Secret's %s = %q, want the scheduler's URL", name, got)
		}
	}
	if _, err := os.Stat(filepath.Join(s.podHome, "secret.key")); err == nil {
		t.Errorf("a worker pod generated a secret key in its home")
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

// TestLocalKubernetesExecutorSendsOnlyItsQueue: under local_kubernetes,
// only the task of the kubernetes queue runs as a pod; the other runs in
// the scheduler's process.
func TestLocalKubernetesExecutorSendsOnlyItsQueue(t *testing.T) {
	s := newKubeSite(t, "local_kubernetes", map[string]string{"mixed.yaml": `dag_id: mixed
tasks:
  - id: here
    operator: bash
    command: echo "pid of here $$"
  - id: there
    operator: bash
    queue: kubernetes
    depends_on: [here]
    command: echo "in a pod"
`}, "")
	s.startServer()
	s.mustRun("dags", "trigger", "mixed", "--run-id", "r1")
	s.waitRunSuccess("mixed", "r1", 2*time.Minute)
	testenv.Eventually(t, "the ended worker pod deleted (delete_worker_pods)", time.Minute, func() (bool, string) {
		pods := s.k.Pods(t, s.ns, "kubernetes_executor=True")
		return len(pods) == 0, fmt.Sprintf("%d pods", len(pods))
	})
	here := s.mustRun("tasks", "logs", "mixed", "r1", "here")
	if strings.Contains(here, "worker pod") || !strings.Contains(here, "pid of here") {
		t.Errorf("the default queue's task did not run locally:\n%s", here)
	}
	there := s.waitLog("mixed", "r1", "there", 1, "task succeeded")
	if ok, missing := containsAll(there, "worker pod "+s.ns+"/mixed-there-", "starting try 1 of there (run r1) on mixed-there-", "in a pod"); !ok {
		t.Errorf("the kubernetes queue's task log lacks %q:\n%s", missing, there)
	}
}

// TestWorkerPodFailingBeforeItsOutcome: a pod that ends (exit code 3)
// before its try could record anything fails the try with the pod's
// reason; as an infrastructure failure it is run again without spending
// a retry, up to the cap, then it counts as failed.
func TestWorkerPodFailingBeforeItsOutcome(t *testing.T) {
	s := newKubeSite(t, "kubernetes", map[string]string{"boom.yaml": `dag_id: boom
tasks:
  - id: boom
    operator: bash
    command: echo never runs
`}, "")
	s.kl.exitWithout = func(*corev1.Pod) bool { return true }
	s.startServer()
	s.mustRun("dags", "trigger", "boom", "--run-id", "r1")
	testenv.Eventually(t, "the run to fail", 3*time.Minute, func() (bool, string) {
		run, observed := s.states("boom", "r1")
		return run == "failed", observed
	})
	for try := 1; try <= 4; try++ {
		log := s.mustRun("tasks", "logs", "boom", "r1", "boom", "--try", fmt.Sprint(try))
		want := []string{"the try ended without recording its outcome", "exit code 3 (Error)"}
		if try < 4 {
			want = append(want, "runs again without spending a retry")
		} else {
			want = append(want, "the try counts as failed")
		}
		if ok, missing := containsAll(log, want...); !ok {
			t.Errorf("try %d's log lacks %q:\n%s", try, missing, log)
		}
	}
	if pods := podsOf(t, s.k, s.ns, "boom", "boom"); len(pods) != 4 {
		t.Errorf("failed worker pods kept: %d, want one per try (4; delete_worker_pods_on_failure is off)", len(pods))
	}
}

// TestClearDeletesTheWorkerPod: clearing a try that runs in a pod stops
// it (the pod's heartbeat sees the change), its pod is deleted (listed
// through the apiserver), though failed pods are otherwise kept, and the
// task runs again in a new pod, maybe before the old one is gone.
func TestClearDeletesTheWorkerPod(t *testing.T) {
	s := newKubeSite(t, "kubernetes", map[string]string{"long.yaml": `dag_id: long
tasks:
  - id: long
    operator: bash
    command: if [ "$SIROCCO_CTX_TRY_NUMBER" = 1 ]; then sleep 300; fi; echo done
`}, "")
	s.startServer()
	s.mustRun("dags", "trigger", "long", "--run-id", "r1")
	var first string
	testenv.Eventually(t, "try 1 running in its pod", time.Minute, func() (bool, string) {
		log, _, _ := s.run("tasks", "logs", "long", "r1", "long")
		pods := podsOf(t, s.k, s.ns, "long", "long")
		if len(pods) == 1 {
			first = pods[0].Name
		}
		return strings.Contains(log, "starting try 1 of long"), log
	})
	s.mustRun("tasks", "clear", "long", "r1", "-t", "long")
	s.waitRunSuccess("long", "r1", 2*time.Minute)
	if first == "" {
		t.Fatal("try 1's pod was not seen")
	}
	// Try 2 may end before try 1's pod has seen the clear (its heartbeat
	// stops the sleep, then the pod ends and is deleted): the deletion is
	// awaited, not assumed to come first.
	testenv.Eventually(t, "try 1's pod "+first+" deleted after the clear", 2*time.Minute, func() (bool, string) {
		for _, p := range s.k.Pods(t, s.ns, "kubernetes_executor=True") {
			if p.Name == first {
				return false, fmt.Sprintf("pod %s is still there (phase %s, deleting %v)", first, p.Status.Phase, p.DeletionTimestamp != nil)
			}
		}
		return true, ""
	})
	s.waitLog("long", "r1", "long", 2, "done")
}

// TestKubernetesExecutorReattachAfterKill9: the standalone is killed with
// SIGKILL while a try runs in its pod; the next standalone reattaches to
// that pod (never creating a second one for the try), copies the rest of
// its log, and the run ends right.
func TestKubernetesExecutorReattachAfterKill9(t *testing.T) {
	flag := filepath.Join(t.TempDir(), "go")
	s := newKubeSite(t, "kubernetes", map[string]string{"slow.yaml": fmt.Sprintf(`dag_id: slow
tasks:
  - id: slow
    operator: bash
    command: echo before; while [ ! -e %s ]; do sleep 0.1; done; echo after
`, flag)}, "")
	srv := s.startServer()
	s.mustRun("dags", "trigger", "slow", "--run-id", "r1")
	s.waitLog("slow", "r1", "slow", 1, "] before\n")
	// The position in the pod's log (the container log's time of the last
	// line copied) is stored at most a second after that line: lines
	// copied since would be copied again after a restart.
	pods := podsOf(t, s.k, s.ns, "slow", "slow")
	if len(pods) != 1 {
		t.Fatalf("%d worker pods, want 1", len(pods))
	}
	before := s.kl.logTime(pods[0].Name, "before")
	pos := tasklog.Path(filepath.Join(s.home, "logs"), "slow", "r1", "slow", 1) + ".pod-position"
	testenv.Eventually(t, "the log position stored past the line", time.Minute, func() (bool, string) {
		b, err := os.ReadFile(pos)
		var p struct{ Time time.Time }
		if err == nil {
			err = json.Unmarshal(b, &p)
		}
		return err == nil && !p.Time.Before(before), fmt.Sprintf("%s %v (line at %s)", b, err, before)
	})
	srv.kill9()
	s.startServer()
	testenv.Eventually(t, "the reattachment", time.Minute, func() (bool, string) {
		log, _, _ := s.run("tasks", "logs", "slow", "r1", "slow")
		return strings.Contains(log, "reattaching to worker pod"), log
	})
	writeFile(t, flag, "")
	s.waitRunSuccess("slow", "r1", 2*time.Minute)
	log := s.waitLog("slow", "r1", "slow", 1, "task succeeded")
	if ok, missing := containsAll(log, "reattaching to worker pod", "after", "task succeeded"); !ok {
		t.Errorf("the try's log lacks %q:\n%s", missing, log)
	}
	if n := strings.Count(log, "created (uid"); n != 1 {
		t.Errorf("the try's log tells of %d pod creations, want 1:\n%s", n, log)
	}
	if n := strings.Count(log, "] before\n"); n != 1 {
		t.Errorf("the pod's first line is %d times in the try's log:\n%s", n, log)
	}
	kl := s.kl
	kl.mu.Lock()
	ran := len(kl.seen)
	kl.mu.Unlock()
	if ran != 1 {
		t.Errorf("the test kubelet saw %d worker pods, want 1", ran)
	}
}

// TestValidateChecksExecutorConfig: a task's executor_config is checked
// by `dags validate` whatever the executor, each mistake with file, line
// and field.
func TestValidateChecksExecutorConfig(t *testing.T) {
	s := newSite(t, map[string]string{"ec.yaml": `dag_id: ec
tasks:
  - id: a
    operator: empty
    executor_config:
      resources: {request_cpu: lots}
      tolerations: [{operator: Sometimes}]
      imag: x
`})
	out, _, code := s.run("dags", "validate")
	if code == 0 {
		t.Fatalf("validate exited 0:\n%s", out)
	}
	for _, want := range []string{
		`ec.yaml:6:7: tasks[a].executor_config: executor_config.resources.request_cpu: expected a quantity such as 500m, 2 or 2Gi, got "lots"`,
		`executor_config.tolerations[0].operator: expected Exists or Equal, got "Sometimes"`,
		`executor_config.imag: unknown key; expected one of image, resources, node_selector, tolerations, labels, annotations`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("validate output lacks %q:\n%s", want, out)
		}
	}
}

// TestWorkerPodWithoutSecretKeyFails: `tasks run` in a pod that has no
// secret key (neither SIROCCO_SECRET_KEY nor a key file in its home)
// fails at once, saying what is missing and where it comes from, and
// generates no key of its own (which could read none of the stored
// secrets).
func TestWorkerPodWithoutSecretKeyFails(t *testing.T) {
	s := newSite(t, map[string]string{"d.yaml": "dag_id: d\ntasks:\n  - {id: a, operator: empty}\n"})
	podHome := t.TempDir()
	s.extraEnv = []string{"SIROCCO_HOME=" + podHome, "SIROCCO_DATABASE_URL=sqlite://" + filepath.Join(s.home, "sirocco.db"),
		"SIROCCO_SECRET_KEY=", "SIROCCO_POD_NAME=d-a-x1", "SIROCCO_POD_NAMESPACE=ns"}
	_, errOut, code := s.run("tasks", "run", "d", "r1", "a", "--try", "1")
	if code == 0 || !strings.Contains(errOut, "the worker pod has no secret key for stored connections: SIROCCO_SECRET_KEY is not set") {
		t.Errorf("tasks run without a key: exit %d, stderr:\n%s", code, errOut)
	}
	if _, err := os.Stat(filepath.Join(podHome, "secret.key")); err == nil {
		t.Errorf("tasks run generated a secret key in the pod's home")
	}
}

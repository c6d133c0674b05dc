package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/testenv"
)

// Faults of worker pods against the real test bed: pods that never start,
// timeouts, a try ended by hand while its pod runs, an apiserver restart.

// waitRunState waits until a run is in state and returns the observed
// states.
func (s *site) waitRunState(dagID, runID, state string, timeout time.Duration) string {
	s.t.Helper()
	var observed string
	testenv.Eventually(s.t, fmt.Sprintf("run %s/%s to be %s", dagID, runID, state), timeout, func() (bool, string) {
		var run string
		run, observed = s.states(dagID, runID)
		return run == state, observed
	})
	return observed
}

// waitNoWorkerPods waits until no worker pod of the DAG is left in the
// namespace (listed through the apiserver).
func (s *kubeSite) waitNoWorkerPods(dagID string) {
	s.t.Helper()
	testenv.Eventually(s.t, "no worker pod of "+dagID+" left", time.Minute, func() (bool, string) {
		pods := s.k.Pods(s.t, s.ns, "kubernetes_executor=True,dag_id="+dagID)
		var names []string
		for _, p := range pods {
			names = append(names, p.Name+" "+string(p.Status.Phase))
		}
		return len(pods) == 0, strings.Join(names, ", ")
	})
}

// TestWorkerPodThatNeverStarts: a worker pod that is never scheduled (its
// node selector matches no node) is deleted after
// worker_pods_pending_timeout, and one whose container cannot start
// (ErrImagePull) at once; each try fails with the reason from the pod
// (the scheduler's Unschedulable condition, the waiting reason) in its
// log, and no pod is left.
func TestWorkerPodThatNeverStarts(t *testing.T) {
	s := newKubeSite(t, "kubernetes", map[string]string{"stuck.yaml": fmt.Sprintf(`dag_id: stuck
tasks:
  - id: nowhere
    operator: bash
    command: echo never runs
    executor_config: {node_selector: {pool: none-such}}
  - id: no_image
    operator: bash
    command: echo never runs
    executor_config: {annotations: {%q: ErrImagePull}}
`, testenv.KubeWaitingReasonAnnotation)}, "  worker_pods_pending_timeout: 2s\n  delete_worker_pods_on_failure: false\n")
	srv := s.startServer()
	defer func() {
		if t.Failed() {
			t.Logf("standalone's log:\n%s", srv.log)
		}
	}()
	s.mustRun("dags", "trigger", "stuck", "--run-id", "r1")
	s.waitRunState("stuck", "r1", "failed", 3*time.Minute)
	for _, c := range []struct {
		task string
		want []string
	}{
		{"nowhere", []string{"did not start within worker_pods_pending_timeout (2s)", "not scheduled: Unschedulable", "didn't match Pod's node affinity/selector"}},
		{"no_image", []string{"its container cannot start: ErrImagePull"}},
	} {
		log := s.waitLog("stuck", "r1", c.task, 1, "the try ended without recording its outcome")
		if ok, missing := containsAll(log, c.want...); !ok {
			t.Errorf("%s's log lacks %q:\n%s", c.task, missing, log)
		}
	}
	s.waitNoWorkerPods("stuck")
}

// TestWorkerPodTimeouts: a try past its execution_timeout is stopped in
// its pod, which records up_for_retry; the retry runs in a new pod and
// the timed-out one is deleted (delete_worker_pods_on_failure). A run past
// its dagrun_timeout has its running try recorded failed and its pod
// deleted, though failed pods are otherwise kept; the pod's `tasks run`,
// told to stop, does not overwrite the failure.
func TestWorkerPodTimeouts(t *testing.T) {
	s := newKubeSite(t, "kubernetes", map[string]string{
		"exec.yaml": `dag_id: exec
tasks:
  - id: slow
    operator: bash
    retries: 1
    retry_delay: 0s
    execution_timeout: 2s
    command: if [ "$SIROCCO_CTX_TRY_NUMBER" = 1 ]; then sleep 300; fi; echo second try
`,
		"run.yaml": `dag_id: runto
dagrun_timeout: 4s
tasks:
  - id: slow
    operator: bash
    retries: 3
    command: echo started; sleep 300
`}, "  delete_worker_pods_on_failure: true\n")
	srv := s.startServer()
	defer func() {
		if t.Failed() {
			t.Logf("standalone's log:\n%s", srv.log)
		}
	}()
	s.mustRun("dags", "trigger", "exec", "--run-id", "r1")
	s.mustRun("dags", "trigger", "runto", "--run-id", "r1")
	s.waitRunSuccess("exec", "r1", 2*time.Minute)
	log := s.waitLog("exec", "r1", "slow", 1, "execution_timeout of 2s exceeded")
	if strings.Contains(log, "second try") {
		t.Errorf("try 1 ran to its end:\n%s", log)
	}
	s.waitLog("exec", "r1", "slow", 2, "second try", "task succeeded")

	s.waitRunState("runto", "r1", "failed", 2*time.Minute)
	if st := s.taskState("runto", "r1", "slow"); st != "failed" {
		t.Errorf("after the run timeout the try is %s, want failed", st)
	}
	s.waitLog("runto", "r1", "slow", 1, "killed (run timeout)", "deleted")
	s.waitNoWorkerPods("exec")
	s.waitNoWorkerPods("runto")
	// The pod's process was told to stop: once it has ended, whatever it
	// wrote is there to see.
	s.kl.waitExited(podsSeen(s.kl, "runto-slow-")...)
	if st := s.taskState("runto", "r1", "slow"); st != "failed" {
		t.Errorf("the try's failure was overwritten by its pod: %s", st)
	}
}

// taskState is a task instance's state.
func (s *site) taskState(dagID, runID, taskID string) string {
	out, _, _ := s.run("tasks", "state", dagID, runID, taskID)
	return strings.TrimSpace(out)
}

// TestMarkAndClearOfAWorkerPodTry: `tasks mark ... failed` of a try
// running in a pod stops it there and deletes its pod, though failed pods
// are otherwise kept, and the pod's `tasks run` does not overwrite the
// mark; `tasks mark ... success` likewise; a cleared try's pod is deleted
// and the task runs again.
func TestMarkAndClearOfAWorkerPodTry(t *testing.T) {
	flag := filepath.Join(t.TempDir(), "go")
	body := fmt.Sprintf(`    operator: bash
    command: echo started; while [ ! -e %s ]; do sleep 0.1; done; echo finished
`, flag)
	s := newKubeSite(t, "kubernetes", map[string]string{"marks.yaml": "dag_id: marks\ntasks:\n" +
		"  - id: to_fail\n" + body + "  - id: to_succeed\n" + body + "  - id: to_clear\n" + body}, "")
	srv := s.startServer()
	defer func() {
		if t.Failed() {
			t.Logf("standalone's log:\n%s", srv.log)
		}
	}()
	s.mustRun("dags", "trigger", "marks", "--run-id", "r1")
	tasks := []string{"to_fail", "to_succeed", "to_clear"}
	for _, task := range tasks {
		s.waitLog("marks", "r1", task, 1, "started")
	}
	first := map[string]string{}
	for _, task := range tasks {
		pods := podsOf(t, s.k, s.ns, "marks", task)
		if len(pods) != 1 {
			t.Fatalf("%s has %d pods, want 1", task, len(pods))
		}
		first[task] = pods[0].Name
	}
	s.mustRun("tasks", "mark", "marks", "r1", "to_fail", "failed")
	s.mustRun("tasks", "mark", "marks", "r1", "to_succeed", "success")
	s.mustRun("tasks", "clear", "marks", "r1", "-t", "to_clear")
	testenv.Eventually(t, "the pods of the marked and cleared tries deleted", time.Minute, func() (bool, string) {
		var left []string
		for _, p := range s.k.Pods(t, s.ns, "kubernetes_executor=True,dag_id=marks") {
			for task, name := range first {
				if p.Name == name {
					left = append(left, task+": "+p.Name+" "+string(p.Status.Phase))
				}
			}
		}
		return len(left) == 0, strings.Join(left, ", ")
	})
	s.kl.waitExited(first["to_fail"], first["to_succeed"], first["to_clear"])
	writeFile(t, flag, "")
	s.waitRunState("marks", "r1", "failed", 2*time.Minute)
	s.waitLog("marks", "r1", "to_clear", 2, "finished", "task succeeded")
	for task, want := range map[string]string{"to_fail": "failed", "to_succeed": "success", "to_clear": "success"} {
		if st := s.taskState("marks", "r1", task); st != want {
			t.Errorf("%s is %s, want %s", task, st, want)
		}
	}
	for _, task := range []string{"to_fail", "to_succeed"} {
		if log := s.mustRun("tasks", "logs", "marks", "r1", task); strings.Contains(log, "finished") {
			t.Errorf("%s's try went on after the mark:\n%s", task, log)
		}
	}
}

// TestWorkerPodSurvivesAPIServerRestart: the apiserver restarts while a
// try runs in its pod; the watch and the log follower resume, the try
// ends right and each of the pod's lines is in its log once.
func TestWorkerPodSurvivesAPIServerRestart(t *testing.T) {
	flag := filepath.Join(t.TempDir(), "go")
	s := newKubeSite(t, "kubernetes", map[string]string{"survive.yaml": fmt.Sprintf(`dag_id: survive
tasks:
  - id: slow
    operator: bash
    command: echo before; while [ ! -e %s ]; do sleep 0.1; done; echo after
`, flag)}, "")
	srv := s.startServer()
	defer func() {
		if t.Failed() {
			t.Logf("standalone's log:\n%s", srv.log)
		}
	}()
	s.mustRun("dags", "trigger", "survive", "--run-id", "r1")
	s.waitLog("survive", "r1", "slow", 1, "] before\n")
	s.k.RestartAPIServer(t)
	writeFile(t, flag, "")
	s.waitRunSuccess("survive", "r1", 2*time.Minute)
	log := s.waitLog("survive", "r1", "slow", 1, "] after\n", "task succeeded")
	for _, line := range []string{"] before\n", "] after\n"} {
		if n := strings.Count(log, line); n != 1 {
			t.Errorf("%q is %d times in the try's log:\n%s", line, n, log)
		}
	}
	if pods := podsOf(t, s.k, s.ns, "survive", "slow"); len(pods) > 1 {
		t.Errorf("%d worker pods for one try", len(pods))
	}
}

// TestLocalKubernetesKeepsEachExecutorsSlots: under local_kubernetes with
// parallelism 1, two local tasks never run at once (each holds a lock
// directory the other would fail to take), though the Kubernetes
// executor's slot is free; the pod task runs beside them.
func TestLocalKubernetesKeepsEachExecutorsSlots(t *testing.T) {
	dir := t.TempDir()
	flag := filepath.Join(dir, "go")
	local := fmt.Sprintf(`    operator: bash
    command: mkdir %[1]s/lock || { echo "another local try runs"; exit 1; }; while [ ! -e %[2]s ]; do sleep 0.1; done; rmdir %[1]s/lock
`, dir, flag)
	s := newKubeSite(t, "local_kubernetes", map[string]string{"lanes.yaml": "dag_id: lanes\ntasks:\n" +
		"  - id: one\n" + local + "  - id: two\n" + local +
		"  - id: pod\n    operator: bash\n    queue: kubernetes\n    command: echo in a pod\n"}, "")
	s.extraEnv = append(s.extraEnv, "SIROCCO_PARALLELISM=1")
	srv := s.startServer()
	defer func() {
		if t.Failed() {
			t.Logf("standalone's log:\n%s", srv.log)
		}
	}()
	s.mustRun("dags", "trigger", "lanes", "--run-id", "r1")
	s.waitLog("lanes", "r1", "pod", 1, "in a pod", "task succeeded")
	testenv.Eventually(t, "one local try running", time.Minute, func() (bool, string) {
		_, err := os.Stat(filepath.Join(dir, "lock"))
		return err == nil, fmt.Sprint(err)
	})
	writeFile(t, flag, "")
	s.waitRunSuccess("lanes", "r1", 2*time.Minute)
}

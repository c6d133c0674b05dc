package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/sirocco-dev/sirocco/internal/testenv"
)

// testKubelet stands in for a kubelet on the test bed's fake node, which
// runs no containers (kwok only moves pods through their phases): it
// watches the worker pods of a namespace and, for each one Running with
// the hold annotation (set by the test's pod template), runs the pod's
// command as a local process, argv and environment taken from the pod's
// worker container ("sirocco" is the binary under test, against the same
// PostgreSQL store). The process's output becomes the container's log
// through a kwok ClusterLogs matching that pod alone, written in the CRI
// format; when it exits, the pod is patched so that kwok ends it with the
// process's exit code. This is the closest real thing to a worker pod
// here: the apiserver, the scheduler, the pod's spec, its phases, its log
// through pods/log and its exit code are all real.
type testKubelet struct {
	t     *testing.T
	k     *testenv.Kube
	ns    string
	dir   string
	dyn   dynamic.Interface
	mu    sync.Mutex
	seen  map[string]bool
	procs map[string]*exec.Cmd
	// terminated are the pods whose process was sent SIGTERM.
	terminated map[string]bool
	// exited are the pods whose process has exited (or never ran).
	exited map[string]bool
	wg     sync.WaitGroup
	cancel context.CancelFunc
	// exitWithout, when it returns true for a pod, ends the pod with
	// code 3 without running anything (a pod that fails before its try
	// could record an outcome).
	exitWithout func(*corev1.Pod) bool
}

var clusterLogs = schema.GroupVersionResource{Group: "kwok.x-k8s.io", Version: "v1alpha1", Resource: "clusterlogs"}

// startKubelet starts the test kubelet for namespace ns; it stops (its
// processes killed) at the test's cleanup.
func startKubelet(t *testing.T, k *testenv.Kube, ns string) *testKubelet {
	t.Helper()
	rc, err := clientcmd.BuildConfigFromFlags("", k.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	dyn, err := dynamic.NewForConfig(rc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	kl := &testKubelet{t: t, k: k, ns: ns, dir: t.TempDir(), dyn: dyn, seen: map[string]bool{}, procs: map[string]*exec.Cmd{},
		terminated: map[string]bool{}, exited: map[string]bool{}, cancel: cancel}
	kl.wg.Go(func() { kl.watch(ctx) })
	t.Cleanup(kl.stop)
	return kl
}

func (kl *testKubelet) stop() {
	kl.cancel()
	kl.mu.Lock()
	for _, c := range kl.procs {
		_ = c.Process.Kill()
	}
	kl.mu.Unlock()
	kl.wg.Wait()
}

// watch runs the pods that reach Running, until ctx ends.
func (kl *testKubelet) watch(ctx context.Context) {
	for ctx.Err() == nil {
		w, err := kl.k.Client.CoreV1().Pods(kl.ns).Watch(ctx, metav1.ListOptions{})
		if err != nil {
			time.Sleep(100 * time.Millisecond)
			continue
		}
		for ev := range w.ResultChan() {
			pod, ok := ev.Object.(*corev1.Pod)
			if ok && (ev.Type == watch.Deleted || pod.DeletionTimestamp != nil) {
				kl.terminate(pod.Name)
				continue
			}
			if !ok || pod.Status.Phase != corev1.PodRunning || pod.Annotations[testenv.KubeHoldAnnotation] != "true" {
				continue
			}
			kl.mu.Lock()
			seen := kl.seen[pod.Name]
			kl.seen[pod.Name] = true
			kl.mu.Unlock()
			if !seen {
				kl.wg.Go(func() { kl.run(ctx, pod.DeepCopy()) })
			}
		}
		w.Stop()
	}
}

// terminate sends SIGTERM to the process of a pod being deleted, as a
// kubelet stops a deleted pod's containers.
func (kl *testKubelet) terminate(pod string) {
	kl.mu.Lock()
	defer kl.mu.Unlock()
	if c := kl.procs[pod]; c != nil && !kl.terminated[pod] {
		kl.terminated[pod] = true
		_ = c.Process.Signal(syscall.SIGTERM)
	}
}

// run runs one pod's command and ends the pod with its exit code.
func (kl *testKubelet) run(ctx context.Context, pod *corev1.Pod) {
	code := 3
	if kl.exitWithout == nil || !kl.exitWithout(pod) {
		code = kl.exec(ctx, pod)
	}
	kl.mu.Lock()
	kl.exited[pod.Name] = true
	kl.mu.Unlock()
	if ctx.Err() != nil {
		return
	}
	patch := fmt.Sprintf(`{"metadata":{"annotations":{%q:"false",%q:"%d",%q:"1ms"}}}`,
		testenv.KubeHoldAnnotation, testenv.KubeExitCodeAnnotation, code, testenv.KubeRunForAnnotation)
	_, err := kl.k.Client.CoreV1().Pods(kl.ns).Patch(ctx, pod.Name, types.MergePatchType, []byte(patch), metav1.PatchOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		kl.t.Errorf("test kubelet: end pod %s: %v", pod.Name, err)
	}
}

// exec runs the pod's worker container as a process and returns its exit
// code; its output is the container's log.
func (kl *testKubelet) exec(ctx context.Context, pod *corev1.Pod) int {
	ctr := pod.Spec.Containers[0]
	argv := append(append([]string{}, ctr.Command...), ctr.Args...)
	if len(argv) == 0 || argv[0] != "sirocco" {
		kl.t.Errorf("test kubelet: pod %s runs %q, want sirocco", pod.Name, argv)
		return 127
	}
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	for _, e := range ctr.Env {
		v, err := kl.envValue(ctx, e)
		if err != nil {
			kl.t.Errorf("test kubelet: pod %s: env %s: %v", pod.Name, e.Name, err)
			continue
		}
		env = append(env, e.Name+"="+v)
	}
	logFile := filepath.Join(kl.dir, pod.Name+".cri.log")
	out, err := os.Create(logFile)
	if err != nil {
		kl.t.Errorf("test kubelet: %v", err)
		return 127
	}
	defer out.Close()
	kl.serveLog(ctx, pod.Name, logFile)
	cmd := exec.Command(binary, argv[1:]...)
	cmd.Env = env
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64*1024), 1024*1024)
		for sc.Scan() {
			fmt.Fprintf(out, "%s stdout F %s\n", time.Now().UTC().Format(time.RFC3339Nano), sc.Text())
		}
	}()
	kl.mu.Lock()
	if err := cmd.Start(); err != nil {
		kl.mu.Unlock()
		kl.t.Errorf("test kubelet: start pod %s: %v", pod.Name, err)
		return 127
	}
	kl.procs[pod.Name] = cmd
	kl.mu.Unlock()
	err = cmd.Wait()
	pw.Close()
	<-copied
	kl.mu.Lock()
	delete(kl.procs, pod.Name)
	kl.mu.Unlock()
	if cmd.ProcessState != nil {
		return cmd.ProcessState.ExitCode()
	}
	kl.t.Logf("test kubelet: pod %s: %v", pod.Name, err)
	return 127
}

// envValue is a variable's value, read from its Secret as a kubelet does
// for secretKeyRef; other sources are not resolved here.
func (kl *testKubelet) envValue(ctx context.Context, e corev1.EnvVar) (string, error) {
	if e.ValueFrom == nil {
		return e.Value, nil
	}
	ref := e.ValueFrom.SecretKeyRef
	if ref == nil {
		return "", fmt.Errorf("a source the test kubelet does not resolve: %+v", e.ValueFrom)
	}
	sec, err := kl.k.Client.CoreV1().Secrets(kl.ns).Get(ctx, ref.Name, metav1.GetOptions{})
	if err != nil {
		return "", err
	}
	v, ok := sec.Data[ref.Key]
	if !ok {
		return "", fmt.Errorf("secret %s has no key %s", ref.Name, ref.Key)
	}
	return string(v), nil
}

// serveLog has kwok serve file as the log of pod's containers (a
// ClusterLogs matching that pod alone), removed at cleanup.
func (kl *testKubelet) serveLog(ctx context.Context, pod, file string) {
	obj := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "kwok.x-k8s.io/v1alpha1", "kind": "ClusterLogs",
		"metadata": map[string]any{"name": "worker-" + pod},
		"spec": map[string]any{
			"selector": map[string]any{"matchNamespaces": []any{kl.ns}, "matchNames": []any{pod}},
			"logs":     []any{map[string]any{"logsFile": file, "follow": true}},
		},
	}}
	res := kl.dyn.Resource(clusterLogs)
	if _, err := res.Create(ctx, obj, metav1.CreateOptions{}); err != nil {
		kl.t.Errorf("test kubelet: serve the log of %s: %v", pod, err)
		return
	}
	kl.t.Cleanup(func() { _ = res.Delete(context.Background(), "worker-"+pod, metav1.DeleteOptions{}) })
}

// waitExited waits until the test kubelet has run each named pod's
// process and it has exited.
func (kl *testKubelet) waitExited(pods ...string) {
	kl.t.Helper()
	testenv.Eventually(kl.t, fmt.Sprintf("the processes of pods %v to exit", pods), time.Minute, func() (bool, string) {
		kl.mu.Lock()
		defer kl.mu.Unlock()
		for _, p := range pods {
			if !kl.exited[p] {
				return false, "still running or not started: " + p
			}
		}
		return true, ""
	})
}

// podsSeen lists the pods the test kubelet ran whose name starts with
// prefix.
func podsSeen(kl *testKubelet, prefix string) []string {
	kl.mu.Lock()
	defer kl.mu.Unlock()
	var out []string
	for p := range kl.seen {
		if strings.HasPrefix(p, prefix) {
			out = append(out, p)
		}
	}
	return out
}

// logTime is the time the container log of pod holds line at.
func (kl *testKubelet) logTime(pod, line string) time.Time {
	kl.t.Helper()
	b, err := os.ReadFile(filepath.Join(kl.dir, pod+".cri.log"))
	if err != nil {
		kl.t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		stamp, rest, _ := strings.Cut(l, " stdout F ")
		if strings.HasSuffix(rest, "] "+line) || rest == line {
			ts, err := time.Parse(time.RFC3339Nano, stamp)
			if err != nil {
				kl.t.Fatal(err)
			}
			return ts
		}
	}
	kl.t.Fatalf("no line %q in the log of %s:\n%s", line, pod, b)
	return time.Time{}
}

// taskOf is the task id of a worker pod (its annotation).
func taskOf(pod *corev1.Pod) string { return pod.Annotations["sirocco.dev/task-id"] }

// podsOf lists the worker pods of a task.
func podsOf(t *testing.T, k *testenv.Kube, ns, dagID, taskID string) []corev1.Pod {
	var out []corev1.Pod
	for _, p := range k.Pods(t, ns, "kubernetes_executor=True,dag_id="+dagID) {
		if taskOf(&p) == taskID {
			out = append(out, p)
		}
	}
	return out
}

func containsAll(s string, parts ...string) (bool, string) {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false, p
		}
	}
	return true, ""
}

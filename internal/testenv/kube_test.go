package testenv

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/kubebed"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"
	watchtools "k8s.io/client-go/tools/watch"
)

// kubeWait bounds a wait on the test bed; generous, for loaded CI machines.
const kubeWait = 60 * time.Second

// TestKube runs the bed's contract against one control plane, then checks
// that its cleanup left no component running.
func TestKube(t *testing.T) {
	var pids map[string]int
	t.Run("bed", func(t *testing.T) {
		k := StartKube(t)
		pids = k.pids()
		t.Run("version", func(t *testing.T) { testKubeVersion(t, k) })
		t.Run("kubeconfig", func(t *testing.T) { testKubeconfig(t, k) })
		t.Run("node", func(t *testing.T) { testKubeNode(t, k) })
		t.Run("pods", func(t *testing.T) { testKubePods(t, k) })
		t.Run("hold and delete", func(t *testing.T) { testKubeHoldDelete(t, k) })
		t.Run("unschedulable", func(t *testing.T) { testKubeUnschedulable(t, k) })
		t.Run("logs", func(t *testing.T) { testKubeLogs(t, k) })
		t.Run("restart apiserver", func(t *testing.T) { testKubeRestart(t, k) })
	})
	if len(pids) != len(kubebed.Components) {
		t.Fatalf("components started: %v, want %v", pids, kubebed.Components)
	}
	for name, pid := range pids {
		if Alive(pid) {
			t.Errorf("%s is still running after the cleanup: %s", name, ProcessState(pid))
		}
	}
}

func testKubeVersion(t *testing.T, k *Kube) {
	v, err := k.Client.Discovery().ServerVersion()
	if err != nil {
		t.Fatal(err)
	}
	if v.GitVersion != KubeVersion {
		t.Errorf("/version says %q, want %q", v.GitVersion, KubeVersion)
	}
	if k.Server != "https://127.0.0.1:"+fmt.Sprint(k.bed.Ports().APIServer) {
		t.Errorf("Server = %q", k.Server)
	}
}

// testKubeconfig: the file holds the CA and the token, nothing pointing
// into the bed's directory, so it can be copied or inlined.
func testKubeconfig(t *testing.T, k *Kube) {
	b, err := os.ReadFile(k.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{k.Server, "certificate-authority-data:", "token: " + k.bed.Token(), "current-context: sirocco-test"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("kubeconfig lacks %q:\n%s", want, b)
		}
	}
}

// testKubeNode: the fake node has the contract's labels and resources,
// and kwok's port as its kubelet endpoint.
func testKubeNode(t *testing.T, k *Kube) {
	n, err := k.Client.CoreV1().Nodes().Get(t.Context(), "kwok-node-0", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if n.Labels["kubernetes.io/hostname"] != "kwok-node-0" || n.Labels["type"] != "kwok" {
		t.Errorf("labels %v", n.Labels)
	}
	a := n.Status.Allocatable
	if a.Cpu().String() != "32" || a.Memory().String() != "256Gi" || a.Pods().String() != "110" {
		t.Errorf("allocatable %v", a)
	}
	if len(n.Spec.Taints) != 0 {
		t.Errorf("taints %v", n.Spec.Taints)
	}
	if port := n.Status.DaemonEndpoints.KubeletEndpoint.Port; int(port) != k.bed.Ports().Kwok {
		t.Errorf("kubelet port %d, kwok serves on %d", port, k.bed.Ports().Kwok)
	}
}

// kubePod is a one-container pod with annotations.
func kubePod(name string, annotations map[string]string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: annotations, Labels: map[string]string{"test": name}},
		Spec: corev1.PodSpec{
			RestartPolicy: corev1.RestartPolicyNever,
			Containers:    []corev1.Container{{Name: "main", Image: "busybox"}},
		},
	}
}

func createPod(t *testing.T, k *Kube, ns string, pod *corev1.Pod) {
	t.Helper()
	if _, err := k.Client.CoreV1().Pods(ns).Create(t.Context(), pod, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create pod %s: %v", pod.Name, err)
	}
}

// waitPod watches pod ns/name until cond holds, and returns it.
func waitPod(t *testing.T, k *Kube, ns, name, what string, cond func(*corev1.Pod) bool) *corev1.Pod {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), kubeWait)
	defer cancel()
	sel := fields.OneTermEqualSelector("metadata.name", name).String()
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			o.FieldSelector = sel
			return k.Client.CoreV1().Pods(ns).List(ctx, o)
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			o.FieldSelector = sel
			return k.Client.CoreV1().Pods(ns).Watch(ctx, o)
		},
	}
	var last *corev1.Pod
	ev, err := watchtools.UntilWithSync(ctx, lw, &corev1.Pod{}, nil, func(e watch.Event) (bool, error) {
		if p, ok := e.Object.(*corev1.Pod); ok {
			last = p
			return e.Type != watch.Deleted && cond(p), nil
		}
		return false, nil
	})
	if err != nil {
		t.Fatalf("pod %s/%s: waiting for %s: %v; last seen: %s", ns, name, what, err, describePod(last))
	}
	return ev.Object.(*corev1.Pod)
}

// describePod summarises a pod's status for failure messages.
func describePod(p *corev1.Pod) string {
	if p == nil {
		return "(nothing)"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "phase %s node %q", p.Status.Phase, p.Spec.NodeName)
	for _, c := range p.Status.ContainerStatuses {
		fmt.Fprintf(&b, "; %s: %+v", c.Name, c.State)
	}
	return b.String()
}

func terminated(p *corev1.Pod) bool {
	return p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed
}

// testKubePods: each annotation leads to its phase, exit code and reason.
func testKubePods(t *testing.T, k *Kube) {
	ns := k.Namespace(t)
	for _, c := range []struct {
		name        string
		annotations map[string]string
		phase       corev1.PodPhase
		exitCode    int32
		reason      string
		minRun      time.Duration
	}{
		{"plain", nil, corev1.PodSucceeded, 0, "Completed", 0},
		{"exit-code-0", map[string]string{KubeExitCodeAnnotation: "0"}, corev1.PodSucceeded, 0, "Completed", 0},
		{"exit-code-3", map[string]string{KubeExitCodeAnnotation: "3"}, corev1.PodFailed, 3, "Error", 0},
		{"run-for-2s", map[string]string{KubeRunForAnnotation: "2s"}, corev1.PodSucceeded, 0, "Completed", 2 * time.Second},
		{"run-for-and-fail", map[string]string{KubeRunForAnnotation: "1s", KubeExitCodeAnnotation: "137"}, corev1.PodFailed, 137, "Error", time.Second},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			created := time.Now()
			createPod(t, k, ns, kubePod(c.name, c.annotations))
			waitPod(t, k, ns, c.name, "Running", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodRunning || terminated(p) })
			p := waitPod(t, k, ns, c.name, "the end", terminated)
			if took := time.Since(created); took < c.minRun {
				t.Errorf("ended %s after creation, want at least %s", took, c.minRun)
			}
			if p.Status.Phase != c.phase || len(p.Status.ContainerStatuses) != 1 {
				t.Fatalf("got %s, want phase %s", describePod(p), c.phase)
			}
			term := p.Status.ContainerStatuses[0].State.Terminated
			if term == nil || term.ExitCode != c.exitCode || term.Reason != c.reason {
				t.Errorf("container state %+v, want exit code %d reason %q", p.Status.ContainerStatuses[0].State, c.exitCode, c.reason)
			}
			if term != nil && (term.StartedAt.IsZero() || term.FinishedAt.Before(&term.StartedAt)) {
				t.Errorf("container ran from %s to %s", term.StartedAt, term.FinishedAt)
			}
		})
	}
	t.Run("waiting-reason", func(t *testing.T) {
		t.Parallel()
		for _, reason := range []string{"ErrImagePull", "ImagePullBackOff"} {
			name := "waiting-" + strings.ToLower(reason)
			createPod(t, k, ns, kubePod(name, map[string]string{KubeWaitingReasonAnnotation: reason}))
			p := waitPod(t, k, ns, name, "a waiting container", func(p *corev1.Pod) bool {
				return len(p.Status.ContainerStatuses) == 1 && p.Status.ContainerStatuses[0].State.Waiting != nil
			})
			w := p.Status.ContainerStatuses[0].State.Waiting
			if p.Status.Phase != corev1.PodPending || w.Reason != reason || w.Message != reason+" (kwok test bed)" {
				t.Errorf("phase %s, waiting %+v; want Pending, %s", p.Status.Phase, w, reason)
			}
		}
	})
}

// testKubeHoldDelete: a held pod outlives a plain pod created with it, and
// deleting it with the default grace removes it.
func testKubeHoldDelete(t *testing.T, k *Kube) {
	ns := k.Namespace(t)
	createPod(t, k, ns, kubePod("held", map[string]string{KubeHoldAnnotation: "true"}))
	createPod(t, k, ns, kubePod("clock", map[string]string{KubeRunForAnnotation: "500ms"}))
	waitPod(t, k, ns, "held", "Running", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodRunning })
	waitPod(t, k, ns, "clock", "the end", terminated)
	if p, err := k.Client.CoreV1().Pods(ns).Get(t.Context(), "held", metav1.GetOptions{}); err != nil || p.Status.Phase != corev1.PodRunning {
		t.Fatalf("held pod after a 500ms pod ended: %s, %v", describePod(p), err)
	}
	if err := k.Client.CoreV1().Pods(ns).Delete(t.Context(), "held", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	Eventually(t, "the held pod to be removed", kubeWait, func() (bool, string) {
		pods := k.Pods(t, ns, "test=held")
		if len(pods) == 0 {
			return true, ""
		}
		return false, describePod(&pods[0])
	})
}

// testKubeUnschedulable: a pod no node fits stays Pending and the
// scheduler records FailedScheduling.
func testKubeUnschedulable(t *testing.T, k *Kube) {
	ns := k.Namespace(t)
	pod := kubePod("nowhere", nil)
	pod.Spec.NodeSelector = map[string]string{"type": "no-such-node"}
	createPod(t, k, ns, pod)
	ctx, cancel := context.WithTimeout(t.Context(), kubeWait)
	defer cancel()
	sel := fields.Set{"involvedObject.name": "nowhere", "reason": "FailedScheduling"}.AsSelector().String()
	w, err := k.Client.CoreV1().Events(ns).Watch(ctx, metav1.ListOptions{FieldSelector: sel})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	var ev *corev1.Event
	for e := range w.ResultChan() {
		if x, ok := e.Object.(*corev1.Event); ok {
			ev = x
			break
		}
	}
	if ev == nil {
		t.Fatalf("no FailedScheduling event for the pod: %v", ctx.Err())
	}
	if !strings.Contains(ev.Message, "node(s) didn't match") {
		t.Errorf("event message %q", ev.Message)
	}
	p := k.Pods(t, ns, "test=nowhere")
	if len(p) != 1 || p[0].Status.Phase != corev1.PodPending || p[0].Spec.NodeName != "" {
		t.Errorf("pod %+v", p)
	}
}

// testKubeLogs: the apiserver serves a file as every container's log, and
// a follower sees lines appended later.
func testKubeLogs(t *testing.T, k *Kube) {
	ns := k.Namespace(t)
	file := filepath.Join(t.TempDir(), "out.log")
	if err := os.WriteFile(file, []byte("line one\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	k.ServeLogs(t, ns, file)
	pod := kubePod("talker", map[string]string{KubeHoldAnnotation: "true"})
	pod.Spec.Containers = append(pod.Spec.Containers, corev1.Container{Name: "side", Image: "busybox"})
	createPod(t, k, ns, pod)
	waitPod(t, k, ns, "talker", "Running", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodRunning })

	for _, container := range []string{"main", "side"} {
		b, err := k.Client.CoreV1().Pods(ns).GetLogs("talker", &corev1.PodLogOptions{Container: container}).DoRaw(t.Context())
		if err != nil || string(b) != "line one\n" {
			t.Fatalf("logs of %s: %q, %v", container, b, err)
		}
	}

	ctx, cancel := context.WithTimeout(t.Context(), kubeWait)
	defer cancel()
	stream, err := k.Client.CoreV1().Pods(ns).GetLogs("talker", &corev1.PodLogOptions{Container: "main", Follow: true}).Stream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Close()
	r := bufio.NewReader(stream)
	if line, err := r.ReadString('\n'); err != nil || line != "line one\n" {
		t.Fatalf("first followed line %q, %v", line, err)
	}
	f, err := os.OpenFile(file, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("line two\n"); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if line, err := r.ReadString('\n'); err != nil || line != "line two\n" {
		t.Fatalf("appended line %q, %v", line, err)
	}
}

// testKubeRestart: after a restart of the apiserver the client, the
// scheduler and kwok all work again: a new pod runs to its end.
func testKubeRestart(t *testing.T, k *Kube) {
	ns := k.Namespace(t)
	before := k.pids()[kubebed.APIServer]
	k.RestartAPIServer(t)
	if after := k.pids()[kubebed.APIServer]; after == before || Alive(before) {
		t.Errorf("apiserver pid %d -> %d (old one %s)", before, after, ProcessState(before))
	}
	createPod(t, k, ns, kubePod("after-restart", nil))
	p := waitPod(t, k, ns, "after-restart", "the end", terminated)
	if p.Status.Phase != corev1.PodSucceeded {
		t.Errorf("after restart: %s", describePod(p))
	}
}

// TestKubeMissingBinaries: without the binaries StartKube skips, or fails
// under CI=true, naming the install command.
func TestKubeMissingBinaries(t *testing.T) {
	t.Setenv("SIROCCO_K8S_BIN", t.TempDir())
	_, err := findKube()
	if !errors.Is(err, ErrNotInstalled) || !strings.Contains(err.Error(), "scripts/k8s.sh install") {
		t.Fatalf("findKube: %v", err)
	}
	for _, ci := range []string{"", "true"} {
		t.Setenv("CI", ci)
		f := &fakeTB{}
		if k := StartKube(f); k != nil {
			t.Fatalf("CI=%q: StartKube returned a bed", ci)
		}
		if (f.skipped != "") == (ci == "true") || (f.failed != "") != (ci == "true") {
			t.Errorf("CI=%q: skipped %q failed %q", ci, f.skipped, f.failed)
		}
	}
}

// TestCopyLines: complete lines become CRI log lines; a partial line waits
// for its newline.
func TestCopyLines(t *testing.T) {
	var out bytes.Buffer
	rest, err := copyLines(strings.NewReader("a\nb c\npart"), &out, nil)
	if err != nil {
		t.Fatal(err)
	}
	rest, err = copyLines(strings.NewReader("ial\n"), &out, rest)
	if err != nil || len(rest) != 0 {
		t.Fatalf("rest %q, %v", rest, err)
	}
	var got []string
	for _, line := range strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n") {
		ts, msg, ok := strings.Cut(line, " stdout F ")
		if _, perr := time.Parse(time.RFC3339Nano, ts); !ok || perr != nil {
			t.Errorf("not a CRI log line: %q", line)
		}
		got = append(got, msg)
	}
	if strings.Join(got, "|") != "a|b c|partial" {
		t.Errorf("lines %q", got)
	}
	_, err = copyLines(errReader{}, &out, nil)
	if err == nil {
		t.Error("a read error was not reported")
	}
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, io.ErrUnexpectedEOF }

// FuzzCopyLines: whatever the bytes and however they arrive, the CRI lines
// written carry exactly the input's complete lines, in order, and the
// rest is the unfinished last line.
func FuzzCopyLines(f *testing.F) {
	f.Add([]byte("a\nb\n"), uint(1))
	f.Add([]byte("no newline"), uint(3))
	f.Add([]byte("\n\n\r\n stdout F x\n"), uint(2))
	f.Fuzz(func(t *testing.T, data []byte, split uint) {
		cut := int(split % uint(len(data)+1))
		var out bytes.Buffer
		rest, err := copyLines(bytes.NewReader(data[:cut]), &out, nil)
		if err != nil {
			t.Fatal(err)
		}
		if rest, err = copyLines(bytes.NewReader(data[cut:]), &out, rest); err != nil {
			t.Fatal(err)
		}
		var msgs []byte
		for _, line := range bytes.SplitAfter(out.Bytes(), []byte("\n")) {
			if len(line) == 0 {
				continue
			}
			ts, msg, ok := bytes.Cut(line, []byte(" stdout F "))
			if _, perr := time.Parse(time.RFC3339Nano, string(ts)); !ok || perr != nil || !bytes.HasSuffix(msg, []byte("\n")) {
				t.Fatalf("not a CRI log line: %q", line)
			}
			msgs = append(msgs, msg...)
		}
		if got := append(msgs, rest...); !bytes.Equal(got, data) {
			t.Fatalf("lines %q + rest %q, want %q", msgs, rest, data)
		}
	})
}

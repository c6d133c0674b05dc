package testenv

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/kubebed"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// Kubernetes test bed for tests: internal/kubebed runs the control plane
// (also for `scripts/k8s.sh up`); this file ties it to a test's lifetime.

const (
	// KubeRunForAnnotation is how long a pod stays Running before its
	// containers terminate (a Go duration; default 100ms).
	KubeRunForAnnotation = kubebed.RunForAnnotation
	// KubeExitCodeAnnotation is the exit code every container ends with
	// (default 0): the pod Succeeds with 0 and Fails ("Error") otherwise.
	KubeExitCodeAnnotation = kubebed.ExitCodeAnnotation
	// KubeHoldAnnotation set to "true" keeps the pod Running until deleted.
	KubeHoldAnnotation = kubebed.HoldAnnotation
	// KubeWaitingReasonAnnotation keeps the containers Waiting (the pod
	// Pending) with this reason, e.g. ErrImagePull, and the message
	// "<reason> (kwok test bed)".
	KubeWaitingReasonAnnotation = kubebed.WaitingReasonAnnotation

	// KubeVersion is the version of the Kubernetes control plane the test
	// bed runs (tools/k8s/go.mod), which /version reports.
	KubeVersion = kubebed.Version

	// kubeRequestTimeout bounds one set-up request to the apiserver.
	kubeRequestTimeout = 30 * time.Second

	kubeDirPrefix = "sirocco-kube-"
)

// Kube is a running Kubernetes control plane for one test: etcd,
// kube-apiserver, kube-scheduler and kwok faking one node, all on
// 127.0.0.1 and stopped by the test's cleanup.
type Kube struct {
	// Kubeconfig is an admin kubeconfig (token auth, the CA inline),
	// usable by client-go and by Sirocco's kubernetes connections.
	Kubeconfig string
	// Server is the apiserver's URL, https://127.0.0.1:PORT.
	Server string
	// Client is an admin clientset.
	Client kubernetes.Interface

	bed    *kubebed.Bed
	logsMu sync.Mutex
	logs   int // ClusterLogs made by ServeLogs, for unique names
}

// StartKube starts etcd, kube-apiserver, kube-scheduler and kwok (one
// fake node, kwok-node-0) on loopback free ports, all stopped at
// t.Cleanup; the returned control plane is ready: the apiserver answers
// /readyz, the scheduler is ready, the node is Ready and the `default`
// ServiceAccount of namespace default exists. The binaries come from
// SIROCCO_K8S_BIN, or the directory `scripts/k8s.sh bin` names (built by
// `scripts/k8s.sh install`); without them t is skipped, or failed under
// CI=true. When the test fails, the end of every component's log is
// logged.
func StartKube(t testing.TB) *Kube {
	t.Helper()
	bins, err := findKube()
	if err != nil {
		RequireCI(t, "Kubernetes test bed (scripts/k8s.sh install)", err)
		return nil
	}
	removeStaleOwnedDirs(kubeDirPrefix)
	dir, err := newOwnedDir(kubeDirPrefix)
	if err != nil {
		t.Fatalf("testenv: StartKube: %v", err)
	}
	start := time.Now()
	bed, err := kubebed.Start(context.Background(), kubebed.Options{Bin: bins, Dir: dir})
	if err != nil {
		os.RemoveAll(dir)
		t.Fatalf("testenv: StartKube: %v", err)
	}
	k := &Kube{Kubeconfig: bed.Kubeconfig, Server: bed.Server, Client: bed.Client, bed: bed}
	t.Cleanup(func() { k.cleanup(t) })
	t.Logf("testenv: Kubernetes %s control plane at %s ready in %s", KubeVersion, k.Server, time.Since(start).Round(time.Millisecond))
	return k
}

// findKube locates the binaries: SIROCCO_K8S_BIN, else the cache directory
// scripts/k8s.sh names.
func findKube() (kubebed.Binaries, error) {
	dir := os.Getenv("SIROCCO_K8S_BIN")
	if dir == "" {
		script, err := repoFile("scripts/k8s.sh")
		if err != nil {
			return kubebed.Binaries{}, fmt.Errorf("kubernetes binaries %w: SIROCCO_K8S_BIN is unset and %w", ErrNotInstalled, err)
		}
		out, err := exec.Command(script, "bin").Output()
		if err != nil {
			return kubebed.Binaries{}, fmt.Errorf("%s bin: %w", script, err)
		}
		dir = strings.TrimSpace(string(out))
	}
	b, err := kubebed.FindBinaries(dir)
	if err != nil {
		return b, fmt.Errorf("%w (%w)", ErrNotInstalled, err)
	}
	return b, nil
}

// cleanup stops the components newest first, logs their logs' ends when
// the test failed, and removes the directory.
func (k *Kube) cleanup(t testing.TB) {
	err := k.bed.Stop()
	if t.Failed() {
		logs := k.bed.Logs()
		for _, name := range kubebed.Components {
			if log, ok := logs[name]; ok {
				t.Logf("testenv: the end of %s's log (%s):\n%s", name, log, kubebed.Tail(log))
			}
		}
	}
	if err == nil {
		err = os.RemoveAll(k.bed.Dir)
	}
	if err != nil {
		t.Errorf("testenv: stop Kubernetes test bed: %v", err)
	}
}

// pids returns the process ids of the running components, for tests that
// check nothing outlives the bed.
func (k *Kube) pids() map[string]int { return k.bed.PIDs() }

// RestartAPIServer stops kube-apiserver (SIGTERM, as an operator's restart
// would) and starts it again on the same port, returning once /readyz is
// ok; clients see their connections and watches end meanwhile.
func (k *Kube) RestartAPIServer(t testing.TB) {
	t.Helper()
	if err := k.bed.RestartAPIServer(context.Background()); err != nil {
		t.Fatalf("testenv: RestartAPIServer: %v", err)
	}
}

// namespaceUnsafe matches what a namespace name cannot hold.
var namespaceUnsafe = regexp.MustCompile(`[^a-z0-9-]+`)

// Namespace creates a fresh namespace named after the test, with its
// `default` ServiceAccount (which pods need, there being no
// kube-controller-manager), and deletes its pods and itself at cleanup.
// Without kube-controller-manager a deleted namespace stays Terminating;
// its name is never reused.
func (k *Kube) Namespace(t testing.TB) string {
	t.Helper()
	slug := strings.Trim(namespaceUnsafe.ReplaceAllString(strings.ToLower(t.Name()), "-"), "-")
	if len(slug) > 40 {
		slug = strings.TrimRight(slug[:40], "-")
	}
	name := "t-" + slug + "-" + randomHex(3)
	ctx, cancel := context.WithTimeout(context.Background(), kubeRequestTimeout)
	defer cancel()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if _, err := k.Client.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
		t.Fatalf("testenv: create namespace %s: %v", name, err)
	}
	t.Cleanup(func() { k.deleteNamespace(t, name) })
	if err := kubebed.CreateDefaultServiceAccount(ctx, k.Client, name); err != nil {
		t.Fatalf("testenv: %v", err)
	}
	return name
}

// deleteNamespace deletes the namespace's pods and the namespace.
func (k *Kube) deleteNamespace(t testing.TB, name string) {
	ctx, cancel := context.WithTimeout(context.Background(), kubeRequestTimeout)
	defer cancel()
	pods := k.Client.CoreV1().Pods(name)
	if err := pods.DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{}); err != nil && !apierrors.IsNotFound(err) {
		t.Errorf("testenv: delete the pods of namespace %s: %v", name, err)
	}
	err := k.Client.CoreV1().Namespaces().Delete(ctx, name, metav1.DeleteOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		t.Errorf("testenv: delete namespace %s: %v", name, err)
	}
}

// Pods lists the pods of namespace matching the label selector ("" for
// all) through the apiserver, failing t if the list fails.
func (k *Kube) Pods(t testing.TB, namespace, selector string) []corev1.Pod {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), kubeRequestTimeout)
	defer cancel()
	list, err := k.Client.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		t.Fatalf("testenv: list pods in %s (%q): %v", namespace, selector, err)
	}
	return list.Items
}

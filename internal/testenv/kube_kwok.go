package testenv

import (
	"bytes"
	"context"
	_ "embed" // the kwok stages and CRD in testdata/kube
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/dynamic"
)

// kwok side of the Kubernetes test bed: the fake node, the Stages that
// move pods through their phases, and container logs served from files
// (ClusterLogs, watched by kwok as custom resources so that ServeLogs can
// add them while kwok runs).

//go:embed testdata/kube/stages.yaml
var kwokStages []byte

//go:embed testdata/kube/clusterlogs-crd.yaml
var kwokClusterLogsCRD []byte

var (
	crdResource         = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
	clusterLogsResource = schema.GroupVersionResource{Group: "kwok.x-k8s.io", Version: "v1alpha1", Resource: "clusterlogs"}
)

// kubeLogPoll is how often a served log file is checked for appended
// lines, the delay a follower sees at most.
const kubeLogPoll = 10 * time.Millisecond

// startKwok installs the ClusterLogs CRD, starts kwok with the bed's
// Stages and a TLS server on a free port (the node's kubelet endpoint,
// which the apiserver reaches for pod logs), creates the node and waits
// until kwok has made it Ready.
func (k *Kube) startKwok(t testing.TB) {
	t.Helper()
	k.installClusterLogsCRD(t)
	stages := filepath.Join(k.dir, "kwok-stages.yaml")
	if err := os.WriteFile(stages, kwokStages, 0o644); err != nil {
		t.Fatalf("testenv: StartKube: %v", err)
	}
	startWithRetry(t, kubeKwok, func() error {
		var err error
		if k.ports.kwok, err = freePort(); err != nil {
			return err
		}
		port := strconv.Itoa(k.ports.kwok)
		p, err := k.run(kubeKwok, k.bins.kwok,
			"--config="+stages,
			"--kubeconfig="+k.Kubeconfig,
			"--manage-all-nodes=false",
			"--manage-nodes-with-annotation-selector="+kubeNodeAnnotation+"=fake",
			"--node-ip=127.0.0.1",
			"--node-port="+port,
			"--server-address=127.0.0.1:"+port,
			"--tls-cert-file="+k.pki.kwokCert,
			"--tls-private-key-file="+k.pki.kwokKey,
			"--enable-crds=ClusterLogs")
		if err != nil {
			return err
		}
		client := k.httpClient()
		defer client.CloseIdleConnections()
		return k.await(t, p, "kwok /healthz", func() (bool, string) {
			return httpOK(client, k.kwokURL()+"/healthz")
		})
	})
	k.createNode(t)
}

func (k *Kube) kwokURL() string { return "https://127.0.0.1:" + strconv.Itoa(k.ports.kwok) }

// dynamicClient is a dynamic client on the admin configuration, for the
// CRD and kwok's custom resources.
func (k *Kube) dynamicClient(t testing.TB) dynamic.Interface {
	t.Helper()
	c, err := dynamic.NewForConfig(k.rest)
	if err != nil {
		t.Fatalf("testenv: dynamic client: %v", err)
	}
	return c
}

// installClusterLogsCRD creates kwok's ClusterLogs CRD and waits until the
// apiserver serves the resource.
func (k *Kube) installClusterLogsCRD(t testing.TB) {
	t.Helper()
	crd := &unstructured.Unstructured{}
	if err := yaml.NewYAMLOrJSONDecoder(bytes.NewReader(kwokClusterLogsCRD), 4096).Decode(&crd.Object); err != nil {
		t.Fatalf("testenv: StartKube: decode ClusterLogs CRD: %v", err)
	}
	dc := k.dynamicClient(t)
	ctx, cancel := context.WithTimeout(context.Background(), kubeRequestTimeout)
	defer cancel()
	if _, err := dc.Resource(crdResource).Create(ctx, crd, metav1.CreateOptions{}); err != nil {
		t.Fatalf("testenv: StartKube: create ClusterLogs CRD: %v", err)
	}
	Eventually(t, "the ClusterLogs resource to be served", kubeStartTimeout, func() (bool, string) {
		_, err := dc.Resource(clusterLogsResource).List(ctx, metav1.ListOptions{Limit: 1})
		return err == nil, fmt.Sprint(err)
	})
}

// createNode creates the fake node with the annotation kwok manages and
// waits until kwok's node stage has made it Ready.
func (k *Kube) createNode(t testing.TB) {
	t.Helper()
	resources := corev1.ResourceList{
		corev1.ResourceCPU:    resource.MustParse("32"),
		corev1.ResourceMemory: resource.MustParse("256Gi"),
		corev1.ResourcePods:   resource.MustParse("110"),
	}
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name:        kubeNodeName,
			Annotations: map[string]string{kubeNodeAnnotation: "fake"},
			Labels: map[string]string{
				"kubernetes.io/hostname": kubeNodeName, "type": "kwok",
				"kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
			},
		},
		Status: corev1.NodeStatus{
			Allocatable: resources,
			Capacity:    resources,
			Addresses: []corev1.NodeAddress{
				{Type: corev1.NodeInternalIP, Address: "127.0.0.1"},
				{Type: corev1.NodeHostName, Address: kubeNodeName},
			},
			DaemonEndpoints: corev1.NodeDaemonEndpoints{KubeletEndpoint: corev1.DaemonEndpoint{Port: int32(k.ports.kwok)}},
		},
	}
	ctx, cancel := context.WithTimeout(context.Background(), kubeRequestTimeout)
	defer cancel()
	if _, err := k.Client.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil {
		t.Fatalf("testenv: StartKube: create node: %v", err)
	}
	Eventually(t, "node "+kubeNodeName+" to be Ready", kubeStartTimeout, func() (bool, string) {
		if p := k.procs[kubeKwok]; p.exited() {
			t.Fatalf("testenv: StartKube: %s", p.failure())
		}
		n, err := k.Client.CoreV1().Nodes().Get(ctx, kubeNodeName, metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		for _, c := range n.Status.Conditions {
			if c.Type == corev1.NodeReady {
				return c.Status == corev1.ConditionTrue, fmt.Sprintf("Ready=%s (%s)", c.Status, c.Message)
			}
		}
		return false, "no Ready condition yet"
	})
}

// ServeLogs makes every container of every pod in namespace serve file as
// its log, through the apiserver's pods/log (kwok's ClusterLogs): file
// holds plain text lines, which a follower (follow=true) receives as they
// are appended. kwok reads the CRI log format, so the lines are copied to
// a CRI-format twin of file as they appear (a line is served once it ends
// with a newline). file need not exist yet. The configuration is removed
// at t's cleanup. Note kwok's follow never ends by itself: a follower
// stops when the pod has terminated, as a real client does.
func (k *Kube) ServeLogs(t testing.TB, namespace, file string) {
	t.Helper()
	k.logsMu.Lock()
	k.logs++
	n := k.logs
	k.logsMu.Unlock()
	name := fmt.Sprintf("sirocco-logs-%d", n)
	criFile := filepath.Join(k.dir, name+".cri.log")
	if err := os.WriteFile(criFile, nil, 0o644); err != nil {
		t.Fatalf("testenv: ServeLogs: %v", err)
	}
	ctx, stop := context.WithCancel(context.Background())
	copied := make(chan error, 1)
	go func() { copied <- copyAsCRILog(ctx, file, criFile) }()
	t.Cleanup(func() {
		stop()
		if err := <-copied; err != nil {
			t.Errorf("testenv: ServeLogs %s: %v", file, err)
		}
	})
	k.createClusterLogs(t, name, namespace, criFile)
	// kwok picks the resource up through a watch; its server answers any
	// pod name, so a probe shows when the namespace is served.
	client := k.httpClient()
	defer client.CloseIdleConnections()
	probe := k.kwokURL() + "/containerLogs/" + namespace + "/serve-logs-probe/probe"
	Eventually(t, "kwok to serve the logs of namespace "+namespace, kubeStartTimeout, func() (bool, string) {
		return httpOK(client, probe)
	})
}

// createClusterLogs creates a ClusterLogs resource serving criFile for
// every container of namespace's pods, deleted at t's cleanup.
func (k *Kube) createClusterLogs(t testing.TB, name, namespace, criFile string) {
	t.Helper()
	obj := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "kwok.x-k8s.io/v1alpha1",
		"kind":       "ClusterLogs",
		"metadata":   map[string]any{"name": name},
		"spec": map[string]any{
			"selector": map[string]any{"matchNamespaces": []any{namespace}},
			"logs":     []any{map[string]any{"logsFile": criFile, "follow": true}},
		},
	}}
	res := k.dynamicClient(t).Resource(clusterLogsResource)
	ctx, cancel := context.WithTimeout(context.Background(), kubeRequestTimeout)
	defer cancel()
	if _, err := res.Create(ctx, obj, metav1.CreateOptions{}); err != nil {
		t.Fatalf("testenv: ServeLogs: create ClusterLogs %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), kubeRequestTimeout)
		defer cancel()
		if err := res.Delete(ctx, name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			t.Errorf("testenv: ServeLogs: delete ClusterLogs %s: %v", name, err)
		}
	})
}

// copyAsCRILog follows src (waiting for it to exist) and appends each
// complete line to dst in the CRI log format ("<RFC 3339 time> stdout F
// <line>") until ctx ends.
func copyAsCRILog(ctx context.Context, src, dst string) error {
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("open %s: %w", dst, err)
	}
	defer out.Close()
	var in *os.File
	defer func() {
		if in != nil {
			in.Close()
		}
	}()
	var pending []byte
	tick := time.NewTicker(kubeLogPoll)
	defer tick.Stop()
	for {
		if in == nil {
			if in, err = os.Open(src); err != nil && !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("open %s: %w", src, err)
			}
		}
		if in != nil {
			if pending, err = copyLines(in, out, pending); err != nil {
				return err
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// copyLines reads what was appended to in, writes its complete lines to
// out in the CRI format, and returns the incomplete rest.
func copyLines(in io.Reader, out io.Writer, pending []byte) ([]byte, error) {
	b, err := io.ReadAll(in)
	if err != nil {
		return pending, fmt.Errorf("read log: %w", err)
	}
	pending = append(pending, b...)
	var buf bytes.Buffer
	for {
		i := bytes.IndexByte(pending, '\n')
		if i < 0 {
			break
		}
		fmt.Fprintf(&buf, "%s stdout F %s\n", time.Now().UTC().Format(time.RFC3339Nano), pending[:i])
		pending = pending[i+1:]
	}
	if buf.Len() > 0 {
		if _, err := out.Write(buf.Bytes()); err != nil {
			return pending, fmt.Errorf("write log: %w", err)
		}
	}
	return pending, nil
}

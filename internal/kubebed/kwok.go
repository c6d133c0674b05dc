package kubebed

import (
	"bytes"
	"context"
	_ "embed" // the kwok Stages and the ClusterLogs CRD
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/dynamic"
)

// kwok side of the bed: the fake node and the Stages that move pods
// through their phases as their annotations ask.

const (
	// RunForAnnotation is how long a pod stays Running before its
	// containers terminate (a Go duration; default 100ms).
	RunForAnnotation = "kwok.sirocco.dev/run-for"
	// ExitCodeAnnotation is the exit code every container ends with
	// (default 0): the pod Succeeds with 0 and Fails ("Error") otherwise.
	ExitCodeAnnotation = "kwok.sirocco.dev/exit-code"
	// HoldAnnotation set to "true" keeps the pod Running until deleted.
	HoldAnnotation = "kwok.sirocco.dev/hold"
	// WaitingReasonAnnotation keeps the containers Waiting (the pod
	// Pending) with this reason, e.g. ErrImagePull, and the message
	// "<reason> (kwok test bed)".
	WaitingReasonAnnotation = "kwok.sirocco.dev/waiting-reason"

	// NodeName is the fake node's name (and its hostname label).
	NodeName = "kwok-node-0"
	// nodeAnnotation marks the node kwok manages.
	nodeAnnotation = "kwok.x-k8s.io/node"
)

//go:embed stages.yaml
var kwokStages []byte

//go:embed clusterlogs-crd.yaml
var clusterLogsCRD []byte

var (
	crdResource = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
	// ClusterLogsResource is kwok's ClusterLogs, which the bed installs
	// (--enable-crds) so that pod logs can be served while kwok runs.
	ClusterLogsResource = schema.GroupVersionResource{Group: "kwok.x-k8s.io", Version: "v1alpha1", Resource: "clusterlogs"}
)

// startKwok installs the ClusterLogs CRD, starts kwok with the bed's
// Stages and a TLS server on a free port (the node's kubelet endpoint,
// which the apiserver reaches for pod logs), creates the node and waits
// until kwok has made it Ready.
func (b *Bed) startKwok(ctx context.Context) error {
	if err := b.installClusterLogsCRD(ctx); err != nil {
		return err
	}
	stages := filepath.Join(b.Dir, "kwok-stages.yaml")
	if err := os.WriteFile(stages, kwokStages, 0o644); err != nil {
		return fmt.Errorf("write kwok stages: %w", err)
	}
	err := startWithRetry(Kwok, func() error {
		var err error
		if b.ports.Kwok, err = freePort(); err != nil {
			return err
		}
		port := strconv.Itoa(b.ports.Kwok)
		p, err := b.run(Kwok, b.opts.Bin.Kwok,
			"--config="+stages,
			"--kubeconfig="+b.Kubeconfig,
			"--manage-all-nodes=false",
			"--manage-nodes-with-annotation-selector="+nodeAnnotation+"=fake",
			"--node-ip=127.0.0.1",
			"--node-port="+port,
			"--server-address=127.0.0.1:"+port,
			"--tls-cert-file="+b.pki.kwokCert,
			"--tls-private-key-file="+b.pki.kwokKey,
			"--enable-crds=ClusterLogs")
		if err != nil {
			return err
		}
		client := b.HTTPClient()
		defer client.CloseIdleConnections()
		return b.await(ctx, p, "kwok /healthz", func() (bool, string) {
			return HTTPOK(client, b.KwokURL()+"/healthz")
		})
	})
	if err != nil {
		return err
	}
	return b.createNode(ctx)
}

// Dynamic is a dynamic client on the admin configuration, for CRDs and
// kwok's custom resources.
func (b *Bed) Dynamic() (dynamic.Interface, error) {
	c, err := dynamic.NewForConfig(b.Config)
	if err != nil {
		return nil, fmt.Errorf("dynamic client: %w", err)
	}
	return c, nil
}

// installClusterLogsCRD creates kwok's ClusterLogs CRD and waits until the
// apiserver serves the resource.
func (b *Bed) installClusterLogsCRD(ctx context.Context) error {
	crd := &unstructured.Unstructured{}
	if err := yaml.NewYAMLOrJSONDecoder(bytes.NewReader(clusterLogsCRD), 4096).Decode(&crd.Object); err != nil {
		return fmt.Errorf("decode ClusterLogs CRD: %w", err)
	}
	dc, err := b.Dynamic()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	if _, err := dc.Resource(crdResource).Create(ctx, crd, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("create ClusterLogs CRD: %w", err)
	}
	return poll(ctx, "the ClusterLogs resource to be served", startTimeout, func() (bool, string) {
		_, err := dc.Resource(ClusterLogsResource).List(ctx, metav1.ListOptions{Limit: 1})
		return err == nil, fmt.Sprint(err)
	})
}

// createNode creates the fake node with the annotation kwok manages and
// waits until kwok's node stage has made it Ready.
func (b *Bed) createNode(ctx context.Context) error {
	resources := corev1.ResourceList{
		corev1.ResourceCPU:    resource.MustParse("32"),
		corev1.ResourceMemory: resource.MustParse("256Gi"),
		corev1.ResourcePods:   resource.MustParse("110"),
	}
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name:        NodeName,
			Annotations: map[string]string{nodeAnnotation: "fake"},
			Labels: map[string]string{
				"kubernetes.io/hostname": NodeName, "type": "kwok",
				"kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
			},
		},
		Status: corev1.NodeStatus{
			Allocatable: resources,
			Capacity:    resources,
			Addresses: []corev1.NodeAddress{
				{Type: corev1.NodeInternalIP, Address: "127.0.0.1"},
				{Type: corev1.NodeHostName, Address: NodeName},
			},
			DaemonEndpoints: corev1.NodeDaemonEndpoints{KubeletEndpoint: corev1.DaemonEndpoint{Port: int32(b.ports.Kwok)}},
		},
	}
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	if _, err := b.Client.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("create node: %w", err)
	}
	b.mu.Lock()
	kwok := b.procs[Kwok]
	b.mu.Unlock()
	err := poll(ctx, "node "+NodeName+" to be Ready", startTimeout, func() (bool, string) {
		if kwok.exited() {
			return true, "" // reported below
		}
		n, err := b.Client.CoreV1().Nodes().Get(ctx, NodeName, metav1.GetOptions{})
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
	if err == nil && kwok.exited() {
		err = errors.New(kwok.failure())
	}
	return err
}

package preflight

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/version"

	"github.com/sirocco-dev/sirocco/internal/connection"
	"github.com/sirocco-dev/sirocco/internal/kube"
)

// Kubernetes step names.
const (
	StepKubeAPIServer = "kube apiserver"
	StepKubeAuth      = "kube auth"
)

// kubeProvider: a kubernetes connection names no host of its own; its
// client is built as the kubernetes_pod and spark operators build it
// (kube.FromConnection: a kubeconfig file or inline, the in-cluster
// service account, else the default client), through Checker.Kube when
// set. The apiserver that client talks to is reached (dns, tcp), asked
// for its version (/version), then for one pod of the connection's
// namespace: only an identity the apiserver accepts, allowed to list pods
// there, gets an answer. A setting that cannot be read or a kubeconfig
// that cannot be loaded is the failed "settings" step.
func kubeProvider(_ context.Context, ck *Checker, c connection.Connection) (Plan, error) {
	s, err := kube.FromConnection(c)
	if err != nil {
		return Plan{}, err
	}
	cl, err := ck.Kube.Connect(s)
	if err != nil {
		return Plan{}, err
	}
	addr, err := apiserverAddr(c.ID, cl.Config.Host)
	if err != nil {
		return Plan{}, err
	}
	return Plan{Reach: addr, Checks: []Check{
		{Name: StepKubeAPIServer, Target: cl.Config.Host, Needs: []string{StepTCP},
			Run: func(ctx context.Context) (string, error) { return kubeVersion(ctx, cl) }},
		{Name: StepKubeAuth, Target: "pods in namespace " + cl.Namespace, Needs: []string{StepKubeAPIServer},
			Run: func(ctx context.Context) (string, error) { return kubeListPods(ctx, cl) }},
	}}, nil
}

// apiserverAddr is the host:port of an apiserver URL (a rest.Config's
// Host: https://host:port, or host:port alone), for the dns and tcp steps.
func apiserverAddr(id, host string) (string, error) {
	if u, err := url.Parse(host); err == nil && u.Host != "" {
		host = u.Scheme + "://" + u.Host
	}
	return DialTarget(connection.Connection{ID: id, Type: "https", Host: host})
}

// kubeVersion asks the apiserver for its version, as `kubectl version`
// does, within ctx (client-go's ServerVersion takes no context).
func kubeVersion(ctx context.Context, cl *kube.Cluster) (string, error) {
	raw, err := cl.Client.CoreV1().RESTClient().Get().AbsPath("/version").Do(ctx).Raw()
	if err != nil {
		return "", fmt.Errorf("apiserver version: %w", err)
	}
	var v version.Info
	if err := json.Unmarshal(raw, &v); err != nil {
		return "", fmt.Errorf("apiserver version: not a version answer: %w", err)
	}
	return "the apiserver answers: Kubernetes " + v.GitVersion, nil
}

// kubeListPods lists at most one pod of the connection's namespace: the
// cheapest call that needs the credentials accepted and allowed to see
// the pods Sirocco creates there.
func kubeListPods(ctx context.Context, cl *kube.Cluster) (string, error) {
	pods, err := cl.Client.CoreV1().Pods(cl.Namespace).List(ctx, metav1.ListOptions{Limit: 1})
	if err != nil {
		return "", fmt.Errorf("list pods in namespace %s: %w", cl.Namespace, err)
	}
	what := "no pod there yet"
	if len(pods.Items) > 0 {
		what = "pods listed"
	}
	return fmt.Sprintf("the credentials are accepted and may list pods in namespace %s (%s)", cl.Namespace, what), nil
}

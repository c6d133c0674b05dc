package kube

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// noClientRateLimit turns off client-go's client-side rate limiter (a
// negative QPS builds none). A client is shared by every try of the
// process (Clients), so its token bucket would be a process-wide limit:
// client-go's defaults (5 a second, bursts of 10), or even 50 a second,
// queue the create, watch, log and delete calls of a few dozen parallel
// pod tasks for seconds. The apiserver's priority and fairness protects
// it, answering 429 with Retry-After, which client-go and Retriable
// honour; Airflow's Python client has no client-side limit either.
const noClientRateLimit = -1

// inClusterNamespaceFile is where a pod's service account names its
// namespace.
const inClusterNamespaceFile = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"

// Cluster is a reachable cluster: its REST config, its client and the
// namespace its configuration defaults to.
type Cluster struct {
	Config    *rest.Config
	Client    Interface
	Namespace string // the connection's, else the kubeconfig context's or the service account's, else "default"
	Settings  *Settings
}

// Connect builds the client of s. It reads files (a kubeconfig, the
// in-cluster token) but does not call the apiserver. Clients.Connect
// reuses the client of earlier calls.
func (s *Settings) Connect() (*Cluster, error) {
	e, err := s.build()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s, err)
	}
	return s.cluster(e), nil
}

// build reads the configuration of s and builds its client.
func (s *Settings) build() (*clientEntry, error) {
	cfg, ns, err := s.restConfig()
	if err != nil {
		return nil, err
	}
	cfg.QPS = noClientRateLimit
	if s.DisableVerifySSL {
		cfg.Insecure = true
		cfg.CAData, cfg.CAFile = nil, ""
	}
	cs, err := NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("build the client: %w", err)
	}
	return &clientEntry{config: cfg, client: cs, namespace: ns}, nil
}

// cluster is the Cluster of s over a built client: the namespace of s
// wins over the configuration's.
func (s *Settings) cluster(e *clientEntry) *Cluster {
	ns := e.namespace
	if s.Namespace != "" {
		ns = s.Namespace
	}
	if ns == "" {
		ns = DefaultNamespace
	}
	return &Cluster{Config: e.config, Client: e.client, Namespace: ns, Settings: s}
}

// restConfig loads the configuration s names, with the namespace it
// defaults to ("" for none).
func (s *Settings) restConfig() (*rest.Config, string, error) {
	overrides := &clientcmd.ConfigOverrides{CurrentContext: s.Context}
	switch {
	case s.InCluster:
		return inCluster()
	case s.KubeConfigPath != "":
		rules := &clientcmd.ClientConfigLoadingRules{ExplicitPath: expandHome(s.KubeConfigPath)}
		return fromClientConfig(clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, overrides))
	case s.KubeConfig != "":
		raw, err := ParseKubeConfig([]byte(s.KubeConfig))
		if err != nil {
			return nil, "", fmt.Errorf("extra kube_config: %w", err)
		}
		return fromClientConfig(clientcmd.NewNonInteractiveClientConfig(*raw, s.Context, overrides, nil))
	}
	cfg, ns, err := inCluster()
	if err == nil {
		return cfg, ns, nil
	}
	if !errors.Is(err, rest.ErrNotInCluster) {
		return nil, "", err
	}
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	return fromClientConfig(clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, overrides))
}

func inCluster() (*rest.Config, string, error) {
	cfg, err := rest.InClusterConfig()
	if err != nil {
		return nil, "", fmt.Errorf("in-cluster configuration: %w", err)
	}
	ns := ""
	if b, err := os.ReadFile(inClusterNamespaceFile); err == nil {
		ns = strings.TrimSpace(string(b))
	}
	return cfg, ns, nil
}

func fromClientConfig(cc clientcmd.ClientConfig) (*rest.Config, string, error) {
	cfg, err := cc.ClientConfig()
	if err != nil {
		return nil, "", err
	}
	ns, _, err := cc.Namespace()
	if err != nil {
		return nil, "", err
	}
	return cfg, ns, nil
}

// Secrets returns what a task log must mask of the client's credentials
// (a kubeconfig read from a file carries them too).
func (c *Cluster) Secrets() []string {
	var out []string
	for _, v := range []string{c.Config.BearerToken, c.Config.Password, string(c.Config.KeyData)} {
		if v != "" {
			out = append(out, v)
		}
	}
	return out
}

// expandHome turns a leading ~/ into the home directory, as kubectl does.
func expandHome(p string) string {
	if rest, ok := strings.CutPrefix(p, "~/"); ok {
		if home, err := os.UserHomeDir(); err == nil {
			return home + "/" + rest
		}
	}
	return p
}

package kube

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// maxKubeConfig bounds an inline kubeconfig: real ones are a few KiB
// (certificates included).
const maxKubeConfig = 1 << 20

// ParseKubeConfig reads an inline kubeconfig, YAML or JSON (Airflow's
// form takes JSON), and checks that it can name a cluster: at least one
// context whose cluster and user exist, and a current-context that
// exists when set. Errors never quote the text, which holds secrets.
func ParseKubeConfig(data []byte) (*clientcmdapi.Config, error) {
	if len(data) > maxKubeConfig {
		return nil, fmt.Errorf("%d bytes, more than the %d a kubeconfig may have", len(data), maxKubeConfig)
	}
	if strings.TrimSpace(string(data)) == "" {
		return nil, errors.New("empty")
	}
	cfg, err := load(data)
	if err != nil {
		return nil, err
	}
	if len(cfg.Contexts) == 0 {
		return nil, errors.New("no contexts: a kubeconfig needs clusters, users and contexts that join them")
	}
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(cfg.Contexts)) {
		c := cfg.Contexts[name]
		if c == nil {
			errs = append(errs, fmt.Errorf("context %q is empty", name))
			continue
		}
		if _, ok := cfg.Clusters[c.Cluster]; !ok {
			errs = append(errs, fmt.Errorf("context %q names cluster %q, which is not in clusters", name, c.Cluster))
		}
		if c.AuthInfo != "" {
			if _, ok := cfg.AuthInfos[c.AuthInfo]; !ok {
				errs = append(errs, fmt.Errorf("context %q names user %q, which is not in users", name, c.AuthInfo))
			}
		}
	}
	if cfg.CurrentContext != "" {
		if _, ok := cfg.Contexts[cfg.CurrentContext]; !ok {
			errs = append(errs, fmt.Errorf("current-context %q is not in contexts", cfg.CurrentContext))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return cfg, nil
}

// load is clientcmd.Load with its panics (none known, but it decodes
// untrusted text through reflection) turned into errors, and its error
// text, which may quote the input, replaced by its position.
func load(data []byte) (cfg *clientcmdapi.Config, err error) {
	defer func() {
		if r := recover(); r != nil {
			cfg, err = nil, fmt.Errorf("not a kubeconfig (the decoder failed: %v)", r)
		}
	}()
	cfg, err = clientcmd.Load(data)
	if err != nil {
		return nil, fmt.Errorf("not a kubeconfig in YAML or JSON: %s", scrub(err.Error()))
	}
	return cfg, nil
}

// scrub keeps the start of a decoder's message (its position and what it
// expected), dropping quoted input that could be a secret.
func scrub(msg string) string {
	if i := strings.IndexAny(msg, "\"'`"); i >= 0 {
		msg = strings.TrimSpace(msg[:i]) + " ..."
	}
	if len(msg) > 200 {
		msg = msg[:200] + "..."
	}
	return msg
}

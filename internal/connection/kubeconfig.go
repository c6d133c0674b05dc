package connection

import (
	"strings"

	"go.yaml.in/yaml/v3"
)

// kubeConfigExtras are the extras of a kubernetes connection that hold a
// whole kubeconfig inline (Airflow's kube_config, also under its pre-2.3
// prefixed name). A kubeconfig carries tokens, passwords and client keys,
// so it is shown as Mask, like a password.
var kubeConfigExtras = []string{"kube_config", "extra__kubernetes__kube_config"}

// IsKubeConfigExtra reports whether an extra key holds an inline
// kubeconfig: its value is a secret, but only some of its leaves are (the
// server URL and names are not), so Secrets masks the value and those
// leaves rather than every string in it.
func IsKubeConfigExtra(key string) bool {
	k := strings.ToLower(strings.TrimSpace(key))
	for _, name := range kubeConfigExtras {
		if k == name {
			return true
		}
	}
	return false
}

// kubeConfigSecretKeys are kubeconfig keys whose values are secrets and
// that IsSensitive's substrings miss.
var kubeConfigSecretKeys = []string{"client-key-data", "client_key_data", "clientkeydata"}

// addKubeConfigSecrets adds to secrets the whole kubeconfig text v and the
// secret values inside it (token, password, client-key-data, the
// auth-provider's tokens and secrets, exec env values named like
// secrets), so a task log that prints any of them masks it. A value that
// does not parse still has its whole text masked.
func addKubeConfigSecrets(v string, secrets map[string]bool) {
	secrets[v] = true
	var doc any
	if err := yaml.Unmarshal([]byte(v), &doc); err != nil {
		return
	}
	collectKubeSecrets(doc, secrets, 0)
}

// maxKubeDepth bounds the walk of a kubeconfig: real ones are shallow.
const maxKubeDepth = 32

func collectKubeSecrets(x any, secrets map[string]bool, depth int) {
	if depth > maxKubeDepth {
		return
	}
	switch v := x.(type) {
	case map[string]any:
		for k, e := range v {
			if isKubeSecretKey(k) {
				collectLeaves(e, secrets)
				continue
			}
			collectKubeSecrets(e, secrets, depth+1)
		}
	case []any:
		for _, e := range v {
			// An exec plugin's env entry: {name: API_TOKEN, value: ...}.
			if m, ok := e.(map[string]any); ok {
				if name, ok := m["name"].(string); ok && IsSensitive(name) {
					collectLeaves(m["value"], secrets)
				}
			}
			collectKubeSecrets(e, secrets, depth+1)
		}
	}
}

func isKubeSecretKey(k string) bool {
	lk := strings.ToLower(k)
	for _, s := range kubeConfigSecretKeys {
		if lk == s {
			return true
		}
	}
	return IsSensitive(k)
}

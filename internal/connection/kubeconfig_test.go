package connection_test

import (
	"slices"
	"testing"

	"github.com/sirocco-dev/sirocco/internal/connection"
)

const testKubeConfig = `apiVersion: v1
kind: Config
clusters:
- name: c
  cluster: {server: "https://127.0.0.1:6443", certificate-authority-data: Q0EK}
users:
- name: u
  user:
    token: s3cr3t-token
    client-key-data: S0VZREFUQQ==
    client-certificate-data: Q0VSVA==
- name: p
  user:
    username: admin
    password: hunter2
- name: e
  user:
    exec:
      command: get-token
      env: [{name: API_TOKEN, value: exec-secret}, {name: REGION, value: eu-west-1}]
contexts:
- name: ctx
  context: {cluster: c, user: u, namespace: jobs}
current-context: ctx
`

// TestKubeConfigExtraIsASecret: an inline kubeconfig is shown as "***",
// and the task log masks the whole text and each secret inside it, but
// not the server, names or certificates, which are no secrets and would
// blank out innocent words of every log line.
func TestKubeConfigExtraIsASecret(t *testing.T) {
	t.Parallel()
	for _, key := range []string{"kube_config", "extra__kubernetes__kube_config"} {
		c := connection.Connection{ID: "k", Type: "kubernetes", Extra: map[string]string{key: testKubeConfig, "namespace": "jobs"}}
		if got := c.Redacted().Extra[key]; got != connection.Mask {
			t.Errorf("%s redacted to %q, want %q", key, got, connection.Mask)
		}
		if got := c.Redacted().Extra["namespace"]; got != "jobs" {
			t.Errorf("namespace redacted to %q", got)
		}
		secrets := c.Secrets()
		for _, want := range []string{testKubeConfig, "s3cr3t-token", "S0VZREFUQQ==", "hunter2", "exec-secret"} {
			if !slices.Contains(secrets, want) {
				t.Errorf("%s: Secrets() lacks %q", key, want)
			}
		}
		for _, not := range []string{"https://127.0.0.1:6443", "admin", "v1", "Config", "jobs", "eu-west-1", "Q0VSVA==", "API_TOKEN"} {
			if slices.Contains(secrets, not) {
				t.Errorf("%s: Secrets() masks %q, which is no secret", key, not)
			}
		}
	}
}

// TestKubeConfigExtraAsJSON: Airflow's form shows kube_config as JSON;
// its token is found the same way, and an unparsable value is still
// masked whole.
func TestKubeConfigExtraAsJSON(t *testing.T) {
	t.Parallel()
	c := connection.Connection{ID: "k", Type: "kubernetes", Extra: map[string]string{
		"kube_config": `{"users":[{"name":"u","user":{"token":"json-token"}}]}`}}
	if s := c.Secrets(); !slices.Contains(s, "json-token") {
		t.Errorf("Secrets() = %q, want the token", s)
	}
	bad := connection.Connection{ID: "k", Type: "kubernetes", Extra: map[string]string{"kube_config": "{not: [yaml"}}
	if s := bad.Secrets(); !slices.Equal(s, []string{"{not: [yaml"}) {
		t.Errorf("Secrets() = %q, want the whole value", s)
	}
	// kube_config_path is a path, not a secret.
	p := connection.Connection{ID: "k", Type: "kubernetes", Extra: map[string]string{"kube_config_path": "/etc/kube"}}
	if s := p.Secrets(); len(s) != 0 || p.Redacted().Extra["kube_config_path"] != "/etc/kube" {
		t.Errorf("kube_config_path treated as a secret: %q", s)
	}
}

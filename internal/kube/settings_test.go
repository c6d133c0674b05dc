package kube

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sirocco-dev/sirocco/internal/connection"
	"github.com/sirocco-dev/sirocco/internal/store"
)

// TestFromConnection: Airflow's kubernetes connection, as a URI, with
// plain or prefixed extras; what cannot reach a cluster is refused with
// the connection's id and the reason.
func TestFromConnection(t *testing.T) {
	t.Parallel()
	tests := []struct {
		uri  string
		want Settings
		err  string
	}{
		{uri: "kubernetes://?kube_config_path=/etc/k.yaml&namespace=jobs&cluster_context=prod",
			want: Settings{KubeConfigPath: "/etc/k.yaml", Namespace: "jobs", Context: "prod"}},
		{uri: "kubernetes://?extra__kubernetes__in_cluster=True&extra__kubernetes__namespace=spark",
			want: Settings{InCluster: true, Namespace: "spark"}},
		{uri: "kubernetes://?disable_verify_ssl=true&xcom_sidecar_container_image=alpine",
			want: Settings{DisableVerifySSL: true}},
		{uri: "kubernetes://", want: Settings{}},
		{uri: "kubernetes://?in_cluster=true&kube_config_path=/k", err: "in_cluster and kube_config_path are mutually exclusive"},
		{uri: "kubernetes://?namspace=x", err: `unknown extra "namspace"`},
		{uri: "kubernetes://?in_cluster=maybe", err: `extra in_cluster "maybe" must be true or false`},
		{uri: "kubernetes://?namespace=Not_A_Namespace", err: "not a valid namespace"},
		{uri: "kubernetes://?namespace=a&extra__kubernetes__namespace=b", err: "both set namespace"},
		{uri: "kubernetes://host:6443", err: "host, port, login, password and schema are not used"},
		{uri: "ssh://host", err: `conn_type is "ssh", expected kubernetes`},
		{uri: "kubernetes://?in_cluster=true&cluster_context=x", err: "cluster_context has no meaning with in_cluster"},
	}
	for _, tt := range tests {
		c, err := connection.Parse(tt.uri)
		if err != nil {
			t.Fatalf("Parse(%q): %v", tt.uri, err)
		}
		c.ID = "k8s"
		s, err := FromConnection(c)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) || !strings.Contains(err.Error(), "kubernetes connection k8s") {
				t.Errorf("%s: err %v, want %q naming the connection", tt.uri, err, tt.err)
			}
			continue
		}
		tt.want.ConnID = "k8s"
		if err != nil || *s != tt.want {
			t.Errorf("%s: %+v, %v; want %+v", tt.uri, s, err, tt.want)
		}
	}
}

// TestInlineKubeConfigNeverPrinted: the inline kubeconfig is a Secret:
// no formatting of the settings shows it.
func TestInlineKubeConfigNeverPrinted(t *testing.T) {
	t.Parallel()
	s := &Settings{ConnID: "k", KubeConfig: Secret(kubeconfigYAML("https://127.0.0.1:1", "tok-SECRET"))}
	for _, out := range []string{s.String(), fmt.Sprintf("%v %+v %#v %s %x", *s, *s, *s, s.KubeConfig, s.KubeConfig)} {
		if strings.Contains(out, "tok-SECRET") || strings.Contains(out, "127.0.0.1") {
			t.Errorf("printed settings show the kubeconfig: %s", out)
		}
	}
}

// TestResolveDefault: kubernetes_default that names no connection is the
// default client, as in Airflow; another missing id is an error.
func TestResolveDefault(t *testing.T) {
	t.Parallel()
	missing := func(_ context.Context, id string) (connection.Connection, error) {
		return connection.Connection{}, fmt.Errorf("connection %q: %w", id, store.ErrNotFound)
	}
	s, err := Resolve(context.Background(), missing, "")
	if err != nil || *s != (Settings{ConnID: DefaultConnID}) {
		t.Errorf("Resolve(default) = %+v, %v", s, err)
	}
	if _, err := Resolve(context.Background(), missing, "prod"); err == nil || !strings.Contains(err.Error(), "kubernetes_conn_id prod") {
		t.Errorf("Resolve(prod) err = %v", err)
	}
}

func kubeconfigYAML(server, token string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: c
  cluster: {server: %q, insecure-skip-tls-verify: true}
users:
- name: u
  user: {token: %q}
contexts:
- name: main
  context: {cluster: c, user: u, namespace: jobs}
- name: other
  context: {cluster: c, user: u}
current-context: main
`, server, token)
}

// TestConnect: a kubeconfig from a file or inline gives the client of its
// context, the context's namespace unless the connection names one, and
// the token to mask; overrides from the task win.
func TestConnect(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "config")
	if err := os.WriteFile(path, []byte(kubeconfigYAML("https://127.0.0.1:6443", "tok-1")), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		s      Settings
		o      Overrides
		ns     string
		server string
	}{
		{"file", Settings{KubeConfigPath: path}, Overrides{}, "jobs", "https://127.0.0.1:6443"},
		{"file, other context", Settings{KubeConfigPath: path}, Overrides{Context: "other"}, DefaultNamespace, "https://127.0.0.1:6443"},
		{"inline, namespace", Settings{KubeConfig: Secret(kubeconfigYAML("https://10.0.0.1:443", "tok-1")), Namespace: "spark"}, Overrides{}, "spark", "https://10.0.0.1:443"},
		{"task's config_file", Settings{KubeConfig: Secret(kubeconfigYAML("https://10.0.0.1:443", "tok-1"))}, Overrides{ConfigFile: path}, "jobs", "https://127.0.0.1:6443"},
	}
	for _, tt := range tests {
		s, err := tt.s.Override(tt.o)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		cl, err := s.Connect()
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if cl.Namespace != tt.ns || cl.Config.Host != tt.server {
			t.Errorf("%s: namespace %q, server %q; want %q, %q", tt.name, cl.Namespace, cl.Config.Host, tt.ns, tt.server)
		}
		if sec := cl.Secrets(); len(sec) != 1 || sec[0] != "tok-1" {
			t.Errorf("%s: Secrets() = %q", tt.name, sec)
		}
	}
	if _, err := (&Settings{ConnID: "k", KubeConfigPath: filepath.Join(t.TempDir(), "none")}).Connect(); err == nil ||
		!strings.Contains(err.Error(), "kubernetes connection k") {
		t.Errorf("a missing kubeconfig file: %v", err)
	}
}

// TestParseKubeConfig: YAML and JSON; contexts must name what exists;
// errors never quote the text.
func TestParseKubeConfig(t *testing.T) {
	t.Parallel()
	if _, err := ParseKubeConfig([]byte(kubeconfigYAML("https://h", "t"))); err != nil {
		t.Errorf("YAML: %v", err)
	}
	js := `{"clusters":[{"name":"c","cluster":{"server":"https://h"}}],"users":[{"name":"u","user":{"token":"t"}}],"contexts":[{"name":"x","context":{"cluster":"c","user":"u"}}]}`
	if _, err := ParseKubeConfig([]byte(js)); err != nil {
		t.Errorf("JSON: %v", err)
	}
	for in, want := range map[string]string{
		"":                        "empty",
		"clusters: []":            "no contexts",
		"token: SECRET-1\n  x: [": "not a kubeconfig",
		`{"contexts":[{"name":"x","context":{"cluster":"c"}}]}`:                       `names cluster "c"`,
		`{"contexts":[{"name":"x","context":{"cluster":"c"}}],"current-context":"y"}`: `current-context "y"`,
	} {
		_, err := ParseKubeConfig([]byte(in))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseKubeConfig(%q) = %v, want %q", in, err, want)
		}
		if err != nil && strings.Contains(err.Error(), "SECRET-1") {
			t.Errorf("the error quotes the kubeconfig: %v", err)
		}
	}
}

package preflight_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	authv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/sirocco-dev/sirocco/internal/connection"
	"github.com/sirocco-dev/sirocco/internal/kube"
	"github.com/sirocco-dev/sirocco/internal/preflight"
	"github.com/sirocco-dev/sirocco/internal/testenv"
)

// TestKubernetes: against a real apiserver, a kubernetes connection (which
// has no host) is checked through the client the operators build from it:
// the apiserver is reached and names its version, and the connection's
// identity may list the pods of its namespace. An identity the apiserver
// knows but RBAC allows nothing fails at auth, naming the refusal; an
// apiserver that is down fails at tcp; a kubeconfig that is not there
// fails at settings. `connections test` said "has no host to reach".
func TestKubernetes(t *testing.T) {
	k := testenv.StartKube(t)
	ns := k.Namespace(t)
	nobody := kubeconfigWithToken(t, k.Kubeconfig, "", serviceAccountToken(t, k, ns, "nobody"))
	down := kubeconfigWithToken(t, k.Kubeconfig, "https://"+closedPort(t), "")
	conn := func(extra map[string]string) connection.Connection {
		return connection.Connection{ID: "kubernetes_default", Type: "kubernetes", Extra: extra}
	}
	cases := []struct {
		name   string
		conn   connection.Connection
		want   string
		detail map[string]string
	}{
		{"admin", conn(map[string]string{"kube_config_path": k.Kubeconfig, "namespace": ns}),
			"dns=ok tcp=ok kube apiserver=ok kube auth=ok", map[string]string{
				preflight.StepKubeAPIServer: "Kubernetes v" + strings.TrimPrefix(testenv.KubeVersion, "v"),
				preflight.StepKubeAuth:      "may list pods in namespace " + ns}},
		{"inline kubeconfig", conn(map[string]string{"kube_config": readFile(t, k.Kubeconfig)}),
			"dns=ok tcp=ok kube apiserver=ok kube auth=ok", map[string]string{
				preflight.StepKubeAuth: "may list pods in namespace default"}},
		{"no rights", conn(map[string]string{"kube_config_path": nobody, "namespace": ns}),
			"dns=ok tcp=ok kube apiserver=ok kube auth=failed", map[string]string{
				preflight.StepKubeAuth: `cannot list resource "pods"`}},
		{"apiserver down", conn(map[string]string{"kube_config_path": down}),
			"dns=ok tcp=failed kube apiserver=skipped kube auth=skipped", map[string]string{
				preflight.StepTCP: "connection refused"}},
		{"missing kubeconfig", conn(map[string]string{"kube_config_path": filepath.Join(t.TempDir(), "nope")}),
			"settings=failed", map[string]string{"settings": "kubernetes_default"}},
	}
	ck := &preflight.Checker{Kube: kube.NewClients(0)}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := ck.Check(t.Context(), tc.conn)
			if got := steps(r); got != tc.want {
				t.Fatalf("steps %s, want %s\n%s", got, tc.want, r.Text())
			}
			for name, want := range tc.detail {
				if d := step(t, r, name).Detail; !strings.Contains(d, want) {
					t.Errorf("%s detail %q does not contain %q\n%s", name, d, want, r.Text())
				}
			}
		})
	}
}

// serviceAccountToken creates a service account no role is bound to and
// returns a token of it: an identity the apiserver accepts and RBAC lets
// do nothing in ns.
func serviceAccountToken(t *testing.T, k *testenv.Kube, ns, name string) string {
	t.Helper()
	sas := k.Client.CoreV1().ServiceAccounts(ns)
	if _, err := sas.Create(t.Context(), &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	tr, err := sas.CreateToken(t.Context(), name, &authv1.TokenRequest{}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return tr.Status.Token
}

// kubeconfigWithToken writes a copy of the kubeconfig at path with its
// current context's server (if given) and token (if given) replaced.
func kubeconfigWithToken(t *testing.T, path, server, token string) string {
	t.Helper()
	cfg, err := clientcmd.LoadFromFile(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx := cfg.Contexts[cfg.CurrentContext]
	if server != "" {
		cfg.Clusters[ctx.Cluster].Server = server
	}
	if token != "" {
		cfg.AuthInfos[ctx.AuthInfo].Token = token
	}
	out := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, out); err != nil {
		t.Fatal(err)
	}
	return out
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

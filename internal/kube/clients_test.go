package kube

import (
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"k8s.io/client-go/rest"
)

func writeKubeconfig(t *testing.T, path, server, token string, mtime time.Time) {
	t.Helper()
	if err := os.WriteFile(path, []byte(kubeconfigYAML(server, token)), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(path, mtime, mtime); err != nil {
		t.Fatal(err)
	}
}

// TestClientsReuse: a second Connect with the same settings returns the
// same clientset without building again, whatever the connection id and
// namespace; a changed kubeconfig file (or token) builds a new one.
func TestClientsReuse(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "config")
	t0 := time.Now().Add(-time.Hour).Truncate(time.Second)
	writeKubeconfig(t, path, "https://127.0.0.1:6443", "tok-1", t0)
	c := NewClients(0)
	first, err := c.Connect(&Settings{ConnID: "a", KubeConfigPath: path})
	if err != nil {
		t.Fatal(err)
	}
	second, err := c.Connect(&Settings{ConnID: "b", KubeConfigPath: path, Namespace: "other"})
	if err != nil {
		t.Fatal(err)
	}
	if second.Client != first.Client || c.builds != 1 {
		t.Fatalf("second Connect built again (%d builds, same client %t)", c.builds, second.Client == first.Client)
	}
	if first.Namespace != "jobs" || second.Namespace != "other" || second.Settings.ConnID != "b" {
		t.Errorf("namespaces %q, %q, conn %q: the per-call settings were not applied", first.Namespace, second.Namespace, second.Settings.ConnID)
	}
	if ctx, err := c.Connect(&Settings{KubeConfigPath: path, Context: "other"}); err != nil || ctx.Client == first.Client {
		t.Errorf("another context shares the client (err %v)", err)
	}

	writeKubeconfig(t, path, "https://10.0.0.2:6443", "tok-2", t0.Add(time.Second))
	third, err := c.Connect(&Settings{ConnID: "a", KubeConfigPath: path})
	if err != nil {
		t.Fatal(err)
	}
	if third.Client == first.Client || third.Config.Host != "https://10.0.0.2:6443" || third.Secrets()[0] != "tok-2" {
		t.Fatalf("a changed kubeconfig kept the old client (host %s)", third.Config.Host)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Connect(&Settings{KubeConfigPath: path}); err == nil {
		t.Fatal("a removed kubeconfig still connects")
	}
}

// TestClientsInline: an inline kubeconfig is keyed by its text; the cache
// holds at most its bound, dropping the least recently used.
func TestClientsInline(t *testing.T) {
	t.Parallel()
	c := NewClients(2)
	conn := func(server string) *Cluster {
		t.Helper()
		cl, err := c.Connect(&Settings{KubeConfig: Secret(kubeconfigYAML(server, "t"))})
		if err != nil {
			t.Fatal(err)
		}
		return cl
	}
	a, b := conn("https://a"), conn("https://b")
	if a.Client == b.Client || conn("https://a").Client != a.Client {
		t.Fatal("inline kubeconfigs are not keyed by their text")
	}
	conn("https://c") // evicts b, the least recently used
	if c.Len() != 2 {
		t.Fatalf("%d clients held, bound 2", c.Len())
	}
	if conn("https://a").Client != a.Client || conn("https://b").Client == b.Client {
		t.Error("eviction did not drop the least recently used")
	}
}

// TestClientsConcurrent: concurrent Connects of the same settings end
// with one client (run under -race).
func TestClientsConcurrent(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "config")
	writeKubeconfig(t, path, "https://127.0.0.1:6443", "tok", time.Now().Add(-time.Minute))
	c := NewClients(4)
	got := make([]*Cluster, 16)
	var wg sync.WaitGroup
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := &Settings{KubeConfigPath: path}
			if i%2 == 1 {
				s = &Settings{KubeConfig: Secret(kubeconfigYAML("https://x", "tok"))}
			}
			cl, err := c.Connect(s)
			if err != nil {
				t.Error(err)
				return
			}
			got[i] = cl
		}()
	}
	wg.Wait()
	for i, cl := range got {
		if cl == nil || cl.Client != got[i%2].Client {
			t.Fatalf("Connect %d got another client than its first", i)
		}
	}
	if c.Len() != 2 {
		t.Errorf("%d clients held, want 2", c.Len())
	}
}

// TestClientsNil: a nil cache builds a client per call.
func TestClientsNil(t *testing.T) {
	t.Parallel()
	var c *Clients
	s := &Settings{KubeConfig: Secret(kubeconfigYAML("https://a", "t"))}
	a, err := c.Connect(s)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := c.Connect(s); b.Client == a.Client {
		t.Error("a nil cache reused a client")
	}
}

// TestClientsNoRateLimiter: the shared clientset has no client-side rate
// limiter, which would throttle every try of the process together.
func TestClientsNoRateLimiter(t *testing.T) {
	t.Parallel()
	cl, err := NewClients(0).Connect(&Settings{KubeConfig: Secret(kubeconfigYAML("https://a", "t"))})
	if err != nil {
		t.Fatal(err)
	}
	rc, ok := cl.Client.CoreV1().RESTClient().(*rest.RESTClient)
	if !ok {
		t.Fatalf("REST client is a %T", cl.Client.CoreV1().RESTClient())
	}
	if rl := rc.GetRateLimiter(); rl != nil {
		t.Errorf("client-side rate limiter %T (QPS %v)", rl, rl.QPS())
	}
}

package testenv

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// Kubernetes test bed: etcd, kube-apiserver, kube-scheduler and kwok (one
// fake node) on loopback, from the binaries scripts/k8s.sh builds. kwok
// runs no containers: the Stages in testdata/kube/stages.yaml move pods
// through their phases as the pod annotations below ask.

const (
	// KubeRunForAnnotation is how long a pod stays Running before its
	// containers terminate (a Go duration; default 100ms).
	KubeRunForAnnotation = "kwok.sirocco.dev/run-for"
	// KubeExitCodeAnnotation is the exit code every container ends with
	// (default 0): the pod Succeeds with 0 and Fails ("Error") otherwise.
	KubeExitCodeAnnotation = "kwok.sirocco.dev/exit-code"
	// KubeHoldAnnotation set to "true" keeps the pod Running until deleted.
	KubeHoldAnnotation = "kwok.sirocco.dev/hold"
	// KubeWaitingReasonAnnotation keeps the containers Waiting (the pod
	// Pending) with this reason, e.g. ErrImagePull, and the message
	// "<reason> (kwok test bed)".
	KubeWaitingReasonAnnotation = "kwok.sirocco.dev/waiting-reason"

	// kubeNodeName is the fake node's name (and its hostname label).
	kubeNodeName = "kwok-node-0"
	// kubeNodeAnnotation marks the node kwok manages.
	kubeNodeAnnotation = "kwok.x-k8s.io/node"

	// kubeStartTimeout bounds each component's start: kube-apiserver's
	// first start installs its bootstrap data and takes seconds on a
	// loaded machine.
	kubeStartTimeout = 90 * time.Second
	// kubeRequestTimeout bounds one set-up request to the apiserver.
	kubeRequestTimeout = 30 * time.Second

	// KubeVersion is the version of the Kubernetes control plane the test
	// bed runs (tools/k8s/go.mod), which /version reports.
	KubeVersion = "v1.34.4"

	kubeDirPrefix = "sirocco-kube-"
)

// Kube is a running Kubernetes control plane for one test: etcd,
// kube-apiserver, kube-scheduler and kwok faking one node, all on
// 127.0.0.1 and stopped by the test's cleanup.
type Kube struct {
	// Kubeconfig is an admin kubeconfig (token auth, the CA inline),
	// usable by client-go and by Sirocco's kubernetes connections.
	Kubeconfig string
	// Server is the apiserver's URL, https://127.0.0.1:PORT.
	Server string
	// Client is an admin clientset.
	Client kubernetes.Interface

	dir    string
	bins   kubeBinaries
	pki    *kubePKI
	rest   *rest.Config
	ports  kubePorts
	mu     sync.Mutex // guards the procs during RestartAPIServer
	procs  map[string]*kubeProc
	logsMu sync.Mutex
	logs   int // ClusterLogs made by ServeLogs, for unique names
}

// kubeBinaries are the paths of the four programs.
type kubeBinaries struct{ etcd, apiserver, scheduler, kwok string }

// kubePorts are the loopback ports the components listen on.
type kubePorts struct{ etcdClient, etcdPeer, apiserver, scheduler, kwok int }

// The components, in start order; cleanup stops them in reverse.
const (
	kubeEtcd      = "etcd"
	kubeAPIServer = "kube-apiserver"
	kubeScheduler = "kube-scheduler"
	kubeKwok      = "kwok"
)

var kubeComponents = []string{kubeEtcd, kubeAPIServer, kubeScheduler, kubeKwok}

// StartKube starts etcd, kube-apiserver, kube-scheduler and kwok (one
// fake node, kwok-node-0) on loopback free ports, all stopped at
// t.Cleanup; the returned control plane is ready: the apiserver answers
// /readyz, the scheduler is ready, the node is Ready and the `default`
// ServiceAccount of namespace default exists. The binaries come from
// SIROCCO_K8S_BIN, or the directory `scripts/k8s.sh bin` names (built by
// `scripts/k8s.sh install`); without them t is skipped, or failed under
// CI=true. When the test fails, the end of every component's log is
// logged.
func StartKube(t testing.TB) *Kube {
	t.Helper()
	bins, err := findKube()
	if err != nil {
		RequireCI(t, "Kubernetes test bed (scripts/k8s.sh install)", err)
		return nil
	}
	removeStaleOwnedDirs(kubeDirPrefix)
	dir, err := newOwnedDir(kubeDirPrefix)
	if err != nil {
		t.Fatalf("testenv: StartKube: %v", err)
	}
	k := &Kube{dir: dir, bins: bins, procs: map[string]*kubeProc{}, Kubeconfig: filepath.Join(dir, "kubeconfig")}
	t.Cleanup(func() { k.cleanup(t) })
	start := time.Now()
	if k.pki, err = newKubePKI(dir); err != nil {
		t.Fatalf("testenv: StartKube: %v", err)
	}
	k.startEtcd(t)
	k.startAPIServer(t)
	k.connect(t)
	k.setUpCluster(t)
	k.startScheduler(t)
	k.startKwok(t)
	t.Logf("testenv: Kubernetes %s control plane at %s ready in %s", KubeVersion, k.Server, time.Since(start).Round(time.Millisecond))
	return k
}

// findKube locates the binaries: SIROCCO_K8S_BIN, else the cache directory
// scripts/k8s.sh names.
func findKube() (kubeBinaries, error) {
	dir := os.Getenv("SIROCCO_K8S_BIN")
	if dir == "" {
		script, err := repoFile("scripts/k8s.sh")
		if err != nil {
			return kubeBinaries{}, fmt.Errorf("kubernetes binaries %w: SIROCCO_K8S_BIN is unset and %w", ErrNotInstalled, err)
		}
		out, err := exec.Command(script, "bin").Output()
		if err != nil {
			return kubeBinaries{}, fmt.Errorf("%s bin: %w", script, err)
		}
		dir = strings.TrimSpace(string(out))
	}
	b := kubeBinaries{etcd: filepath.Join(dir, "etcd"), apiserver: filepath.Join(dir, "kube-apiserver"),
		scheduler: filepath.Join(dir, "kube-scheduler"), kwok: filepath.Join(dir, "kwok")}
	var missing []string
	for _, p := range []string{b.etcd, b.apiserver, b.scheduler, b.kwok} {
		if !isExecutable(p) {
			missing = append(missing, filepath.Base(p))
		}
	}
	if len(missing) > 0 {
		return b, fmt.Errorf("kubernetes binaries %w: %s missing in %s; run scripts/k8s.sh install (about 5 minutes the first time)",
			ErrNotInstalled, strings.Join(missing, ", "), dir)
	}
	return b, nil
}

// cleanup stops the components newest first, logs their logs' ends when
// the test failed, and removes the directory.
func (k *Kube) cleanup(t testing.TB) {
	k.mu.Lock()
	defer k.mu.Unlock()
	var errs []error
	for i := len(kubeComponents) - 1; i >= 0; i-- {
		errs = append(errs, k.procs[kubeComponents[i]].stop())
	}
	if t.Failed() {
		for _, name := range kubeComponents {
			if p := k.procs[name]; p != nil {
				t.Logf("testenv: the end of %s's log (%s):\n%s", name, p.log, tail(p.log))
			}
		}
	}
	if err := errors.Join(append(errs, os.RemoveAll(k.dir))...); err != nil {
		t.Errorf("testenv: stop Kubernetes test bed: %v", err)
	}
}

// pids returns the process ids of the running components, for tests that
// check nothing outlives the bed.
func (k *Kube) pids() map[string]int {
	k.mu.Lock()
	defer k.mu.Unlock()
	out := map[string]int{}
	for name, p := range k.procs {
		out[name] = p.pid()
	}
	return out
}

// startWithRetry runs start on fresh free ports until it does not lose a
// port to another process (at most three times).
func startWithRetry(t testing.TB, what string, start func() error) {
	t.Helper()
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		if err = start(); !errors.Is(err, errAddrInUse) {
			break
		}
	}
	if err != nil {
		t.Fatalf("testenv: StartKube: %s: %v", what, err)
	}
}

// startEtcd runs the embedded etcd on two free ports and waits for its
// "etcd ready" line.
func (k *Kube) startEtcd(t testing.TB) {
	t.Helper()
	startWithRetry(t, kubeEtcd, func() error {
		var err error
		if k.ports.etcdClient, err = freePort(); err != nil {
			return err
		}
		if k.ports.etcdPeer, err = freePort(); err != nil {
			return err
		}
		p, err := k.run(kubeEtcd, k.bins.etcd,
			"-data-dir", filepath.Join(k.dir, "etcd"),
			"-listen-client-url", k.etcdURL(),
			"-listen-peer-url", "http://127.0.0.1:"+strconv.Itoa(k.ports.etcdPeer))
		if err != nil {
			return err
		}
		return k.await(t, p, "etcd to serve clients", func() (bool, string) {
			b, _ := os.ReadFile(p.log)
			return strings.Contains(string(b), "etcd ready"), "no \"etcd ready\" line yet"
		})
	})
}

func (k *Kube) etcdURL() string { return "http://127.0.0.1:" + strconv.Itoa(k.ports.etcdClient) }

// run starts one component, logging to <dir>/<name>.log, and records it.
func (k *Kube) run(name string, argv ...string) (*kubeProc, error) {
	// kwok reads ~/.kwok/kwok.yaml when it exists: a HOME of its own
	// keeps a developer's configuration out of the bed.
	p, err := startKubeProc(name, k.dir, filepath.Join(k.dir, name+".log"), []string{"HOME=" + k.dir}, argv...)
	if err != nil {
		return nil, err
	}
	k.procs[name] = p
	return p, nil
}

// await waits with Eventually until ready reports done or the program
// exits; an exit fails t with the log's end, unless the log says a port
// was taken, which it returns as errAddrInUse for a retry.
func (k *Kube) await(t testing.TB, p *kubeProc, what string, ready func() (bool, string)) error {
	t.Helper()
	Eventually(t, what, kubeStartTimeout, func() (bool, string) {
		if p.exited() {
			return true, ""
		}
		done, observed := ready()
		if done || p.exited() {
			return true, ""
		}
		return false, observed + "\n" + p.name + " log:\n" + tail(p.log)
	})
	if !p.exited() {
		return nil
	}
	if p.addrInUse() {
		return errAddrInUse
	}
	return errors.New(p.failure())
}

// apiserverArgs are kube-apiserver's flags: token authentication, RBAC,
// the kubelet (kwok) reached on its InternalIP (no
// --kubelet-certificate-authority: its certificate is not verified), and
// nothing a single loopback server does not need.
func (k *Kube) apiserverArgs() []string {
	return []string{
		k.bins.apiserver,
		"--etcd-servers=" + k.etcdURL(),
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(k.ports.apiserver),
		"--cert-dir=" + filepath.Join(k.dir, "apiserver-certs"),
		"--tls-cert-file=" + k.pki.serverCert,
		"--tls-private-key-file=" + k.pki.serverKey,
		"--service-account-key-file=" + k.pki.saKey,
		"--service-account-signing-key-file=" + k.pki.saKey,
		"--service-account-issuer=https://kubernetes.default.svc",
		"--token-auth-file=" + k.pki.tokenFile,
		"--authorization-mode=RBAC",
		"--service-cluster-ip-range=10.96.0.0/16",
		"--endpoint-reconciler-type=none",
		"--kubelet-preferred-address-types=InternalIP",
		// The not-ready taint this plugin puts on a new node is removed
		// by kube-controller-manager, which the bed does not run.
		"--disable-admission-plugins=TaintNodesByCondition",
		// The CA that signed nothing but serving certificates: with a
		// client CA the apiserver publishes the
		// extension-apiserver-authentication ConfigMap the scheduler's
		// authentication reads (else it logs an error each minute).
		"--client-ca-file=" + k.pki.caFile,
		// Without it a SIGTERM waits up to the request timeout (60 s) for
		// open watches; with it, in-flight requests drain and the server
		// ends within seconds.
		"--shutdown-send-retry-after=true",
		"--enable-priority-and-fairness=false",
		"--profiling=false",
		"--v=1",
	}
}

// startAPIServer picks a free port and starts kube-apiserver on it.
func (k *Kube) startAPIServer(t testing.TB) {
	t.Helper()
	startWithRetry(t, kubeAPIServer, func() error {
		var err error
		if k.ports.apiserver, err = freePort(); err != nil {
			return err
		}
		k.Server = "https://127.0.0.1:" + strconv.Itoa(k.ports.apiserver)
		return k.runAPIServer(t)
	})
}

// runAPIServer starts kube-apiserver on k.ports.apiserver and waits for
// its /readyz.
func (k *Kube) runAPIServer(t testing.TB) error {
	t.Helper()
	p, err := k.run(kubeAPIServer, k.apiserverArgs()...)
	if err != nil {
		return err
	}
	client := k.httpClient()
	defer client.CloseIdleConnections()
	return k.await(t, p, "kube-apiserver /readyz", func() (bool, string) {
		return httpOK(client, k.Server+"/readyz")
	})
}

// httpClient trusts the bed's CA, for the apiserver's and kwok's health
// endpoints.
func (k *Kube) httpClient() *http.Client {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(k.pki.caPEM)
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
}

// httpOK GETs url and reports whether it answered 200, and what it saw.
func httpOK(client *http.Client, url string) (bool, string) {
	resp, err := client.Get(url)
	if err != nil {
		return false, err.Error()
	}
	defer resp.Body.Close()
	body := make([]byte, 2048)
	n, _ := resp.Body.Read(body)
	return resp.StatusCode == http.StatusOK, fmt.Sprintf("GET %s: %s %s", url, resp.Status, body[:n])
}

// connect writes the admin kubeconfig and makes the admin clientset from
// it, so the file itself is proven usable.
func (k *Kube) connect(t testing.TB) {
	t.Helper()
	if err := writeKubeconfig(k.Kubeconfig, k.Server, k.pki); err != nil {
		t.Fatalf("testenv: StartKube: %v", err)
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", k.Kubeconfig)
	if err != nil {
		t.Fatalf("testenv: StartKube: kubeconfig %s: %v", k.Kubeconfig, err)
	}
	// Tests create many objects in a burst; client-go's default 5 QPS
	// would make them wait on the client, not the server.
	cfg.QPS, cfg.Burst = 200, 400
	k.rest = cfg
	if k.Client, err = kubernetes.NewForConfig(cfg); err != nil {
		t.Fatalf("testenv: StartKube: clientset: %v", err)
	}
}

// setUpCluster creates what a cluster without kube-controller-manager
// lacks for pods: the `default` ServiceAccount of namespace default.
func (k *Kube) setUpCluster(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), kubeRequestTimeout)
	defer cancel()
	if err := createDefaultServiceAccount(ctx, k.Client, metav1.NamespaceDefault); err != nil {
		t.Fatalf("testenv: StartKube: %v", err)
	}
}

// createDefaultServiceAccount creates namespace's `default`
// ServiceAccount, which the ServiceAccount admission plugin requires of
// every pod and which only kube-controller-manager would otherwise make.
func createDefaultServiceAccount(ctx context.Context, c kubernetes.Interface, namespace string) error {
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: namespace}}
	_, err := c.CoreV1().ServiceAccounts(namespace).Create(ctx, sa, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create ServiceAccount %s/default: %w", namespace, err)
	}
	return nil
}

// startScheduler runs kube-scheduler with the admin kubeconfig, no leader
// election, its health endpoint on a free port, and waits until it is
// ready (its informers synced).
func (k *Kube) startScheduler(t testing.TB) {
	t.Helper()
	startWithRetry(t, kubeScheduler, func() error {
		var err error
		if k.ports.scheduler, err = freePort(); err != nil {
			return err
		}
		p, err := k.run(kubeScheduler, k.bins.scheduler,
			"--kubeconfig="+k.Kubeconfig,
			"--authentication-kubeconfig="+k.Kubeconfig,
			"--authorization-kubeconfig="+k.Kubeconfig,
			"--leader-elect=false",
			"--bind-address=127.0.0.1",
			"--secure-port="+strconv.Itoa(k.ports.scheduler),
			"--cert-dir="+filepath.Join(k.dir, "scheduler-certs"),
			"--profiling=false",
			"--v=1")
		if err != nil {
			return err
		}
		// The scheduler serves a self-signed certificate of its own.
		client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
			TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} //nolint:gosec // loopback health check of a throwaway server
		defer client.CloseIdleConnections()
		return k.await(t, p, "kube-scheduler /readyz", func() (bool, string) {
			return httpOK(client, "https://127.0.0.1:"+strconv.Itoa(k.ports.scheduler)+"/readyz")
		})
	})
}

// RestartAPIServer stops kube-apiserver (SIGTERM, as an operator's restart
// would) and starts it again on the same port, returning once /readyz is
// ok; clients see their connections and watches end meanwhile.
func (k *Kube) RestartAPIServer(t testing.TB) {
	t.Helper()
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.procs[kubeAPIServer].stop(); err != nil {
		t.Fatalf("testenv: RestartAPIServer: %v", err)
	}
	if err := k.runAPIServer(t); err != nil {
		t.Fatalf("testenv: RestartAPIServer: %v", err)
	}
}

// namespaceUnsafe matches what a namespace name cannot hold.
var namespaceUnsafe = regexp.MustCompile(`[^a-z0-9-]+`)

// Namespace creates a fresh namespace named after the test, with its
// `default` ServiceAccount (which pods need, there being no
// kube-controller-manager), and deletes its pods and itself at cleanup.
// Without kube-controller-manager a deleted namespace stays Terminating;
// its name is never reused.
func (k *Kube) Namespace(t testing.TB) string {
	t.Helper()
	slug := strings.Trim(namespaceUnsafe.ReplaceAllString(strings.ToLower(t.Name()), "-"), "-")
	if len(slug) > 40 {
		slug = strings.TrimRight(slug[:40], "-")
	}
	name := "t-" + slug + "-" + randomHex(3)
	ctx, cancel := context.WithTimeout(context.Background(), kubeRequestTimeout)
	defer cancel()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if _, err := k.Client.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
		t.Fatalf("testenv: create namespace %s: %v", name, err)
	}
	t.Cleanup(func() { k.deleteNamespace(t, name) })
	if err := createDefaultServiceAccount(ctx, k.Client, name); err != nil {
		t.Fatalf("testenv: %v", err)
	}
	return name
}

// deleteNamespace deletes the namespace's pods and the namespace.
func (k *Kube) deleteNamespace(t testing.TB, name string) {
	ctx, cancel := context.WithTimeout(context.Background(), kubeRequestTimeout)
	defer cancel()
	pods := k.Client.CoreV1().Pods(name)
	if err := pods.DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{}); err != nil && !apierrors.IsNotFound(err) {
		t.Errorf("testenv: delete the pods of namespace %s: %v", name, err)
	}
	err := k.Client.CoreV1().Namespaces().Delete(ctx, name, metav1.DeleteOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		t.Errorf("testenv: delete namespace %s: %v", name, err)
	}
}

// Pods lists the pods of namespace matching the label selector ("" for
// all) through the apiserver, failing t if the list fails.
func (k *Kube) Pods(t testing.TB, namespace, selector string) []corev1.Pod {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), kubeRequestTimeout)
	defer cancel()
	list, err := k.Client.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		t.Fatalf("testenv: list pods in %s (%q): %v", namespace, selector, err)
	}
	return list.Items
}

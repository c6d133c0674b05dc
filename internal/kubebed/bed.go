package kubebed

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

const (
	// Version is the Kubernetes control plane the bed runs
	// (tools/k8s/go.mod), which /version reports.
	Version = "v1.34.4"

	// startTimeout bounds each component's start: kube-apiserver's first
	// start installs its bootstrap data and takes seconds on a loaded
	// machine.
	startTimeout = 90 * time.Second
	// requestTimeout bounds one set-up request to the apiserver.
	requestTimeout = 30 * time.Second
)

// The components, in start order; Stop stops them in reverse.
const (
	Etcd      = "etcd"
	APIServer = "kube-apiserver"
	Scheduler = "kube-scheduler"
	Kwok      = "kwok"
)

// Components names the bed's programs in start order, as PIDs and Logs
// key them.
var Components = []string{Etcd, APIServer, Scheduler, Kwok}

// Binaries are the paths of the four programs scripts/k8s.sh builds.
type Binaries struct{ Etcd, APIServer, Scheduler, Kwok string }

// ErrMissingBinaries marks a bin directory without the four programs,
// which callers turn into "run scripts/k8s.sh install".
var ErrMissingBinaries = errors.New("kubernetes binaries missing")

// FindBinaries checks that dir holds the four programs.
func FindBinaries(dir string) (Binaries, error) {
	b := Binaries{Etcd: filepath.Join(dir, "etcd"), APIServer: filepath.Join(dir, "kube-apiserver"),
		Scheduler: filepath.Join(dir, "kube-scheduler"), Kwok: filepath.Join(dir, "kwok")}
	var missing []string
	for _, p := range []string{b.Etcd, b.APIServer, b.Scheduler, b.Kwok} {
		if st, err := os.Stat(p); err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
			missing = append(missing, filepath.Base(p))
		}
	}
	if len(missing) > 0 {
		return b, fmt.Errorf("%w: %s not in %s; run scripts/k8s.sh install (about 5 minutes the first time)",
			ErrMissingBinaries, strings.Join(missing, ", "), dir)
	}
	return b, nil
}

// Options configure Start.
type Options struct {
	// Bin are the programs to run.
	Bin Binaries
	// Dir holds the bed's keys, kubeconfig, etcd data and logs; it must
	// exist and is not removed by Stop.
	Dir string
	// Detach runs the programs in sessions of their own, so that they
	// outlive this process (the user's bed); otherwise the kernel kills
	// them when this process dies (tests).
	Detach bool
	// CertValidity is the certificates' lifetime (DefaultCertValidity
	// when zero).
	CertValidity time.Duration
}

// Ports are the loopback ports the components listen on.
type Ports struct{ EtcdClient, EtcdPeer, APIServer, Scheduler, Kwok int }

// Bed is a running control plane: etcd, kube-apiserver, kube-scheduler
// and kwok faking one node, all on 127.0.0.1.
type Bed struct {
	// Kubeconfig is an admin kubeconfig (token auth, the CA inline),
	// usable by client-go and by Sirocco's kubernetes connections.
	Kubeconfig string
	// Server is the apiserver's URL, https://127.0.0.1:PORT.
	Server string
	// Client is an admin clientset; Config its configuration.
	Client kubernetes.Interface
	Config *rest.Config
	// Dir is Options.Dir.
	Dir string

	opts  Options
	pki   *pki
	ports Ports
	mu    sync.Mutex // guards procs
	procs map[string]*proc
}

// Start starts etcd, kube-apiserver, kube-scheduler and kwok (one fake
// node, kwok-node-0, with the Stages of stages.yaml) on free loopback
// ports and returns once the bed is ready: the apiserver answers /readyz,
// the scheduler is ready, the node is Ready and the `default`
// ServiceAccount of namespace default exists. On error it stops what it
// started; the error carries the failing component's log end.
func Start(ctx context.Context, o Options) (*Bed, error) {
	if o.CertValidity == 0 {
		o.CertValidity = DefaultCertValidity
	}
	b := &Bed{Dir: o.Dir, opts: o, procs: map[string]*proc{}, Kubeconfig: filepath.Join(o.Dir, "kubeconfig")}
	if err := b.start(ctx); err != nil {
		return nil, errors.Join(fmt.Errorf("start the Kubernetes test bed in %s: %w", o.Dir, err), b.Stop())
	}
	return b, nil
}

// start runs the steps of Start in order.
func (b *Bed) start(ctx context.Context) error {
	var err error
	if b.pki, err = newPKI(b.Dir, b.opts.CertValidity); err != nil {
		return err
	}
	steps := []func(context.Context) error{b.startEtcd, b.startAPIServer, b.connect, b.setUpCluster, b.startScheduler, b.startKwok}
	for _, step := range steps {
		if err := step(ctx); err != nil {
			return err
		}
	}
	return nil
}

// Stop stops the components newest first (SIGTERM, then SIGKILL after
// 15 s). The directory stays.
func (b *Bed) Stop() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	var errs []error
	for i := len(Components) - 1; i >= 0; i-- {
		errs = append(errs, b.procs[Components[i]].stop())
	}
	return errors.Join(errs...)
}

// PIDs returns the process ids of the started components.
func (b *Bed) PIDs() map[string]int {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := map[string]int{}
	for name, p := range b.procs {
		out[name] = p.pid()
	}
	return out
}

// Logs returns the log file of each started component.
func (b *Bed) Logs() map[string]string {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := map[string]string{}
	for name, p := range b.procs {
		out[name] = p.log
	}
	return out
}

// Ports returns the components' ports.
func (b *Bed) Ports() Ports { return b.ports }

// Token is the admin's bearer token (also in Kubeconfig).
func (b *Bed) Token() string { return b.pki.token }

// KwokURL is the fake kubelet's server (pod logs), https://127.0.0.1:PORT.
func (b *Bed) KwokURL() string { return "https://127.0.0.1:" + strconv.Itoa(b.ports.Kwok) }

// HTTPClient trusts the bed's CA, for the apiserver's and kwok's
// endpoints.
func (b *Bed) HTTPClient() *http.Client {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(b.pki.caPEM)
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
}

// freePort asks the kernel for an unused loopback port.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// startWithRetry runs start on fresh free ports until it does not lose a
// port to another process (at most three times).
func startWithRetry(what string, start func() error) error {
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		if err = start(); !errors.Is(err, errAddrInUse) {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// run starts one component, logging to <dir>/<name>.log, and records it.
func (b *Bed) run(name string, argv ...string) (*proc, error) {
	// kwok reads ~/.kwok/kwok.yaml when it exists: a HOME of its own
	// keeps a developer's configuration out of the bed.
	p, err := startProc(name, b.Dir, filepath.Join(b.Dir, name+".log"), b.opts.Detach, []string{"HOME=" + b.Dir}, argv...)
	if err != nil {
		return nil, err
	}
	b.mu.Lock()
	b.procs[name] = p
	b.mu.Unlock()
	return p, nil
}

// await polls ready until it reports done, the program exits or
// startTimeout passes. An exit whose log says a port was taken returns
// errAddrInUse, for a retry.
func (b *Bed) await(ctx context.Context, p *proc, what string, ready func() (bool, string)) error {
	err := poll(ctx, what, startTimeout, func() (bool, string) {
		if p.exited() {
			return true, ""
		}
		done, observed := ready()
		if done || p.exited() {
			return true, ""
		}
		return false, observed + "\n" + p.name + " log:\n" + Tail(p.log)
	})
	switch {
	case err != nil:
		return err
	case !p.exited():
		return nil
	case p.addrInUse():
		return errAddrInUse
	default:
		return errors.New(p.failure())
	}
}

// poll calls check until it reports done, with a backoff from 5 ms to
// 200 ms; after timeout (or when ctx ends) it returns an error naming
// what and the last observation. The programs are other processes: there
// is no event to await.
func poll(ctx context.Context, what string, timeout time.Duration, check func() (bool, string)) error {
	start := time.Now()
	wait := 5 * time.Millisecond
	for {
		done, observed := check()
		if done {
			return nil
		}
		left := timeout - time.Since(start)
		if left <= 0 {
			return fmt.Errorf("timed out after %s waiting for %s; last observed: %s", time.Since(start).Round(time.Millisecond), what, observed)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w", what, ctx.Err())
		case <-time.After(min(wait, left)):
		}
		wait = min(wait*2, 200*time.Millisecond)
	}
}

// HTTPOK GETs url and reports whether it answered 200, and what it saw:
// the readiness probe of the bed's servers, for polls.
func HTTPOK(client *http.Client, url string) (bool, string) {
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
func (b *Bed) connect(context.Context) error {
	if err := writeKubeconfig(b.Kubeconfig, b.Server, b.pki); err != nil {
		return err
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", b.Kubeconfig)
	if err != nil {
		return fmt.Errorf("kubeconfig %s: %w", b.Kubeconfig, err)
	}
	// Tests create many objects in a burst; client-go's default 5 QPS
	// would make them wait on the client, not the server.
	cfg.QPS, cfg.Burst = 200, 400
	b.Config = cfg
	if b.Client, err = kubernetes.NewForConfig(cfg); err != nil {
		return fmt.Errorf("clientset: %w", err)
	}
	return nil
}

// setUpCluster creates what a cluster without kube-controller-manager
// lacks for pods: the `default` ServiceAccount of namespace default.
func (b *Bed) setUpCluster(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	return CreateDefaultServiceAccount(ctx, b.Client, metav1.NamespaceDefault)
}

// CreateDefaultServiceAccount creates namespace's `default`
// ServiceAccount, which the ServiceAccount admission plugin requires of
// every pod and which only kube-controller-manager (absent from the bed)
// would otherwise make.
func CreateDefaultServiceAccount(ctx context.Context, c kubernetes.Interface, namespace string) error {
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: namespace}}
	_, err := c.CoreV1().ServiceAccounts(namespace).Create(ctx, sa, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create ServiceAccount %s/default: %w", namespace, err)
	}
	return nil
}

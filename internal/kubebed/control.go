package kubebed

import (
	"context"
	"crypto/tls"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// startEtcd runs the embedded etcd on two free ports and waits for its
// "etcd ready" line.
func (b *Bed) startEtcd(ctx context.Context) error {
	return startWithRetry(Etcd, func() error {
		var err error
		if b.ports.EtcdClient, err = freePort(); err != nil {
			return err
		}
		if b.ports.EtcdPeer, err = freePort(); err != nil {
			return err
		}
		p, err := b.run(Etcd, b.opts.Bin.Etcd,
			"-data-dir", filepath.Join(b.Dir, "etcd"),
			"-listen-client-url", b.etcdURL(),
			"-listen-peer-url", "http://127.0.0.1:"+strconv.Itoa(b.ports.EtcdPeer))
		if err != nil {
			return err
		}
		return b.await(ctx, p, "etcd to serve clients", func() (bool, string) {
			log, _ := os.ReadFile(p.log)
			return strings.Contains(string(log[min(int64(len(log)), p.offset):]), "etcd ready"), "no \"etcd ready\" line yet"
		})
	})
}

func (b *Bed) etcdURL() string { return "http://127.0.0.1:" + strconv.Itoa(b.ports.EtcdClient) }

// apiserverArgs are kube-apiserver's flags: token authentication, RBAC,
// the kubelet (kwok) reached on its InternalIP (no
// --kubelet-certificate-authority: its certificate is not verified), and
// nothing a single loopback server does not need.
func (b *Bed) apiserverArgs() []string {
	return []string{
		b.opts.Bin.APIServer,
		"--etcd-servers=" + b.etcdURL(),
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(b.ports.APIServer),
		"--cert-dir=" + filepath.Join(b.Dir, "apiserver-certs"),
		"--tls-cert-file=" + b.pki.serverCert,
		"--tls-private-key-file=" + b.pki.serverKey,
		"--service-account-key-file=" + b.pki.saKey,
		"--service-account-signing-key-file=" + b.pki.saKey,
		"--service-account-issuer=https://kubernetes.default.svc",
		"--token-auth-file=" + b.pki.tokenFile,
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
		"--client-ca-file=" + b.pki.caFile,
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
func (b *Bed) startAPIServer(ctx context.Context) error {
	return startWithRetry(APIServer, func() error {
		var err error
		if b.ports.APIServer, err = freePort(); err != nil {
			return err
		}
		b.Server = "https://127.0.0.1:" + strconv.Itoa(b.ports.APIServer)
		return b.runAPIServer(ctx)
	})
}

// runAPIServer starts kube-apiserver on b.ports.APIServer and waits for
// its /readyz.
func (b *Bed) runAPIServer(ctx context.Context) error {
	p, err := b.run(APIServer, b.apiserverArgs()...)
	if err != nil {
		return err
	}
	client := b.HTTPClient()
	defer client.CloseIdleConnections()
	return b.await(ctx, p, "kube-apiserver /readyz", func() (bool, string) {
		return HTTPOK(client, b.Server+"/readyz")
	})
}

// startScheduler runs kube-scheduler with the admin kubeconfig, no leader
// election, its health endpoint on a free port, and waits until it is
// ready (its informers synced).
func (b *Bed) startScheduler(ctx context.Context) error {
	return startWithRetry(Scheduler, func() error {
		var err error
		if b.ports.Scheduler, err = freePort(); err != nil {
			return err
		}
		p, err := b.run(Scheduler, b.opts.Bin.Scheduler,
			"--kubeconfig="+b.Kubeconfig,
			"--authentication-kubeconfig="+b.Kubeconfig,
			"--authorization-kubeconfig="+b.Kubeconfig,
			"--leader-elect=false",
			"--bind-address=127.0.0.1",
			"--secure-port="+strconv.Itoa(b.ports.Scheduler),
			"--cert-dir="+filepath.Join(b.Dir, "scheduler-certs"),
			"--profiling=false",
			"--v=1")
		if err != nil {
			return err
		}
		// The scheduler serves a self-signed certificate of its own.
		client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
			TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} //nolint:gosec // loopback health check of a throwaway server
		defer client.CloseIdleConnections()
		return b.await(ctx, p, "kube-scheduler /readyz", func() (bool, string) {
			return HTTPOK(client, "https://127.0.0.1:"+strconv.Itoa(b.ports.Scheduler)+"/readyz")
		})
	})
}

// RestartAPIServer stops kube-apiserver (SIGTERM, as an operator's restart
// would) and starts it again on the same port, returning once /readyz is
// ok; clients see their connections and watches end meanwhile.
func (b *Bed) RestartAPIServer(ctx context.Context) error {
	b.mu.Lock()
	p := b.procs[APIServer]
	b.mu.Unlock()
	if err := p.stop(); err != nil {
		return err
	}
	return b.runAPIServer(ctx)
}

package kubebed

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// DefaultCertValidity is how long the bed's certificates are valid unless
// Options say otherwise: far beyond any test, short enough that a leaked
// one is worthless.
const DefaultCertValidity = 24 * time.Hour

// pki is the test bed's key material, all written to files in the
// bed's directory: a CA, the serving certificates of kube-apiserver and
// kwok signed by it, the service-account signing key and the admin token.
type pki struct {
	caFile     string // PEM CA certificate, trusted by every client
	caPEM      []byte
	serverCert string // kube-apiserver's serving certificate and key
	serverKey  string
	kwokCert   string // kwok's (the fake kubelet's) serving certificate and key
	kwokKey    string
	saKey      string // RSA key signing service-account tokens
	tokenFile  string // static token file: the admin token in system:masters
	token      string
}

// newPKI generates the key material into dir. The CA is made here in
// Go rather than left to kube-apiserver's --cert-dir so that the
// kubeconfig can be written before the server starts and kwok's
// certificate shares the same trust.
func newPKI(dir string, validity time.Duration) (*pki, error) {
	ca, caKey, caPEM, err := newCA(validity)
	if err != nil {
		return nil, err
	}
	p := &pki{
		caFile: filepath.Join(dir, "ca.crt"), caPEM: caPEM,
		serverCert: filepath.Join(dir, "apiserver.crt"), serverKey: filepath.Join(dir, "apiserver.key"),
		kwokCert: filepath.Join(dir, "kwok.crt"), kwokKey: filepath.Join(dir, "kwok.key"),
		saKey: filepath.Join(dir, "sa.key"), tokenFile: filepath.Join(dir, "tokens.csv"),
		token: randomHex(24),
	}
	if err := os.WriteFile(p.caFile, caPEM, 0o644); err != nil {
		return nil, fmt.Errorf("write CA: %w", err)
	}
	apiserverNames := []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc"}
	if err := issueCert(validity, ca, caKey, "kube-apiserver", apiserverNames, p.serverCert, p.serverKey); err != nil {
		return nil, err
	}
	if err := issueCert(validity, ca, caKey, "kwok-node-0", []string{"localhost", NodeName}, p.kwokCert, p.kwokKey); err != nil {
		return nil, err
	}
	if err := writeRSAKey(p.saKey); err != nil {
		return nil, err
	}
	line := fmt.Sprintf("%s,admin,admin-uid,\"system:masters\"\n", p.token)
	if err := os.WriteFile(p.tokenFile, []byte(line), 0o600); err != nil {
		return nil, fmt.Errorf("write token file: %w", err)
	}
	return p, nil
}

// newCA makes a self-signed ECDSA CA.
func newCA(validity time.Duration) (*x509.Certificate, *ecdsa.PrivateKey, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("CA key: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "sirocco-test-kube-ca"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(validity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("CA certificate: %w", err)
	}
	ca, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("CA certificate: %w", err)
	}
	return ca, key, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), nil
}

// issueCert writes a serving certificate for 127.0.0.1 and names, signed
// by ca, and its key.
func issueCert(validity time.Duration, ca *x509.Certificate, caKey *ecdsa.PrivateKey, cn string, names []string, certPath, keyPath string) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("%s key: %w", cn, err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return fmt.Errorf("%s serial: %w", cn, err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(validity),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     names,
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return fmt.Errorf("%s certificate: %w", cn, err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return fmt.Errorf("%s key: %w", cn, err)
	}
	if err := os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return fmt.Errorf("write %s certificate: %w", cn, err)
	}
	if err := os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return fmt.Errorf("write %s key: %w", cn, err)
	}
	return nil
}

// writeRSAKey writes a new RSA private key (PKCS#1 PEM), the kind the
// test-bed recipe signs service-account tokens with.
func writeRSAKey(path string) error {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return fmt.Errorf("service-account key: %w", err)
	}
	block := &pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}
	if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
		return fmt.Errorf("write service-account key: %w", err)
	}
	return nil
}

// writeKubeconfig writes an admin kubeconfig for server: the CA inline and
// the static token, one context named "sirocco-test" that is current.
func writeKubeconfig(path, server string, p *pki) error {
	const name = "sirocco-test"
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters[name] = &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: p.caPEM}
	cfg.AuthInfos[name] = &clientcmdapi.AuthInfo{Token: p.token}
	cfg.Contexts[name] = &clientcmdapi.Context{Cluster: name, AuthInfo: name, Namespace: "default"}
	cfg.CurrentContext = name
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		return fmt.Errorf("write kubeconfig: %w", err)
	}
	return nil
}

// randomHex returns n random bytes as hex, for tokens and names.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

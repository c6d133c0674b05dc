package main

// End-to-end tests of users, logins and TLS on `sirocco api-server`.

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/testenv"
)

// TestAPIAuthUsersAndTLS: once a user exists the API server needs a login;
// a token from POST /auth/token triggers a run, which lands in the audit
// log; served with --tls-cert/--tls-key it speaks only HTTPS and may
// listen beyond loopback.
func TestAPIAuthUsersAndTLS(t *testing.T) {
	s := newSite(t, map[string]string{"d.yaml": "dag_id: d\ntasks:\n  - {id: a, operator: empty}\n"})
	create := exec.Command(binary, "users", "create", "--username", "ann", "--role", "Admin", "--password-stdin")
	create.Env, create.Stdin = s.env(), strings.NewReader("ann-password-1\n")
	if out, err := create.CombinedOutput(); err != nil {
		t.Fatalf("users create: %v\n%s", err, out)
	}
	cert, key, pool := selfSigned(t)
	addr := freeAddr(t)
	srv := &server{addr: addr, log: &bytes.Buffer{}, done: make(chan struct{})}
	srv.cmd = exec.Command(binary, "api-server", "--listen", addr, "--tls-cert", cert, "--tls-key", key)
	srv.cmd.Env = s.env()
	srv.cmd.Stdout, srv.cmd.Stderr = srv.log, srv.log
	if err := srv.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.cmd.Wait(); close(srv.done) }()
	t.Cleanup(srv.stop)
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	base := "https://" + addr
	testenv.Eventually(t, "api-server to answer over HTTPS", time.Minute, func() (bool, string) {
		resp, err := client.Get(base + "/health")
		if err != nil {
			return false, err.Error()
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, resp.Status
	})
	if resp, err := healthClient.Get("http://" + addr + "/health"); err == nil {
		resp.Body.Close()
		if resp.StatusCode < 400 {
			t.Errorf("plain HTTP answered %d on a TLS server", resp.StatusCode)
		}
	}
	post := func(path, token, body string) (int, map[string]any) {
		req, _ := http.NewRequest("POST", base+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&m)
		return resp.StatusCode, m
	}
	if code, _ := post("/api/v1/dags/d/dagRuns", "", `{}`); code != http.StatusUnauthorized {
		t.Fatalf("trigger without a login: %d", code)
	}
	code, tok := post("/auth/token", "", `{"username": "ann", "password": "ann-password-1"}`)
	token, _ := tok["access_token"].(string)
	if code != http.StatusOK || token == "" {
		t.Fatalf("auth/token: %d %v", code, tok)
	}
	if code, run := post("/api/v1/dags/d/dagRuns", token, `{"dag_run_id": "r1"}`); code != http.StatusOK {
		t.Fatalf("trigger with the token: %d %v", code, run)
	}
	req, _ := http.NewRequest("GET", base+"/api/v1/eventLogs", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var logs map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&logs)
	resp.Body.Close()
	entries, _ := logs["event_logs"].([]any)
	if resp.StatusCode != http.StatusOK || len(entries) < 2 || !strings.Contains(mustJSON(entries), `"POST /api/v1/dags/{dag_id}/dagRuns"`) {
		t.Errorf("audit log: %d %v", resp.StatusCode, logs)
	}
	srv.stop()
	if strings.Contains(srv.log.String(), token) || strings.Contains(srv.log.String(), "ann-password-1") {
		t.Error("the server's log shows a secret")
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// selfSigned writes a certificate for 127.0.0.1 and its key to files and
// returns them with a pool trusting it.
func selfSigned(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "sirocco test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

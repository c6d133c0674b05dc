package sshclient

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/testenv"
	"golang.org/x/crypto/ssh"
)

func TestKeyFileLogin(t *testing.T) {
	srv := testenv.SSHD(t)
	s := settingsOf(t, connTo(srv, "edge", map[string]string{"key_file": srv.KeyFile}))
	mustRun(t, s, "echo hello", "hello")
	if _, code, err := runOnce(t, s, "exit 3"); err != nil || code != 3 {
		t.Errorf("exit 3: code %d, err %v", code, err)
	}
}

func TestInlineKeyLogin(t *testing.T) {
	srv := testenv.SSHD(t)
	pem, err := os.ReadFile(srv.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	// As pasted into a one-line field, newlines written \n.
	oneLine := strings.ReplaceAll(strings.TrimSpace(string(pem)), "\n", `\n`)
	s := settingsOf(t, connTo(srv, "edge", map[string]string{"private_key": oneLine}))
	mustRun(t, s, "echo inline", "inline")
}

func TestEncryptedKey(t *testing.T) {
	srv := testenv.SSHD(t)
	s := settingsOf(t, connTo(srv, "edge", map[string]string{"key_file": srv.EncryptedKeyFile, "passphrase": srv.Passphrase}))
	mustRun(t, s, "echo decrypted", "decrypted")

	s = settingsOf(t, connTo(srv, "edge", map[string]string{"key_file": srv.EncryptedKeyFile, "private_key_passphrase": "wrong"}))
	_, _, err := runOnce(t, s, "true")
	wantStage(t, err, StageConfig, "ssh connection edge", srv.EncryptedKeyFile, "passphrase does not decrypt")

	s = settingsOf(t, connTo(srv, "edge", map[string]string{"key_file": srv.EncryptedKeyFile}))
	_, _, err = runOnce(t, s, "true")
	wantStage(t, err, StageConfig, "is encrypted", "private_key_passphrase")
	if strings.Contains(err.Error(), srv.Passphrase) {
		t.Errorf("error shows the passphrase: %v", err)
	}
}

// TestAgentLogin uses OpenSSH's own ssh-agent holding the client key.
func TestAgentLogin(t *testing.T) {
	srv := testenv.SSHD(t)
	if _, err := exec.LookPath("ssh-agent"); err != nil {
		testenv.RequireCI(t, "ssh-agent", err)
	}
	sock := filepath.Join(t.TempDir(), "agent.sock")
	agentCmd := exec.Command("ssh-agent", "-D", "-a", sock)
	if err := agentCmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = agentCmd.Process.Kill(); _ = agentCmd.Wait() })
	add := func() error {
		cmd := exec.Command("ssh-add", srv.KeyFile)
		cmd.Env = append(os.Environ(), "SSH_AUTH_SOCK="+sock)
		return cmd.Run()
	}
	deadline := time.Now().Add(10 * time.Second)
	for err := add(); err != nil; err = add() { // the socket appears once the agent is up
		if time.Now().After(deadline) {
			t.Fatalf("ssh-add: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	env := isolatedEnv(t)
	env.AgentSocket = sock
	s, err := FromConnection(connTo(srv, "edge", nil), env)
	if err != nil {
		t.Fatal(err)
	}
	mustRun(t, s, "echo agent", "agent")

	// use_agent: false leaves nothing to log in with.
	s, err = FromConnection(connTo(srv, "edge", map[string]string{"use_agent": "false"}), env)
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = runOnce(t, s, "true")
	wantStage(t, err, StageConfig, "no way to log in")
}

func TestPasswordLogin(t *testing.T) {
	srv := testenv.SSHD(t, testenv.SSHDPassword())
	c := connTo(srv, "edge", nil)
	c.Login, c.Password = srv.PasswordUser, srv.Password
	mustRun(t, settingsOf(t, c), "id -un", srv.PasswordUser)

	c.Password = "not-the-password"
	_, _, err := runOnce(t, settingsOf(t, c), "true")
	wantStage(t, err, StageAuth, "refused the login", "password")
	if strings.Contains(err.Error(), c.Password) {
		t.Errorf("error shows the password: %v", err)
	}
}

func TestKnownHosts(t *testing.T) {
	srv := testenv.SSHD(t)
	other := testenv.SSHD(t)
	empty := filepath.Join(t.TempDir(), "known_hosts")

	// Unknown: fails before logging in, naming host, key type and
	// fingerprint, and how to trust it.
	s := settingsOf(t, connTo(srv, "edge", map[string]string{"key_file": srv.KeyFile, "known_hosts": empty}))
	_, _, err := runOnce(t, s, "touch "+filepath.Join(t.TempDir(), "ran"))
	pub, _, _, _, _ := ssh.ParseAuthorizedKey([]byte(srv.HostKey))
	wantStage(t, err, StageHostKey, srv.Addr(), "is not known", "ssh-ed25519", ssh.FingerprintSHA256(pub),
		empty, "host_key", "sirocco connections test edge --accept-host-key")
	if n := srv.Logins(); n != 0 {
		t.Fatalf("%d logins to an unverified host", n)
	}
	if _, err := os.Stat(empty); !os.IsNotExist(err) {
		t.Fatalf("known_hosts written without asking: %v", err)
	}

	// Trusting it as --accept-host-key will: append, then it works.
	var hke *HostKeyError
	if !errorsAs(err, &hke) {
		t.Fatalf("no HostKeyError in %v", err)
	}
	if err := AppendKnownHost(empty, hke.Addr, hke.Key); err != nil {
		t.Fatal(err)
	}
	mustRun(t, s, "echo trusted", "trusted")

	// Mismatch: another server's key recorded for this address.
	forged := filepath.Join(t.TempDir(), "known_hosts")
	line := strings.Replace(other.KnownHosts, other.Addr()[len("127.0.0.1:"):], srv.Addr()[len("127.0.0.1:"):], 1)
	if err := os.WriteFile(forged, []byte(line), 0o600); err != nil {
		t.Fatal(err)
	}
	s = settingsOf(t, connTo(srv, "edge", map[string]string{"key_file": srv.KeyFile, "known_hosts": forged}))
	_, _, err = runOnce(t, s, "true")
	wantStage(t, err, StageHostKey, "HOST KEY MISMATCH", srv.Addr(), ssh.FingerprintSHA256(pub), forged+":1")
}

func errorsAs(err error, target **HostKeyError) bool {
	for e := err; e != nil; {
		if h, ok := e.(*HostKeyError); ok { //nolint:errorlint // walking the chain by hand
			*target = h
			return true
		}
		u, ok := e.(interface{ Unwrap() error }) //nolint:errorlint // walking the chain by hand
		if !ok {
			return false
		}
		e = u.Unwrap()
	}
	return false
}

// TestKnownHostsPicksTheKnownKeyType: a server with an RSA and an ed25519
// host key, known by one of them, is asked for that one.
func TestKnownHostsPicksTheKnownKeyType(t *testing.T) {
	srv := testenv.SSHD(t, testenv.SSHDRSAHostKey())
	for _, keep := range []string{"ssh-ed25519", "ssh-rsa"} {
		var lines []string
		for _, l := range strings.Split(strings.TrimSpace(srv.KnownHosts), "\n") {
			if strings.Contains(l, " "+keep+" ") {
				lines = append(lines, l)
			}
		}
		kh := filepath.Join(t.TempDir(), "known_hosts")
		if err := os.WriteFile(kh, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		s := settingsOf(t, connTo(srv, "edge", map[string]string{"key_file": srv.KeyFile, "known_hosts": kh}))
		mustRun(t, s, "echo "+keep, keep)
	}
}

func TestPinnedHostKey(t *testing.T) {
	srv := testenv.SSHD(t)
	other := testenv.SSHD(t)
	pub, _, _, _, _ := ssh.ParseAuthorizedKey([]byte(srv.HostKey))
	otherPub, _, _, _, _ := ssh.ParseAuthorizedKey([]byte(other.HostKey))
	for _, pin := range []string{srv.HostKey, ssh.FingerprintSHA256(pub)} {
		// known_hosts is empty: the pin alone decides.
		s := settingsOf(t, connTo(srv, "edge", map[string]string{"key_file": srv.KeyFile, "host_key": pin,
			"known_hosts": filepath.Join(t.TempDir(), "none")}))
		mustRun(t, s, "echo pinned", "pinned")
	}
	for _, pin := range []string{other.HostKey, ssh.FingerprintSHA256(otherPub)} {
		s := settingsOf(t, connTo(srv, "edge", map[string]string{"key_file": srv.KeyFile, "host_key": pin}))
		_, _, err := runOnce(t, s, "true")
		wantStage(t, err, StageHostKey, "HOST KEY MISMATCH", ssh.FingerprintSHA256(pub), ssh.FingerprintSHA256(otherPub))
	}
}

// TestConnectTimeout: a server that accepts TCP but never speaks fails
// within connect_timeout.
func TestConnectTimeout(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	held := make(chan net.Conn, 1)
	go func() {
		if c, err := l.Accept(); err == nil {
			held <- c // accepted, never answered
		}
	}()
	t.Cleanup(func() {
		select {
		case c := <-held:
			c.Close()
		default:
		}
	})
	port := l.Addr().(*net.TCPAddr).Port
	c := connectionAt("127.0.0.1", port, map[string]string{"connect_timeout": "300ms", "insecure_skip_host_key": "true"})
	c.Password = "x"
	s := settingsOf(t, c)
	start := time.Now()
	_, err = Dial(t.Context(), s, nil)
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("took %s", el)
	}
	wantStage(t, err, StageHandshake, "connect_timeout 300ms", "127.0.0.1:")
}

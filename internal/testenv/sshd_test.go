package testenv

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// sshCmd runs OpenSSH's own client against s (tests read its stdout
// only: the login shell's startup files may write to stderr), trusting only s's known
// hosts, so the test bed is checked with the reference client.
func sshCmd(t *testing.T, s *SSHServer, extra ...string) *exec.Cmd {
	t.Helper()
	if _, err := exec.LookPath("ssh"); err != nil {
		RequireCI(t, "OpenSSH client", err)
	}
	args := []string{"-F", "/dev/null", "-i", s.KeyFile, "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
		"-o", "StrictHostKeyChecking=yes", "-o", "UserKnownHostsFile=" + s.KnownHostsFile,
		"-p", strconv.Itoa(s.Port), "-l", s.User}
	args = append(args, extra...)
	return exec.Command("ssh", args...)
}

func TestSSHDServesKeyLogins(t *testing.T) {
	s := SSHD(t)
	out, err := sshCmd(t, s, s.Host, "echo", "hello").Output()
	if err != nil || strings.TrimSpace(string(out)) != "hello" {
		t.Fatalf("ssh: %v\n%s", err, out)
	}
	if n := s.Logins(); n != 1 {
		t.Errorf("Logins() = %d after one login, want 1", n)
	}
	if !strings.HasPrefix(s.KnownHosts, "[127.0.0.1]:"+strconv.Itoa(s.Port)+" ssh-ed25519 ") {
		t.Errorf("KnownHosts = %q", s.KnownHosts)
	}

	// Stop breaks the server; Start brings it back on the same port and
	// keys, so the same known_hosts still matches.
	s.Stop()
	if err := sshCmd(t, s, s.Host, "true").Run(); err == nil {
		t.Fatal("ssh to a stopped server succeeded")
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	if out, err := sshCmd(t, s, s.Host, "true").CombinedOutput(); err != nil {
		t.Fatalf("ssh after restart: %v\n%s", err, out)
	}
}

func TestSSHDBastionForwards(t *testing.T) {
	target := SSHD(t)
	bastion := SSHD(t, SSHDBastion(), SSHDRSAHostKey())
	if bastion.HostKeyRSA == "" || strings.Count(bastion.KnownHosts, "\n") != 2 {
		t.Fatalf("RSA host key missing: %q", bastion.KnownHosts)
	}
	// Both servers' host keys in one file, for ssh -J.
	kh := t.TempDir() + "/known_hosts"
	writeFile(t, kh, target.KnownHosts+bastion.KnownHosts)
	jump := "ssh -F /dev/null -i " + bastion.KeyFile + " -o BatchMode=yes -o UserKnownHostsFile=" + kh +
		" -p " + strconv.Itoa(bastion.Port) + " -W %h:%p " + bastion.User + "@" + bastion.Host
	out, err := sshCmd(t, target, "-o", "UserKnownHostsFile="+kh, "-o", "ProxyCommand="+jump,
		target.Host, "echo", "via").Output()
	if err != nil || strings.TrimSpace(string(out)) != "via" {
		t.Fatalf("ssh through the bastion: %v\n%s", err, out)
	}
	// The target itself refuses forwarding: only the bastion forwards.
	if out, err := sshCmd(t, bastion, "-o", "UserKnownHostsFile="+kh, "-o",
		"ProxyCommand="+strings.Replace(jump, strconv.Itoa(bastion.Port), strconv.Itoa(target.Port), 1),
		bastion.Host, "true").CombinedOutput(); err == nil {
		t.Fatalf("the target forwarded TCP:\n%s", out)
	}
}

func TestSSHDEncryptedKey(t *testing.T) {
	s := SSHD(t)
	// ssh-keygen -y prints the public key only with the right passphrase.
	out, err := exec.Command("ssh-keygen", "-y", "-P", s.Passphrase, "-f", s.EncryptedKeyFile).CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), s.ClientPublicKey) {
		t.Fatalf("decrypt with the passphrase: %v\n%s", err, out)
	}
	if err := exec.Command("ssh-keygen", "-y", "-P", "", "-f", s.EncryptedKeyFile).Run(); err == nil {
		t.Fatal("the encrypted key opened without its passphrase")
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestSSHDStopKillsDetachedJobs: a job a session detached (setsid, its
// own session, reparented away from sshd) is listed and killed by Stop.
func TestSSHDStopKillsDetachedJobs(t *testing.T) {
	s := SSHD(t)
	out, err := sshCmd(t, s, s.Host, "setsid sleep 600 </dev/null >/dev/null 2>&1 & echo started").Output()
	if err != nil || !strings.Contains(string(out), "started") {
		t.Fatalf("ssh: %v\n%s", err, out)
	}
	if n := len(s.SessionProcesses()); n != 1 {
		t.Fatalf("SessionProcesses() = %d processes, want the detached sleep", n)
	}
	// Dropped connections leave the job alone; Stop does not.
	s.DropConnections()
	if n := len(s.SessionProcesses()); n != 1 {
		t.Fatalf("after DropConnections: %d processes, want the detached sleep", n)
	}
	if out, err := sshCmd(t, s, s.Host, "true").CombinedOutput(); err != nil {
		t.Fatalf("ssh after DropConnections: %v\n%s", err, out)
	}
	s.Stop()
	if pids := s.SessionProcesses(); len(pids) != 0 {
		t.Fatalf("processes %v survived Stop", pids)
	}
}

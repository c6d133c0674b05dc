package testenv

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
)

// sshClientKeySet is the client identity every SSHD of a test binary
// authorizes.
type sshClientKeySet struct {
	plain, encrypted, passphrase, public string
}

var (
	sshKeysOnce sync.Once
	sshKeys     sshClientKeySet
	sshKeysErr  error
)

// sshClientKeys generates the test binary's client key once: an ed25519
// key and an encrypted copy of it, in a directory RunMain removes.
func sshClientKeys() (sshClientKeySet, error) {
	sshKeysOnce.Do(func() {
		sshKeys, sshKeysErr = makeSSHClientKeys()
	})
	return sshKeys, sshKeysErr
}

func makeSSHClientKeys() (sshClientKeySet, error) {
	var k sshClientKeySet
	if _, err := exec.LookPath("ssh-keygen"); err != nil {
		return k, fmt.Errorf("ssh-keygen %w (install Debian's openssh-client): %w", ErrNotInstalled, err)
	}
	dir, err := os.MkdirTemp("", "sirocco-sshkeys-")
	if err != nil {
		return k, err
	}
	atExit(func() error { return os.RemoveAll(dir) })
	k.plain = filepath.Join(dir, "id_ed25519")
	if k.public, err = sshKeygen(k.plain, "ed25519"); err != nil {
		return k, err
	}
	k.passphrase = "correct horse " + randomHex(4)
	k.encrypted = filepath.Join(dir, "id_ed25519_encrypted")
	b, err := os.ReadFile(k.plain)
	if err != nil {
		return k, err
	}
	if err := os.WriteFile(k.encrypted, b, 0o600); err != nil {
		return k, err
	}
	// -a 4: few KDF rounds, so decrypting in tests stays fast.
	cmd := exec.Command("ssh-keygen", "-q", "-p", "-a", "4", "-P", "", "-N", k.passphrase, "-f", k.encrypted)
	if out, err := cmd.CombinedOutput(); err != nil {
		return k, fmt.Errorf("encrypt key: %w\n%s", err, out)
	}
	return k, nil
}

// sshKeygen creates an unencrypted key pair of type kt at path (public key at
// path.pub) and returns the public key without its comment.
func sshKeygen(path, kt string) (string, error) {
	args := []string{"-q", "-t", kt, "-N", "", "-C", "", "-f", path}
	if kt == "rsa" {
		args = append(args, "-b", "2048")
	}
	if out, err := exec.Command("ssh-keygen", args...).CombinedOutput(); err != nil {
		return "", fmt.Errorf("ssh-keygen -t %s: %w\n%s", kt, err, out)
	}
	pub, err := os.ReadFile(path + ".pub")
	if err != nil {
		return "", err
	}
	f := strings.Fields(string(pub))
	if len(f) < 2 {
		return "", fmt.Errorf("ssh-keygen wrote a malformed public key %s", path+".pub")
	}
	return f[0] + " " + f[1], nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func currentUser() (string, error) {
	u, err := user.Current()
	if err != nil {
		return "", fmt.Errorf("current user: %w", err)
	}
	return u.Username, nil
}

// SSHTestUser is the local account that password logins to SSHD use. sshd
// checks passwords against the system's accounts (with UsePAM no, against
// /etc/shadow), so password authentication cannot be tested with a user
// of the test's own; and giving root a password would weaken the machine.
// A dedicated, unprivileged account with a random password is the least
// harmful choice.
const SSHTestUser = "sirocco-sshtest"

// sshTestState holds the test user's password, readable by root only, so
// every test binary on the machine uses the same one and concurrent runs do
// not overwrite each other's.
const sshTestState = "/var/lib/sirocco-sshtest"

// SSHPasswordUser returns the login and password of SSHTestUser, creating
// the account (useradd) and setting its password (chpasswd) on first use.
// It needs root; the work happens under a file lock, so concurrent test
// binaries neither race on useradd nor disagree on the password. The
// password is random per machine, kept in a root-only file.
func SSHPasswordUser() (login, password string, err error) {
	if os.Geteuid() != 0 {
		return "", "", fmt.Errorf("password logins need a local test user, which only root can create: %w", ErrNotInstalled)
	}
	if err := os.MkdirAll(sshTestState, 0o700); err != nil {
		return "", "", err
	}
	lock, err := os.OpenFile(filepath.Join(sshTestState, "lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return "", "", err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return "", "", fmt.Errorf("lock %s: %w", lock.Name(), err)
	}
	defer func() { _ = syscall.Flock(int(lock.Fd()), syscall.LOCK_UN) }()

	if _, err := user.Lookup(SSHTestUser); err != nil {
		var unknown user.UnknownUserError
		if !errors.As(err, &unknown) {
			return "", "", err
		}
		out, err := exec.Command("useradd", "--create-home", "--shell", "/bin/sh",
			"--comment", "Sirocco ssh tests", SSHTestUser).CombinedOutput()
		if err != nil {
			return "", "", fmt.Errorf("useradd %s: %w\n%s", SSHTestUser, err, out)
		}
	}
	pwFile := filepath.Join(sshTestState, "password")
	b, err := os.ReadFile(pwFile)
	switch {
	case err == nil:
		password = strings.TrimSpace(string(b))
	case errors.Is(err, os.ErrNotExist):
		password = randomHex(16)
		if err := os.WriteFile(pwFile, []byte(password+"\n"), 0o600); err != nil {
			return "", "", err
		}
	default:
		return "", "", err
	}
	cmd := exec.Command("chpasswd")
	cmd.Stdin = strings.NewReader(SSHTestUser + ":" + password + "\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", "", fmt.Errorf("chpasswd %s: %w\n%s", SSHTestUser, err, out)
	}
	return SSHTestUser, password, nil
}

package sshclient

import (
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// auth is the authentication of one dial: the methods for the library,
// what they offer (for error messages), and the agent connection to close
// once logged in.
type auth struct {
	methods []ssh.AuthMethod
	offered []string
	agent   io.Closer
}

func (a *auth) close() {
	if a.agent != nil {
		_ = a.agent.Close()
	}
}

// newAuth loads the keys of s. All public keys go into one method, since
// the library tries each method kind once: explicit key first, then the
// agent's, then the default files; then the password, also answered to
// keyboard-interactive prompts for servers that only offer those.
func newAuth(s *Settings, log *slog.Logger) (*auth, error) {
	a := &auth{}
	var signers []ssh.Signer
	switch {
	case s.KeyFile != "":
		pem, err := os.ReadFile(s.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("key_file: %w", err)
		}
		k, err := parseKey(pem, s.Passphrase, "key_file "+s.KeyFile)
		if err != nil {
			return nil, err
		}
		signers = append(signers, k)
		a.offered = append(a.offered, "key_file "+s.KeyFile)
	case s.PrivateKey != "":
		k, err := parseKey([]byte(s.PrivateKey.Reveal()), s.Passphrase, "private_key")
		if err != nil {
			return nil, err
		}
		signers = append(signers, k)
		a.offered = append(a.offered, "private_key")
	}
	if s.UseAgent && s.AgentSocket != "" {
		ks, err := a.agentSigners(s.AgentSocket)
		if err != nil {
			log.Warn("ssh-agent not usable", "conn_id", s.ConnID, "socket", s.AgentSocket, "error", err)
			a.offered = append(a.offered, fmt.Sprintf("ssh-agent (%v)", err))
		} else {
			signers = append(signers, ks...)
			a.offered = append(a.offered, fmt.Sprintf("ssh-agent (%d keys)", len(ks)))
		}
	}
	if s.LookForKeys {
		for _, path := range s.DefaultIdentities {
			pem, err := os.ReadFile(path)
			if err != nil {
				continue
			}
			k, err := ssh.ParsePrivateKey(pem)
			if err != nil {
				continue // encrypted or unreadable: OpenSSH would prompt; we cannot
			}
			signers = append(signers, k)
			a.offered = append(a.offered, path)
		}
	}
	if len(signers) > 0 {
		a.methods = append(a.methods, ssh.PublicKeys(signers...))
	}
	if s.Password != "" {
		pw := s.Password.Reveal()
		a.methods = append(a.methods, ssh.Password(pw),
			ssh.KeyboardInteractive(func(_, _ string, questions []string, _ []bool) ([]string, error) {
				answers := make([]string, len(questions))
				for i, q := range questions {
					if strings.Contains(strings.ToLower(q), "password") {
						answers[i] = pw
					}
				}
				return answers, nil
			}))
		a.offered = append(a.offered, "password")
	}
	if len(a.methods) == 0 {
		a.close()
		return nil, errors.New("no way to log in: set key_file, private_key or a password, or run an ssh-agent (SSH_AUTH_SOCK)")
	}
	return a, nil
}

// parseKey reads a private key, decrypting it with the passphrase when it
// is encrypted. Errors name the key's origin, never its content or the
// passphrase.
func parseKey(pem []byte, passphrase Secret, what string) (ssh.Signer, error) {
	k, err := ssh.ParsePrivateKey(pem)
	var missing *ssh.PassphraseMissingError
	switch {
	case err == nil:
		return k, nil
	case errors.As(err, &missing) && passphrase == "":
		return nil, fmt.Errorf("%s is encrypted: set the passphrase extra (private_key_passphrase)", what)
	case errors.As(err, &missing):
		k, err = ssh.ParsePrivateKeyWithPassphrase(pem, []byte(passphrase.Reveal()))
		if errors.Is(err, x509.IncorrectPasswordError) {
			return nil, fmt.Errorf("%s: the passphrase does not decrypt it", what)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		return k, nil
	}
	return nil, fmt.Errorf("%s is not a private key SSH can read: %w", what, err)
}

// agentSigners connects to the ssh-agent and lists its keys; the
// connection stays open for the signatures of the login.
func (a *auth) agentSigners(socket string) ([]ssh.Signer, error) {
	conn, err := net.Dial("unix", socket)
	if err != nil {
		return nil, err
	}
	signers, err := agent.NewClient(conn).Signers()
	if err != nil {
		conn.Close()
		return nil, err
	}
	a.agent = conn
	return signers, nil
}

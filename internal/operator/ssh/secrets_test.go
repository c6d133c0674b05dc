package ssh

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/connection"
)

// TestSecretsStayOutOfLogsAndProcessLists: with a password, an inline
// private key, and an inline encrypted key with its passphrase, a task
// runs; every secret is handed to the log's masker, none is written to
// the log, and `ps -eo args` (both sides: the sshd is on this machine)
// never shows one while the job runs.
func TestSecretsStayOutOfLogsAndProcessLists(t *testing.T) {
	r := newRig(t, testenvPassword()...)
	key, err := os.ReadFile(r.srv.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	encrypted, err := os.ReadFile(r.srv.EncryptedKeyFile)
	if err != nil {
		t.Fatal(err)
	}
	base := map[string]string{"known_hosts": r.srv.KnownHostsFile, "look_for_keys": "false", "use_agent": "false"}
	with := func(extra map[string]string) map[string]string {
		out := map[string]string{}
		for k, v := range base {
			out[k] = v
		}
		for k, v := range extra {
			out[k] = v
		}
		return out
	}
	tests := []struct {
		name    string
		conn    connection.Connection
		secrets []string
		// environment is the task's environment field; its values (a
		// sensitive variable rendered into it) must stay out of ps too.
		environment map[string]any
	}{
		{name: "password", conn: connection.Connection{ID: "pw", Type: "ssh", Host: r.srv.Host, Port: r.srv.Port,
			Login: r.srv.PasswordUser, Password: r.srv.Password, Extra: with(nil)}, secrets: []string{r.srv.Password}},
		{name: "inline key", conn: connection.Connection{ID: "inline", Type: "ssh", Host: r.srv.Host, Port: r.srv.Port,
			Login: r.srv.User, Extra: with(map[string]string{"private_key": string(key)})}, secrets: []string{string(key)}},
		{name: "passphrase", conn: connection.Connection{ID: "phrase", Type: "ssh", Host: r.srv.Host, Port: r.srv.Port,
			Login: r.srv.User, Extra: with(map[string]string{"private_key": string(encrypted), "passphrase": r.srv.Passphrase})},
			secrets: []string{string(encrypted), r.srv.Passphrase}},
		{name: "environment", conn: connection.Connection{ID: "env", Type: "ssh", Host: r.srv.Host, Port: r.srv.Port,
			Login: r.srv.User, Extra: with(map[string]string{"key_file": r.srv.KeyFile})},
			environment: map[string]any{"API_KEY": "vendor-Key-9c41d7e2-from-a-variable"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r.conns[tt.conn.ID] = tt.conn
			gate := filepath.Join(r.work, tt.conn.ID+".go")
			fields := map[string]any{"ssh_conn_id": tt.conn.ID, "remote_base_dir": filepath.Join(r.work, "jobs-"+tt.conn.ID),
				"command": "echo up; " + waitForFile(gate) + "; echo done"}
			if tt.environment != nil {
				fields["environment"] = tt.environment
				fields["command"] = `test -n "$API_KEY" && ` + fields["command"].(string)
			}
			ru := r.newRun(t, "secret", fields)
			done := ru.execute(t.Context())
			ru.log.waitFor(t, "up\n", time.Minute)
			ps, err := exec.Command("ps", "-eo", "args").Output()
			if err != nil {
				t.Fatal(err)
			}
			touch(t, gate)
			if res := await(t, done, time.Minute); res.err != nil {
				t.Fatalf("Execute: %v\n%s", res.err, ru.log)
			}
			ru.mu.Lock()
			masked := strings.Join(ru.mask, "\x00")
			ru.mu.Unlock()
			for _, s := range tt.secrets {
				for _, piece := range secretPieces(s) {
					if strings.Contains(string(ps), piece) {
						t.Errorf("ps shows a piece of a secret: %q", piece)
					}
					if strings.Contains(ru.log.String(), piece) {
						t.Errorf("the log shows a piece of a secret: %q", piece)
					}
				}
				if !strings.Contains(masked, s) {
					t.Errorf("the secret %.12q... was not handed to the log's masker", s)
				}
			}
			for _, v := range tt.environment {
				if strings.Contains(string(ps), v.(string)) {
					t.Errorf("ps shows an environment value: %q", v)
				}
			}
		})
	}
}

// secretPieces is the secret and, for a key, each of its lines long
// enough to be telling.
func secretPieces(s string) []string {
	out := []string{strings.TrimSpace(s)}
	for _, line := range strings.Split(s, "\n") {
		if len(line) >= 16 && !strings.HasPrefix(line, "-----") {
			out = append(out, line)
		}
	}
	return out
}

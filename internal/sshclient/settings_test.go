package sshclient

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/connection"
)

var testEnvironment = Env{Home: "/home/me", User: "me", AgentSocket: "/tmp/agent.sock"}

func parseURI(t *testing.T, uri string) (*Settings, error) {
	t.Helper()
	c, err := connection.Parse(uri)
	if err != nil {
		t.Fatalf("connection.Parse(%s): %v", uri, err)
	}
	c.ID = "edge"
	return FromConnection(c, testEnvironment)
}

func TestSettingsDefaults(t *testing.T) {
	s, err := parseURI(t, "ssh://example.com")
	if err != nil {
		t.Fatal(err)
	}
	want := Settings{ConnID: "edge", Host: "example.com", Port: 22, User: "me", UseAgent: true,
		AgentSocket: "/tmp/agent.sock", LookForKeys: true, ConnectTimeout: 10 * time.Second,
		KeepaliveInterval: 30 * time.Second, KeepaliveCountMax: 3,
		KnownHosts:        []string{"/home/me/.ssh/known_hosts", "/etc/ssh/ssh_known_hosts"},
		DefaultIdentities: []string{"/home/me/.ssh/id_ed25519", "/home/me/.ssh/id_ecdsa", "/home/me/.ssh/id_rsa"}}
	if s.fingerprint() != want.fingerprint() {
		t.Errorf("defaults:\n got %+v\nwant %+v", *s, want)
	}
	if s.InsecureSkipHostKey || len(s.HostKeys) > 0 {
		t.Error("host keys not verified by default")
	}
}

func TestSettingsFields(t *testing.T) {
	s, err := parseURI(t, "ssh://spark:pw@edge.example.com:2222?key_file=~/.ssh/edge&known_hosts=/etc/kh"+
		"&conn_timeout=2.5&keepalive_interval=0&cmd_timeout=1m&allow_agent=false&look_for_keys=no"+
		"&proxy_jump=bastion&ciphers=aes128-ctr,aes256-ctr&compress=true&private_key_passphrase=pp")
	if err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]bool{
		"user":        s.User == "spark",
		"port":        s.Port == 2222,
		"password":    s.Password.Reveal() == "pw",
		"key_file":    s.KeyFile == "/home/me/.ssh/edge",
		"known_hosts": len(s.KnownHosts) == 1 && s.KnownHosts[0] == "/etc/kh",
		"timeout":     s.ConnectTimeout == 2500*time.Millisecond,
		"keepalive":   s.KeepaliveInterval == 0,
		"cmd_timeout": s.CmdTimeout == time.Minute,
		"agent":       !s.UseAgent,
		"look":        !s.LookForKeys && s.DefaultIdentities == nil,
		"jump":        s.ProxyJump == "bastion",
		"ciphers":     strings.Join(s.Ciphers, " ") == "aes128-ctr aes256-ctr",
		"passphrase":  s.Passphrase.Reveal() == "pp",
	} {
		if !c {
			t.Errorf("%s not read: %+v", name, *s)
		}
	}
}

func TestSettingsFromJSONExtras(t *testing.T) {
	c, err := connection.FromJSON("edge", []byte(`{"conn_type": "ssh", "host": "h", "login": "u",
		"extra": {"private_key": "-----BEGIN X-----\\nabc\\n-----END X-----", "no_host_key_check": true,
		"connect_timeout": 3, "keepalive_count_max": 5}}`))
	if err != nil {
		t.Fatal(err)
	}
	s, err := FromConnection(c, testEnvironment)
	if err != nil {
		t.Fatal(err)
	}
	if !s.InsecureSkipHostKey || s.ConnectTimeout != 3*time.Second || s.KeepaliveCountMax != 5 ||
		s.PrivateKey.Reveal() != "-----BEGIN X-----\nabc\n-----END X-----" {
		t.Errorf("JSON extras: %+v", *s)
	}
}

func TestSettingsErrorsNameTheField(t *testing.T) {
	for _, tc := range []struct{ uri, want string }{
		{"spark://h", `conn_type is "spark", expected ssh`},
		{"ssh://", "host is empty"},
		{"ssh://h?kye_file=/k", `unknown extra "kye_file"`},
		{"ssh://h?connect_timeout=soon", `connect_timeout "soon" must be seconds`},
		{"ssh://h?connect_timeout=0", "connect_timeout must be positive"},
		{"ssh://h?keepalive_interval=-1", "keepalive_interval"},
		{"ssh://h?keepalive_count_max=0", "keepalive_count_max"},
		{"ssh://h?insecure_skip_host_key=maybe", `insecure_skip_host_key "maybe" must be true or false`},
		{"ssh://h?allow_host_key_change=true", "allow_host_key_change: true is not supported"},
		{"ssh://h?host_key=nonsense", "extra host_key: line 1"},
		{"ssh://h?host_key=SHA256:short", "not a SHA256 fingerprint"},
		{"ssh://h?host_key=SHA256:47DEQpj8HBSa%2B/TImW%2B5JCeuQeRkm5NMpJWZG3hSuFU&insecure_skip_host_key=true", "give one"},
		{"ssh://h?key_file=/k&private_key=x", "key_file or private_key"},
		{"ssh://h?passphrase=a&private_key_passphrase=b", "both set passphrase"},
		{"ssh://h?disabled_algorithms=x", "disabled_algorithms is not supported"},
		{"ssh://h?key_file=~other/k", "only ~/"},
		{"ssh://h?ciphers=,", "ciphers: the list is empty"},
	} {
		_, err := parseURI(t, tc.uri)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "ssh connection edge") {
			t.Errorf("%s: err = %v, want it to name the connection and contain %q", tc.uri, err, tc.want)
		}
	}
}

func TestHostKeyPinForms(t *testing.T) {
	const key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGr/LvEbwqKzjH5GEw1fFTTDQrzbfhnBkmXbBo3Gbz9r"
	for _, v := range []string{key, key + " comment", "[h]:22 " + key, strings.Fields(key)[1]} {
		pins, err := ParseHostKeyPins(v)
		if err != nil || len(pins) != 1 || pins[0].Key == nil {
			t.Errorf("%q: %v %v", v, pins, err)
		}
	}
	pins, err := ParseHostKeyPins("SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU\n" + key)
	if err != nil || len(pins) != 2 || pins[0].Key != nil {
		t.Errorf("fingerprint + key: %v %v", pins, err)
	}
}

// TestHostKeyPinRefusesMarkedLines: a known_hosts line marked @revoked
// (this key must NOT be trusted) or @cert-authority (a CA, not the host's
// key) pasted into host_key is refused, never pinned as the host's key.
func TestHostKeyPinRefusesMarkedLines(t *testing.T) {
	const key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGr/LvEbwqKzjH5GEw1fFTTDQrzbfhnBkmXbBo3Gbz9r"
	for _, v := range []string{"@revoked * " + key, "@revoked [h]:2222 " + key, "@cert-authority *.example.com " + key} {
		if pins, err := ParseHostKeyPins(v); err == nil || !strings.Contains(err.Error(), "@") {
			t.Errorf("%q: pinned %v (err %v), want it refused", v, pins, err)
		}
	}
}

// TestSecretsNeverPrinted: no format verb, log handler or JSON encoding
// shows a private key, passphrase or password, and parse errors do not
// quote them.
func TestSecretsNeverPrinted(t *testing.T) {
	const pw, pk, pp = "hunter2-password", "PRIVATE-KEY-MATERIAL", "open-sesame-pp"
	s, err := parseURI(t, "ssh://u:"+pw+"@h?private_key="+pk+"&passphrase="+pp)
	if err != nil {
		t.Fatal(err)
	}
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("x", "settings", s, "pw", s.Password, "s", *s)
	j, _ := json.Marshal(s)
	shown := []string{fmt.Sprintf("%v %+v %#v %s %q %x %d", s, s, s, s, s.Password, s.Password, s.Passphrase),
		fmt.Sprintf("%+v %#v", *s, *s), s.String(), logged.String(), string(j)}
	for _, out := range shown {
		for _, secret := range []string{pw, pk, pp} {
			if strings.Contains(out, secret) {
				t.Errorf("secret %q shown in %s", secret, out)
			}
		}
	}
	if got := s.Secrets(); len(got) != 3 {
		t.Errorf("Secrets() = %d values, want 3", len(got))
	}
	// A bad value next to a secret does not pull the secret into the error.
	_, err = parseURI(t, "ssh://u:"+pw+"@h?private_key="+pk+"&connect_timeout=x")
	if err == nil || strings.Contains(err.Error(), pw) || strings.Contains(err.Error(), pk) {
		t.Errorf("error %v", err)
	}
}

// FuzzSettings: any connection URI or JSON object either fails to parse
// with an error naming the connection, or gives settings that survive a
// round trip through the connection's URI and never print their secrets.
func FuzzSettings(f *testing.F) {
	f.Add("ssh://u:p@h:2222?key_file=/k&known_hosts=/kh&proxy_jump=u2@b:22&connect_timeout=5")
	f.Add(`{"conn_type":"ssh","host":"h","extra":{"host_key":"SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU","keepalive_interval":"1m"}}`)
	f.Add("ssh://h?no_host_key_check=true&allow_agent=0&conn_timeout=1e3")
	f.Fuzz(func(t *testing.T, v string) {
		var c connection.Connection
		var err error
		if strings.HasPrefix(strings.TrimSpace(v), "{") {
			c, err = connection.FromJSON("edge", []byte(v))
		} else {
			c, err = connection.Parse(v)
			c.ID = "edge"
		}
		if err != nil {
			return
		}
		s, err := FromConnection(c, testEnvironment)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "ssh connection edge: ") {
				t.Fatalf("error does not name the connection: %v", err)
			}
			return
		}
		if s.Port < 1 || s.Port > 65535 || s.Host == "" || s.User == "" || s.ConnectTimeout <= 0 {
			t.Fatalf("invalid settings accepted: %+v", *s)
		}
		back, err := connection.Parse(c.URI())
		if err != nil {
			t.Fatalf("URI of %q does not parse: %v", v, err)
		}
		back.ID = "edge"
		s2, err := FromConnection(back, testEnvironment)
		if err != nil || s2.fingerprint() != s.fingerprint() {
			t.Fatalf("round trip through %s: %v\n%+v\n%+v", c.URI(), err, *s, s2)
		}
		if s.ProxyJump != "" {
			_ = ResolveJumps(t.Context(), func(_ context.Context, id string) (connection.Connection, error) {
				return connection.Connection{ID: id, Type: "ssh", Host: "b"}, nil
			}, s, testEnvironment)
		}
		shown := fmt.Sprintf("%v|%+v|%#v", s, *s, s)
		clean := *s
		clean.PrivateKey, clean.Passphrase, clean.Password = "", "", ""
		cleanShown := fmt.Sprintf("%v|%+v|%#v", &clean, clean, &clean)
		for _, secret := range s.Secrets() {
			if len(secret) >= 4 && strings.Contains(shown, secret) && !strings.Contains(cleanShown, secret) {
				t.Fatalf("secret %q printed: %s", secret, shown)
			}
		}
	})
}

// TestSecretExtrasAreRedacted: every spelling of an extra that
// FromConnection reads as a secret (private_key, passphrase, in any case,
// with '-' or '_') is one the connection package hides in `connections
// get/list/export` and the API, and lists for the task log's masker.
func TestSecretExtrasAreRedacted(t *testing.T) {
	const key = "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAAsecretkeymaterial\n-----END OPENSSH PRIVATE KEY-----\n"
	const pass = "correct horse battery staple"
	for _, k := range []string{"private_key", "private-key", "Private-Key", "PRIVATE_KEY"} {
		for _, p := range []string{"passphrase", "private_key_passphrase", "private-key-passphrase", "Passphrase"} {
			c := connection.Connection{ID: "edge", Type: "ssh", Host: "h", Login: "u",
				Extra: map[string]string{k: key, p: pass}}
			s, err := FromConnection(c, testEnvironment)
			if err != nil {
				t.Fatalf("%s, %s: %v", k, p, err)
			}
			if s.PrivateKey.Reveal() != key || s.Passphrase.Reveal() != pass {
				t.Fatalf("%s, %s: not read as the private key and passphrase", k, p)
			}
			shown := fmt.Sprint(c.Redacted())
			if strings.Contains(shown, "secretkeymaterial") || strings.Contains(shown, pass) {
				t.Errorf("extras %s and %s: Redacted shows a secret: %s", k, p, shown)
			}
			masked := strings.Join(c.Secrets(), "\n")
			if !strings.Contains(masked, key) || !strings.Contains(masked, pass) {
				t.Errorf("extras %s and %s: Secrets() does not list them for masking", k, p)
			}
		}
	}
}

package sshclient

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/sirocco-dev/sirocco/internal/connection"
)

// Defaults of the settings a connection may leave out.
const (
	DefaultPort              = 22
	DefaultConnectTimeout    = 10 * time.Second
	DefaultKeepaliveInterval = 30 * time.Second
	DefaultKeepaliveCountMax = 3
)

// Settings is everything needed to reach one SSH server, read from a
// connection of type ssh (FromConnection, Resolve). Secrets are of type
// Secret, so printing a Settings never shows them.
type Settings struct {
	ConnID string // the connection it came from, named in every error
	Host   string
	Port   int
	User   string

	// Authentication: every key is offered, in this order, then the
	// password.
	KeyFile     string // private key file (key_file)
	PrivateKey  Secret // inline private key (private_key)
	Passphrase  Secret // decrypts KeyFile or PrivateKey (passphrase, private_key_passphrase)
	UseAgent    bool   // offer ssh-agent's keys (use_agent, allow_agent; default true)
	AgentSocket string // SSH_AUTH_SOCK; the agent is used only when set
	LookForKeys bool   // also offer DefaultIdentities, those unencrypted (look_for_keys; default true)
	// DefaultIdentities are the private keys OpenSSH (and paramiko's
	// look_for_keys) try from ~/.ssh when none is named.
	DefaultIdentities []string
	Password          Secret // the connection's password

	// Host key verification: HostKeys pins the accepted keys (host_key),
	// else the KnownHosts files decide; InsecureSkipHostKey accepts any
	// key, with a warning on every use.
	KnownHosts          []string // known_hosts files; the first is the user's (known_hosts; default ~/.ssh/known_hosts)
	HostKeys            []HostKeyPin
	InsecureSkipHostKey bool

	ProxyJump string    // as written: a connection id or [user@]host[:port]
	Jump      *Settings // resolved ProxyJump (Resolve), nil for none

	ConnectTimeout    time.Duration // TCP connect + SSH handshake + login (connect_timeout, conn_timeout)
	KeepaliveInterval time.Duration // 0: no keepalives (keepalive_interval)
	KeepaliveCountMax int           // unanswered keepalives before the connection is dropped
	CmdTimeout        time.Duration // Airflow's cmd_timeout, for operators; 0: none
	Ciphers           []string      // preferred ciphers (ciphers); empty: the library's defaults
}

// Env is what settings take from the machine Sirocco runs on.
type Env struct {
	Home        string // home directory, for ~ and the default files
	User        string // default login
	AgentSocket string // SSH_AUTH_SOCK
}

// OSEnv reads Env from this process.
func OSEnv() Env {
	e := Env{AgentSocket: os.Getenv("SSH_AUTH_SOCK")}
	e.Home, _ = os.UserHomeDir()
	if u, err := user.Current(); err == nil {
		e.User = u.Username
	}
	return e
}

// Addr is host:port.
func (s *Settings) Addr() string { return net.JoinHostPort(s.Host, strconv.Itoa(s.Port)) }

// String describes the settings without any secret, for logs and errors.
func (s *Settings) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "ssh connection %s: %s@%s", s.ConnID, s.User, s.Addr())
	var auth []string
	if s.KeyFile != "" {
		auth = append(auth, "key_file "+s.KeyFile)
	}
	if s.PrivateKey != "" {
		auth = append(auth, "private_key")
	}
	if s.UseAgent && s.AgentSocket != "" {
		auth = append(auth, "ssh-agent")
	}
	if s.Password != "" {
		auth = append(auth, "password")
	}
	if len(auth) > 0 {
		fmt.Fprintf(&b, " (%s)", strings.Join(auth, ", "))
	}
	switch {
	case s.InsecureSkipHostKey:
		b.WriteString(", host key NOT verified")
	case len(s.HostKeys) > 0:
		b.WriteString(", pinned host_key")
	default:
		fmt.Fprintf(&b, ", known_hosts %s", strings.Join(s.KnownHosts, " "))
	}
	if s.Jump != nil {
		fmt.Fprintf(&b, ", via %s@%s", s.Jump.User, s.Jump.Addr())
	} else if s.ProxyJump != "" {
		fmt.Fprintf(&b, ", via %s", s.ProxyJump)
	}
	return b.String()
}

// GoString keeps %#v as free of secrets as String.
func (s *Settings) GoString() string { return s.String() }

// Secrets returns the secret values, for a task log to mask.
func (s *Settings) Secrets() []string {
	var out []string
	for x := s; x != nil; x = x.Jump {
		for _, v := range []Secret{x.PrivateKey, x.Passphrase, x.Password} {
			if v != "" {
				out = append(out, v.Reveal())
			}
		}
	}
	return out
}

// fingerprint identifies everything that shapes a connection, secrets
// included (hashed), so the pool reuses a client only for equal settings.
// It never leaves the process.
func (s *Settings) fingerprint() string {
	h := sha256.New()
	for x := s; x != nil; x = x.Jump {
		pins := make([]string, len(x.HostKeys))
		for i, p := range x.HostKeys {
			pins[i] = p.String()
		}
		parts := []string{x.ConnID, x.Host, strconv.Itoa(x.Port), x.User, x.KeyFile, x.PrivateKey.Reveal(),
			x.Passphrase.Reveal(), strconv.FormatBool(x.UseAgent), x.AgentSocket, strconv.FormatBool(x.LookForKeys), strings.Join(x.DefaultIdentities, "\x01"),
			x.Password.Reveal(), strings.Join(x.KnownHosts, "\x01"), strings.Join(pins, "\x01"),
			strconv.FormatBool(x.InsecureSkipHostKey), x.ConnectTimeout.String(), x.KeepaliveInterval.String(),
			strconv.Itoa(x.KeepaliveCountMax), strings.Join(x.Ciphers, ",")}
		for _, p := range parts {
			fmt.Fprintf(h, "%d:%s;", len(p), p)
		}
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// extraKeys are the extras an ssh connection may carry, spelled the
// canonical way; aliases maps Airflow's (and OpenSSH's) other spellings to
// them. Keys are compared in lower case with '-' read as '_'.
var extraKeys = []string{
	"key_file", "private_key", "passphrase", "use_agent", "look_for_keys", "known_hosts", "host_key",
	"insecure_skip_host_key", "no_host_key_check", "allow_host_key_change", "proxy_jump", "connect_timeout",
	"keepalive_interval", "keepalive_count_max", "cmd_timeout", "ciphers", "compress",
}

var aliases = map[string]string{
	"private_key_passphrase": "passphrase", // Airflow
	"allow_agent":            "use_agent",  // paramiko
	"conn_timeout":           "connect_timeout",
	"timeout":                "connect_timeout", // Airflow's deprecated name
	"known_hosts_file":       "known_hosts",
	"user_known_hosts_file":  "known_hosts", // OpenSSH's UserKnownHostsFile
	"server_alive_interval":  "keepalive_interval",
	"server_alive_count_max": "keepalive_count_max",
	"identity_file":          "key_file",
	"key_filename":           "key_file",
}

// unsupported are Airflow extras Sirocco refuses rather than ignore, since
// ignoring them would change what a connection accepts.
var unsupported = map[string]string{
	"disabled_algorithms": "is not supported; use ciphers to choose ciphers",
}

// FromConnection reads the settings of an ssh connection: host, port,
// login and password from its fields, the rest from its extras (see
// extraKeys; Airflow's SSHHook spellings are accepted). ProxyJump is kept
// as written: Resolve follows it. Unknown extras are errors, so a typo does
// not silently weaken a connection; every error names the connection and
// the field.
func FromConnection(c connection.Connection, env Env) (*Settings, error) {
	s, err := fromConnection(c, env)
	if err != nil {
		return nil, fmt.Errorf("ssh connection %s: %w", c.ID, err)
	}
	return s, nil
}

func fromConnection(c connection.Connection, env Env) (*Settings, error) {
	if t := connection.NormalizeType(c.Type); t != "ssh" && t != "sftp" {
		return nil, fmt.Errorf("conn_type is %q, expected ssh", c.Type)
	}
	ex, err := canonicalExtras(c.Extra)
	if err != nil {
		return nil, err
	}
	s := &Settings{
		ConnID: c.ID, Host: c.Host, Port: c.Port, User: c.Login, Password: Secret(c.Password),
		AgentSocket: env.AgentSocket, KeepaliveCountMax: DefaultKeepaliveCountMax,
	}
	if err := checkHost(s.Host); err != nil {
		return nil, err
	}
	if s.Port == 0 {
		s.Port = DefaultPort
	}
	if s.User == "" {
		s.User = env.User
	}
	if s.User == "" {
		return nil, fmt.Errorf("login is empty and the local user name is unknown")
	}
	if err := s.readAuth(ex, env); err != nil {
		return nil, err
	}
	if err := s.readHostKeyPolicy(ex, env); err != nil {
		return nil, err
	}
	if err := s.readTimings(ex); err != nil {
		return nil, err
	}
	s.ProxyJump = strings.TrimSpace(ex["proxy_jump"])
	if v := ex["ciphers"]; v != "" {
		if s.Ciphers, err = stringList(v); err != nil {
			return nil, fmt.Errorf("extra ciphers: %w", err)
		}
	}
	if v := ex["compress"]; v != "" {
		// Accepted for Airflow connections; the Go SSH library does not
		// compress, and compression only matters on slow links.
		if _, err := parseBool("compress", v); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// canonicalExtras renames the extras to their canonical keys, rejecting
// unknown keys, unsupported ones and two spellings of one key that
// disagree.
func canonicalExtras(extra map[string]string) (map[string]string, error) {
	out := map[string]string{}
	from := map[string]string{}
	for _, k := range slices.Sorted(maps.Keys(extra)) {
		v := extra[k]
		n := strings.ReplaceAll(strings.ToLower(strings.TrimSpace(k)), "-", "_")
		if why, ok := unsupported[n]; ok {
			return nil, fmt.Errorf("extra %s %s", k, why)
		}
		if a, ok := aliases[n]; ok {
			n = a
		}
		if !slices.Contains(extraKeys, n) {
			return nil, fmt.Errorf("unknown extra %q (expected one of %s)", k, strings.Join(extraKeys, ", "))
		}
		if prev, dup := from[n]; dup && out[n] != v {
			return nil, fmt.Errorf("extras %s and %s both set %s, to different values", prev, k, n)
		}
		out[n], from[n] = v, k
	}
	return out, nil
}

// checkHost rejects hosts no SSH server can have: empty ones, and ones
// holding a scheme, a path, spaces or control characters (a URI written
// into the host field, most likely).
func checkHost(h string) error {
	if h == "" {
		return fmt.Errorf("host is empty")
	}
	if strings.Contains(h, "://") || strings.ContainsAny(h, "/@ ") {
		return fmt.Errorf("host %q is not a host name or address", h)
	}
	for _, r := range h {
		if unicode.IsControl(r) || unicode.IsSpace(r) {
			return fmt.Errorf("host %q holds a space or control character", h)
		}
	}
	return nil
}

// readAuth reads the authentication extras.
func (s *Settings) readAuth(ex map[string]string, env Env) error {
	var err error
	if v := strings.TrimSpace(ex["key_file"]); v != "" {
		if s.KeyFile, err = expandHome(v, env, "key_file"); err != nil {
			return err
		}
	}
	if v := ex["private_key"]; strings.TrimSpace(v) != "" {
		if !strings.Contains(v, "\n") && strings.Contains(v, `\n`) {
			// A key pasted into a one-line field with its newlines
			// written as \n, as Airflow's documentation suggests.
			v = strings.ReplaceAll(v, `\n`, "\n")
		}
		s.PrivateKey = Secret(v)
	}
	if s.KeyFile != "" && s.PrivateKey != "" {
		return fmt.Errorf("give key_file or private_key, not both")
	}
	s.Passphrase = Secret(ex["passphrase"])
	if s.UseAgent, err = optBool(ex, "use_agent", true); err != nil {
		return err
	}
	if s.LookForKeys, err = optBool(ex, "look_for_keys", true); err != nil {
		return err
	}
	if s.LookForKeys && env.Home != "" {
		for _, name := range []string{"id_ed25519", "id_ecdsa", "id_rsa"} {
			s.DefaultIdentities = append(s.DefaultIdentities, filepath.Join(env.Home, ".ssh", name))
		}
	}
	return nil
}

// readHostKeyPolicy reads known_hosts, host_key and the opt-outs.
func (s *Settings) readHostKeyPolicy(ex map[string]string, env Env) error {
	skip, err := optBool(ex, "insecure_skip_host_key", false)
	if err != nil {
		return err
	}
	noCheck, err := optBool(ex, "no_host_key_check", false)
	if err != nil {
		return err
	}
	s.InsecureSkipHostKey = skip || noCheck
	if change, err := optBool(ex, "allow_host_key_change", false); err != nil {
		return err
	} else if change {
		return fmt.Errorf("extra allow_host_key_change: true is not supported: a changed host key fails the connection; " +
			"update known_hosts, pin host_key, or set insecure_skip_host_key: true")
	}
	if v := strings.TrimSpace(ex["host_key"]); v != "" {
		if s.HostKeys, err = ParseHostKeyPins(v); err != nil {
			return fmt.Errorf("extra host_key: %w", err)
		}
	}
	if s.InsecureSkipHostKey && len(s.HostKeys) > 0 {
		return fmt.Errorf("host_key pins the server's key, insecure_skip_host_key skips checking it: give one")
	}
	if v := strings.TrimSpace(ex["known_hosts"]); v != "" {
		p, err := expandHome(v, env, "known_hosts")
		if err != nil {
			return err
		}
		s.KnownHosts = []string{p}
	} else if env.Home != "" {
		s.KnownHosts = []string{filepath.Join(env.Home, ".ssh", "known_hosts"), globalKnownHosts}
	} else {
		s.KnownHosts = []string{globalKnownHosts}
	}
	return nil
}

// globalKnownHosts is OpenSSH's system-wide known hosts file, consulted
// after the user's when known_hosts is not set.
const globalKnownHosts = "/etc/ssh/ssh_known_hosts"

// readTimings reads the timeouts and keepalive settings.
func (s *Settings) readTimings(ex map[string]string) error {
	var err error
	if s.ConnectTimeout, err = optDuration(ex, "connect_timeout", DefaultConnectTimeout); err != nil {
		return err
	}
	if s.ConnectTimeout <= 0 {
		return fmt.Errorf("extra connect_timeout must be positive")
	}
	if s.KeepaliveInterval, err = optDuration(ex, "keepalive_interval", DefaultKeepaliveInterval); err != nil {
		return err
	}
	if s.CmdTimeout, err = optDuration(ex, "cmd_timeout", 0); err != nil {
		return err
	}
	if v := strings.TrimSpace(ex["keepalive_count_max"]); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return fmt.Errorf("extra keepalive_count_max %q must be a whole number from 1 to 1000", v)
		}
		s.KeepaliveCountMax = n
	}
	return nil
}

// expandHome resolves a leading ~/ against env.Home.
func expandHome(p string, env Env, field string) (string, error) {
	if p == "~" || strings.HasPrefix(p, "~/") {
		if env.Home == "" {
			return "", fmt.Errorf("extra %s %q starts with ~ but the home directory is unknown", field, p)
		}
		return filepath.Join(env.Home, p[1:]), nil
	}
	if strings.HasPrefix(p, "~") {
		return "", fmt.Errorf("extra %s %q: only ~/ (this user's home) is supported", field, p)
	}
	if strings.ContainsRune(p, 0) {
		return "", fmt.Errorf("extra %s holds a NUL byte", field)
	}
	return p, nil
}

// optBool reads a boolean extra: true/false, yes/no, on/off, 1/0 in any
// case (JSON booleans arrive as true/false); absent or null gives def.
func optBool(ex map[string]string, key string, def bool) (bool, error) {
	v, ok := ex[key]
	if !ok || strings.TrimSpace(v) == "" || v == "null" {
		return def, nil
	}
	return parseBool(key, v)
}

func parseBool(key, v string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "true", "yes", "on", "1":
		return true, nil
	case "false", "no", "off", "0":
		return false, nil
	}
	return false, fmt.Errorf("extra %s %q must be true or false", key, v)
}

// maxDuration bounds durations, far above any sensible timeout, so that
// conversions cannot overflow.
const maxDuration = 365 * 24 * time.Hour

// optDuration reads a duration extra: a number of seconds (as Airflow
// writes them, fractions allowed) or a Go duration ("1m30s", "500ms").
// Absent or null gives def; 0 means off where the field allows it.
func optDuration(ex map[string]string, key string, def time.Duration) (time.Duration, error) {
	v := strings.TrimSpace(ex[key])
	if v == "" || v == "null" {
		return def, nil
	}
	var d time.Duration
	if f, err := strconv.ParseFloat(v, 64); err == nil {
		if f < 0 || f > maxDuration.Seconds() || math.IsNaN(f) {
			return 0, fmt.Errorf("extra %s %q must be between 0 and %s", key, v, maxDuration)
		}
		d = time.Duration(f * float64(time.Second))
	} else if d, err = time.ParseDuration(v); err != nil {
		return 0, fmt.Errorf("extra %s %q must be seconds (10) or a duration (10s, 1m)", key, v)
	}
	if d < 0 || d > maxDuration {
		return 0, fmt.Errorf("extra %s %q must be between 0 and %s", key, v, maxDuration)
	}
	return d, nil
}

// stringList reads a list given as a JSON array of strings or as a
// comma-separated string.
func stringList(v string) ([]string, error) {
	v = strings.TrimSpace(v)
	var out []string
	if strings.HasPrefix(v, "[") {
		if err := json.Unmarshal([]byte(v), &out); err != nil {
			return nil, fmt.Errorf("a JSON list of strings: %w", err)
		}
	} else {
		out = strings.Split(v, ",")
	}
	list := out[:0]
	for _, x := range out {
		if x = strings.TrimSpace(x); x != "" {
			list = append(list, x)
		}
	}
	if len(list) == 0 {
		return nil, fmt.Errorf("the list is empty")
	}
	return list, nil
}

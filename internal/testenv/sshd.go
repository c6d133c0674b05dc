package testenv

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// sshdPath is where Debian's openssh-server installs the daemon.
const sshdPath = "/usr/sbin/sshd"

// sshdStartTimeout bounds how long sshd may take to listen.
const sshdStartTimeout = 20 * time.Second

// SSHServer is one running OpenSSH sshd on loopback, with everything a
// client needs to log in to it. Every instance of a test binary accepts the
// same client key (KeyFile and its encrypted copy), so a test can log in to
// a bastion and to the host behind it with one identity.
type SSHServer struct {
	Host string // 127.0.0.1
	Port int
	// User is the login the client keys are authorized for: the user
	// running the tests (sshd run by anyone else lets only that user in).
	User string
	// KeyFile is an unencrypted ed25519 client private key (OpenSSH
	// format); EncryptedKeyFile is the same key encrypted with Passphrase.
	KeyFile          string
	EncryptedKeyFile string
	Passphrase       string
	ClientPublicKey  string // authorized_keys line of the client key
	// HostKey is the server's ed25519 host public key in authorized_keys
	// form ("ssh-ed25519 AAAA..."); HostKeyRSA its RSA one, or "" unless
	// SSHDRSAHostKey was given.
	HostKey    string
	HostKeyRSA string
	// KnownHosts holds known_hosts lines for every host key of this
	// server ("[127.0.0.1]:PORT ssh-ed25519 AAAA..."), also written to
	// KnownHostsFile.
	KnownHosts     string
	KnownHostsFile string
	// PasswordUser and Password log in by password, with SSHDPassword.
	PasswordUser string
	Password     string
	Dir          string // config, keys, pid file and log
	LogPath      string // sshd's own log (LogLevel VERBOSE)

	config string
	marker string // value of SSHDMarkerEnv in every session of this server
	mu     sync.Mutex
	cmd    *exec.Cmd
	done   chan struct{} // closed once the listener has exited
}

// Addr is host:port, for dialing.
func (s *SSHServer) Addr() string { return net.JoinHostPort(s.Host, strconv.Itoa(s.Port)) }

// SSHDOption changes how SSHD sets a server up.
type SSHDOption func(*sshdOptions)

type sshdOptions struct {
	bastion  bool
	rsa      bool
	password bool
}

// SSHDBastion lets the server forward TCP (AllowTcpForwarding yes), which
// a jump host needs for the direct-tcpip channels of proxy_jump. Other
// servers refuse forwarding, so a test proves its traffic went through the
// bastion.
func SSHDBastion() SSHDOption { return func(o *sshdOptions) { o.bastion = true } }

// SSHDRSAHostKey gives the server an RSA host key besides the ed25519 one.
func SSHDRSAHostKey() SSHDOption { return func(o *sshdOptions) { o.rsa = true } }

// SSHDPassword turns password authentication on for a throwaway local user
// (see SSHPasswordUser). Creating that user needs root: without it the test
// is skipped, or failed under CI=true.
func SSHDPassword() SSHDOption { return func(o *sshdOptions) { o.password = true } }

// SSHD starts an OpenSSH sshd on 127.0.0.1 and a free port, with its own
// configuration, host keys, authorized keys, pid file and log in a
// temporary directory; t.Cleanup stops it (and every session it started),
// printing the log's tail when t failed. Without sshd installed, t is
// skipped, or failed under CI=true. The package's TestMain must call
// RunMain, which removes the shared client keys.
func SSHD(t testing.TB, opts ...SSHDOption) *SSHServer {
	t.Helper()
	requireMain(t)
	var o sshdOptions
	for _, opt := range opts {
		opt(&o)
	}
	if _, err := os.Stat(sshdPath); err != nil {
		RequireCI(t, "OpenSSH sshd", fmt.Errorf("%s %w (install Debian's openssh-server): %w", sshdPath, ErrNotInstalled, err))
	}
	keys, err := sshClientKeys()
	if errors.Is(err, ErrNotInstalled) {
		RequireCI(t, "OpenSSH", err)
	}
	if err != nil {
		t.Fatalf("testenv: ssh client keys: %v", err)
	}
	s := &SSHServer{
		Host: "127.0.0.1", Dir: t.TempDir(),
		KeyFile: keys.plain, EncryptedKeyFile: keys.encrypted, Passphrase: keys.passphrase,
		ClientPublicKey: keys.public,
	}
	s.LogPath = filepath.Join(s.Dir, "sshd.log")
	if o.password {
		if s.PasswordUser, s.Password, err = SSHPasswordUser(); err != nil {
			RequireCI(t, "SSH password login", err)
		}
	}
	if err := s.setUp(o); err != nil {
		t.Fatalf("testenv: sshd: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("testenv: sshd %s log (tail):\n%s", s.Addr(), tail(s.LogPath))
		}
		s.Stop()
	})
	if err := s.startOnFreePort(); err != nil {
		t.Fatalf("testenv: sshd: %v", err)
	}
	return s
}

// setUp writes host keys, authorized keys and known hosts.
func (s *SSHServer) setUp(o sshdOptions) error {
	if os.Geteuid() == 0 {
		// sshd as root needs its privilege separation directory.
		if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
			return fmt.Errorf("privilege separation directory: %w", err)
		}
	}
	cur, err := currentUser()
	if err != nil {
		return err
	}
	s.User = cur
	var hostKeys []string
	for _, kt := range []string{"ed25519", "rsa"} {
		if kt == "rsa" && !o.rsa {
			continue
		}
		path := filepath.Join(s.Dir, "ssh_host_"+kt+"_key")
		pub, err := sshKeygen(path, kt)
		if err != nil {
			return err
		}
		hostKeys = append(hostKeys, path)
		if kt == "rsa" {
			s.HostKeyRSA = pub
		} else {
			s.HostKey = pub
		}
	}
	ak := filepath.Join(s.Dir, "authorized_keys")
	if err := os.WriteFile(ak, []byte(s.ClientPublicKey+"\n"), 0o644); err != nil {
		return err
	}
	s.config = filepath.Join(s.Dir, "sshd_config")
	s.marker = randomHex(8)
	return s.writeConfig(o, hostKeys, ak)
}

// writeConfig writes sshd_config for a port chosen later (the Port line is
// rewritten by setPort) and checks it with sshd -t.
func (s *SSHServer) writeConfig(o sshdOptions, hostKeys []string, authorizedKeys string) error {
	var b strings.Builder
	b.WriteString("Port 22\nListenAddress 127.0.0.1\n")
	for _, k := range hostKeys {
		fmt.Fprintf(&b, "HostKey %s\n", k)
	}
	yesNo := map[bool]string{true: "yes", false: "no"}
	fmt.Fprintf(&b, "AuthorizedKeysFile %s\n", authorizedKeys)
	fmt.Fprintf(&b, "PasswordAuthentication %s\n", yesNo[o.password])
	b.WriteString("KbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\n")
	fmt.Fprintf(&b, "PidFile %s\n", filepath.Join(s.Dir, "sshd.pid"))
	fmt.Fprintf(&b, "AllowTcpForwarding %s\n", yesNo[o.bastion])
	b.WriteString("LogLevel VERBOSE\nSubsystem sftp internal-sftp\nMaxStartups 100\n")
	// A login shell that runs `pyenv init` (root's .bashrc on these
	// machines) waits up to 60 s for pyenv's rehash lock, which a session
	// killed mid-rehash leaves behind: each login would then take a minute.
	fmt.Fprintf(&b, "SetEnv %s=%s PYENV_REHASH_TIMEOUT=1\n", SSHDMarkerEnv, s.marker)
	if err := os.WriteFile(s.config, []byte(b.String()), 0o644); err != nil {
		return err
	}
	if out, err := exec.Command(sshdPath, "-t", "-f", s.config).CombinedOutput(); err != nil {
		return fmt.Errorf("sshd -t -f %s: %w\n%s", s.config, err, out)
	}
	return nil
}

// setPort rewrites the Port line of the configuration.
func (s *SSHServer) setPort(port int) error {
	b, err := os.ReadFile(s.config)
	if err != nil {
		return err
	}
	lines := strings.Split(string(b), "\n")
	lines[0] = "Port " + strconv.Itoa(port)
	s.Port = port
	return os.WriteFile(s.config, []byte(strings.Join(lines, "\n")), 0o644)
}

// startOnFreePort starts sshd on a free port, trying another when a
// process takes the probed one before sshd binds it; then writes the known
// hosts for that port.
func (s *SSHServer) startOnFreePort() error {
	for attempt := 0; ; attempt++ {
		port, err := freePort()
		if err != nil {
			return err
		}
		if err := s.setPort(port); err != nil {
			return err
		}
		err = s.Start()
		if err == nil {
			break
		}
		if attempt == 2 || !strings.Contains(err.Error(), "Bind to port") {
			return err
		}
	}
	return s.writeKnownHosts()
}

func (s *SSHServer) writeKnownHosts() error {
	host := "[" + s.Host + "]:" + strconv.Itoa(s.Port)
	var lines []string
	for _, k := range []string{s.HostKey, s.HostKeyRSA} {
		if k != "" {
			lines = append(lines, host+" "+k)
		}
	}
	s.KnownHosts = strings.Join(lines, "\n") + "\n"
	s.KnownHostsFile = filepath.Join(s.Dir, "known_hosts")
	return os.WriteFile(s.KnownHostsFile, []byte(s.KnownHosts), 0o644)
}

// Start runs sshd -D -e on the server's port (again, after Stop) and waits
// until it listens; the keys and port stay the same.
func (s *SSHServer) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return errors.New("sshd is already running")
	}
	logFile, err := os.OpenFile(s.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("sshd log: %w", err)
	}
	defer logFile.Close()
	offset, _ := logFile.Seek(0, 2)
	cmd := exec.Command(sshdPath, "-D", "-e", "-f", s.config)
	cmd.Dir = s.Dir
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// If the test binary dies without cleanup, the kernel stops sshd;
	// the signal follows the thread that forked, so it stays locked.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	done := make(chan struct{})
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with this goroutine
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		_ = cmd.Wait()
		close(done)
	}()
	if err := <-started; err != nil {
		return fmt.Errorf("start sshd: %w", err)
	}
	s.cmd, s.done = cmd, done
	if err := s.waitListening(offset); err != nil {
		s.killLocked()
		return err
	}
	return nil
}

// waitListening watches the log (from offset) for sshd's "Server
// listening" line, or its exit.
func (s *SSHServer) waitListening(offset int64) error {
	deadline := time.Now().Add(sshdStartTimeout)
	for {
		b, _ := os.ReadFile(s.LogPath)
		if int64(len(b)) > offset && bytes.Contains(b[offset:], []byte("Server listening on")) {
			return nil
		}
		select {
		case <-s.done:
			return fmt.Errorf("sshd exited at start: %s", tail(s.LogPath))
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("sshd not listening after %s: %s", sshdStartTimeout, tail(s.LogPath))
		}
	}
}

// Stop kills sshd and every process it started (each connection's sshd
// and the sessions' commands, which run in sessions of their own), so the
// clients' connections break at once. Start brings it back on the same
// port. Stopping a stopped server does nothing.
func (s *SSHServer) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.killLocked()
}

func (s *SSHServer) killLocked() {
	if s.cmd == nil {
		return
	}
	pids := append(descendants(s.cmd.Process.Pid), s.cmd.Process.Pid)
	pids = append(pids, s.sessionPids()...)
	for _, pid := range pids {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	<-s.done
	s.cmd, s.done = nil, nil
	// SIGKILL takes effect asynchronously: wait until the sessions'
	// processes are gone, so a test sees them dead once Stop returns.
	for deadline := time.Now().Add(5 * time.Second); len(s.sessionPids()) > 0 && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
}

// DropConnections kills the sshd process of every open connection,
// leaving the listener and the sessions' commands running: what a client
// sees when the network drops. A remote job then lives on; the next
// connection can reattach to it.
func (s *SSHServer) DropConnections() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	for _, pid := range descendants(s.cmd.Process.Pid) {
		if comm, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm"); err == nil && strings.TrimSpace(string(comm)) == "sshd" {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// SSHDMarkerEnv is set (SetEnv) in every session of an SSHD to a value
// of that server's own, so that processes a session detached (setsid,
// nohup, double fork), which leave sshd's process tree, are still found.
const SSHDMarkerEnv = "SIROCCO_TESTENV_SSHD"

// SessionProcesses lists the live processes started by this server's
// sessions, detached ones included (found by SSHDMarkerEnv in their
// environment, so a command that clears its environment is missed). A
// test checks with it that a remote job was killed; Stop kills them all.
func (s *SSHServer) SessionProcesses() []int { return s.sessionPids() }

func (s *SSHServer) sessionPids() []int {
	want := []byte(SSHDMarkerEnv + "=" + s.marker + "\x00")
	entries, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		env, err := os.ReadFile("/proc/" + e.Name() + "/environ")
		if err == nil && bytes.Contains(append([]byte{0}, env...), append([]byte{0}, want...)) {
			if !isZombie(pid) {
				out = append(out, pid)
			}
		}
	}
	return out
}

// isZombie reports whether pid has exited but not been reaped.
func isZombie(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	i := bytes.LastIndexByte(b, ')')
	return i < 0 || len(b) < i+3 || b[i+2] == 'Z' || b[i+2] == 'X'
}

// Freeze stops (SIGSTOP) sshd and every process it started, so open
// connections stay up at the TCP level but nothing answers: what a hung or
// unreachable host looks like to a client. thaw resumes them; t.Cleanup
// thaws too.
func (s *SSHServer) Freeze(t testing.TB) (thaw func()) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		t.Fatal("testenv: Freeze of a stopped sshd")
	}
	pids := append([]int{s.cmd.Process.Pid}, descendants(s.cmd.Process.Pid)...)
	for _, pid := range pids {
		_ = syscall.Kill(pid, syscall.SIGSTOP)
	}
	var once sync.Once
	thaw = func() {
		once.Do(func() {
			for _, pid := range pids {
				_ = syscall.Kill(pid, syscall.SIGCONT)
			}
		})
	}
	t.Cleanup(thaw)
	return thaw
}

// Logins counts the successful logins in sshd's log ("Accepted publickey
// for ...", "Accepted password for ..."): one per SSH handshake a client
// completed.
func (s *SSHServer) Logins() int {
	b, _ := os.ReadFile(s.LogPath)
	n := 0
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "Accepted ") && strings.Contains(line, " for ") {
			n++
		}
	}
	return n
}

// Log returns sshd's log so far.
func (s *SSHServer) Log() string {
	b, _ := os.ReadFile(s.LogPath)
	return string(b)
}

// descendants lists the processes below pid, children first found by
// walking /proc, deepest last.
func descendants(pid int) []int {
	children := map[int][]int{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if pp, ok := parentOf(p); ok {
			children[pp] = append(children[pp], p)
		}
	}
	var out []int
	queue := []int{pid}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, c := range children[p] {
			out = append(out, c)
			queue = append(queue, c)
		}
	}
	return out
}

// parentOf reads a process's parent pid from /proc/PID/stat.
func parentOf(pid int) (int, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, false
	}
	// The command name is in parentheses and may hold spaces: fields
	// start after the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 2 {
		return 0, false
	}
	pp, err := strconv.Atoi(f[1])
	return pp, err == nil
}

package testenv

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// MIT Kerberos test bed: a throwaway realm served by a real krb5kdc
// (Debian's krb5-kdc, with kadmin.local from krb5-admin-server and kinit /
// klist from krb5-user), all its files in a temporary directory and its
// KDC on a free loopback port. No kadmind runs: principals and keytabs are
// made with kadmin.local, which edits the database directly, so nothing
// binds 0.0.0.0.

const (
	// kdcStartTimeout bounds the wait for krb5kdc to accept connections.
	kdcStartTimeout = 20 * time.Second
	// kdcStopTimeout is how long krb5kdc gets to exit on SIGTERM.
	kdcStopTimeout = 10 * time.Second

	// KDCRealmName is the test realm.
	KDCRealmName = "SIROCCO.TEST"

	// KDCMaxLife and KDCMaxRenewableLife are the realm's ticket limits
	// (kdc.conf), which its krbtgt principal inherits: long enough for any
	// test. A principal made with AddPrincipalWith gets shorter ones.
	KDCMaxLife          = 10 * time.Minute
	KDCMaxRenewableLife = time.Hour

	kdcDirPrefix = "sirocco-kdc-"
)

// KDCRealm is a running MIT Kerberos realm for one test.
type KDCRealm struct {
	Realm string // the realm name, KDCRealmName
	// Config is the krb5.conf every Kerberos client must read
	// (KRB5_CONFIG; for a JVM, -Djava.security.krb5.conf).
	Config string
	// Profile is the kdc.conf the KDC and kadmin.local read
	// (KRB5_KDC_PROFILE).
	Profile string
	// Addr is the KDC's host:port on 127.0.0.1 (TCP and UDP).
	Addr string
	// Dir holds the database, keytabs, ticket caches and the KDC log.
	Dir string

	bins kdcBinaries
	cmd  *exec.Cmd
	done chan struct{} // closed once krb5kdc has exited
	log  string
}

// PrincipalOptions are per-principal ticket limits (kadmin's -maxlife and
// -maxrenewlife); zero keeps the realm's.
type PrincipalOptions struct {
	MaxLife          time.Duration
	MaxRenewableLife time.Duration
}

// kdcBinaries are the MIT programs the test bed runs.
type kdcBinaries struct{ krb5kdc, kdb5util, kadminLocal, kinit, klist string }

// KDC starts a throwaway realm (KDCRealmName) for t: a database with its
// stash, a krb5.conf and kdc.conf in a temporary directory, and krb5kdc on
// a free 127.0.0.1 port, ready before KDC returns. t.Cleanup stops the KDC
// and removes the directory, whether the test passed or not. Without the
// MIT programs (Debian krb5-kdc, krb5-admin-server, krb5-user), t is
// skipped, or failed under CI=true (RequireCI).
func KDC(t testing.TB) *KDCRealm {
	t.Helper()
	bins, err := findKDC()
	if err != nil {
		RequireCI(t, "MIT Kerberos KDC", err)
		return nil
	}
	removeStaleOwnedDirs(kdcDirPrefix)
	dir, err := newOwnedDir(kdcDirPrefix)
	if err != nil {
		t.Fatalf("testenv: KDC: %v", err)
	}
	k := &KDCRealm{Realm: KDCRealmName, Dir: dir, bins: bins,
		Config: filepath.Join(dir, "krb5.conf"), Profile: filepath.Join(dir, "kdc.conf"), log: filepath.Join(dir, "kdc.log")}
	t.Cleanup(func() {
		if err := k.stop(); err != nil {
			t.Errorf("testenv: stop KDC: %v", err)
		}
	})
	if err := k.start(); err != nil {
		t.Fatalf("testenv: start KDC: %v", err)
	}
	return k
}

// findKDC locates the MIT programs in PATH or, for the administrative ones
// a non-root PATH often lacks, in /usr/sbin.
func findKDC() (kdcBinaries, error) {
	var missing []string
	find := func(name string) string {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
		if p := filepath.Join("/usr/sbin", name); isExecutable(p) {
			return p
		}
		missing = append(missing, name)
		return ""
	}
	b := kdcBinaries{krb5kdc: find("krb5kdc"), kdb5util: find("kdb5_util"), kadminLocal: find("kadmin.local"),
		kinit: find("kinit"), klist: find("klist")}
	if len(missing) > 0 {
		return b, fmt.Errorf("MIT Kerberos %w: %s not found in PATH or /usr/sbin; install Debian's krb5-kdc, krb5-admin-server and krb5-user",
			ErrNotInstalled, strings.Join(missing, ", "))
	}
	return b, nil
}

// Env returns the environment entries (KEY=value) that point Kerberos
// programs at this realm: its krb5.conf (whose default ticket cache is in
// Dir, never the user's) and its kdc.conf.
func (k *KDCRealm) Env() []string {
	return []string{"KRB5_CONFIG=" + k.Config, "KRB5_KDC_PROFILE=" + k.Profile}
}

// Principal returns name qualified with the realm (name@REALM), or name
// itself when it already names a realm.
func (k *KDCRealm) Principal(name string) string {
	if strings.Contains(name, "@") {
		return name
	}
	return name + "@" + k.Realm
}

// AddPrincipal creates name (e.g. "svc/host", qualified with the realm)
// with a random key and exports that key to a new keytab, whose path it
// returns.
func (k *KDCRealm) AddPrincipal(t testing.TB, name string) (keytab string) {
	t.Helper()
	return k.AddPrincipalWith(t, name, PrincipalOptions{})
}

// AddPrincipalWith is AddPrincipal with ticket limits for the principal:
// a MaxLife of seconds makes a re-initialised ticket observable at once.
func (k *KDCRealm) AddPrincipalWith(t testing.TB, name string, o PrincipalOptions) (keytab string) {
	t.Helper()
	query := "addprinc -randkey"
	if o.MaxLife > 0 {
		query += fmt.Sprintf(" -maxlife %q", kadminDuration(o.MaxLife))
	}
	if o.MaxRenewableLife > 0 {
		query += fmt.Sprintf(" -maxrenewlife %q", kadminDuration(o.MaxRenewableLife))
	}
	p := k.Principal(name)
	if err := k.kadmin(query + " " + p); err != nil {
		t.Fatalf("testenv: KDC: %v", err)
	}
	keytab = filepath.Join(k.Dir, strings.NewReplacer("/", "_", "@", "_").Replace(p)+".keytab")
	if err := k.kadmin("ktadd -k " + keytab + " " + p); err != nil {
		t.Fatalf("testenv: KDC: %v", err)
	}
	return keytab
}

// RandomizeKey gives name a new random key, so every keytab exported
// before holds a stale one: the KDC then answers "Password incorrect".
func (k *KDCRealm) RandomizeKey(t testing.TB, name string) {
	t.Helper()
	if err := k.kadmin("cpw -randkey " + k.Principal(name)); err != nil {
		t.Fatalf("testenv: KDC: %v", err)
	}
}

// Klist returns `klist -c ccache`'s output in the C locale (dates as
// MM/DD/YY HH:MM:SS), failing t if klist fails.
func (k *KDCRealm) Klist(t testing.TB, ccache string) string {
	t.Helper()
	out, err := k.command(k.bins.klist, "-c", ccache).CombinedOutput()
	if err != nil {
		t.Fatalf("testenv: klist -c %s: %v\n%s", ccache, err, out)
	}
	return string(out)
}

// Kinit is the path of MIT kinit, for code under test that is told where
// it is.
func (k *KDCRealm) Kinit() string { return k.bins.kinit }

// KlistPath is the path of MIT klist, as Kinit.
func (k *KDCRealm) KlistPath() string { return k.bins.klist }

// kadminDuration writes d as kadmin reads it ("90 seconds").
func kadminDuration(d time.Duration) string {
	return strconv.Itoa(int(d.Round(time.Second)/time.Second)) + " seconds"
}

// kadmin runs one kadmin.local query against the realm's database.
func (k *KDCRealm) kadmin(query string) error {
	out, err := k.command(k.bins.kadminLocal, "-r", k.Realm, "-q", query).CombinedOutput()
	// kadmin.local exits 0 even when the query fails; its errors name
	// the query ("add_principal: ... while creating ...").
	if err != nil {
		return fmt.Errorf("kadmin.local -q %q: %w\n%s", query, err, out)
	}
	if strings.Contains(string(out), " while ") {
		return fmt.Errorf("kadmin.local -q %q failed:\n%s", query, out)
	}
	return nil
}

// command runs a Kerberos program against the realm only: its own
// krb5.conf and kdc.conf, the C locale, and no ticket cache of the user's.
func (k *KDCRealm) command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	cmd.Dir = k.Dir
	cmd.Env = append(os.Environ(), k.Env()...)
	cmd.Env = append(cmd.Env, "LC_ALL=C", "KRB5CCNAME=FILE:"+filepath.Join(k.Dir, "default.ccache"))
	return cmd
}

// start writes the configuration, creates the database and runs krb5kdc,
// trying a few ports since another process may take the free one first.
func (k *KDCRealm) start() error {
	if err := os.WriteFile(filepath.Join(k.Dir, "kadm5.acl"), nil, 0o644); err != nil {
		return fmt.Errorf("acl file: %w", err)
	}
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		var port int
		if port, err = freePort(); err != nil {
			return err
		}
		k.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		if err = k.writeConfig(port); err != nil {
			return err
		}
		if attempt == 0 {
			out, cerr := k.command(k.bins.kdb5util, "create", "-s", "-r", k.Realm, "-P", "sirocco-master-key").CombinedOutput()
			if cerr != nil {
				return fmt.Errorf("kdb5_util create: %w\n%s", cerr, out)
			}
		}
		if err = k.run(); err == nil || !strings.Contains(err.Error(), "in use") {
			return err
		}
	}
	return err
}

// writeConfig writes krb5.conf (clients) and kdc.conf (the KDC) for port.
// kadmind_listen and kpasswd_listen are loopback too, so a kadmind started
// on this profile by mistake would not listen on every interface.
func (k *KDCRealm) writeConfig(port int) error {
	krb5 := fmt.Sprintf(`[libdefaults]
  default_realm = %[1]s
  dns_lookup_kdc = false
  dns_lookup_realm = false
  rdns = false
  udp_preference_limit = 1
  default_ccache_name = FILE:%[2]s/default.ccache
[realms]
  %[1]s = {
    kdc = %[3]s
    admin_server = 127.0.0.1:%[4]d
    kpasswd_server = 127.0.0.1:%[4]d
  }
`, k.Realm, k.Dir, k.Addr, port)
	kdc := fmt.Sprintf(`[kdcdefaults]
  kdc_listen = %[2]s
  kdc_tcp_listen = %[2]s
[realms]
  %[1]s = {
    database_name = %[3]s/principal
    key_stash_file = %[3]s/stash
    acl_file = %[3]s/kadm5.acl
    admin_keytab = %[3]s/kadm5.keytab
    kadmind_listen = 127.0.0.1:%[4]d
    kpasswd_listen = 127.0.0.1:%[4]d
    max_life = %[5]ds
    max_renewable_life = %[6]ds
  }
[logging]
  kdc = FILE:%[7]s
`, k.Realm, k.Addr, k.Dir, port, int(KDCMaxLife.Seconds()), int(KDCMaxRenewableLife.Seconds()), k.log)
	return errors.Join(os.WriteFile(k.Config, []byte(krb5), 0o644), os.WriteFile(k.Profile, []byte(kdc), 0o644))
}

// run starts krb5kdc in the foreground and waits until its TCP port
// accepts connections.
func (k *KDCRealm) run() error {
	cmd := k.command(k.bins.krb5kdc, "-n", "-r", k.Realm)
	out, err := os.OpenFile(filepath.Join(k.Dir, "krb5kdc.out"), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("krb5kdc output: %w", err)
	}
	defer out.Close()
	cmd.Stdout, cmd.Stderr = out, out
	// If the test binary dies before its cleanups, the kernel ends the
	// KDC; the signal follows the forking thread, which stays locked.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
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
		return fmt.Errorf("start krb5kdc: %w", err)
	}
	k.cmd, k.done = cmd, done
	deadline := time.Now().Add(kdcStartTimeout)
	for {
		c, err := net.DialTimeout("tcp", k.Addr, time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		select {
		case <-done:
			k.cmd = nil
			b, _ := os.ReadFile(filepath.Join(k.Dir, "krb5kdc.out"))
			return fmt.Errorf("krb5kdc exited during startup: %s\n%s", b, tail(k.log))
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("krb5kdc not listening on %s after %s\n%s", k.Addr, kdcStartTimeout, tail(k.log))
		}
	}
}

// stop ends krb5kdc (SIGTERM, then SIGKILL) and removes the directory.
func (k *KDCRealm) stop() error {
	var err error
	if k.cmd != nil {
		_ = k.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-k.done:
		case <-time.After(kdcStopTimeout):
			_ = k.cmd.Process.Kill()
			<-k.done
			err = fmt.Errorf("krb5kdc did not stop in %s; killed", kdcStopTimeout)
		}
	}
	return errors.Join(err, os.RemoveAll(k.Dir))
}

package testenv

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
)

// pgStartTimeout bounds how long the server may take to accept connections.
const pgStartTimeout = 60 * time.Second

var (
	pgOnce   sync.Once
	pgServer *postgresServer
	pgErr    error
	pgSeq    atomic.Int64
	pgDDL    sync.Mutex // CREATE DATABASE copies template1: one at a time
)

// Postgres returns the URL of a new, empty database on this test binary's
// throwaway PostgreSQL server, starting the server on first use. The
// database is dropped when t ends; the server is stopped by RunMain. Without
// PostgreSQL installed, t is skipped (or failed under CI=true, see
// RequireCI).
func Postgres(t testing.TB) (dsn string) {
	t.Helper()
	requireMain(t)
	pgOnce.Do(func() {
		pgServer, pgErr = startPostgres()
		if pgServer != nil {
			atExit(pgServer.stop)
		}
	})
	if errors.Is(pgErr, ErrNotInstalled) {
		RequireCI(t, "PostgreSQL", pgErr)
	}
	if pgErr != nil {
		t.Fatalf("testenv: start PostgreSQL: %v", pgErr)
	}

	name := fmt.Sprintf("test_%d", pgSeq.Add(1))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pgDDL.Lock()
	_, err := pgServer.admin.ExecContext(ctx, "CREATE DATABASE "+name)
	pgDDL.Unlock()
	if err != nil {
		t.Fatalf("testenv: create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		// Runs after the cleanups the test registered later, such as
		// closing its store; FORCE ends any connection still open.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		pgDDL.Lock()
		defer pgDDL.Unlock()
		if _, err := pgServer.admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Logf("testenv: drop database %s: %v", name, err)
		}
	})
	return pgServer.url(name)
}

// postgresServer is one running postmaster and the connection used to
// create and drop test databases.
type postgresServer struct {
	dir   string // temporary directory: data/, the socket and the log
	port  int
	admin *sql.DB
	cmd   *exec.Cmd
	done  chan struct{} // closed once the postmaster has exited
}

func (s *postgresServer) url(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", s.port, db)
}

// pgBinaries are the programs needed to run a server.
type pgBinaries struct{ initdb, postgres string }

// findPostgres locates initdb and postgres: pg_config --bindir first, then
// Debian's versioned directories (newest first), then PATH.
func findPostgres() (pgBinaries, error) {
	var dirs []string
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		dirs = append(dirs, strings.TrimSpace(string(out)))
	}
	versioned, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(versioned, func(a, b string) int { return pgVersion(b) - pgVersion(a) })
	dirs = append(dirs, versioned...)
	for _, d := range dirs {
		b := pgBinaries{filepath.Join(d, "initdb"), filepath.Join(d, "postgres")}
		if isExecutable(b.initdb) && isExecutable(b.postgres) {
			return b, nil
		}
	}
	initdb, err1 := exec.LookPath("initdb")
	postgres, err2 := exec.LookPath("postgres")
	if err1 == nil && err2 == nil {
		return pgBinaries{initdb, postgres}, nil
	}
	return pgBinaries{}, fmt.Errorf("PostgreSQL %w: no initdb and postgres in pg_config --bindir, "+
		"/usr/lib/postgresql/*/bin or PATH; install Debian's postgresql package", ErrNotInstalled)
}

// pgVersion extracts N from /usr/lib/postgresql/N/bin (0 if not a number).
func pgVersion(binDir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return v
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

// startPostgres creates a cluster in a temporary directory and starts it.
func startPostgres() (*postgresServer, error) {
	bins, err := findPostgres()
	if err != nil {
		return nil, err
	}
	removeStaleOwnedDirs(pgDirPrefix)
	dir, err := os.MkdirTemp("", pgDirPrefix)
	if err != nil {
		return nil, fmt.Errorf("temp dir: %w", err)
	}
	// Record the owner so a later run can remove the directory if this
	// process dies without tearing down.
	if err := os.WriteFile(filepath.Join(dir, ownerFile), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("temp dir: %w", err)
	}
	s := &postgresServer{dir: dir}
	cred, err := s.runAs()
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}

	data := filepath.Join(dir, "data")
	initdb := exec.Command(bins.initdb, "-D", data, "-U", "postgres", "-A", "trust",
		"-E", "UTF8", "--locale=C", "--no-sync")
	initdb.Dir = dir
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := initdb.CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("initdb: %w\n%s", err, out)
	}

	// Another process may take the free port between the probe and the
	// bind: try a few ports before giving up.
	for attempt := 0; ; attempt++ {
		err = s.start(bins.postgres, data, cred)
		if err == nil {
			return s, nil
		}
		if attempt == 2 || !strings.Contains(err.Error(), "could not bind") {
			os.RemoveAll(dir)
			return nil, err
		}
	}
}

// pgDirPrefix names the temporary directories of test servers.
const pgDirPrefix = "sirocco-pg-"

// ownerFile holds the pid of the test binary that owns a directory.
const ownerFile = "owner.pid"

// runAs returns the credential to run PostgreSQL with: nil normally, the
// postgres system user when this process is root, which PostgreSQL refuses
// to run as. The temporary directory is handed to that user.
func (s *postgresServer) runAs() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("running as root needs the postgres system user that Debian's postgresql package creates: %w", err)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err := errors.Join(err1, err2); err != nil {
		return nil, fmt.Errorf("postgres user ids: %w", err)
	}
	if err := os.Chown(s.dir, int(uid), int(gid)); err != nil {
		return nil, fmt.Errorf("chown %s to postgres: %w", s.dir, err)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

// start runs the postmaster on a free loopback port and waits until it
// accepts connections.
func (s *postgresServer) start(postgres, data string, cred *syscall.Credential) error {
	port, err := freePort()
	if err != nil {
		return err
	}
	logPath := filepath.Join(s.dir, "postgres.log")
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("postgres log: %w", err)
	}
	defer logFile.Close()

	cmd := exec.Command(postgres, "-D", data, "-p", strconv.Itoa(port), "-k", s.dir,
		"-c", "listen_addresses=127.0.0.1",
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
		"-c", "max_connections=200")
	cmd.Dir = s.dir
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// If the test binary dies without RunMain's teardown (a panic, a
	// timeout), the kernel tells the postmaster to shut down (SIGINT is a
	// fast shutdown). The signal follows the thread that forked, so that
	// thread stays locked for the server's lifetime.
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGINT}
	started := make(chan error, 1)
	done := make(chan struct{})
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
		return fmt.Errorf("start postgres: %w", err)
	}
	s.cmd, s.done, s.port = cmd, done, port

	admin, err := sql.Open("pgx", s.url("postgres"))
	if err != nil {
		s.kill()
		return fmt.Errorf("open admin connection: %w", err)
	}
	deadline := time.Now().Add(pgStartTimeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err = admin.PingContext(ctx)
		cancel()
		if err == nil {
			s.admin = admin
			return nil
		}
		select {
		case <-done:
			admin.Close()
			return fmt.Errorf("postgres exited during startup: %s", tail(logPath))
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			admin.Close()
			s.kill()
			return fmt.Errorf("postgres not ready after %s: %w\n%s", pgStartTimeout, err, tail(logPath))
		}
	}
}

// stop shuts the server down (fast shutdown, then SIGKILL after 30s) and
// removes its directory.
func (s *postgresServer) stop() error {
	var err error
	if s.admin != nil {
		err = s.admin.Close()
	}
	if s.cmd != nil {
		_ = s.cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-s.done:
		case <-time.After(30 * time.Second):
			s.kill()
			err = errors.Join(err, errors.New("postgres did not shut down in 30s; killed"))
		}
	}
	return errors.Join(err, os.RemoveAll(s.dir))
}

// kill ends the postmaster at once and waits for it.
func (s *postgresServer) kill() {
	_ = s.cmd.Process.Kill()
	<-s.done
}

// freePort asks the kernel for an unused loopback port.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// tail returns the last lines of the server log, for error messages.
func tail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	lines := bytes.Split(bytes.TrimSpace(b), []byte("\n"))
	if len(lines) > 20 {
		lines = lines[len(lines)-20:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}

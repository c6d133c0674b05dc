package testenv

import (
	"fmt"
	"net"
	"net/mail"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// SMTPServer is a real SMTP server (Python's aiosmtpd) on a free loopback
// port, its Mailbox handler saving each message it accepts as a file of a
// Maildir.
type SMTPServer struct {
	Host string
	Port int
	Dir  string // the Maildir; messages land in Dir/new
}

// SMTP starts aiosmtpd for t and stops it when t ends. aiosmtpd comes from
// the PySpark virtualenv (requirements-spark.txt installs it): without it
// t is skipped, or failed under CI=true.
func SMTP(t testing.TB) *SMTPServer {
	t.Helper()
	python, err := aiosmtpdPython()
	if err != nil {
		RequireCI(t, "aiosmtpd", err)
	}
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	s := &SMTPServer{Host: "127.0.0.1", Port: port, Dir: filepath.Join(t.TempDir(), "maildir")}
	logPath := filepath.Join(t.TempDir(), "aiosmtpd.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(python, "-m", "aiosmtpd", "-n", "-l", net.JoinHostPort(s.Host, strconv.Itoa(port)),
		"-c", "aiosmtpd.handlers.Mailbox", s.Dir)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		t.Fatalf("testenv: start aiosmtpd: %v", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); logFile.Close(); close(done) }()
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
	})
	Eventually(t, "aiosmtpd to listen on "+strconv.Itoa(port), 30*time.Second, func() (bool, string) {
		select {
		case <-done:
			t.Fatalf("testenv: aiosmtpd exited: %s", tail(logPath))
		default:
		}
		c, err := net.DialTimeout("tcp", net.JoinHostPort(s.Host, strconv.Itoa(port)), time.Second)
		if err != nil {
			return false, err.Error()
		}
		c.Close()
		return true, ""
	})
	return s
}

// Messages returns the messages received so far, oldest first.
func (s *SMTPServer) Messages(t testing.TB) []*mail.Message {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(s.Dir, "new", "*"))
	type item struct {
		at  time.Time
		msg *mail.Message
	}
	var items []item
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		m, err := mail.ReadMessage(fh)
		info, _ := fh.Stat()
		if err != nil {
			fh.Close()
			t.Fatalf("testenv: read %s: %v", f, err)
		}
		items = append(items, item{info.ModTime(), m})
		// The body is read by the caller; the file stays open until then.
		t.Cleanup(func() { fh.Close() })
	}
	sort.SliceStable(items, func(i, j int) bool { return items[i].at.Before(items[j].at) })
	out := make([]*mail.Message, len(items))
	for i, it := range items {
		out[i] = it.msg
	}
	return out
}

// aiosmtpdPython returns the PySpark virtualenv's python if it can import
// aiosmtpd.
func aiosmtpdPython() (string, error) {
	venv := os.Getenv("SIROCCO_PYSPARK_VENV")
	if venv == "" {
		version, err := pysparkVersion()
		if err != nil {
			return "", err
		}
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("aiosmtpd: home directory: %w", err)
		}
		venv = filepath.Join(home, ".cache", "sirocco", "pyspark-"+version)
	}
	python := filepath.Join(venv, "bin", "python")
	if !isExecutable(python) {
		return "", fmt.Errorf("aiosmtpd %w: no virtualenv at %s; run `scripts/spark.sh install`", ErrNotInstalled, venv)
	}
	if out, err := exec.Command(python, "-c", "import aiosmtpd").CombinedOutput(); err != nil {
		return "", fmt.Errorf("aiosmtpd %w in %s (%s); run `scripts/spark.sh install`", ErrNotInstalled, venv, out)
	}
	return python, nil
}

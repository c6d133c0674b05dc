package python_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/sirocco-dev/sirocco/internal/operator"
)

// TestPythonTaskNeverSeesSiroccoSecrets: a Python script listing its
// environment finds none of Sirocco's settings or secrets, whether the
// task's env is appended (the default) or replaces the environment.
func TestPythonTaskNeverSeesSiroccoSecrets(t *testing.T) {
	t.Setenv("SIROCCO_API_TOKEN", "tok-3f9a1c77e2")
	t.Setenv("SIROCCO_SECRET_KEY", "c2VjcmV0LWtleS0xMjM0NTY3ODkwMTIzNDU2Nzg5MA==")
	t.Setenv("SIROCCO_CONN_WH", "postgres://u:connpass-12@wh/db")
	t.Setenv("SIROCCO_VAR_PASSWORD", "varsecret-99")
	dir := dagFolder(t)
	script := dir + "/jobs/env.py"
	body := "import os\nfor k in sorted(os.environ): print(k + '=' + os.environ[k])\n"
	if err := writeFile(script, body); err != nil {
		t.Fatal(err)
	}
	for _, appendEnv := range []bool{true, false} {
		_, log, err := run(t, dir, map[string]any{"script": "jobs/env.py", "append_env": appendEnv}, map[string]string{"FOO": "bar"})
		if err != nil {
			t.Fatalf("append_env %v: %v\n%s", appendEnv, err, log)
		}
		for _, leak := range []string{"SIROCCO_API_TOKEN", "tok-3f9a1c77e2", "SIROCCO_SECRET_KEY", "SIROCCO_CONN_WH", "connpass-12", "SIROCCO_VAR_", "varsecret-99"} {
			if strings.Contains(log, leak) {
				t.Errorf("append_env %v: the script sees %s:\n%s", appendEnv, leak, log)
			}
		}
		if !strings.Contains(log, "FOO=bar\n") || !strings.Contains(log, "SIROCCO_CTX_DAG_ID=d\n") {
			t.Errorf("append_env %v: the task's own and context variables are missing:\n%s", appendEnv, log)
		}
	}
}

func writeFile(path, body string) error { return os.WriteFile(path, []byte(body), 0o644) }

// waitModule blocks the function until the test has looked at its process:
// it hands its pid over one FIFO and waits on another.
const waitModule = `import os

def wait_for_test(fifo_out, fifo_in, token):
    with open(fifo_out, "w") as f:
        f.write(str(os.getpid()))
    with open(fifo_in) as f:
        f.read()
    return "token of %d characters" % len(token)
`

// TestCallableArgumentsNeverOnArgvOrInTheEnvironment: a secret given in
// op_kwargs is neither on the running child's command line nor in its
// environment (what ps and /proc show other users of the host), and the
// file that carried it is gone while the function still runs.
func TestCallableArgumentsNeverOnArgvOrInTheEnvironment(t *testing.T) {
	t.Parallel()
	dir := dagFolder(t)
	if err := writeFile(filepath.Join(dir, "waiter.py"), waitModule); err != nil {
		t.Fatal(err)
	}
	fifoOut, fifoIn := filepath.Join(dir, "pid.fifo"), filepath.Join(dir, "go.fifo")
	for _, p := range []string{fifoOut, fifoIn} {
		if err := syscall.Mkfifo(p, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	const token = "tok-9c1e55d0b7a4-secret"
	type outcome struct {
		res operator.Result
		log string
		err error
	}
	done, finished := make(chan outcome, 1), make(chan struct{})
	go func() {
		defer close(finished)
		res, log, err := callTask(t, dir, map[string]any{"callable": "waiter:wait_for_test",
			"op_kwargs": map[string]any{"fifo_out": fifoOut, "fifo_in": fifoIn, "token": token}})
		done <- outcome{res, log, err}
	}()
	pid, ok := readFIFO(fifoOut, finished)
	if !ok {
		o := <-done
		t.Fatalf("the call ended before the function started: %v\n%s", o.err, o.log)
	}
	cmdline, err := os.ReadFile("/proc/" + pid + "/cmdline")
	if err != nil {
		t.Fatal(err)
	}
	environ, err := os.ReadFile("/proc/" + pid + "/environ")
	if err != nil {
		t.Fatal(err)
	}
	argv := strings.Split(strings.TrimRight(string(cmdline), "\x00"), "\x00")
	if err := os.WriteFile(fifoIn, []byte("go"), 0); err != nil { // the function returns
		t.Fatal(err)
	}
	o := <-done
	if o.err != nil || value(o.res) != `"token of 23 characters"` {
		t.Fatalf("Execute = %s, %v\n%s", value(o.res), o.err, o.log)
	}
	if strings.Contains(string(cmdline), token) || strings.Contains(string(environ), token) || strings.Contains(string(cmdline), "fifo") {
		t.Errorf("the arguments show in the child's command line or environment:\n%q\n%q", cmdline, environ)
	}
	if len(argv) != 4 || argv[1] != "-u" || !strings.HasSuffix(argv[2], "sirocco_call.py") {
		t.Fatalf("argv = %q, want python -u shim call-file", argv)
	}
	if _, err := os.Stat(argv[3]); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the call file %s is still there while the function ran (%v)", argv[3], err)
	}
	if _, err := os.Stat(filepath.Dir(argv[3])); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the private folder %s outlived the try (%v)", filepath.Dir(argv[3]), err)
	}
}

// TestCallablePrivateFiles: the call file is readable by its owner only.
func TestCallablePrivateFiles(t *testing.T) {
	t.Parallel()
	dir := dagFolder(t)
	body := "import os, sys, stat\ndef modes():\n    d = os.path.dirname(os.path.abspath(sys.modules['__main__'].__file__))\n" +
		"    return [oct(stat.S_IMODE(os.stat(d).st_mode)), oct(stat.S_IMODE(os.stat(os.path.join(d, 'sirocco_call.py')).st_mode))]\n"
	if err := writeFile(filepath.Join(dir, "modes.py"), body); err != nil {
		t.Fatal(err)
	}
	res, log, err := callTask(t, dir, map[string]any{"callable": "modes:modes"})
	if err != nil || value(res) != `["0o700", "0o600"]` {
		t.Fatalf("Execute = %s, %v\n%s", value(res), err, log)
	}
}

// readFIFO reads what the function writes into the FIFO at path; it gives
// up (false) if finished closes first: the call ended without opening it.
func readFIFO(path string, finished <-chan struct{}) (string, bool) {
	got := make(chan string, 1)
	go func() {
		data, _ := os.ReadFile(path) // opens once the function opened its end
		got <- string(data)
	}()
	select {
	case s := <-got:
		return s, true
	case <-finished:
		if f, err := os.OpenFile(path, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
			f.Close() // let the reader go
		}
		<-got
		return "", false
	}
}

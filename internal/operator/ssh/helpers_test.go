package ssh

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"github.com/sirocco-dev/sirocco/internal/connection"
	"github.com/sirocco-dev/sirocco/internal/operator"
	"github.com/sirocco-dev/sirocco/internal/sshclient"
	"github.com/sirocco-dev/sirocco/internal/testenv"
)

func TestMain(m *testing.M) { testenv.RunMain(m) }

// rig is a real sshd, a pool and the connections the tasks may use.
type rig struct {
	t     *testing.T
	srv   *testenv.SSHServer
	pool  *sshclient.Pool
	conns map[string]connection.Connection
	base  string // remote_base_dir of the tasks
	work  string // files the commands touch
}

func newRig(t *testing.T, opts ...testenv.SSHDOption) *rig {
	t.Helper()
	srv := testenv.SSHD(t, opts...)
	pool := sshclient.NewPool(sshclient.PoolOptions{})
	t.Cleanup(func() { _ = pool.Close() })
	// The test files are the remote host's too (loopback): every login
	// user of the commands must reach them, so they are not under the
	// test's private temporary directory.
	work, err := os.MkdirTemp("", "sirocco-sshop-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(work) })
	r := &rig{t: t, srv: srv, pool: pool, conns: map[string]connection.Connection{},
		base: filepath.Join(srv.Dir, "jobs"), work: work}
	r.conns["edge"] = connection.Connection{ID: "edge", Type: "ssh", Host: srv.Host, Port: srv.Port, Login: srv.User,
		Extra: map[string]string{"key_file": srv.KeyFile, "known_hosts": srv.KnownHostsFile, "look_for_keys": "false", "use_agent": "false"}}
	if err := os.Chmod(r.work, 0o777); err != nil {
		t.Fatal(err)
	}
	return r
}

// run is one try: its task, log and the handles it stored.
type run struct {
	task *operator.Task
	log  *logBuf
	mu   sync.Mutex
	hs   [][]byte
	mask []string
}

func (r *rig) newRun(t *testing.T, taskID string, args map[string]any) *run {
	ru := &run{log: newLogBuf()}
	if _, ok := args["ssh_conn_id"]; !ok {
		args["ssh_conn_id"] = "edge"
	}
	if _, ok := args["remote_base_dir"]; !ok {
		args["remote_base_dir"] = r.base
	}
	ru.task = &operator.Task{
		DagID: "dag", RunID: "run_" + strings.ReplaceAll(t.Name(), "/", "_"), TaskID: taskID, TryNumber: 1,
		Args: args, Log: ru.log, KillGrace: 2 * time.Second, SSH: r.pool,
		CtxEnv: map[string]string{"SIROCCO_CTX_TASK_ID": taskID},
		Connection: func(_ context.Context, id string) (connection.Connection, error) {
			c, ok := r.conns[id]
			if !ok {
				return c, errors.New("connection " + id + " not found")
			}
			return c, nil
		},
		Mask: func(s string) {
			ru.mu.Lock()
			defer ru.mu.Unlock()
			ru.mask = append(ru.mask, s)
		},
		SaveHandle: func(_ context.Context, h []byte) error {
			ru.mu.Lock()
			defer ru.mu.Unlock()
			ru.hs = append(ru.hs, append([]byte(nil), h...))
			return nil
		},
	}
	return ru
}

// handles decodes every handle the try stored, in order.
func (ru *run) handles(t *testing.T) []Handle {
	t.Helper()
	ru.mu.Lock()
	defer ru.mu.Unlock()
	var out []Handle
	for _, b := range ru.hs {
		h, err := decodeHandle(b)
		if err != nil {
			t.Fatalf("stored handle %s: %v", b, err)
		}
		out = append(out, h)
	}
	return out
}

func (ru *run) lastHandle(t *testing.T) []byte {
	t.Helper()
	ru.mu.Lock()
	defer ru.mu.Unlock()
	if len(ru.hs) == 0 {
		t.Fatal("no handle stored")
	}
	return ru.hs[len(ru.hs)-1]
}

// execute runs the try in the background; the result arrives on the
// channel.
func (ru *run) execute(ctx context.Context) <-chan result {
	ch := make(chan result, 1)
	go func() {
		res, err := Operator{}.Execute(ctx, ru.task)
		ch <- result{res, err}
	}()
	return ch
}

type result struct {
	res operator.Result
	err error
}

func await(t *testing.T, ch <-chan result, limit time.Duration) result {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(limit):
		t.Fatalf("the try did not end within %s", limit)
		return result{}
	}
}

// logBuf is a task log a test can wait on.
type logBuf struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	changed chan struct{}
}

func newLogBuf() *logBuf { return &logBuf{changed: make(chan struct{})} }

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf.Write(p)
	close(l.changed)
	l.changed = make(chan struct{})
	return len(p), nil
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// waitFor waits until the log contains s.
func (l *logBuf) waitFor(t *testing.T, s string, limit time.Duration) {
	t.Helper()
	deadline := time.After(limit)
	for {
		l.mu.Lock()
		ok, ch := strings.Contains(l.buf.String(), s), l.changed
		l.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("the log never showed %q within %s:\n%s", s, limit, l.String())
		}
	}
}

// waitGone waits until the server's sessions left no process (the
// outside world: there is no event to wait on).
func (r *rig) waitGone(t *testing.T, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		pids := r.srv.SessionProcesses()
		if len(pids) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("remote processes still alive after %s: %s", limit, psOf(pids))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// psOf describes pids as ps would.
func psOf(pids []int) string {
	var b strings.Builder
	for _, p := range pids {
		args, _ := os.ReadFile("/proc/" + strconv.Itoa(p) + "/cmdline")
		b.WriteString(strconv.Itoa(p) + " " + strings.ReplaceAll(string(args), "\x00", " ") + "\n")
	}
	return b.String()
}

// counter reads how many lines the command appended to a file: how many
// times it ran.
func counter(t *testing.T, path string) int {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	return strings.Count(string(data), "\n")
}

// touch creates a file a waiting command looks for.
func touch(t *testing.T, path string) {
	t.Helper()
	if err := os.WriteFile(path, nil, 0o666); err != nil {
		t.Fatal(err)
	}
}

// waitForFile is a command fragment that waits until path exists.
func waitForFile(path string) string {
	return "while [ ! -e '" + path + "' ]; do sleep 0.05; done"
}

// fingerprint is the SHA256 fingerprint of an authorized_keys line.
func fingerprint(t *testing.T, line string) string {
	t.Helper()
	k, _, _, _, err := gossh.ParseAuthorizedKey([]byte(line))
	if err != nil {
		t.Fatal(err)
	}
	return gossh.FingerprintSHA256(k)
}

// testenvPassword turns password logins on (a throwaway local user).
func testenvPassword() []testenv.SSHDOption { return []testenv.SSHDOption{testenv.SSHDPassword()} }

// waitRemoved waits until the cleanup, which a later call to the host or
// the idle flush does after the try's outcome, removed dir.
func waitRemoved(t *testing.T, dir string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := os.Stat(dir)
		if errors.Is(err, os.ErrNotExist) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the job directory %s is still there after a success (cleanup): %v", dir, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

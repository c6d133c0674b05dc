package remotejob

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// startJob starts s's job with the local shell under a fresh base
// directory; whatever it leaves running is stopped at the end of the test.
func startJob(t *testing.T, s Spec) Handle {
	t.Helper()
	if s.BaseDir == "" {
		s.BaseDir = t.TempDir()
	}
	if s.JobID == "" {
		s.JobID = JobID("dag", "run", t.Name(), 1)
	}
	h, fresh, err := Start(context.Background(), Local{}, s)
	if err != nil {
		t.Fatal(err)
	}
	if !fresh {
		t.Fatalf("Start of a new job id reported an existing job: %+v", h)
	}
	t.Cleanup(func() { stopQuietly(t, h) })
	return h
}

func stopQuietly(t *testing.T, h Handle) {
	if _, err := Stop(context.Background(), Local{}, h, 0); err != nil {
		t.Errorf("stop at cleanup: %v", err)
	}
}

// follow runs Follow to the job's end with fresh buffers.
func follow(t *testing.T, h Handle) (code int, stdout, stderr string) {
	t.Helper()
	var o, e bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	code, _, err := Follow(ctx, Local{}, h, Offsets{}, Output{Stdout: &o, Stderr: &e})
	if err != nil {
		t.Fatalf("follow: %v", err)
	}
	return code, o.String(), e.String()
}

// groupMembers lists the live processes of process group pgid, as ps sees
// them (the brief's check: ps on the job's host).
func groupMembers(t *testing.T, pgid int) []string {
	t.Helper()
	out, err := exec.Command("ps", "-e", "-o", "pid=,pgid=,stat=,args=").Output()
	if err != nil {
		t.Fatalf("ps: %v", err)
	}
	var found []string
	for line := range strings.Lines(string(out)) {
		f := strings.Fields(line)
		if len(f) >= 3 && f[1] == strconv.Itoa(pgid) && !strings.HasPrefix(f[2], "Z") {
			found = append(found, strings.TrimSpace(line))
		}
	}
	return found
}

// markedProcesses lists the live processes whose environment names dir as
// their job: all the job's processes, wherever they moved.
func markedProcesses(t *testing.T, dir string) []int {
	t.Helper()
	procs, _ := filepath.Glob("/proc/[0-9]*")
	var pids []int
	for _, p := range procs {
		env, err := os.ReadFile(p + "/environ")
		if err != nil || !slices.Contains(strings.Split(string(env), "\x00"), "SIROCCO_REMOTE_JOB_DIR="+dir) {
			continue
		}
		stat, _ := os.ReadFile(p + "/stat")
		if i := bytes.LastIndexByte(stat, ')'); i > 0 && len(stat) > i+2 && stat[i+2] == 'Z' {
			continue
		}
		pid, _ := strconv.Atoi(filepath.Base(p))
		pids = append(pids, pid)
	}
	return pids
}

// lineWatch is a writer that reports when a line has been written.
type lineWatch struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	want  string
	seen  chan struct{}
	fired bool
}

func newLineWatch(want string) *lineWatch {
	return &lineWatch{want: want, seen: make(chan struct{})}
}

func (w *lineWatch) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if !w.fired && strings.Contains(w.buf.String(), w.want+"\n") {
		w.fired = true
		close(w.seen)
	}
	return len(p), nil
}

func (w *lineWatch) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

package process_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/operator/process"
	"github.com/sirocco-dev/sirocco/internal/testenv"
)

// started is a process this test started as a previous Sirocco would have.
type started struct {
	pid    int
	out    *output
	exited chan struct{} // closed once the leader is reaped
}

// startGroup runs a bash script, in a process group of its own when setpgid,
// and reaps it as soon as it exits. Cleanup kills what is left.
func startGroup(t *testing.T, script string, setpgid bool, env ...string) *started {
	t.Helper()
	out := newOutput()
	cmd := exec.Command("bash", "-c", script)
	cmd.Stdout, cmd.Stderr = out, out
	if len(env) > 0 {
		cmd.Env = append(os.Environ(), env...)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: setpgid}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &started{pid: cmd.Process.Pid, out: out, exited: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(s.exited)
	}()
	t.Cleanup(func() {
		if setpgid {
			_ = syscall.Kill(-s.pid, syscall.SIGKILL)
		} else {
			_ = cmd.Process.Kill()
		}
		<-s.exited
	})
	return s
}

func (s *started) waitExit(t *testing.T, timeout time.Duration) {
	t.Helper()
	select {
	case <-s.exited:
	case <-time.After(timeout):
		t.Fatalf("process %d did not exit within %s", s.pid, timeout)
	}
}

func handleJSON(t *testing.T, h process.Handle) []byte {
	t.Helper()
	data, err := json.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func localHandle(pid int, startTime uint64) process.Handle {
	host, _ := os.Hostname()
	return process.Handle{Kind: "process", Host: host, PID: pid, PGID: pid, StartTime: startTime}
}

func TestKillOrphanKillsLiveGroup(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		script string
		grace  time.Duration
	}{
		{name: "obeys SIGTERM", script: `sleep 60 & echo "child $!"; wait`, grace: 10 * time.Second},
		{name: "ignores SIGTERM", script: `trap '' TERM; sleep 60 & echo "child $!"; wait`, grace: 300 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := startGroup(t, tt.script, true)
			child := s.out.pidAfter(t, "child ", 10*time.Second)
			h := localHandle(s.pid, process.StartTime(s.pid))
			if h.StartTime == 0 {
				t.Fatal("no start time for a live process")
			}
			start := time.Now()
			killed, err := process.KillOrphan(handleJSON(t, h), tt.grace)
			if err != nil || !killed {
				t.Fatalf("KillOrphan = %v, %v; want true, nil", killed, err)
			}
			// The grandchild, reparented to an init that may not reap it,
			// stays a zombie in the group, so KillOrphan may wait out the
			// grace; it must not wait much longer.
			if took := time.Since(start); took > tt.grace+2*time.Second {
				t.Errorf("KillOrphan took %s with a grace of %s", took, tt.grace)
			}
			s.waitExit(t, 2*time.Second)
			testenv.EventuallyDead(t, child, 10*time.Second)
		})
	}
}

// TestKillOrphanKillsGroupWhoseLeaderIsGone: Pdeathsig kills the leader when
// Sirocco dies, but its grandchildren stay in the group and must be killed.
func TestKillOrphanKillsGroupWhoseLeaderIsGone(t *testing.T) {
	t.Parallel()
	s := startGroup(t, `sleep 60 >/dev/null 2>&1 & echo "child $!"`, true)
	child := s.out.pidAfter(t, "child ", 10*time.Second)
	leaderStart := process.StartTime(s.pid)
	s.waitExit(t, 10*time.Second)
	if !testenv.Alive(child) {
		t.Fatal("the grandchild should outlive its leader here")
	}
	killed, err := process.KillOrphan(handleJSON(t, localHandle(s.pid, leaderStart+1)), 5*time.Second)
	if err != nil || !killed {
		t.Fatalf("KillOrphan = %v, %v; want true, nil", killed, err)
	}
	testenv.EventuallyDead(t, child, 10*time.Second)
}

func TestKillOrphanLeavesOthersAlone(t *testing.T) {
	t.Parallel()
	host, _ := os.Hostname()

	// A process of our own group (not a group leader) stands for a pid that
	// was reused by an unrelated process.
	unrelated := startGroup(t, "echo ready; exec sleep 60", false)
	unrelated.out.waitFor(t, "ready\n", 10*time.Second)
	unrelatedStart := process.StartTime(unrelated.pid)

	// A group that ran and is gone entirely.
	gone := startGroup(t, "exit 0", true)
	gone.waitExit(t, 10*time.Second)

	// A live group, for the handles that must not match it.
	live := startGroup(t, "echo ready; exec sleep 60", true)
	live.out.waitFor(t, "ready\n", 10*time.Second)
	liveStart := process.StartTime(live.pid)

	tests := []struct {
		name    string
		h       process.Handle
		damaged bool // refused as a damaged handle, with an error
	}{
		{name: "dead group", h: localHandle(gone.pid, 12345)},
		{name: "dead group, no start time", h: localHandle(gone.pid, 0)},
		{name: "other host", h: process.Handle{Kind: "process", Host: host + "-elsewhere", PID: live.pid, PGID: live.pid, StartTime: liveStart}},
		{name: "pid reused, no group left", h: localHandle(unrelated.pid, unrelatedStart+1)},
		{name: "other kind", h: process.Handle{Kind: "k8s", Host: host, PID: live.pid, PGID: live.pid, StartTime: liveStart}},
		{name: "no pid", h: process.Handle{Kind: "process", Host: host}},
		// A handle whose group reads 0 would name our own group.
		{name: "group 0", h: process.Handle{Kind: "process", Host: host, PID: unrelated.pid, StartTime: unrelatedStart}, damaged: true},
	}
	for _, tt := range tests {
		killed, err := process.KillOrphan(handleJSON(t, tt.h), time.Second)
		if killed || (err != nil) != tt.damaged {
			t.Errorf("%s: KillOrphan = %v, %v; want false and an error only for a damaged handle", tt.name, killed, err)
		}
	}
	if !testenv.Alive(unrelated.pid) || !testenv.Alive(live.pid) {
		t.Error("KillOrphan killed a process that did not match its handle")
	}
}

// TestKillOrphanSparesGroupOfReusedPID: a pid cannot be reused while a
// process group with that id exists, so a live process with that pid and
// another start time means the old group is gone; a group with that id now
// belongs to whoever reused the pid.
func TestKillOrphanSparesGroupOfReusedPID(t *testing.T) {
	t.Parallel()
	s := startGroup(t, "echo ready; exec sleep 60", true)
	s.out.waitFor(t, "ready\n", 10*time.Second)
	killed, err := process.KillOrphan(handleJSON(t, localHandle(s.pid, process.StartTime(s.pid)+1)), time.Second)
	if err != nil || killed {
		t.Errorf("KillOrphan = %v, %v; want false, nil", killed, err)
	}
	if !testenv.Alive(s.pid) {
		t.Error("KillOrphan killed the group of a process that reused the pid")
	}
}

func TestKillOrphanRejectsBadJSON(t *testing.T) {
	t.Parallel()
	for _, data := range []string{"", "{", "[1,2]", `{"pid": "x"}`} {
		killed, err := process.KillOrphan([]byte(data), time.Second)
		if err == nil || killed || !strings.Contains(err.Error(), "decode process handle") {
			t.Errorf("KillOrphan(%q) = %v, %v; want false and a decode error", data, killed, err)
		}
	}
}

// TestKillTaggedKillsTheTrysGroups: a try whose worker died before saving
// its handle is found by its identity, even after its leader is gone, and
// only its processes are killed.
func TestKillTaggedKillsTheTrysGroups(t *testing.T) {
	t.Parallel()
	id := "w-dead/dag/run/task/" + strconv.Itoa(os.Getpid())
	s := startTagged(t, id, `sleep 60 >/dev/null 2>&1 & echo "child $!"`)
	child := s.out.pidAfter(t, "child ", 10*time.Second)
	s.waitExit(t, 10*time.Second) // the leader is gone, as after Pdeathsig
	other := startTagged(t, id+"0", "echo ready; exec sleep 60")
	other.out.waitFor(t, "ready\n", 10*time.Second)

	killed, err := process.KillTagged(id, 5*time.Second)
	if err != nil || !killed {
		t.Fatalf("KillTagged = %v, %v; want true, nil", killed, err)
	}
	testenv.EventuallyDead(t, child, 10*time.Second)
	if !testenv.Alive(other.pid) {
		t.Error("KillTagged killed the process of another try")
	}
	killed, err = process.KillTagged(id, time.Second)
	if err != nil || killed {
		t.Errorf("KillTagged with nothing left = %v, %v; want false, nil", killed, err)
	}
}

// startTagged is startGroup for a process group carrying a try identity.
func startTagged(t *testing.T, tryID, script string) *started {
	t.Helper()
	return startGroup(t, script, true, process.TryIDVar+"="+tryID)
}

// TestTermThenAwaitGroups: every group gets SIGTERM before anything waits,
// and after one grace only the groups that ignored it get SIGKILL.
func TestTermThenAwaitGroups(t *testing.T) {
	t.Parallel()
	obeys := startGroup(t, "echo ready; exec sleep 60", true)
	var ignore []*started
	for range 2 {
		ignore = append(ignore, startGroup(t, `trap 'echo term' TERM; echo ready; while :; do sleep 0.05; done`, true))
	}
	all := []*started{obeys, ignore[0], ignore[1]}
	for _, s := range all {
		s.out.waitFor(t, "ready\n", 10*time.Second)
	}
	pgids := []int{obeys.pid, ignore[0].pid, ignore[1].pid, 0, 1} // 0 and 1 are never signalled
	process.TermGroups(pgids)
	for _, s := range ignore {
		s.out.waitFor(t, "term\n", 10*time.Second) // before anyone waited for anything
	}
	killed, stuck := process.AwaitGroups(pgids, time.Second)
	if want := []int{ignore[0].pid, ignore[1].pid}; !slices.Equal(killed, want) {
		t.Errorf("AwaitGroups killed %v, want the groups that ignored SIGTERM %v", killed, want)
	}
	if len(stuck) > 0 {
		t.Errorf("AwaitGroups: %v survived SIGKILL", stuck)
	}
	for _, s := range ignore {
		if testenv.Alive(s.pid) { // a zombie counts as dead
			t.Errorf("leftover %d still runs after AwaitGroups returned", s.pid)
		}
	}
	for _, s := range all {
		s.waitExit(t, 5*time.Second)
	}
}

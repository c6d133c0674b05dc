package bench

import (
	"bytes"
	"errors"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// clockTick is the unit of the CPU times in /proc/<pid>/stat (USER_HZ,
// 100 on Linux).
const clockTick = 10 * time.Millisecond

// procStat returns the parent pid and the CPU times (utime + stime, and
// cutime + cstime of reaped children) of pid from /proc/<pid>/stat.
func procStat(pid string) (ppid string, self, children time.Duration, err error) {
	data, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return "", 0, 0, err
	}
	// Fields resume after the parenthesised command name: state is f[0],
	// ppid f[1], utime f[11], stime f[12], cutime f[13], cstime f[14].
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return "", 0, 0, errors.New("malformed /proc/" + pid + "/stat")
	}
	f := strings.Fields(string(data[i+1:]))
	if len(f) < 15 {
		return "", 0, 0, errors.New("short /proc/" + pid + "/stat")
	}
	var t [4]int64
	for j := range t {
		if t[j], err = strconv.ParseInt(f[11+j], 10, 64); err != nil {
			return "", 0, 0, err
		}
	}
	return f[1], time.Duration(t[0]+t[1]) * clockTick, time.Duration(t[2]+t[3]) * clockTick, nil
}

// cpuTicks returns utime + stime of pid, in clock ticks.
func cpuTicks(pid string) (int64, error) {
	_, self, _, err := procStat(pid)
	return int64(self / clockTick), err
}

// pids lists the numeric entries of /proc.
func pids() []string {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err == nil {
			out = append(out, e.Name())
		}
	}
	return out
}

// hasChildren reports whether any process has pid as its parent.
func hasChildren(pid string) bool {
	for _, p := range pids() {
		if ppid, _, _, err := procStat(p); err == nil && ppid == pid {
			return true
		}
	}
	return false
}

// postgresCPU returns the CPU time used so far by the PostgreSQL server
// that serves dsn: its postmaster (found by the port on its command line)
// with the backends it has reaped, plus its live processes. ok is false if
// the server is not a local process this benchmark can see.
func postgresCPU(dsn string) (cpu time.Duration, ok bool) {
	u, err := url.Parse(dsn)
	if err != nil || u.Port() == "" {
		return 0, false
	}
	all := pids()
	master := ""
	for _, p := range all {
		cmd, err := os.ReadFile("/proc/" + p + "/cmdline")
		if err != nil {
			continue
		}
		args := strings.Split(strings.TrimRight(string(cmd), "\x00"), "\x00")
		if len(args) == 0 || !strings.HasSuffix(args[0], "postgres") {
			continue
		}
		for i := 0; i+1 < len(args); i++ {
			if args[i] == "-p" && args[i+1] == u.Port() {
				master = p
			}
		}
	}
	if master == "" {
		return 0, false
	}
	_, self, reaped, err := procStat(master)
	if err != nil {
		return 0, false
	}
	cpu = self + reaped
	for _, p := range all {
		if ppid, self, _, err := procStat(p); err == nil && ppid == master {
			cpu += self
		}
	}
	return cpu, true
}

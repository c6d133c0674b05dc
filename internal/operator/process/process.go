// Package process runs a task's child process the way a scheduler must: argv
// (no shell unless asked), its own process group, its handle saved before
// waiting, output streamed into the try's log, and on cancel SIGTERM to the
// whole group followed by SIGKILL after a grace period.
package process

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Handle identifies a child process group across a restart of Sirocco. The
// start time (from /proc) guards against the pid having been reused.
type Handle struct {
	Kind      string `json:"kind"` // Kind
	Version   int    `json:"version,omitempty"`
	Host      string `json:"host"`
	PID       int    `json:"pid"`
	PGID      int    `json:"pgid"`
	StartTime uint64 `json:"start_time"`
	TryID     string `json:"try_id,omitempty"`
}

// TryIDVar is the environment variable through which a try's processes
// carry its identity (Spec.TryID).
const TryIDVar = "SIROCCO_TRY_ID"

// HandleAfter is how long a process with a TryID runs before its handle is
// saved. Most glue tasks end sooner, and a write per task is the largest
// cost of a short task after the process itself; until then recovery finds
// the processes from the handle noted in the try's log (NoteHandle) and by
// their TryID (KillTagged).
const HandleAfter = 100 * time.Millisecond

// saveTimeout bounds the write of a handle.
const saveTimeout = 10 * time.Second

// Spec is one process to run.
type Spec struct {
	Argv []string
	Dir  string
	// Env is the full environment, KEY=VALUE (Environ builds it); nil
	// means Sirocco's own, less its settings (Inherited). Whatever it
	// holds, Run drops every SIROCCO_* entry but SIROCCO_CTX_* and sets
	// SIROCCO_TRY_ID itself (childEnv).
	Env        []string
	Stdout     io.Writer
	Stderr     io.Writer
	Grace      time.Duration // SIGTERM → SIGKILL; default 5s
	SaveHandle func(ctx context.Context, h []byte) error
	// NoteHandle, when set, gets the handle as soon as the process has
	// started, before anything waits on it (the runner writes it into the
	// try's log, where recovery reads it if SaveHandle was not yet due).
	NoteHandle func(h []byte)
	// TryID, when set, is given to the process as SIROCCO_TRY_ID; its
	// handle is then saved only once it has run for HandleAfter, because
	// the try's claim, stored before the start, already lets a restart find
	// the processes (KillTagged).
	TryID string
	// HandleAfter overrides the package's HandleAfter for this start
	// (zero: HandleAfter).
	HandleAfter time.Duration
}

// ExitError reports a non-zero exit, so operators can map codes to states.
type ExitError struct {
	Code   int
	Signal string
}

func (e *ExitError) Error() string {
	if e.Signal != "" {
		return "process killed by signal " + e.Signal
	}
	return "process exited with code " + strconv.Itoa(e.Code)
}

// Run starts the process and waits for it. If ctx ends first, the whole
// process group gets SIGTERM, then SIGKILL after the grace period, and Run
// returns ctx's error joined with the exit.
func Run(ctx context.Context, s Spec) error {
	if len(s.Argv) == 0 {
		return errors.New("empty command")
	}
	grace := s.Grace
	if grace <= 0 {
		grace = 5 * time.Second
	}
	cmd, remembered := command(s.Argv)
	out, err := newOutput(cmd, s.Stdout, s.Stderr)
	if err != nil {
		return err
	}
	setUp(cmd, s)
	err = cmd.Start()
	if err != nil && remembered {
		// The program moved since its path was looked up: look again.
		forgetPath(s.Argv[0])
		again, _ := command(s.Argv)
		again.Stdout, again.Stderr = cmd.Stdout, cmd.Stderr
		cmd = again
		setUp(cmd, s)
		err = cmd.Start()
	}
	if err != nil {
		out.abort()
		return fmt.Errorf("start %s: %w", s.Argv[0], err)
	}
	// finish returns the outcome once the output is all in: as exec's
	// WaitDelay did, the group's members get the grace to finish writing
	// (a logging pipe, a SIGTERM handler), then whatever is left of the
	// group is killed.
	finish := func(err error) error {
		werr := out.wait(grace)
		killGroup(cmd.Process.Pid, syscall.SIGKILL)
		if werr != nil && err == nil {
			return fmt.Errorf("copy output: %w", werr)
		}
		return err
	}
	pid := cmd.Process.Pid
	// The handle is taken now, while the leader surely lives (its start
	// time guards against pid reuse), whenever it is saved.
	h := Handle{Kind: Kind, Version: HandleVersion, Host: hostname(), PID: pid, PGID: pid, StartTime: StartTime(pid), TryID: s.TryID}
	data, _ := json.Marshal(h)
	if s.NoteHandle != nil {
		s.NoteHandle(data)
	}
	// Only now is the output copied: the note is in the try's log before
	// any line of the process, and recovery trusts only the first one
	// (meanwhile the pipes hold what the process writes).
	out.started()
	saveHandle := func() error {
		// A cancel must not cut the write short: the SIGTERM and grace
		// that follow it are the process's due.
		wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), saveTimeout)
		defer cancel()
		if err := s.SaveHandle(wctx, data); err != nil {
			killGroup(pid, syscall.SIGKILL)
			return fmt.Errorf("save process handle: %w", err)
		}
		return nil
	}
	var saveAt <-chan time.Time // when a delayed handle is due
	switch {
	case s.SaveHandle == nil:
	case s.TryID == "":
		if err := saveHandle(); err != nil {
			_ = cmd.Wait()
			return finish(err)
		}
	default:
		after := s.HandleAfter
		if after <= 0 {
			after = HandleAfter
		}
		t := time.NewTimer(after)
		defer t.Stop()
		saveAt = t.C
	}

	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var waitErr error
	for exited := false; !exited; {
		select {
		case waitErr = <-done:
			exited = true
		case <-saveAt:
			saveAt = nil
			if err := saveHandle(); err != nil {
				return finish(errors.Join(err, exitError(<-done))) // saveHandle killed it
			}
		case <-ctx.Done():
			killGroup(pid, syscall.SIGTERM)
			select {
			case waitErr = <-done:
			case <-time.After(grace):
				killGroup(pid, syscall.SIGKILL)
				waitErr = <-done
			}
			// Whatever the leader did, leave nothing of the group behind.
			return finish(errors.Join(ctx.Err(), exitError(waitErr)))
		}
	}
	// The leader exited: a background grandchild must not outlive the try.
	return finish(exitError(waitErr))
}

// setUp gives cmd the spec's directory and environment (childEnv: never
// one of Sirocco's own settings), its own
// process group so a kill reaches grandchildren, and Pdeathsig so the
// direct child dies with us if Sirocco is killed (recovery kills the rest
// of the group from the stored handle).
func setUp(cmd *exec.Cmd, s Spec) {
	cmd.Dir = s.Dir
	cmd.Env = childEnv(s.Env, s.TryID)
	cmd.SysProcAttr = GroupAttr()
	if f, err := devNull(); err == nil {
		cmd.Stdin = f // as exec's own, without an open and a close per start
	}
}

// devNull is /dev/null opened once for reading: every child's stdin, as
// exec would open it for each start. The child gets a copy of the
// descriptor; this one stays open.
var devNull = sync.OnceValues(func() (*os.File, error) { return os.Open(os.DevNull) })

// sameWriter reports whether a and b are the same writer, false for types
// that cannot be compared (as exec does).
func sameWriter(a, b io.Writer) (same bool) {
	defer func() {
		if recover() != nil {
			same = false
		}
	}()
	return a == b
}

// onlyWriter and onlyReader hide ReadFrom and WriteTo, so CopyBuffer uses
// the buffer it is given.
type (
	onlyWriter struct{ io.Writer }
	onlyReader struct{ io.Reader }
)

var copyBuffers = sync.Pool{New: func() any {
	b := make([]byte, 32*1024)
	return &b
}}

// command is exec.Command with the PATH lookup of a bare name remembered:
// it stats every PATH entry up to the program's (nine on a usual system),
// which cost more than anything else in a try's start. The lookup uses
// Sirocco's own PATH, as exec.Command does; it is done again after
// lookUpAgain, or at once when a start fails. It reports whether the path
// came from memory.
func command(argv []string) (*exec.Cmd, bool) {
	name := argv[0]
	if strings.ContainsRune(name, os.PathSeparator) {
		return exec.Command(name, argv[1:]...), false
	}
	key := name + "\x00" + os.Getenv("PATH")
	if v, ok := lookedUp.Load(key); ok {
		if p := v.(foundPath); time.Since(p.at) < lookUpAgain {
			return &exec.Cmd{Path: p.path, Args: argv}, true
		}
	}
	cmd := exec.Command(name, argv[1:]...)
	if cmd.Err == nil && filepath.IsAbs(cmd.Path) {
		lookedUp.Store(key, foundPath{cmd.Path, time.Now()})
	}
	return cmd, false
}

// lookedUp maps a program name and PATH to where it was found.
var lookedUp sync.Map

type foundPath struct {
	path string
	at   time.Time
}

// lookUpAgain bounds how long a found path is trusted: a program installed
// earlier on PATH is used from then on.
const lookUpAgain = 5 * time.Second

// forgetPath drops the remembered path of name (the program moved).
func forgetPath(name string) {
	prefix := name + "\x00"
	lookedUp.Range(func(k, _ any) bool {
		if strings.HasPrefix(k.(string), prefix) {
			lookedUp.Delete(k)
		}
		return true
	})
}

// hostname is the host recorded in handles, read once.
var hostname = sync.OnceValue(func() string {
	h, _ := os.Hostname()
	return h
})

func exitError(err error) error {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return &ExitError{Code: -1, Signal: ws.Signal().String()}
		}
		return &ExitError{Code: ee.ExitCode()}
	}
	return err
}

func killGroup(pgid int, sig syscall.Signal) {
	_ = syscall.Kill(-pgid, sig)
}

// StartTime reads a process's start time in clock ticks since boot from
// /proc/PID/stat (field 22), or 0 if it cannot.
func StartTime(pid int) uint64 {
	var buf [1024]byte
	data, err := readSmall("/proc/"+strconv.Itoa(pid)+"/stat", buf[:])
	if err != nil {
		return 0
	}
	// The command name (field 2) may contain spaces; fields resume after ')'.
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return 0
	}
	f := nthField(data[i+1:], 19)
	if f == nil {
		return 0
	}
	v, _ := strconv.ParseUint(string(f), 10, 64)
	return v
}

// nthField returns the n-th (from 0) space-separated field of data, or
// nil, without splitting the rest: strings.Fields would copy all of it.
func nthField(data []byte, n int) []byte {
	for f := range bytes.FieldsSeq(data) {
		if n == 0 {
			return f
		}
		n--
	}
	return nil
}

// readSmall reads a small file (a /proc entry) into buf with plain system
// calls, and what did not fit, if anything, after it: os.ReadFile would
// first try to register the descriptor in the runtime's poller, which
// takes five more calls, on every task's start.
func readSmall(path string, buf []byte) ([]byte, error) {
	fd, err := syscall.Open(path, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	defer syscall.Close(fd)
	data := buf[:0]
	for {
		if len(data) == cap(data) {
			data = append(data, 0)[:len(data)]
		}
		n, err := syscall.Read(fd, data[len(data):cap(data)])
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return nil, &os.PathError{Op: "read", Path: path, Err: err}
		}
		if n == 0 {
			return data, nil
		}
		data = data[:len(data)+n]
	}
}

// DecodeHandle reads a stored handle. A handle of kind "process" (or of
// no kind: stored before kinds existed) must pass Check. Handles of other
// kinds (a Spark driver) are returned as they are, for their operator to
// judge.
func DecodeHandle(data []byte) (Handle, error) {
	var h Handle
	if err := json.Unmarshal(data, &h); err != nil {
		return Handle{}, fmt.Errorf("decode process handle: %w", err)
	}
	if h.Kind == "" {
		h.Kind = Kind
	}
	if h.Kind != Kind {
		return h, nil
	}
	if err := h.Check(); err != nil {
		return Handle{}, fmt.Errorf("decode process handle: %w", err)
	}
	return h, nil
}

// KillOrphan kills the process group of a handle left by a previous Sirocco
// process, if that exact process still runs on this host. It returns whether
// it found something to kill.
func KillOrphan(data []byte, grace time.Duration) (bool, error) {
	pgid, err := OrphanGroup(data)
	if pgid == 0 {
		return false, err
	}
	KillGroups([]int{pgid}, grace)
	return true, nil
}

// OrphanGroup returns the process group of a handle left by a previous
// Sirocco process if that group is still there on this host, else 0, so
// that recovery can kill the groups of all its orphans together. It never
// returns this process's own group, nor 0 or 1 (DecodeHandle refuses those).
func OrphanGroup(data []byte) (int, error) {
	h, err := DecodeHandle(data)
	if err != nil {
		return 0, err
	}
	return orphanGroup(h), nil
}

// TaggedGroups scans this host's processes once and returns, for every
// try id some process carries (SIROCCO_TRY_ID), the process groups of
// those processes. It cannot see a process whose environment it may not
// read (another user's, a setuid one) or that rewrote its environment
// (setproctitle); a group member it can see still leads to the group.
func TaggedGroups() (map[string][]int, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("list processes: %w", err)
	}
	prefix := []byte(TryIDVar + "=")
	own := syscall.Getpgrp()
	groups := map[string][]int{}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		env, err := os.ReadFile("/proc/" + e.Name() + "/environ")
		if err != nil {
			continue // gone, or not ours to read
		}
		for _, kv := range bytes.Split(env, []byte{0}) {
			id, ok := bytes.CutPrefix(kv, prefix)
			if !ok {
				continue
			}
			if pgid, err := syscall.Getpgid(pid); err == nil && pgid > 1 && pgid != own && !slices.Contains(groups[string(id)], pgid) {
				groups[string(id)] = append(groups[string(id)], pgid)
			}
			break
		}
	}
	return groups, nil
}

// KillGroups sends SIGTERM to every process group at once, then SIGKILL
// to those still there after grace: one grace in all, however many groups.
func KillGroups(pgids []int, grace time.Duration) {
	TermGroups(pgids)
	AwaitGroups(pgids, grace)
}

// TermGroups sends SIGTERM to every process group; AwaitGroups then ends
// them. The two are apart so that recovery can signal every leftover group
// of a dead Sirocco before it waits for any.
func TermGroups(pgids []int) {
	for _, pgid := range pgids {
		if pgid > 1 {
			killGroup(pgid, syscall.SIGTERM)
		}
	}
}

// AwaitGroups waits until no process of the groups runs any more or grace
// has passed, whichever is first, then sends SIGKILL to the groups left and
// waits, up to killWait, until their processes are gone too. It returns the
// groups that needed SIGKILL and those with a process still there after
// killWait (stuck in the kernel, in uninterruptible sleep). A zombie (a
// process that exited and that its parent has not reaped yet, such as an
// orphan under an init that does not reap) counts as gone: it runs nothing.
func AwaitGroups(pgids []int, grace time.Duration) (killed, stuck []int) {
	left := slices.DeleteFunc(slices.Clone(pgids), func(pgid int) bool { return pgid <= 1 })
	left = awaitGone(left, grace, 50*time.Millisecond)
	for _, pgid := range left {
		killGroup(pgid, syscall.SIGKILL)
	}
	return left, awaitGone(slices.Clone(left), killWait, 10*time.Millisecond)
}

// killWait bounds how long AwaitGroups waits for the processes of a group
// that got SIGKILL to be gone; they normally are within milliseconds.
const killWait = 5 * time.Second

// awaitGone polls, every poll, until no process of the groups runs or
// timeout has passed, and returns the groups that still have one.
func awaitGone(pgids []int, timeout, poll time.Duration) []int {
	deadline := time.Now().Add(timeout)
	for {
		live := liveGroups(pgids)
		pgids = slices.DeleteFunc(pgids, func(pgid int) bool { return !live[pgid] })
		if len(pgids) == 0 || !time.Now().Before(deadline) {
			return pgids
		}
		time.Sleep(min(poll, time.Until(deadline))) // other processes' groups: no event to wait on
	}
}

// liveGroups reports which of the groups have a process that is not a
// zombie, in one scan of /proc (and none at all when no group exists).
func liveGroups(pgids []int) map[int]bool {
	want := map[int]bool{}
	for _, pgid := range pgids {
		if groupExists(pgid) {
			want[pgid] = true
		}
	}
	if len(want) == 0 {
		return want
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return want // cannot tell zombies apart: a process is there
	}
	live := map[int]bool{}
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		state, pgrp, ok := procState(e.Name())
		if ok && want[pgrp] && state != 'Z' {
			live[pgrp] = true
		}
	}
	return live
}

// procState reads a process's state and process group from /proc/PID/stat.
func procState(pid string) (state byte, pgrp int, ok bool) {
	data, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return 0, 0, false
	}
	// The command name (field 2) may contain spaces; fields resume after ')'.
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return 0, 0, false
	}
	fields := strings.Fields(string(data[i+1:]))
	if len(fields) < 3 || len(fields[0]) != 1 {
		return 0, 0, false
	}
	pgrp, err = strconv.Atoi(fields[2])
	return fields[0][0], pgrp, err == nil
}

// KillTagged kills the process groups of the processes that carry tryID,
// as TaggedGroups finds them, and reports whether there were any.
func KillTagged(tryID string, grace time.Duration) (bool, error) {
	groups, err := TaggedGroups()
	if err != nil || len(groups[tryID]) == 0 {
		return false, err
	}
	KillGroups(groups[tryID], grace)
	return true, nil
}

// groupExists reports whether any process is left in the process group.
func groupExists(pgid int) bool { return syscall.Kill(-pgid, 0) == nil }

// LastLine remembers the last non-empty line written through it, for the
// bash operator's return_value XCom, while passing everything on.
type LastLine struct {
	W    io.Writer
	mu   sync.Mutex
	buf  []byte
	last string
}

// Write passes p on and tracks line ends.
func (l *LastLine) Write(p []byte) (int, error) {
	l.mu.Lock()
	l.buf = append(l.buf, p...)
	for {
		i := bytes.IndexByte(l.buf, '\n')
		if i < 0 {
			break
		}
		if line := strings.TrimRight(string(l.buf[:i]), "\r"); line != "" {
			l.last = line
		}
		l.buf = l.buf[i+1:]
	}
	if len(l.buf) > 64*1024 { // a huge unterminated line: keep memory bounded
		l.buf = l.buf[len(l.buf)-64*1024:]
	}
	l.mu.Unlock()
	return l.W.Write(p)
}

// Last returns the last non-empty line, including an unterminated tail.
func (l *LastLine) Last() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if tail := strings.TrimRight(string(l.buf), "\r\n"); tail != "" {
		return tail
	}
	return l.last
}

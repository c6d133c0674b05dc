package remotejob

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Version is the Handle format this package writes and reads.
const Version = 1

// Spec is one job to start.
type Spec struct {
	// Command is a shell command line, run as given by sh on the host.
	Command string
	// Env is added to the job's environment.
	Env map[string]string
	// Cwd is the job's directory (~ or ~/... is the remote home); empty:
	// the login directory.
	Cwd string
	// BaseDir holds the jobs' directories; empty: ~/.sirocco/jobs (or
	// ${TMPDIR:-/tmp}/sirocco-jobs-<uid> without a HOME).
	BaseDir string
	// JobID names the try's directory under BaseDir (see JobID): a second
	// Start with the same id finds the job instead of starting it again.
	JobID string
}

// Handle reaches a started job again, from any process, after any restart:
// the caller persists it (with its host) before waiting on the job.
type Handle struct {
	Version   int       `json:"version"`
	JobID     string    `json:"job_id"`
	Dir       string    `json:"dir"` // absolute, on the job's host
	PID       int       `json:"pid"` // the wrapper: session and process group id
	StartedAt time.Time `json:"started_at"`
}

// Validate rejects a handle that could point a kill or an rm elsewhere than
// at a job of this package (a damaged or hand-edited handle).
func (h Handle) Validate() error {
	switch {
	case h.Version != Version:
		return fmt.Errorf("remote job handle version %d, want %d", h.Version, Version)
	case h.PID <= 1:
		return fmt.Errorf("remote job handle has pid %d, want a process group id above 1", h.PID)
	case !ValidJobID(h.JobID):
		return fmt.Errorf("remote job handle has job id %q, want a plain file name", h.JobID)
	}
	return validDir(h.Dir, h.JobID)
}

func validDir(dir, id string) error {
	if !path.IsAbs(dir) || path.Clean(dir) != dir || path.Base(dir) != id || strings.ContainsAny(dir, "\n\x00") {
		return fmt.Errorf("remote job directory %q is not an absolute clean path ending in the job id %q", dir, id)
	}
	return nil
}

// The job id and environment name rules are checked by hand, not with
// package-level regular expressions: `{0,199}` compiled into hundreds of
// instructions at every start of the binary, the CLI's included (half a
// millisecond, 2,700 allocations), for rules that are a few byte tests.

// maxJobID is the longest job id, in bytes (all allowed bytes are ASCII).
const maxJobID = 200

// ValidJobID reports whether id is usable as a job directory name: letters,
// digits, . _ - (not first: no hidden or relative names), at most 200.
func ValidJobID(id string) bool {
	if id == "" || len(id) > maxJobID || id[0] == '.' || id[0] == '-' {
		return false
	}
	for i := 0; i < len(id); i++ {
		if !jobIDByte(id[i]) {
			return false
		}
	}
	return true
}

// jobIDByte reports whether c may appear in a job id: A-Z a-z 0-9 . _ -.
func jobIDByte(c byte) bool {
	return asciiAlnum(c) || c == '.' || c == '_' || c == '-'
}

func asciiAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// safeRuns replaces every run of bytes that may not appear in a job id
// with one "_".
func safeRuns(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	inRun := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if jobIDByte(c) {
			b.WriteByte(c)
			inRun = false
			continue
		}
		if !inRun {
			b.WriteByte('_')
			inRun = true
		}
	}
	return b.String()
}

// validEnvName reports whether k is a shell variable name:
// [A-Za-z_][A-Za-z0-9_]*.
func validEnvName(k string) bool {
	if k == "" || '0' <= k[0] && k[0] <= '9' {
		return false
	}
	for i := 0; i < len(k); i++ {
		if !asciiAlnum(k[i]) && k[i] != '_' {
			return false
		}
	}
	return true
}

// JobID derives a try's job id: readable parts for a person looking at the
// host, and a hash of the exact parts so that two tries never share one.
func JobID(dagID, runID, taskID string, try int) string {
	sum := sha256.Sum256([]byte(dagID + "\x00" + runID + "\x00" + taskID + "\x00" + strconv.Itoa(try)))
	part := func(s string) string {
		s = strings.Trim(safeRuns(s), "._-")
		if len(s) > 40 {
			s = s[:40]
		}
		return s
	}
	return fmt.Sprintf("%s_%s_%s_%d_%s", part(dagID), part(runID), part(taskID), try, hex.EncodeToString(sum[:6]))
}

// jobFile is what the job runs: the environment, the directory, then the
// command, verbatim. It reaches the host on stdin, so neither the command
// nor the environment's values show in a process list there.
func jobFile(s Spec) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString("# Sirocco remote job: environment, directory, then the task's command.\n")
	for _, k := range slices.Sorted(maps.Keys(s.Env)) {
		v := s.Env[k]
		if !validEnvName(k) {
			return nil, fmt.Errorf("environment variable name %q: want letters, digits and _, not starting with a digit", k)
		}
		if strings.IndexByte(v, 0) >= 0 {
			return nil, fmt.Errorf("environment variable %s %w", k, errNUL)
		}
		fmt.Fprintf(&b, "export %s=%s\n", k, quote(v))
	}
	if s.Cwd != "" {
		if strings.IndexByte(s.Cwd, 0) >= 0 {
			return nil, fmt.Errorf("cwd %w", errNUL)
		}
		fmt.Fprintf(&b, "cd -- %s || exit 1\n", pathExpr(s.Cwd))
	}
	if strings.IndexByte(s.Command, 0) >= 0 {
		return nil, fmt.Errorf("command %w", errNUL)
	}
	if strings.TrimSpace(s.Command) == "" {
		return nil, errors.New("empty command")
	}
	b.WriteString(s.Command)
	b.WriteByte('\n')
	return b.Bytes(), nil
}

func baseExpr(base string) (string, error) {
	if base == "" {
		return "''", nil // start.sh's default
	}
	if strings.ContainsAny(base, "\n\x00") {
		return "", fmt.Errorf("base directory %q: no newlines or NUL bytes", base)
	}
	return pathExpr(base), nil
}

// Start starts the job of s on sh's host, or finds it if a job with the
// same JobID was started before (fresh is then false): the command never
// runs twice for one JobID while its directory exists (until Cleanup). It
// returns once the job runs; the job outlives the connection and Sirocco.
// After an error the job may or may not run: Start again with the same
// JobID to know.
func Start(ctx context.Context, sh Shell, s Spec) (h Handle, fresh bool, err error) {
	h, fresh, _, err = StartQuick(ctx, sh, s, 0)
	return h, fresh, err
}

// Quick is what StartQuick saw of a job that ended while it lingered: its
// exit code and all its output.
type Quick struct {
	Code           int
	Stdout, Stderr []byte
	Offsets        Offsets // the output's sizes: where a Follow would go on
}

// lingerTick is the start script's wait between two looks at a job's exit.
const lingerTick = 5 * time.Millisecond

// StartQuick is Start that also waits, in the same remote call, up to
// linger for the job it started to end: a job that ended by then comes
// back with its exit code and output (quick non-nil, when all of it fit one
// answer), so a short command costs one round trip; otherwise the caller
// follows the job as after Start. A job found existing (started before) is
// waited on alike.
func StartQuick(ctx context.Context, sh Shell, s Spec, linger time.Duration) (h Handle, fresh bool, quick *Quick, err error) {
	h, fresh, quick, err = startQuick(ctx, sh, s, linger)
	if err != nil {
		return Handle{}, false, nil, fmt.Errorf("start remote job %s: %w", s.JobID, err)
	}
	return h, fresh, quick, nil
}

func startQuick(ctx context.Context, sh Shell, s Spec, linger time.Duration) (Handle, bool, *Quick, error) {
	if !ValidJobID(s.JobID) {
		return Handle{}, false, nil, fmt.Errorf("job id %q: want letters, digits, . _ - (see JobID)", s.JobID)
	}
	job, err := jobFile(s)
	if err != nil {
		return Handle{}, false, nil, err
	}
	base, err := baseExpr(s.BaseDir)
	if err != nil {
		return Handle{}, false, nil, err
	}
	ticks := int64((linger + lingerTick - 1) / lingerTick)
	src := script("start", str("dir", ""), str("id", s.JobID), num("size", int64(len(job))), variable{"base", base},
		num("nostart", 0), num("linger", ticks), num("oo", 0), num("eo", 0), num("max", maxChunk))
	if ticks > 0 {
		src += mustRead("poll")
	}
	out, err := run(ctx, sh, src, bytes.NewReader(job))
	if err != nil {
		return Handle{}, false, nil, err
	}
	first, rest := out, []byte(nil)
	if i := bytes.IndexByte(out, '\n'); ticks > 0 && i >= 0 {
		first, rest = out[:i+1], out[i+1:]
	}
	h, fresh, err := parseStart(first, s.JobID)
	if err != nil || ticks == 0 {
		return h, fresh, nil, err
	}
	a, err := parsePoll(rest, Offsets{})
	if err != nil {
		return Handle{}, false, nil, err
	}
	if a.State != stateExited || int64(a.Stdout.Len()) != a.StdoutSize || int64(a.Stderr.Len()) != a.StderrSize {
		return h, fresh, nil, nil // running, or more output than one answer: Follow
	}
	return h, fresh, &Quick{Code: a.Code, Stdout: a.Stdout.Bytes(), Stderr: a.Stderr.Bytes(),
		Offsets: Offsets{Stdout: a.StdoutSize, Stderr: a.StderrSize}}, nil
}

// Find reports the job that a Start of the same BaseDir and JobID started,
// without starting anything: found is false when no such job exists
// (Start never reached the host, or the job was cleaned up). It is how a
// caller that stored only the job id before Start answered (a crash in
// between) reaches the job to stop it.
func Find(ctx context.Context, sh Shell, baseDir, jobID string) (h Handle, found bool, err error) {
	if !ValidJobID(jobID) {
		return Handle{}, false, fmt.Errorf("find remote job: job id %q: want letters, digits, . _ - (see JobID)", jobID)
	}
	base, err := baseExpr(baseDir)
	if err != nil {
		return Handle{}, false, fmt.Errorf("find remote job %s: %w", jobID, err)
	}
	src := script("start", str("dir", ""), str("id", jobID), num("size", 0), variable{"base", base}, num("nostart", 1), num("linger", 0))
	out, err := run(ctx, sh, src, nil)
	if err != nil {
		return Handle{}, false, fmt.Errorf("find remote job %s: %w", jobID, err)
	}
	if string(out) == answerPrefix+"absent\n" {
		return Handle{}, false, nil
	}
	h, _, err = parseStart(out, jobID)
	if err != nil {
		return Handle{}, false, fmt.Errorf("find remote job %s: %w", jobID, err)
	}
	return h, true, nil
}

// JobScript is the sh script a job of s runs (its environment, directory
// and command), for a caller that runs it another way than detached: the
// ssh operator's get_pty mode.
func JobScript(s Spec) ([]byte, error) { return jobFile(s) }

// run runs a script whose answer is small, and turns a failure (a non-zero
// exit) into an error carrying the script's explanation.
func run(ctx context.Context, sh Shell, src string, stdin io.Reader) ([]byte, error) {
	var stdout, stderr bytes.Buffer
	code, err := sh.Run(ctx, src, stdin, &stdout, &stderr)
	if err != nil {
		return nil, err
	}
	if code != 0 {
		msg := strings.TrimSpace(stderr.String())
		msg = strings.TrimPrefix(msg, "sirocco-remotejob: ")
		if msg == "" {
			msg = "no explanation on stderr"
		}
		return nil, fmt.Errorf("remote script exited with code %d: %s", code, msg)
	}
	return stdout.Bytes(), nil
}

const answerPrefix = "sirocco-remotejob v1 "

// parseStart reads the start script's answer:
// "sirocco-remotejob v1 started|existing <pid> <epoch seconds> <dir>".
func parseStart(out []byte, id string) (Handle, bool, error) {
	line, ok := strings.CutSuffix(string(out), "\n")
	if !ok || strings.Contains(line, "\n") || !strings.HasPrefix(line, answerPrefix) {
		return Handle{}, false, fmt.Errorf("unexpected answer from the start script: %q", out)
	}
	f := strings.SplitN(strings.TrimPrefix(line, answerPrefix), " ", 4)
	if len(f) != 4 {
		return Handle{}, false, fmt.Errorf("start answer %q: want state, pid, start time, directory", line)
	}
	fresh := f[0] == "started"
	if !fresh && f[0] != "existing" {
		return Handle{}, false, fmt.Errorf("start answer %q: state %q, want started or existing", line, f[0])
	}
	pid, ok := number(f[1])
	if !ok || pid <= 1 || pid > 1<<31 {
		return Handle{}, false, fmt.Errorf("start answer %q: pid %q, want a number above 1", line, f[1])
	}
	epoch, ok := number(f[2])
	if !ok || epoch > 1<<40 {
		return Handle{}, false, fmt.Errorf("start answer %q: start time %q, want seconds since 1970", line, f[2])
	}
	h := Handle{Version: Version, JobID: id, Dir: f[3], PID: int(pid), StartedAt: time.Unix(epoch, 0).UTC()}
	if err := h.Validate(); err != nil {
		return Handle{}, false, fmt.Errorf("start answer %q: %w", line, err)
	}
	return h, fresh, nil
}

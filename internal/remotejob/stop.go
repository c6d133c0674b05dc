package remotejob

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// StopOutcome says what Stop found and did.
type StopOutcome string

// Stop outcomes.
const (
	// StopGone: no process of the job was left; nothing signalled.
	StopGone StopOutcome = "gone"
	// StopNotOurs: the job is gone and its process group id belongs to
	// other processes now (pid reuse); nothing signalled.
	StopNotOurs StopOutcome = "not_ours"
	// StopTerminated: the job's group ended within the grace after SIGTERM.
	StopTerminated StopOutcome = "terminated"
	// StopKilled: the group outlived the grace and was SIGKILLed.
	StopKilled StopOutcome = "killed"
)

// Stop ends the job: SIGTERM to its whole process group, then SIGKILL to
// what is left after grace (the ssh operator's kill_grace). It checks that
// the group is still the job's (a member carries the job's marker) before
// each signal, and succeeds when the job is already gone, so it is safe to
// repeat. When SIGKILL was needed and the wrapper died before recording an
// exit code, Stop records 137 so that a follower ends.
func Stop(ctx context.Context, sh Shell, h Handle, grace time.Duration) (StopOutcome, error) {
	if err := h.Validate(); err != nil {
		return "", fmt.Errorf("stop remote job: %w", err)
	}
	ticks := int64((grace + 99*time.Millisecond) / (100 * time.Millisecond))
	src := script("stop", str("dir", h.Dir), num("pid", int64(h.PID)), num("ticks", ticks))
	out, err := run(ctx, sh, src, nil)
	if err != nil {
		return "", fmt.Errorf("stop remote job %s (process group %d): %w", h.JobID, h.PID, err)
	}
	word, err := parseWord(out)
	if err != nil {
		return "", fmt.Errorf("stop remote job %s: %w", h.JobID, err)
	}
	switch o := StopOutcome(word); o {
	case StopGone, StopNotOurs, StopTerminated, StopKilled:
		return o, nil
	}
	return "", fmt.Errorf("stop remote job %s: unknown outcome %q", h.JobID, word)
}

// ErrRunning is returned by Cleanup for a job that still runs.
var ErrRunning = errors.New("remote job is still running: stop it first")

// Cleanup removes the job's directory on its host: only the directory of
// this job (its marker file names the job), only once none of the job's
// processes runs (ErrRunning otherwise), and nothing when it is already
// gone. Whether to call it (cleanup: on_success, always, never) is the
// caller's policy.
func Cleanup(ctx context.Context, sh Shell, h Handle) error {
	if err := h.Validate(); err != nil {
		return fmt.Errorf("clean up remote job: %w", err)
	}
	src := script("cleanup", str("dir", h.Dir), num("pid", int64(h.PID)), str("id", h.JobID))
	out, err := run(ctx, sh, src, nil)
	if err != nil {
		return fmt.Errorf("clean up remote job %s: %w", h.JobID, err)
	}
	word, err := parseWord(out)
	if err != nil {
		return fmt.Errorf("clean up remote job %s: %w", h.JobID, err)
	}
	switch word {
	case "removed", "gone":
		return nil
	case "running":
		return fmt.Errorf("clean up remote job %s in %s: %w", h.JobID, h.Dir, ErrRunning)
	}
	return fmt.Errorf("clean up remote job %s: unknown outcome %q", h.JobID, word)
}

// parseWord reads a one-word answer: "sirocco-remotejob v1 <word>".
func parseWord(out []byte) (string, error) {
	line, ok := strings.CutSuffix(string(out), "\n")
	word, found := strings.CutPrefix(line, answerPrefix)
	if !ok || !found || word == "" || strings.ContainsAny(word, " \n") {
		return "", fmt.Errorf("unexpected answer from the remote script: %q", clip(out))
	}
	return word, nil
}

package remotejob

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"
)

// DefaultSweepIdle is how long a pending cleanup waits for a call to its
// host to carry it before a session of its own removes it: long enough
// for the next task of a chain to start (the scheduler reacts to an end
// within a few hundred milliseconds), short enough that a last job's
// directory goes soon after the last task.
const DefaultSweepIdle = 1500 * time.Millisecond

const (
	// sweepTimeout bounds an idle flush's session.
	sweepTimeout = 30 * time.Second
	// sweepTries is how many calls may lose a pending cleanup's answer
	// (a dropped connection) before it is given up and reported.
	sweepTries = 3
	// maxSweptLine bounds one line of a sweep answer (a reason is cut at
	// 200 bytes by the script).
	maxSweptLine = 512
	// carryMax bounds the cleanups one call carries (each costs a few ms
	// of ps on the host, and the call is on a task's path); flushMax those
	// of one flush session. The rest wait for the next call or session.
	carryMax = 8
	flushMax = 64
)

// Sweeper folds the cleanup of ended jobs into the next call that goes to
// their host anyway: a job's directory (its Handle) is queued by Defer,
// and the next script run through Shell for the same target removes it
// first, with Cleanup's checks, and says so in its answer. A target no
// call reaches within the idle delay gets one session that removes all
// its pending directories; Flush does that at once (shutdown). A crash
// loses only the queue: the directories stay behind, harmless. Safe for
// concurrent use.
type Sweeper struct {
	idle time.Duration

	mu      sync.Mutex
	targets map[string]*sweepTarget
	flushes sync.WaitGroup // idle flushes under way
}

// sweepTarget is one host's (one account's) pending cleanups.
type sweepTarget struct {
	pending []pendingCleanup
	sh      Shell       // the transport the idle flush uses
	timer   *time.Timer // the idle flush; nil when none is due
	gen     uint64      // which timer is the due one
}

// pendingCleanup is one directory waiting for a call to its host.
type pendingCleanup struct {
	h      Handle
	tries  int
	report func(error)
}

// NewSweeper returns a sweeper whose idle flush comes idle after a cleanup
// is queued (DefaultSweepIdle when 0).
func NewSweeper(idle time.Duration) *Sweeper {
	if idle <= 0 {
		idle = DefaultSweepIdle
	}
	return &Sweeper{idle: idle, targets: map[string]*sweepTarget{}}
}

// Defer queues the removal of h's directory on target (the caller's name
// for a host and account: the same for every Shell that reaches it), to
// be done by the next call through Shell for target or, after the idle
// delay, through sh. report is told why a directory was not removed (nil:
// not told). Queue a job only once its outcome is known: its directory is
// the proof that it ran.
func (s *Sweeper) Defer(target string, sh Shell, h Handle, report func(error)) error {
	if err := h.Validate(); err != nil {
		return fmt.Errorf("queue the cleanup of a remote job: %w", err)
	}
	if report == nil {
		report = func(error) {}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.targets[target]
	if t == nil {
		t = &sweepTarget{}
		s.targets[target] = t
	}
	t.sh = sh
	for _, p := range t.pending {
		if p.h.Dir == h.Dir {
			return nil
		}
	}
	t.pending = append(t.pending, pendingCleanup{h: h, report: report})
	s.armLocked(target, t)
	return nil
}

// armLocked starts target's idle flush unless one is due already.
func (s *Sweeper) armLocked(target string, t *sweepTarget) {
	if t.timer != nil || len(t.pending) == 0 {
		return
	}
	t.gen++
	gen := t.gen
	t.timer = time.AfterFunc(s.idle, func() { s.fire(target, gen) })
}

// Pending reports how many cleanups wait for a call to target.
func (s *Sweeper) Pending(target string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t := s.targets[target]; t != nil {
		return len(t.pending)
	}
	return 0
}

// Shell is sh carrying target's pending cleanups: each script run
// through it first removes the directories pending for target, all but
// own's (a job id; "" for none). A job's calls never remove its own
// directory: were its start to do so before its outcome is stored, a
// resumed try would find no job and run the command again.
func (s *Sweeper) Shell(target string, sh Shell, own string) Shell {
	return sweepShell{s: s, target: target, sh: sh, own: own}
}

type sweepShell struct {
	s      *Sweeper
	target string
	sh     Shell
	own    string
}

// Run runs script, after the pending cleanups, on sh's host. A sweep
// answer that does not read back is an error, as a lost connection: the
// script may or may not have run.
func (w sweepShell) Run(ctx context.Context, script string, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	batch := w.s.take(w.target, w.own, carryMax)
	if len(batch) == 0 {
		return w.sh.Run(ctx, script, stdin, stdout, stderr)
	}
	return w.s.carry(ctx, w.target, w.sh, batch, script, stdin, stdout, stderr, true)
}

// take removes from target's queue what a call of job own may carry, at
// most limit, oldest first.
func (s *Sweeper) take(target, own string, limit int) []pendingCleanup {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.targets[target]
	if t == nil {
		return nil
	}
	return t.takeLocked(own, limit)
}

func (t *sweepTarget) takeLocked(own string, limit int) []pendingCleanup {
	var batch, keep []pendingCleanup
	for _, p := range t.pending {
		if p.h.JobID == own || len(batch) == limit {
			keep = append(keep, p)
		} else {
			batch = append(batch, p)
		}
	}
	t.pending = keep
	if len(keep) == 0 && t.timer != nil {
		t.timer.Stop()
		t.timer = nil
	}
	return batch
}

// carry runs script with batch's removals before it, passes the script's
// own answer on to stdout, and settles each cleanup by its answer line.
func (s *Sweeper) carry(ctx context.Context, target string, sh Shell, batch []pendingCleanup,
	script string, stdin io.Reader, stdout, stderr io.Writer, retry bool) (int, error) {
	head := &sweepHead{want: batch, next: stdout}
	code, err := sh.Run(ctx, sweepPrelude(batch)+script, stdin, head, stderr)
	if err == nil && head.err != nil {
		err = fmt.Errorf("answer of the cleanups carried by a remote call: %w", head.err)
	}
	s.settle(target, sh, batch, head.got, err, retry && head.err == nil)
	return code, err
}

// settle reports the cleanups answered with another word than removed or
// gone, and queues again those left without an answer (retry), or reports
// them.
func (s *Sweeper) settle(target string, sh Shell, batch []pendingCleanup, got []swept, err error, retry bool) {
	for i, r := range got {
		p := batch[i]
		switch r.word {
		case "running":
			p.report(fmt.Errorf("clean up remote job %s in %s: %w", p.h.JobID, p.h.Dir, ErrRunning))
		case "failed":
			p.report(fmt.Errorf("clean up remote job %s: %s", p.h.JobID, r.reason))
		}
	}
	if len(got) == len(batch) {
		return
	}
	if err == nil {
		err = errors.New("the remote script ended before it answered for this directory")
	}
	var again []pendingCleanup
	for _, p := range batch[len(got):] {
		p.tries++
		if !retry || p.tries >= sweepTries {
			p.report(fmt.Errorf("clean up remote job %s in %s: %w", p.h.JobID, p.h.Dir, err))
			continue
		}
		again = append(again, p)
	}
	if len(again) == 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.targets[target]
	t.pending = append(again, t.pending...)
	if t.sh == nil {
		t.sh = sh
	}
	s.armLocked(target, t)
}

// fire is the idle flush of target: no call carried its cleanups in time,
// so one session removes them (flushMax at most; another flush follows
// for the rest).
func (s *Sweeper) fire(target string, gen uint64) {
	s.mu.Lock()
	t := s.targets[target]
	if t == nil || t.timer == nil || t.gen != gen {
		s.mu.Unlock()
		return // carried by a call, or flushed, meanwhile
	}
	t.timer = nil
	batch, sh := t.takeLocked("", flushMax), t.sh
	s.flushes.Add(1)
	s.mu.Unlock()
	defer s.flushes.Done()
	ctx, cancel := context.WithTimeout(context.Background(), sweepTimeout)
	defer cancel()
	_, _ = s.carry(ctx, target, sh, batch, ":\n", nil, io.Discard, io.Discard, true)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.armLocked(target, t)
}

// Flush removes every pending directory now, one session per target
// (per flushMax of them), within ctx, and waits for the idle flushes
// under way; what cannot be removed is reported and given up. It is what
// a shutdown calls.
func (s *Sweeper) Flush(ctx context.Context) error {
	type work struct {
		target string
		sh     Shell
		batch  []pendingCleanup
	}
	var todo []work
	s.mu.Lock()
	for target, t := range s.targets {
		for len(t.pending) > 0 {
			todo = append(todo, work{target, t.sh, t.takeLocked("", flushMax)})
		}
		if t.timer != nil {
			t.timer.Stop()
			t.timer = nil
		}
	}
	s.mu.Unlock()
	var errs []error
	for _, w := range todo {
		if _, err := s.carry(ctx, w.target, w.sh, w.batch, ":\n", nil, io.Discard, io.Discard, false); err != nil {
			errs = append(errs, fmt.Errorf("clean up %d remote job directories on %s: %w", len(w.batch), w.target, err))
		}
	}
	done := make(chan struct{})
	go func() {
		s.flushes.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		errs = append(errs, fmt.Errorf("wait for the remote cleanups under way: %w", context.Cause(ctx)))
	}
	return errors.Join(errs...)
}

// sweepPrelude is the part of a script that removes batch's directories:
// sweep.sh in a subshell of its own, with the shared functions and the
// cleanup as a function, called with each job's directory, pid and id.
func sweepPrelude(batch []pendingCleanup) string {
	var b strings.Builder
	b.WriteString("sirocco_sweep() (\nset -u\ndir=/ pid=0\n")
	b.WriteString(mustRead("common"))
	b.WriteString("sweep_one() {\ndir=$1 pid=$2 id=$3\nmarker=\"SIROCCO_REMOTE_JOB_DIR=$dir\"\n")
	b.WriteString(mustRead("cleanup"))
	b.WriteString("}\n")
	b.WriteString(mustRead("sweep"))
	b.WriteString(")\nsirocco_sweep")
	for _, p := range batch {
		b.WriteString(" " + quote(p.h.Dir) + " " + strconv.Itoa(p.h.PID) + " " + quote(p.h.JobID))
	}
	b.WriteString(" </dev/null\n")
	return b.String()
}

// sweepHead reads the sweep's answer lines, one for each cleanup of want
// in order, off the head of a script's stdout, and passes the rest (the
// script's own answer) on to next.
type sweepHead struct {
	want []pendingCleanup
	next io.Writer
	buf  []byte
	got  []swept
	err  error // the first line that did not read back; the rest is dropped
}

func (w *sweepHead) Write(p []byte) (int, error) {
	n := len(p)
	for len(w.got) < len(w.want) && w.err == nil && len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			w.buf = append(w.buf, p...)
			if len(w.buf) > maxSweptLine {
				w.err = fmt.Errorf("sweep answer line longer than %d bytes: %q", maxSweptLine, clip(w.buf))
			}
			return n, nil
		}
		line := append(w.buf, p[:i]...)
		w.buf, p = nil, p[i+1:]
		r, err := parseSwept(line, w.want[len(w.got)].h.JobID)
		if err != nil {
			w.err = err
			break
		}
		w.got = append(w.got, r)
	}
	// After a line that did not read back, the rest is dropped (w.err is
	// the call's error once it ended).
	if w.err == nil && len(p) > 0 {
		if _, err := w.next.Write(p); err != nil {
			return n - len(p), err
		}
	}
	return n, nil
}

// swept is one sweep answer line: what became of one pending directory.
type swept struct {
	word   string // removed, gone, running or failed
	reason string // failed's
}

// parseSwept reads one line of the sweep's answer (without its newline)
// for job id:
//
//	sirocco-remotejob v1 swept removed|gone|running <job id>
//	sirocco-remotejob v1 swept failed <job id> <reason: printable ASCII>
func parseSwept(line []byte, id string) (swept, error) {
	rest, ok := strings.CutPrefix(string(line), answerPrefix+"swept ")
	if !ok {
		return swept{}, fmt.Errorf("unexpected sweep answer %q, want \"%sswept <outcome> %s\"", clip(line), answerPrefix, id)
	}
	word, rest, _ := strings.Cut(rest, " ")
	gotID, reason, hasReason := strings.Cut(rest, " ")
	if gotID != id {
		return swept{}, fmt.Errorf("sweep answer %q: job id %q, want %q", clip(line), gotID, id)
	}
	switch word {
	case "removed", "gone", "running":
		if hasReason {
			return swept{}, fmt.Errorf("sweep answer %q: text after the job id", clip(line))
		}
		return swept{word: word}, nil
	case "failed":
		if !hasReason || reason == "" || !printable(reason) {
			return swept{}, fmt.Errorf("sweep answer %q: want a reason in printable ASCII after the job id", clip(line))
		}
		return swept{word: word, reason: reason}, nil
	}
	return swept{}, fmt.Errorf("sweep answer %q: outcome %q, want removed, gone, running or failed", clip(line), word)
}

func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}

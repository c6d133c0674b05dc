package remotejob

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestStartFollowExitCode(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, command    string
		code             int
		wantOut, wantErr string
	}{
		{name: "success", command: "echo hello", code: 0, wantOut: "hello\n"},
		{name: "failure", command: "echo out; echo err >&2; exit 3", code: 3, wantOut: "out\n", wantErr: "err\n"},
		{name: "syntax error", command: "if then", code: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := startJob(t, Spec{Command: tt.command})
			code, out, errOut := follow(t, h)
			if code != tt.code || out != tt.wantOut || (tt.wantErr != "" && errOut != tt.wantErr) {
				t.Fatalf("got code %d, stdout %q, stderr %q; want %d, %q, %q", code, out, errOut, tt.code, tt.wantOut, tt.wantErr)
			}
		})
	}
}

func TestStartWritesTheHandlesFiles(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	h := startJob(t, Spec{Command: "true", BaseDir: base, JobID: "job-1"})
	real, _ := filepath.EvalSymlinks(base)
	if h.Dir != filepath.Join(real, "job-1") || h.Version != Version || h.PID <= 1 || time.Since(h.StartedAt) > time.Minute {
		t.Fatalf("handle %+v", h)
	}
	st, err := os.Stat(h.Dir)
	if err != nil || st.Mode().Perm() != 0o700 {
		t.Fatalf("job directory: %v, %v: want mode 0700 (the job file holds the environment)", st, err)
	}
	data, _ := json.Marshal(h)
	var back Handle
	if err := json.Unmarshal(data, &back); err != nil || back != h {
		t.Fatalf("handle JSON round trip: %s → %+v, %v", data, back, err)
	}
}

func TestFollowStreamsOutputLive(t *testing.T) {
	t.Parallel()
	gate := filepath.Join(t.TempDir(), "go")
	h := startJob(t, Spec{
		Command: `echo first; while [ ! -e "$GATE" ]; do sleep 0.02; done; echo second`,
		Env:     map[string]string{"GATE": gate},
	})
	out := newLineWatch("first")
	type result struct {
		code int
		err  error
	}
	done := make(chan result, 1)
	go func() {
		code, _, err := Follow(context.Background(), Local{}, h, Offsets{}, Output{Stdout: out, Stderr: &bytes.Buffer{}})
		done <- result{code, err}
	}()
	<-out.seen // the job cannot end before the gate exists
	if err := os.WriteFile(gate, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.err != nil || r.code != 0 || out.String() != "first\nsecond\n" {
		t.Fatalf("got %d, %v, %q", r.code, r.err, out.String())
	}
}

func TestFollowResumesFromOffsets(t *testing.T) {
	t.Parallel()
	gate := filepath.Join(t.TempDir(), "go")
	// Output on both streams, in pieces smaller and larger than a line, a
	// pause (the follower is "restarted" there), then more.
	h := startJob(t, Spec{
		Command: `i=1
while [ $i -le 300 ]; do
  printf 'line %d\n' $i
  printf 'err %d ' $i >&2
  if [ $i -eq 100 ]; then while [ ! -e "$GATE" ]; do sleep 0.02; done; fi
  i=$((i+1))
done`,
		Env: map[string]string{"GATE": gate},
	})
	first := newLineWatch("line 100")
	var firstErr bytes.Buffer
	var progress Offsets
	ctx, cancel := context.WithCancel(context.Background())
	type result struct {
		at  Offsets
		err error
	}
	done := make(chan result, 1)
	go func() {
		_, at, err := Follow(ctx, Local{}, h, Offsets{}, Output{Stdout: first, Stderr: &firstErr, Progress: func(o Offsets) { progress = o }})
		done <- result{at, err}
	}()
	<-first.seen
	cancel() // Sirocco "restarts" while the job runs
	r := <-done
	if r.err == nil || r.at != progress || r.at.Stdout != int64(len(first.String())) || r.at.Stderr != int64(firstErr.Len()) {
		t.Fatalf("cancelled follow: offsets %+v, err %v, progress %+v, %d/%d bytes written", r.at, r.err, progress, len(first.String()), firstErr.Len())
	}
	if err := os.WriteFile(gate, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	var second, secondErr bytes.Buffer
	code, _, err := Follow(context.Background(), Local{}, h, r.at, Output{Stdout: &second, Stderr: &secondErr})
	if err != nil || code != 0 {
		t.Fatalf("resumed follow: %d, %v", code, err)
	}
	var want, wantErr strings.Builder
	for i := 1; i <= 300; i++ {
		want.WriteString("line " + itoa(i) + "\n")
		wantErr.WriteString("err " + itoa(i) + " ")
	}
	if got := first.String() + second.String(); got != want.String() {
		t.Errorf("stdout across the restart differs:\n%s", diffHint(got, want.String()))
	}
	if got := firstErr.String() + secondErr.String(); got != wantErr.String() {
		t.Errorf("stderr across the restart differs:\n%s", diffHint(got, wantErr.String()))
	}
}

func TestStartTwiceRunsTheCommandOnce(t *testing.T) {
	t.Parallel()
	tmp := t.TempDir()
	counter := filepath.Join(tmp, "count")
	s := Spec{
		Command: `echo ran >> "$COUNTER"`,
		Env:     map[string]string{"COUNTER": counter},
		BaseDir: filepath.Join(tmp, "jobs"),
		JobID:   "once",
	}
	// Concurrent starts (a retried start whose first answer was lost).
	var wg sync.WaitGroup
	handles := make([]Handle, 4)
	fresh := make([]bool, 4)
	for i := range handles {
		wg.Go(func() {
			var err error
			handles[i], fresh[i], err = Start(context.Background(), Local{}, s)
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	nFresh := 0
	for i, h := range handles {
		if h != handles[0] {
			t.Errorf("start %d returned %+v, start 0 %+v", i, h, handles[0])
		}
		if fresh[i] {
			nFresh++
		}
	}
	if nFresh != 1 {
		t.Errorf("%d starts reported starting the job, want 1", nFresh)
	}
	if code, _, _ := follow(t, handles[0]); code != 0 {
		t.Fatalf("exit %d", code)
	}
	// And once more after the job ended: still the same job, not a rerun.
	h, again, err := Start(context.Background(), Local{}, s)
	if err != nil || again || h != handles[0] {
		t.Fatalf("start after the end: %+v, fresh %v, %v", h, again, err)
	}
	data, _ := os.ReadFile(counter)
	if string(data) != "ran\n" {
		t.Fatalf("the command ran %d times: %q", strings.Count(string(data), "ran"), data)
	}
}

// cutStdin is a transport that loses the end of what is sent (a connection
// dropped during a start): the job must not run truncated.
type cutStdin struct{ Local }

func (c cutStdin) Run(ctx context.Context, script string, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	if stdin != nil {
		data, _ := io.ReadAll(stdin)
		stdin = bytes.NewReader(data[:len(data)/2])
	}
	return c.Local.Run(ctx, script, stdin, stdout, stderr)
}

func TestStartRejectsATruncatedJob(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	marker := filepath.Join(base, "ran")
	s := Spec{Command: "touch " + quote(marker) + " # " + strings.Repeat("x", 100), BaseDir: base, JobID: "cut"}
	_, _, err := Start(context.Background(), cutStdin{}, s)
	if err == nil || !strings.Contains(err.Error(), "truncated") {
		t.Fatalf("start over a cut transport: %v, want a truncation error", err)
	}
	if _, err := os.Stat(filepath.Join(base, "cut")); !os.IsNotExist(err) {
		t.Fatalf("the claimed directory stays after a failed start: %v", err)
	}
	// The retry of the start then runs the job, once.
	h, fresh, err := Start(context.Background(), Local{}, s)
	if err != nil || !fresh {
		t.Fatalf("retry: %v, fresh %v", err, fresh)
	}
	t.Cleanup(func() { stopQuietly(t, h) })
	if code, _, _ := follow(t, h); code != 0 {
		t.Fatalf("exit %d", code)
	}
	if _, err := os.Stat(marker); err != nil {
		t.Fatal(err)
	}
}

func TestHostileCommandAndEnvironmentRunAsGiven(t *testing.T) {
	t.Parallel()
	tmp := t.TempDir()
	hostile := "it's \"quoted\" $(touch pwned) `touch pwned2` \\ $HOME * ?\nsecond line\n\ttab '\\'' end"
	cwd := filepath.Join(tmp, "a dir with 'quotes' and $(x)")
	if err := os.Mkdir(cwd, 0o700); err != nil {
		t.Fatal(err)
	}
	commands := []string{
		`printf '%s|' "$HOSTILE" "$SECOND"; pwd`,
		"echo \"$(echo sub)\" 'single $x' \\\n  continued; echo $((1+2))",
		"cat <<'EOF'\n$(not run) 'x'\nEOF\nexit 7",
		"set -- a 'b c'; echo $#; echo \"$0\" >/dev/null",
	}
	env := map[string]string{"HOSTILE": hostile, "SECOND": "-n"}
	for i, c := range commands {
		h := startJob(t, Spec{Command: c, Env: env, Cwd: cwd, JobID: "hostile-" + itoa(i)})
		code, out, errOut := follow(t, h)
		// The same command run directly by sh, with the same environment
		// and directory, is the reference.
		ref := exec.Command("/bin/sh", "-c", c)
		ref.Dir = cwd
		ref.Env = append(os.Environ(), "HOSTILE="+hostile, "SECOND=-n")
		var rOut, rErr bytes.Buffer
		ref.Stdout, ref.Stderr = &rOut, &rErr
		rCode := 0
		var exit *exec.ExitError
		if err := ref.Run(); errors.As(err, &exit) {
			rCode = exit.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if code != rCode || out != rOut.String() || errOut != rErr.String() {
			t.Errorf("command %q:\n job: %d %q %q\n sh:  %d %q %q", c, code, out, errOut, rCode, rOut.String(), rErr.String())
		}
	}
	for _, f := range []string{"pwned", "pwned2"} {
		if _, err := os.Stat(filepath.Join(cwd, f)); err == nil {
			t.Errorf("a value was executed: %s exists", f)
		}
	}
}

func TestSecretsStayOffTheCommandLine(t *testing.T) {
	t.Parallel()
	secret := "s3cr3t-" + itoa(os.Getpid())
	var seen []string
	spy := spyShell{seen: &seen}
	h, _, err := Start(context.Background(), spy, Spec{
		Command: "echo " + secret + "-cmd", Env: map[string]string{"TOKEN": secret},
		BaseDir: t.TempDir(), JobID: "secret",
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stopQuietly(t, h) })
	follow(t, h)
	for _, s := range seen {
		if strings.Contains(s, secret) {
			t.Fatalf("a script (the remote command line, visible in ps) holds the secret:\n%s", s)
		}
	}
}

// spyShell records the scripts it runs.
type spyShell struct{ seen *[]string }

func (s spyShell) Run(ctx context.Context, script string, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	*s.seen = append(*s.seen, script)
	return Local{}.Run(ctx, script, stdin, stdout, stderr)
}

func TestStartRejectsBadSpecs(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	tests := []struct {
		name string
		s    Spec
		want string
	}{
		{"bad job id", Spec{Command: "true", JobID: "../x"}, "job id"},
		{"hidden job id", Spec{Command: "true", JobID: ".x"}, "job id"},
		{"empty command", Spec{Command: " \n", JobID: "x"}, "empty command"},
		{"env name", Spec{Command: "true", JobID: "x", Env: map[string]string{"A B": "1"}}, `"A B"`},
		{"env NUL", Spec{Command: "true", JobID: "x", Env: map[string]string{"A": "a\x00"}}, "NUL"},
		{"command NUL", Spec{Command: "true\x00", JobID: "x"}, "NUL"},
		{"base newline", Spec{Command: "true", JobID: "x", BaseDir: "/tmp/a\nb"}, "newline"},
	}
	for _, tt := range tests {
		tt.s.BaseDir = cmp.Or(tt.s.BaseDir, base)
		_, _, err := Start(context.Background(), Local{}, tt.s)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want an error about %s", tt.name, err, tt.want)
		}
	}
}

func TestStartRefusesAForeignDirectory(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	if err := os.MkdirAll(filepath.Join(base, "taken"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(base, "taken", "pid"), []byte("1234\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, _, err := Start(context.Background(), Local{}, Spec{Command: "true", BaseDir: base, JobID: "taken"})
	if err == nil || !strings.Contains(err.Error(), "not this job's directory") {
		t.Fatalf("start into a foreign directory: %v", err)
	}
}

func TestJobID(t *testing.T) {
	t.Parallel()
	a := JobID("etl", "scheduled__2024-01-01T00:00:00+00:00", "load/../x", 2)
	if !ValidJobID(a) {
		t.Fatalf("JobID gave an unsafe name %q", a)
	}
	for _, other := range []string{
		JobID("etl", "scheduled__2024-01-01T00:00:00+00:00", "load/../x", 3),
		JobID("etl", "scheduled__2024-01-01T00:00:00_00:00", "load/../x", 2),
		JobID("et", "lscheduled__2024-01-01T00:00:00+00:00", "load/../x", 2),
	} {
		if other == a {
			t.Errorf("two tries share the job id %q", a)
		}
	}
	if JobID("", "", "", 0) == "" || !ValidJobID(JobID("...", "\n", strings.Repeat("é", 300), -1)) {
		t.Error("JobID of odd parts is not a valid id")
	}
}

func TestHandleValidate(t *testing.T) {
	t.Parallel()
	good := Handle{Version: 1, JobID: "j", Dir: "/home/u/.sirocco/jobs/j", PID: 4242}
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	bad := map[string]func(*Handle){
		"version":       func(h *Handle) { h.Version = 2 },
		"pid 1":         func(h *Handle) { h.PID = 1 },
		"pid 0":         func(h *Handle) { h.PID = 0 },
		"pid negative":  func(h *Handle) { h.PID = -5 },
		"relative dir":  func(h *Handle) { h.Dir = "jobs/j" },
		"dir not clean": func(h *Handle) { h.Dir = "/home/u/../j" },
		"dir root":      func(h *Handle) { h.Dir = "/" },
		"other base":    func(h *Handle) { h.Dir = "/home/u/other" },
		"job id":        func(h *Handle) { h.JobID = ".."; h.Dir = "/home/.." },
	}
	for name, mutate := range bad {
		h := good
		mutate(&h)
		if err := h.Validate(); err == nil {
			t.Errorf("%s: %+v validated", name, h)
		}
	}
}

// homeShell runs scripts with HOME (and TMPDIR) of the test's choosing, as a
// login on another host would have them.
type homeShell struct{ home, tmp string }

func (s homeShell) Run(ctx context.Context, script string, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	env := "TMPDIR=" + quote(s.tmp) + "; export TMPDIR; "
	if s.home != "" {
		env += "HOME=" + quote(s.home) + "; export HOME; "
	} else {
		env += "unset HOME; "
	}
	return Local{}.Run(ctx, env+script, stdin, stdout, stderr)
}

func TestBaseDirAndCwdDefaults(t *testing.T) {
	t.Parallel()
	tmp, _ := filepath.EvalSymlinks(t.TempDir())
	home := filepath.Join(tmp, "home dir")
	if err := os.Mkdir(home, 0o700); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, home, base, cwd string
		wantDir, wantCwd      string
	}{
		{"default base", home, "", "~", filepath.Join(home, ".sirocco/jobs"), home},
		{"base in home", home, "~/my jobs", "~/", filepath.Join(home, "my jobs"), home},
		{"no home", "", "", "/", filepath.Join(tmp, "sirocco-jobs-"+itoa(os.Getuid())), "/"},
	}
	for i, tt := range tests {
		sh := homeShell{home: tt.home, tmp: tmp}
		id := "defaults-" + itoa(i)
		h, _, err := Start(context.Background(), sh, Spec{Command: "pwd", BaseDir: tt.base, Cwd: tt.cwd, JobID: id})
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		t.Cleanup(func() { stopQuietly(t, h) })
		if h.Dir != filepath.Join(tt.wantDir, id) {
			t.Errorf("%s: job directory %q, want %q", tt.name, h.Dir, filepath.Join(tt.wantDir, id))
		}
		if _, out, _ := follow(t, h); out != tt.wantCwd+"\n" {
			t.Errorf("%s: the job ran in %q, want %q", tt.name, out, tt.wantCwd)
		}
	}
}

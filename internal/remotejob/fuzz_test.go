package remotejob

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// FuzzQuote runs quoted words through the real /bin/sh: as an argument, as
// a variable's value and as a ~/ path, each must come out as given.
func FuzzQuote(f *testing.F) {
	for _, s := range []string{"", "plain", "it's", "'", "''", `\`, `\'`, "$(touch x)", "`id`", "a\nb", "*", "~", "-n", "\"$HOME\"", "'\\''", "\x01\xff", "é ü"} {
		f.Add(s)
	}
	home, _ := os.UserHomeDir()
	f.Fuzz(func(t *testing.T, s string) {
		if strings.IndexByte(s, 0) >= 0 {
			return // rejected before quoting (errNUL)
		}
		src := "printf '%s\\0' " + quote(s) + "\nv=" + quote(s) + "\nprintf '%s\\0' \"$v\" " + pathExpr("~/"+s) + "\n"
		cmd := exec.Command("/bin/sh", "-c", src)
		cmd.Env = []string{"HOME=" + home}
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("sh on %q: %v", src, err)
		}
		got := strings.Split(string(out), "\x00")
		want := []string{s, s, home + "/" + s, ""}
		if len(got) != len(want) {
			t.Fatalf("quoted %q: sh printed %q", s, out)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("quoted %q (%s): sh printed %q, want %q", s, quote(s), got[i], want[i])
			}
		}
	})
}

// FuzzParsePoll: any answer is parsed or refused, never a panic; what is
// accepted is consistent with the offsets asked for.
func FuzzParsePoll(f *testing.F) {
	f.Add([]byte("sirocco-remotejob v1 running 0 6 0 6 0\nhello\n"), int64(0), int64(0))
	f.Add([]byte("sirocco-remotejob v1 exited 3 10 4 4 4\nmoreerr!"), int64(6), int64(0))
	f.Add([]byte("sirocco-remotejob v1 lost 0 0 0 0 0\n"), int64(0), int64(0))
	f.Add([]byte("sirocco-remotejob v1 gone 0 0 0 0 0\n"), int64(0), int64(0))
	f.Add([]byte("sirocco-remotejob v1 exited bad 0 0 0 0\n"), int64(0), int64(0))
	f.Add([]byte("sirocco-remotejob v1 running 0 2 0 5 0\nhello"), int64(0), int64(0))
	f.Add([]byte("sirocco-remotejob v1 running 0 -1 0 0 0\n"), int64(0), int64(0))
	f.Add([]byte("sirocco-remotejob v1 running 0 9223372036854775807 0 9223372036854775807 0\n"), int64(-1), int64(0))
	f.Add([]byte("garbage"), int64(0), int64(0))
	f.Fuzz(func(t *testing.T, data []byte, oo, eo int64) {
		if oo < 0 || eo < 0 {
			return // Follow's offsets start at 0 and only grow
		}
		a, err := parsePoll(data, Offsets{Stdout: oo, Stderr: eo})
		if err != nil {
			return
		}
		if a.Code < 0 || a.Code > 255 {
			t.Fatalf("code %d accepted", a.Code)
		}
		for _, c := range []struct {
			off, size int64
			chunk     *bytes.Buffer
		}{{oo, a.StdoutSize, a.Stdout}, {eo, a.StderrSize, a.Stderr}} {
			if c.size < c.off || int64(c.chunk.Len()) > c.size-c.off || c.chunk.Len() > maxChunk {
				t.Fatalf("chunk of %d bytes from offset %d in a file of %d accepted", c.chunk.Len(), c.off, c.size)
			}
		}
		head := fmt.Sprintf("sirocco-remotejob v1 %s %d %d %d %d %d\n", a.State, a.Code, a.StdoutSize, a.StderrSize, a.Stdout.Len(), a.Stderr.Len())
		if !bytes.HasPrefix(data, []byte(head)) || len(data) != len(head)+a.Stdout.Len()+a.Stderr.Len() {
			t.Fatalf("%q parsed as %+v, which reads back differently", data, a)
		}
	})
}

// FuzzParseStart: a start answer is accepted only as a valid handle, which
// reads back the same.
func FuzzParseStart(f *testing.F) {
	f.Add("sirocco-remotejob v1 started 4242 1700000000 /home/u/.sirocco/jobs/j1\n", "j1")
	f.Add("sirocco-remotejob v1 existing 4242 1700000000 /tmp/a dir/j1\n", "j1")
	f.Add("sirocco-remotejob v1 started 1 1700000000 /j\n", "j")
	f.Add("sirocco-remotejob v1 started 4242 -5 /j\n", "j")
	f.Add("sirocco-remotejob v1 started 4242 1700000000 relative/j\n", "j")
	f.Add("sirocco-remotejob v1 started 4242 1700000000 /a/../j\n", "j")
	f.Add("sirocco-remotejob v1 started 4242 1700000000 /j\nextra\n", "j")
	f.Add("sirocco-remotejob v1 started 4242 1700000000 /x/..\n", "..")
	f.Fuzz(func(t *testing.T, answer, id string) {
		h, fresh, err := parseStart([]byte(answer), id)
		if err != nil {
			return
		}
		if err := h.Validate(); err != nil || h.JobID != id {
			t.Fatalf("%q accepted as %+v: %v", answer, h, err)
		}
		state := map[bool]string{true: "started", false: "existing"}[fresh]
		again := fmt.Sprintf("%s%s %d %d %s\n", answerPrefix, state, h.PID, h.StartedAt.Unix(), h.Dir)
		h2, fresh2, err := parseStart([]byte(again), id)
		if err != nil || h2 != h || fresh2 != fresh {
			t.Fatalf("%q → %+v reads back as %+v, %v", answer, h, h2, err)
		}
	})
}

// FuzzSweepAnswer: the head of an answer carrying two cleanups, cut
// anywhere, is read as two lines that read back the same and the rest
// passed on whole, or refused with nothing passed on; never a panic.
func FuzzSweepAnswer(f *testing.F) {
	f.Add([]byte("sirocco-remotejob v1 swept removed a\nsirocco-remotejob v1 swept gone b\nsirocco-remotejob v1 started 42 1700000000 /j/c\n"), uint8(3))
	f.Add([]byte("sirocco-remotejob v1 swept running a\nsirocco-remotejob v1 swept failed b /x/b is not the directory of job b: not removed\n"), uint8(0))
	f.Add([]byte("sirocco-remotejob v1 swept removed b\nsirocco-remotejob v1 swept removed a\n"), uint8(1))
	f.Add([]byte("sirocco-remotejob v1 swept failed a \nsirocco-remotejob v1 swept gone b\n"), uint8(9))
	f.Add([]byte("sirocco-remotejob v1 swept removed a extra\n"), uint8(200))
	f.Add([]byte("sirocco-remotejob v1 swept failed a tab\there\n"), uint8(5))
	f.Add([]byte("sirocco-remotejob v1 swept gone a\n"), uint8(2))
	f.Fuzz(func(t *testing.T, data []byte, cut uint8) {
		want := []pendingCleanup{{h: Handle{JobID: "a"}}, {h: Handle{JobID: "b"}}}
		var rest bytes.Buffer
		w := &sweepHead{want: want, next: &rest}
		step := int(cut) + 1
		for i := 0; i < len(data); i += step {
			if n, err := w.Write(data[i:min(i+step, len(data))]); err != nil || n != min(step, len(data)-i) {
				t.Fatalf("Write = %d, %v", n, err)
			}
		}
		if w.err != nil || len(w.got) < len(want) {
			if rest.Len() != 0 {
				t.Fatalf("%q: refused or short (%v, %d lines), yet %q passed on", data, w.err, len(w.got), rest.Bytes())
			}
			return
		}
		var back bytes.Buffer
		for i, r := range w.got {
			fmt.Fprintf(&back, "%sswept %s %s", answerPrefix, r.word, want[i].h.JobID)
			if r.word == "failed" {
				back.WriteString(" " + r.reason)
			}
			back.WriteByte('\n')
		}
		back.Write(rest.Bytes())
		if !bytes.Equal(back.Bytes(), data) {
			t.Fatalf("%q read as %+v + %q, which reads back as %q", data, w.got, rest.Bytes(), back.Bytes())
		}
	})
}

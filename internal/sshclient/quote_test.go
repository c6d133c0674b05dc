package sshclient

import (
	"bytes"
	"os/exec"
	"strings"
	"testing"
)

// shellArgv runs line through shell -c, with printf printing each word
// the shell passes it NUL-terminated, and returns those words: what a
// remote program would get in its argv.
func shellArgv(t testing.TB, shell, line string) []string {
	t.Helper()
	cmd := exec.Command(shell, "-c", `printf '%s\0' argv0 `+line)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s -c %q: %v\n%s", shell, line, err, stderr.String())
	}
	words := strings.Split(string(out), "\x00")
	if len(words) < 2 || words[0] != "argv0" || words[len(words)-1] != "" {
		t.Fatalf("%s printed %q", shell, out)
	}
	return words[1 : len(words)-1]
}

func shells(t testing.TB) []string {
	out := []string{"/bin/sh"}
	for _, s := range []string{"bash", "zsh", "ksh"} {
		if p, err := exec.LookPath(s); err == nil {
			out = append(out, p)
		}
	}
	return out
}

func TestQuoteReachesArgvUnchanged(t *testing.T) {
	hostile := [][]string{
		{"plain", "words"},
		{"$(touch /tmp/pwned)", "`id`", "${HOME}", "$HOME", "$1"},
		{"it's", `"double"`, `back\slash`, `'\''`},
		{"two\nlines", "tab\there", "cr\rhere", " leading and trailing "},
		{"*", "?", "[a-z]*", "/etc/*", "~", "~root", "{a,b}", "#comment"},
		{"", "", "between empty"},
		{"-n", "--", "-e", "-"},
		{"\xff\xfe not utf-8 \x80", "é", "日本"},
		{"a=b", "=echo", "%1", "!!", "!$", "a;b", "a|b", "a&b", "a>b", "(x)"},
		{strings.Repeat("'", 50)},
	}
	for _, sh := range shells(t) {
		for _, argv := range hostile {
			line, err := Quote(argv)
			if err != nil {
				t.Fatal(err)
			}
			if got := shellArgv(t, sh, line); !equalWords(got, argv) {
				t.Errorf("%s: Quote(%q) = %s reached the program as %q", sh, argv, line, got)
			}
		}
	}
}

func equalWords(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestQuoteKeepsPlainWordsReadable(t *testing.T) {
	line, err := Quote([]string{"spark-submit", "--master", "spark://host:7077", "/jobs/a.py", "x y", "a=b"})
	if err != nil {
		t.Fatal(err)
	}
	if want := `spark-submit --master spark://host:7077 /jobs/a.py 'x y' 'a=b'`; line != want {
		t.Errorf("Quote = %s, want %s", line, want)
	}
}

func TestQuoteRejectsNUL(t *testing.T) {
	if _, err := Quote([]string{"echo", "a\x00b"}); err == nil || !strings.Contains(err.Error(), "argument 1") {
		t.Errorf("NUL byte: err = %v", err)
	}
	if _, err := Quote(nil); err == nil {
		t.Error("empty argv quoted")
	}
}

// FuzzQuote: any argv (words split on sep) goes through a real /bin/sh
// unchanged; a NUL byte inside a word is refused.
func FuzzQuote(f *testing.F) {
	f.Add([]byte("echo\x00$(id)\x00`id`\x00it's\x00\x00a\nb"), byte(0))
	f.Add([]byte("a b c"), byte(' '))
	f.Add([]byte("*|?|~|-n|\xff|'\\''"), byte('|'))
	f.Fuzz(func(t *testing.T, data []byte, sep byte) {
		if len(data) > 4096 {
			return
		}
		argv := strings.Split(string(data), string([]byte{sep}))
		line, err := Quote(argv)
		if bytes.IndexByte(data, 0) >= 0 && sep != 0 {
			if err == nil {
				t.Fatalf("Quote accepted a NUL byte: %q", argv)
			}
			return
		}
		if err != nil {
			t.Fatalf("Quote(%q): %v", argv, err)
		}
		if got := shellArgv(t, "/bin/sh", line); !equalWords(got, argv) {
			t.Fatalf("Quote(%q) = %s reached the program as %q", argv, line, got)
		}
	})
}

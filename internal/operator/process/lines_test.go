package process_test

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"github.com/sirocco-dev/sirocco/internal/operator/process"
)

func TestLastLine(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		writes []string
		want   string
	}{
		{name: "nothing", writes: nil, want: ""},
		{name: "one line", writes: []string{"hello\n"}, want: "hello"},
		{name: "last of several", writes: []string{"a\nb\nc\n"}, want: "c"},
		{name: "trailing empty lines", writes: []string{"a\nb\n\n\n"}, want: "b"},
		{name: "CRLF", writes: []string{"a\r\nb\r\n"}, want: "b"},
		{name: "CRLF then empty CRLF line", writes: []string{"a\r\n\r\n"}, want: "a"},
		{name: "unterminated tail", writes: []string{"a\nb"}, want: "b"},
		{name: "unterminated tail with CR", writes: []string{"a\nb\r"}, want: "b"},
		{name: "line split across writes", writes: []string{"first\npar", "ti", "al\n"}, want: "partial"},
		{name: "newline in its own write", writes: []string{"x", "\n", "", "\n"}, want: "x"},
		{name: "only empty lines", writes: []string{"\n\r\n\n"}, want: ""},
		{name: "spaces are content", writes: []string{"a\n  \n"}, want: "  "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var sink bytes.Buffer
			l := &process.LastLine{W: &sink}
			for _, w := range tt.writes {
				n, err := l.Write([]byte(w))
				if err != nil || n != len(w) {
					t.Fatalf("Write(%q) = %d, %v", w, n, err)
				}
			}
			if got := l.Last(); got != tt.want {
				t.Errorf("Last() = %q, want %q", got, tt.want)
			}
			if sink.String() != strings.Join(tt.writes, "") {
				t.Errorf("passed on %q, want every byte %q", sink.String(), strings.Join(tt.writes, ""))
			}
		})
	}
}

func TestLastLineBoundsAnUnterminatedLine(t *testing.T) {
	t.Parallel()
	const limit = 64 * 1024
	var sink bytes.Buffer
	l := &process.LastLine{W: &sink}
	chunk := bytes.Repeat([]byte("x"), 10*1024)
	for range 20 {
		if _, err := l.Write(chunk); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := l.Write([]byte("END")); err != nil {
		t.Fatal(err)
	}
	got := l.Last()
	if len(got) != limit || !strings.HasSuffix(got, "xxxEND") {
		t.Errorf("Last() has %d bytes ending %q, want the last %d bytes of the line", len(got), got[max(0, len(got)-6):], limit)
	}
	if sink.Len() != 20*len(chunk)+3 {
		t.Errorf("passed on %d bytes, want all %d", sink.Len(), 20*len(chunk)+3)
	}
	if _, err := l.Write([]byte("\nshort\n")); err != nil {
		t.Fatal(err)
	}
	if got := l.Last(); got != "short" {
		t.Errorf("after the long line, Last() = %q, want %q", got, "short")
	}
}

func TestEnviron(t *testing.T) {
	t.Parallel()
	ctxEnv := map[string]string{"SIROCCO_CTX_DAG_ID": "d", "SIROCCO_CTX_TRY_NUMBER": "2"}
	ctxVars := []string{"SIROCCO_CTX_DAG_ID=d", "SIROCCO_CTX_TRY_NUMBER=2"}
	own := process.Inherited()
	if len(own) == 0 {
		t.Fatal("the test process has no environment to inherit")
	}
	tests := []struct {
		name      string
		env       map[string]string
		appendEnv bool
		want      []string
	}{
		{name: "no env inherits", env: nil, want: concat(own, ctxVars)},
		{name: "empty env inherits", env: map[string]string{}, want: concat(own, ctxVars)},
		{name: "env replaces", env: map[string]string{"A": "1", "B": "x=y"}, want: concat([]string{"A=1", "B=x=y"}, ctxVars)},
		{name: "append_env adds", env: map[string]string{"A": "1"}, appendEnv: true, want: concat(own, []string{"A=1"}, ctxVars)},
		{name: "append_env without env", appendEnv: true, want: concat(own, ctxVars)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := process.Environ(tt.env, ctxEnv, tt.appendEnv)
			slices.Sort(got)
			slices.Sort(tt.want)
			if !slices.Equal(got, tt.want) {
				t.Errorf("Environ = %q\nwant %q", got, tt.want)
			}
		})
	}
	if got := process.Environ(map[string]string{"A": "1"}, nil, false); !slices.Equal(got, []string{"A=1"}) {
		t.Errorf("without ctx vars: %q", got)
	}
}

// TestEnvironTaskEnvWins: with append_env, a task's variable overrides the
// inherited one of the same name, because it comes later (os/exec keeps the
// last value of a duplicated key).
func TestEnvironTaskEnvWins(t *testing.T) {
	t.Parallel()
	out := newOutput()
	env := process.Environ(map[string]string{"HOME": "/task/home"}, map[string]string{"SIROCCO_CTX_TASK_ID": "t"}, true)
	spec := bashSpec(`echo "$HOME $SIROCCO_CTX_TASK_ID ${PATH:+has-path}"`, out)
	spec.Env = env
	if err := process.Run(t.Context(), spec); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); got != "/task/home t has-path\n" {
		t.Errorf("output = %q", got)
	}
}

func concat(parts ...[]string) []string { return slices.Concat(parts...) }

package sshclient

import (
	"fmt"
	"strings"
)

// Quote turns argv into one POSIX shell command line that makes the
// remote shell (sshd runs the command through the user's login shell with
// -c) call argv[0] with exactly argv[1:]. Every word that is not plain is
// single-quoted, a quote inside it closed, escaped and reopened:
//
//	it's   ->  'it'\''s'
//	(empty) -> ''
//
// so nothing inside ($(...), backticks, quotes, newlines, globs, ~,
// leading dashes, bytes that are not UTF-8) means anything to the shell,
// and an empty word stays an argument. The login shell must be POSIX-like
// (sh, bash, dash, ksh, zsh); csh does not take newlines inside quotes.
//
// A NUL byte cannot be passed in any argv (exec takes C strings), so an
// argument holding one is an error rather than a silently cut argument.
func Quote(argv []string) (string, error) {
	if len(argv) == 0 {
		return "", fmt.Errorf("quote: empty command")
	}
	var b strings.Builder
	for i, a := range argv {
		if strings.IndexByte(a, 0) >= 0 {
			return "", fmt.Errorf("quote: argument %d holds a NUL byte, which no command line can carry", i)
		}
		if i > 0 {
			b.WriteByte(' ')
		}
		quoteWord(&b, a)
	}
	return b.String(), nil
}

// quoteWord writes a as one single-quoted shell word; words made only of
// characters no shell treats specially stay bare, for readable logs.
func quoteWord(b *strings.Builder, a string) {
	if a != "" && isPlain(a) {
		b.WriteString(a)
		return
	}
	b.WriteByte('\'')
	b.WriteString(strings.ReplaceAll(a, "'", `'\''`))
	b.WriteByte('\'')
}

// isPlain reports whether a consists of letters, digits and -_./,:+@
// only: nothing a POSIX shell (or bash, or zsh) expands or splits on. '='
// is left out (a leading NAME=value word is an assignment, and zsh expands
// =cmd), as are '~', '#' and '%', special at the start of a word somewhere.
func isPlain(a string) bool {
	for i := 0; i < len(a); i++ {
		c := a[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("-_./,:+@", c) >= 0:
		default:
			return false
		}
	}
	return true
}

package remotejob

import (
	"errors"
	"strings"
)

// quote makes s one word for POSIX sh, taken literally: s in single
// quotes, each quote inside it closing them, escaped, reopening. At the
// merge with the ssh client this is sshclient.Quote's one-word case; it
// stays here so the scripts of this package do not depend on the
// transport.
func quote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// errNUL is returned for a value sh cannot hold.
var errNUL = errors.New("contains a NUL byte, which a shell cannot pass")

// pathExpr is a path for a script: ~ or ~/... become $HOME's, the rest is
// quoted.
func pathExpr(p string) string {
	switch {
	case p == "~":
		return `"$HOME"`
	case strings.HasPrefix(p, "~/"):
		return `"$HOME"/` + quote(p[2:])
	}
	return quote(p)
}

package remotejob

import (
	"embed"
	"strconv"
	"strings"
)

//go:embed scripts/*.sh
var scripts embed.FS

// variable is one shell variable a script starts with; raw is already a
// shell expression (a quoted word, a number).
type variable struct {
	name, raw string
}

func str(name, v string) variable { return variable{name, quote(v)} }

func num(name string, v int64) variable { return variable{name, strconv.FormatInt(v, 10)} }

// script assembles what one Shell.Run executes: the variables, the shared
// functions, then the named script.
func script(name string, vars ...variable) string {
	var b strings.Builder
	b.WriteString("set -u\n")
	for _, v := range vars {
		b.WriteString(v.name + "=" + v.raw + "\n")
	}
	b.WriteString(mustRead("common"))
	b.WriteString(mustRead(name))
	return b.String()
}

func mustRead(name string) string {
	data, err := scripts.ReadFile("scripts/" + name + ".sh")
	if err != nil {
		panic("remotejob: embedded script " + name + ": " + err.Error()) // a build error, not input
	}
	return string(data)
}

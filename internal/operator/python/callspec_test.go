package python

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestParseCallable(t *testing.T) {
	t.Parallel()
	good := map[string]Callable{
		"etl:main":         {"etl", "main"},
		"pkg.sub.mod:fn":   {"pkg.sub.mod", "fn"},
		"mod:Class.method": {"mod", "Class.method"},
		"_private:_f2":     {"_private", "_f2"},
		"données:traiter":  {"données", "traiter"},
		"match:case":       {"match", "case"}, // soft keywords are names
	}
	for in, want := range good {
		got, err := ParseCallable(in)
		if err != nil || got != want || got.String() != in {
			t.Errorf("ParseCallable(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, in := range []string{"", ":", "mod", "mod:", ":fn", "a:b:c", "mod.:fn", ".mod:fn", "mod..x:fn",
		"1mod:fn", "mod:1fn", "my-mod:fn", "mod:fn()", " mod:fn", "mod:fn ", "mod:f n", "import:fn", "mod:None",
		"mod:fn\x00", "mod:\xff", "pkg/mod:fn", "mod.py:fn"} {
		if got, err := ParseCallable(in); err == nil {
			t.Errorf("ParseCallable(%q) = %+v, want an error", in, got)
		}
	}
}

// FuzzParseCallable: no input panics; what is accepted is exactly one
// ":" between two dotted names made of letters, digits and "_", which
// String gives back as written.
func FuzzParseCallable(f *testing.F) {
	for _, s := range []string{"etl:main", "pkg.mod:K.m", "a:b:c", "", "données:f", "mod:\xff", "x.:y", "class:f"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseCallable(s)
		if err != nil {
			if err.Error() == "" {
				t.Fatalf("empty error for %q", s)
			}
			return
		}
		if c.String() != s || strings.Count(s, ":") != 1 || !utf8.ValidString(s) {
			t.Fatalf("ParseCallable(%q) accepted %+v", s, c)
		}
		for _, part := range strings.Split(c.Module+"."+c.Function, ".") {
			if part == "" || strings.ContainsAny(part, " \t\n-/()") || pythonKeywords[part] {
				t.Fatalf("ParseCallable(%q) accepted the part %q", s, part)
			}
		}
	})
}

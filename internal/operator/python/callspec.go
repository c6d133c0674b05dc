package python

import (
	"fmt"
	"strings"
	"unicode"
)

// Callable is a parsed `callable` field: the module to import and the
// attribute path of the function in it ("etl.load:main" → etl.load, main).
type Callable struct {
	Module   string
	Function string
}

// String spells the callable as the field does.
func (c Callable) String() string { return c.Module + ":" + c.Function }

// ParseCallable reads "module:function", where both sides are dotted
// Python names ("pkg.mod:fn", "mod:Class.method"), as entry points are
// written. It is checked when the DAG file loads, so a typo is reported
// with its line rather than when the task runs.
func ParseCallable(s string) (Callable, error) {
	mod, fn, ok := strings.Cut(s, ":")
	if !ok {
		return Callable{}, fmt.Errorf(`expected "module:function" (e.g. "etl.load:main"), got %q (no ":")`, s)
	}
	if strings.Contains(fn, ":") {
		return Callable{}, fmt.Errorf(`expected "module:function" (e.g. "etl.load:main"), got %q (more than one ":")`, s)
	}
	if err := dottedName(mod); err != nil {
		return Callable{}, fmt.Errorf("module of %q: %w", s, err)
	}
	if base, ok := strings.CutSuffix(mod, ".py"); ok {
		return Callable{}, fmt.Errorf("module of %q: write the module's name without \".py\" (%q)", s, base+":"+fn)
	}
	if err := dottedName(fn); err != nil {
		return Callable{}, fmt.Errorf("function of %q: %w", s, err)
	}
	return Callable{Module: mod, Function: fn}, nil
}

// dottedName checks a dotted sequence of Python identifiers.
func dottedName(s string) error {
	if s == "" {
		return fmt.Errorf("empty name")
	}
	for part := range strings.SplitSeq(s, ".") {
		if err := identifier(part); err != nil {
			return err
		}
	}
	return nil
}

// identifier checks one Python identifier: a letter or "_" then letters,
// digits or "_" (Unicode letters too, as Python allows), and no keyword.
func identifier(s string) error {
	if s == "" {
		return fmt.Errorf(`empty name between dots`)
	}
	for i, r := range s {
		switch {
		case r == '_' || unicode.IsLetter(r):
		case i > 0 && (unicode.IsDigit(r) || unicode.In(r, unicode.Mn, unicode.Mc, unicode.Pc)):
		default:
			return fmt.Errorf("%q is not a Python name (%q at byte %d)", s, r, i)
		}
	}
	if pythonKeywords[s] {
		return fmt.Errorf("%q is a Python keyword, not a name", s)
	}
	return nil
}

// pythonKeywords cannot name a module or a function.
var pythonKeywords = map[string]bool{
	"False": true, "None": true, "True": true, "and": true, "as": true, "assert": true,
	"async": true, "await": true, "break": true, "class": true, "continue": true,
	"def": true, "del": true, "elif": true, "else": true, "except": true,
	"finally": true, "for": true, "from": true, "global": true, "if": true,
	"import": true, "in": true, "is": true, "lambda": true, "nonlocal": true,
	"not": true, "or": true, "pass": true, "raise": true, "return": true,
	"try": true, "while": true, "with": true, "yield": true,
}

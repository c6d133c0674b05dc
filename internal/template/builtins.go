package template

import (
	"fmt"
	"math"
	"strings"
	"unicode/utf8"

	"github.com/nikolalohinski/gonja/v2/builtins"
	"github.com/nikolalohinski/gonja/v2/exec"
)

// gonja's filters, at the version this was written for. Only these are
// offered, each behind guardFilter: a filter a later gonja adds is not
// available until it is listed here, and checked if it can grow a value.
var filterNames = []string{
	"abs", "attr", "batch", "capitalize", "center", "default", "d", "dictsort", "e", "escape",
	"filesizeformat", "first", "float", "forceescape", "format", "groupby", "indent", "int",
	"join", "items", "last", "length", "count", "list", "lower", "map", "max", "min", "pprint",
	"random", "rejectattr", "reject", "replace", "reverse", "round", "safe", "selectattr",
	"select", "slice", "sort", "string", "striptags", "sum", "title", "tojson", "trim",
	"truncate", "unique", "upper", "urlencode", "urlize", "wordcount", "wordwrap", "xmlattr",
}

// containerFilters work on a list or dict without printing it; every other
// filter given one prints it first, so its text is measured beforehand.
var containerFilters = map[string]bool{
	"attr": true, "batch": true, "count": true, "d": true, "default": true, "dictsort": true,
	"first": true, "groupby": true, "items": true, "last": true, "length": true, "list": true,
	"map": true, "max": true, "min": true, "random": true, "reject": true, "rejectattr": true,
	"reverse": true, "select": true, "selectattr": true, "slice": true, "sort": true,
	"sum": true, "unique": true,
}

// growth estimates, before a filter runs, the bytes or items it builds
// from its input and arguments, for the filters whose output can be far
// larger than their input.
type growth func(b *budget, in *exec.Value, va *exec.VarArgs) (bytes, items int)

var filterGrowth = map[string]growth{
	"center": func(_ *budget, in *exec.Value, va *exec.VarArgs) (int, int) {
		return len(in.String()) + intArg0(arg(va, 0, "width")), 0
	},
	"indent": func(_ *budget, in *exec.Value, va *exec.VarArgs) (int, int) {
		s := in.String()
		width := 4
		if w := arg(va, 0, "width"); w != nil && w.IsString() {
			width = len(w.String())
		} else if w != nil {
			width = intArg0(w)
		}
		return len(s) + satMul(width, strings.Count(s, "\n")+1), 0
	},
	"join": func(b *budget, in *exec.Value, va *exec.VarArgs) (int, int) {
		sep := 0
		if d := arg(va, 0, "d"); d != nil {
			sep = len(d.String())
		}
		return textLen(b, in) + satMul(sep, in.Len()), 0
	},
	"replace": func(_ *budget, in *exec.Value, va *exec.VarArgs) (int, int) {
		s := in.String()
		old, repl := strArg(arg(va, 0, "old")), strArg(arg(va, 1, "new"))
		n := strings.Count(s, old)
		if old == "" {
			n = utf8.RuneCountInString(s) + 1
		}
		if c := arg(va, 2, "count"); c != nil && c.IsInteger() && c.Integer() >= 0 {
			n = min(n, c.Integer())
		}
		return len(s) + satMul(n, max(len(repl)-len(old), 0)), 0
	},
	"format": func(b *budget, in *exec.Value, va *exec.VarArgs) (int, int) {
		s := in.String()
		widest := 0
		for _, a := range va.Args {
			widest = max(widest, textLen(b, a))
		}
		for _, a := range va.KwArgs {
			widest = max(widest, textLen(b, a))
		}
		// Go's fmt refuses widths and precisions over 1e6, written in s or
		// taken from an argument ('%*d').
		width := min(largestNumber(s), maxFmtWidth)
		for _, a := range append(append([]*exec.Value{}, va.Args...), mapValues(va.KwArgs)...) {
			width = max(width, min(intArg0(a), maxFmtWidth))
		}
		return len(s) + satMul(strings.Count(s, "%"), satAdd(widest, width)), 0
	},
	"wordwrap": func(_ *budget, in *exec.Value, va *exec.VarArgs) (int, int) {
		s := in.String()
		width := max(intArg0(arg(va, 0, "width")), 1)
		wrap := 1
		if w := arg(va, 2, "wrapstring"); w != nil {
			wrap = len(w.String())
		}
		return len(s) + satMul(len(s)/width+1, wrap), 0
	},
	"batch": func(_ *budget, in *exec.Value, va *exec.VarArgs) (int, int) {
		return 0, satAdd(in.Len(), intArg0(arg(va, 0, "linecount")))
	},
	"slice": func(_ *budget, in *exec.Value, va *exec.VarArgs) (int, int) {
		return 0, satAdd(in.Len(), intArg0(arg(va, 0, "slices")))
	},
	"tojson": func(b *budget, in *exec.Value, va *exec.VarArgs) (int, int) {
		indent := intArg0(arg(va, 0, "indent"))
		n := measure{limit: b.lim.MaxValue}
		size := n.size(in.Interface())
		// Every item may go on a line of its own, indented at its depth.
		return satAdd(size, satMul(n.walked, satMul(indent, 8))), 0
	},
}

// newFilters wraps gonja's filters (and ours) in guardFilter.
func newFilters(extra map[string]exec.FilterFunction) *exec.FilterSet {
	m := make(map[string]exec.FilterFunction, len(filterNames)+len(extra))
	for _, name := range filterNames {
		f, ok := builtins.Filters.Get(name)
		if !ok {
			panic("gonja has no filter " + name)
		}
		m[name] = guardFilter(name, f)
	}
	for name, f := range extra {
		m[name] = guardFilter(name, f)
	}
	return exec.NewFilterSet(m)
}

// guardFilter counts a step for each use of filter name, checks what it
// would build before it runs, and checks what it built.
func guardFilter(name string, f exec.FilterFunction) exec.FilterFunction {
	grow := filterGrowth[name]
	what := "filter " + name
	return func(e *exec.Evaluator, in *exec.Value, va *exec.VarArgs) *exec.Value {
		b := evalBudget(e)
		if b == nil || in.IsError() {
			return f(e, in, va)
		}
		// gonja's filters walk a string input whole, some several times
		// (length makes it runes): a step per KiB, as the operators cost.
		n := 0
		if in.IsString() {
			n = len(in.String())
		}
		if err := b.step(stepsFor(n)); err != nil {
			return exec.AsValue(err)
		}
		if !containerFilters[name] && (in.IsList() || in.IsDict()) {
			if err := b.checkSize(what, in.Interface()); err != nil {
				return exec.AsValue(err)
			}
		}
		if grow != nil {
			bytes, items := grow(b, in, va)
			if bytes > b.lim.MaxValue || bytes < 0 {
				return exec.AsValue(b.tooBig(what))
			}
			if items > b.lim.MaxItems || items < 0 {
				return exec.AsValue(b.tooMany(what))
			}
		}
		out := f(e, in, va)
		if err := b.checkValue(what, out); err != nil {
			return exec.AsValue(err)
		}
		return out
	}
}

// guardGlobals wraps the global functions that build values.
func guardGlobals(globals *exec.Context) {
	for _, name := range []string{"dict", "namespace"} {
		fn, ok := globals.Get(name)
		if !ok {
			panic("gonja has no global " + name)
		}
		globals.Set(name, guardKwargs(name, fn))
	}
	lipsum, ok := globals.Get("lipsum")
	if !ok {
		panic("gonja has no global lipsum")
	}
	globals.Set("lipsum", guardLipsum(lipsum.(func(*exec.Evaluator, *exec.VarArgs) *exec.Value)))
}

// guardKwargs measures the keyword arguments of dict() and namespace(),
// which hold them as they are.
func guardKwargs(name string, fn any) func(*exec.Evaluator, *exec.VarArgs) *exec.Value {
	return func(e *exec.Evaluator, va *exec.VarArgs) *exec.Value {
		if b := evalBudget(e); b != nil {
			if err := b.checkSize(name+"()", va.KwArgs); err != nil {
				return exec.AsValue(err)
			}
		}
		switch fn := fn.(type) {
		case func(*exec.Evaluator, *exec.VarArgs) *exec.Value:
			return fn(e, va)
		case func(*exec.Evaluator, *exec.VarArgs) map[string]any:
			return exec.AsValue(fn(e, va))
		}
		return exec.AsValue(fmt.Errorf("%s() is not available", name))
	}
}

// guardLipsum bounds lipsum(n, html, min, max): n paragraphs of up to max
// words.
func guardLipsum(fn func(*exec.Evaluator, *exec.VarArgs) *exec.Value) func(*exec.Evaluator, *exec.VarArgs) *exec.Value {
	return func(e *exec.Evaluator, va *exec.VarArgs) *exec.Value {
		if b := evalBudget(e); b != nil {
			n, words := 5, 100
			if a := arg(va, 0, "n"); a != nil {
				n = intArg0(a)
			}
			if a := arg(va, 3, "max"); a != nil {
				words = intArg0(a)
			}
			if err := b.checkString("lipsum()", satMul(n, satMul(max(words, 0), 16))); err != nil {
				return exec.AsValue(err)
			}
		}
		return fn(e, va)
	}
}

// maxMethodValue bounds what the string methods and list.append build.
// Methods are not given the render (gonja passes them no evaluator), so
// they cannot see its limits: they keep to the default one, and the
// render's own limits apply as soon as the value is used.
var maxMethodValue = DefaultLimits.MaxValue

// gonja's string methods, at the version this was written for.
var strMethodNames = []string{
	"capitalize", "capwords", "casefold", "center", "count", "encode", "endswith", "expandtabs",
	"find", "format", "format_map", "isalnum", "isalpha", "isascii", "isdecimal", "isdigit",
	"islower", "isnumeric", "isprintable", "isspace", "istitle", "isupper", "join", "ljust",
	"lower", "lstrip", "partition", "removeprefix", "removesuffix", "replace", "rfind", "rjust",
	"rpartition", "rsplit", "rstrip", "split", "splitlines", "startswith", "strip", "swapcase",
	"title", "upper", "zfill",
}

// strMethodGrowth estimates the bytes the string methods that can grow a
// string build.
var strMethodGrowth = map[string]func(self string, va *exec.VarArgs) int{
	"center": widthGrowth, "ljust": widthGrowth, "rjust": widthGrowth, "zfill": widthGrowth,
	"expandtabs": func(self string, va *exec.VarArgs) int {
		size := 8
		if a := arg(va, 0, "tabsize"); a != nil {
			size = intArg0(a)
		}
		return len(self) + satMul(strings.Count(self, "\t"), size)
	},
	"replace": func(self string, va *exec.VarArgs) int {
		old, repl := strArg(arg(va, 0, "old")), strArg(arg(va, 1, "new"))
		n := strings.Count(self, old)
		if old == "" {
			n = utf8.RuneCountInString(self) + 1
		}
		return len(self) + satMul(n, max(len(repl)-len(old), 0))
	},
	"join": func(self string, va *exec.VarArgs) int {
		it := arg(va, 0, "iterable")
		if it == nil {
			return 0
		}
		m := measure{limit: maxMethodValue}
		return m.size(it.Interface()) + satMul(len(self), it.Len())
	},
	"format": formatGrowth, "format_map": formatGrowth,
}

func widthGrowth(self string, va *exec.VarArgs) int {
	return len(self) + intArg0(arg(va, 0, "width"))
}

// formatGrowth bounds str.format: each field is at most as wide as the
// widest argument or the width it asks for. A width written in a nested
// field ('{:>{}}') comes from the arguments' text, so it has at most as
// many digits as self and the arguments have together.
func formatGrowth(self string, va *exec.VarArgs) int {
	args := append(append([]*exec.Value{}, va.Args...), mapValues(va.KwArgs)...)
	widest := 0
	for _, a := range args {
		m := measure{limit: maxMethodValue}
		widest = max(widest, m.size(a.Interface()))
	}
	width := largestNumber(self)
	if nestedField(self) {
		digits := countDigits(self)
		for _, a := range args {
			digits += countDigits(a.String())
		}
		width = math.MaxInt
		if digits < 10 {
			width = int(math.Pow10(digits))
		}
	}
	return len(self) + satMul(strings.Count(self, "{"), satAdd(widest, width))
}

// nestedField reports whether a format string has a replacement field
// inside another one's spec, as '{:>{}}' has ('{{' and '}}' are text).
func nestedField(s string) bool {
	depth := 0
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '{' && depth == 0 && i+1 < len(s) && s[i+1] == '{':
			i++
		case s[i] == '{':
			depth++
			if depth > 1 {
				return true
			}
		case s[i] == '}' && depth > 0:
			depth--
		}
	}
	return false
}

// countDigits is how many decimal digits s holds.
func countDigits(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] >= '0' && s[i] <= '9' {
			n++
		}
	}
	return n
}

// newStrMethods is gonja's string methods, those that can grow a string
// checked first.
func newStrMethods() *exec.MethodSet[string] {
	m := make(map[string]exec.Method[string], len(strMethodNames))
	for _, name := range strMethodNames {
		fn, ok := builtins.Methods.Str.Get(name)
		if !ok {
			panic("gonja has no string method " + name)
		}
		if grow, ok := strMethodGrowth[name]; ok {
			fn = guardStrMethod(name, fn, grow)
		}
		m[name] = fn
	}
	return exec.NewMethodSet(m)
}

func guardStrMethod(name string, fn exec.Method[string], grow func(string, *exec.VarArgs) int) exec.Method[string] {
	return func(self string, selfValue *exec.Value, va *exec.VarArgs) (any, error) {
		tooBig := limitError(fmt.Sprintf("str.%s() exceeded the limit of %s on a value", name, byteSize(maxMethodValue)))
		if n := grow(self, va); n < 0 || n > maxMethodValue {
			return nil, tooBig
		}
		out, err := fn(self, selfValue, va)
		if s, ok := out.(string); ok && len(s) > maxMethodValue {
			// The estimate missed: refuse the value, at least.
			return nil, tooBig
		}
		return out, err
	}
}

// guardAppend bounds list.append: {% do a.append(a) %} in a loop doubles
// the text of a each time without growing it by more than one item.
func guardAppend(fn exec.Method[[]any]) exec.Method[[]any] {
	return func(self []any, selfValue *exec.Value, va *exec.VarArgs) (any, error) {
		if len(self) >= DefaultLimits.MaxItems {
			return nil, limitError(fmt.Sprintf("list.append() exceeded the limit of %d items on a list", DefaultLimits.MaxItems))
		}
		m := measure{limit: maxMethodValue}
		for _, a := range va.Args {
			if m.size(a.Interface()) > maxMethodValue {
				return nil, limitError(fmt.Sprintf("list.append() exceeded the limit of %s on a value", byteSize(maxMethodValue)))
			}
		}
		return fn(self, selfValue, va)
	}
}

// arg returns argument i of a call, given by position or by name, or nil.
func arg(va *exec.VarArgs, i int, name string) *exec.Value {
	if i < len(va.Args) {
		return va.Args[i]
	}
	return va.KwArgs[name]
}

// intArg0 is v as an int, 0 for what is not a number.
func intArg0(v *exec.Value) int {
	if v == nil || !v.IsNumber() {
		return 0
	}
	if v.IsFloat() {
		f := v.Float()
		if f > math.MaxInt32 {
			return math.MaxInt32
		}
		return int(f)
	}
	return v.Integer()
}

func strArg(v *exec.Value) string {
	if v == nil {
		return ""
	}
	return v.String()
}

func mapValues(m map[string]*exec.Value) []*exec.Value {
	out := make([]*exec.Value, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

// maxFmtWidth is the widest field Go's fmt pads to; it refuses wider.
const maxFmtWidth = 1_000_000

// largestNumber is the largest run of digits in s, as a width or precision
// a format string may ask for, capped at math.MaxInt32 (far over any
// limit, and no overflow).
func largestNumber(s string) int {
	best, cur := 0, 0
	for i := 0; i < len(s); i++ {
		if s[i] >= '0' && s[i] <= '9' {
			cur = min(cur*10+int(s[i]-'0'), math.MaxInt32)
			best = max(best, cur)
		} else {
			cur = 0
		}
	}
	return best
}

// satMul and satAdd saturate instead of overflowing: the estimates above
// multiply numbers a template chooses.
func satMul(a, b int) int {
	if a <= 0 || b <= 0 {
		return 0
	}
	if a > math.MaxInt/b {
		return math.MaxInt
	}
	return a * b
}

func satAdd(a, b int) int {
	if a < 0 {
		a = 0
	}
	if b < 0 {
		b = 0
	}
	if a > math.MaxInt-b {
		return math.MaxInt
	}
	return a + b
}

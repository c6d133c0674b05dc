package template

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/nikolalohinski/gonja/v2/builtins"
	controlstructures "github.com/nikolalohinski/gonja/v2/builtins/control_structures"
	"github.com/nikolalohinski/gonja/v2/config"
	"github.com/nikolalohinski/gonja/v2/exec"
	"github.com/nikolalohinski/gonja/v2/loaders"
	"github.com/nikolalohinski/gonja/v2/logging"
	"github.com/nikolalohinski/gonja/v2/nodes"
	"github.com/nikolalohinski/gonja/v2/parser"
)

// rootName identifies the template being compiled to gonja's loader. It is
// never readable from a template: see sourceLoader.
const rootName = "template"

// maxMacroDepth bounds nested macro calls. Python stops runaway recursion
// with a RecursionError; Go would instead overflow the goroutine stack, which
// is fatal to the whole process, so we fail the render well before that.
const maxMacroDepth = 100

// errLoadingDisabled is returned for include, import, from and extends.
var errLoadingDisabled = errors.New("loading other templates is not supported")

var (
	// engineConfig is shared by every template; gonja copies it per render.
	engineConfig = newConfig()
	// engineEnv holds the filters, tests, control structures and globals
	// every template sees. It is built from copies of gonja's builtins so
	// that our additions never leak into other users of gonja.
	engineEnv = newEnvironment()
)

func init() {
	// gonja logs through the process-wide logrus logger only when this flag
	// is set. It is off by default; keep it off so rendering never writes
	// to stdout or stderr, whatever else the process configures.
	logging.SetEnabled(false)
}

func newConfig() *config.Config {
	c := config.New()
	c.StrictUndefined = true
	c.AutoEscape = false
	c.KeepTrailingNewline = true
	return c
}

func newEnvironment() *exec.Environment {
	filters := newFilters(map[string]exec.FilterFunction{"shquote": filterShquote, "string": filterString})

	structures := exec.NewControlStructureSet(map[string]parser.ControlStructureParser{}).
		Update(builtins.ControlStructures)
	macro, ok := structures.Get("macro")
	if !ok {
		panic("gonja has no macro control structure")
	}
	mustRegister(structures.Replace("macro", boundedMacroParser(macro)))

	globals := exec.EmptyContext().
		Update(builtins.GlobalFunctions).
		Update(builtins.GlobalVariables)
	globals.Set("range", boundedRange)
	// Jinja2 spells None also none (as true and false, which gonja
	// knows): {{ none }} prints None rather than failing as undefined.
	globals.Set("none", nil)
	guardGlobals(globals)
	globals.Set(addName, opAdd)
	globals.Set(mulName, opMul)
	globals.Set(subName, opSub)
	globals.Set(catName, opCat)
	globals.Set(listName, litList)
	globals.Set(dictName, litDict)

	return &exec.Environment{
		Context:           globals,
		Filters:           filters,
		Tests:             builtins.Tests,
		ControlStructures: structures,
		Methods:           newMethods(),
	}
}

// newMethods is gonja's methods on values (str.upper(), dict.get(), ...)
// except for list.reverse(): gonja's reverses the list's backing array in
// place, which for a list from the Context (params.tags.reverse()) would
// change the Context for later renders and race with concurrent ones.
func newMethods() exec.Methods {
	m := builtins.Methods
	list := map[string]exec.Method[[]any]{"reverse": listReverse}
	// gonja's other list methods, at the version this was written for.
	for _, name := range []string{"append", "copy"} {
		fn, ok := builtins.Methods.List.Get(name)
		if !ok {
			panic("gonja has no list method " + name)
		}
		list[name] = fn
	}
	list["append"] = guardAppend(list["append"])
	m.List = exec.NewMethodSet(list)
	m.Str = newStrMethods()
	return m
}

// listReverse is list.reverse(). self is a copy gonja made for the call, so
// reversing it is safe; storing it in selfValue is what makes
// {% do l.reverse() %} rebind a template variable l to the reversed list.
func listReverse(self []any, selfValue *exec.Value, args *exec.VarArgs) (any, error) {
	if len(args.Args) > 0 || len(args.KwArgs) > 0 {
		return nil, exec.ErrInvalidCall(errors.New("reverse() takes no arguments"))
	}
	slices.Reverse(self)
	*selfValue = *exec.AsValue(self)
	return nil, nil
}

func mustRegister(err error) {
	if err != nil {
		panic(fmt.Sprintf("template: set up gonja environment: %v", err))
	}
}

// filterShquote is the shquote filter: {{ params.msg | shquote }}.
func filterShquote(_ *exec.Evaluator, in *exec.Value, params *exec.VarArgs) *exec.Value {
	if in.IsError() {
		return in
	}
	if len(params.Args) > 0 || len(params.KwArgs) > 0 {
		return exec.AsValue(exec.ErrInvalidCall(errors.New("takes no arguments")))
	}
	return exec.AsSafeValue(shellQuote(text(in)))
}

// filterString is the string filter, Jinja2's str(): None is "None".
func filterString(_ *exec.Evaluator, in *exec.Value, params *exec.VarArgs) *exec.Value {
	if in.IsError() {
		return in
	}
	if len(params.Args) > 0 || len(params.KwArgs) > 0 {
		return exec.AsValue(exec.ErrInvalidCall(errors.New("takes no arguments")))
	}
	return exec.AsValue(text(in))
}

// maxRange caps the length of range() by default (Limits.MaxItems), as
// Jinja's sandbox does, so that a typo such as range(10**10) fails instead
// of exhausting memory.
const maxRange = 100_000

// boundedRange is range() within the render's budget: at most MaxItems
// items, a step per item.
func boundedRange(e *exec.Evaluator, va *exec.VarArgs) ([]int, error) {
	limit := maxRange
	b := evalBudget(e)
	if b != nil {
		limit = b.lim.MaxItems
	}
	out, err := rangeFunc(va, limit)
	if err == nil && b != nil {
		// A step per item: a for loop over the list does two passes of
		// work per item before its body runs.
		err = b.step(len(out))
	}
	return out, err
}

// rangeFunc is Python's range(stop), range(start, stop[, step]), returning
// a list of at most limit items. It replaces gonja's range, which feeds a
// channel from a goroutine that leaks whenever a loop over it stops early
// or fails.
func rangeFunc(va *exec.VarArgs, limit int) ([]int, error) {
	if len(va.KwArgs) > 0 {
		return nil, errors.New("takes no keyword arguments")
	}
	var n [3]int
	for i, a := range va.Args {
		if i == len(n) {
			return nil, errors.New("expected range(stop) or range(start, stop[, step])")
		}
		// gonja computes 10**6 as a float, so integral floats are accepted.
		x, err := intArg("range", "argument", a)
		if err != nil {
			return nil, errors.New("expected range(stop) or range(start, stop[, step]) with integers")
		}
		n[i] = x
	}
	start, stop, step := 0, 0, 1
	switch len(va.Args) {
	case 1:
		stop = n[0]
	case 2:
		start, stop = n[0], n[1]
	case 3:
		start, stop, step = n[0], n[1], n[2]
	default:
		return nil, errors.New("expected range(stop) or range(start, stop[, step])")
	}
	if step == 0 {
		return nil, errors.New("step must not be zero")
	}
	// Count in uint64: stop-start may not fit in an int, but its magnitude
	// fits in a uint64, as does that of any step (even math.MinInt).
	var count uint64
	switch {
	case step > 0 && start < stop:
		count = (uint64(stop)-uint64(start)-1)/uint64(step) + 1
	case step < 0 && start > stop:
		count = (uint64(start)-uint64(stop)-1)/(-uint64(step)) + 1
	}
	if count > uint64(limit) {
		return nil, fmt.Errorf("%d items is more than the limit of %d", count, limit)
	}
	out := make([]int, count)
	for i := range out {
		out[i] = start + i*step
	}
	return out, nil
}

// shellQuote wraps s in single quotes for a POSIX shell. A single quote
// cannot appear inside single quotes, so each one closes the quoted string,
// adds a double-quoted ', and reopens it: it's -> 'it'"'"'s'. The result is
// always quoted, even when s needs no quoting, so it is one shell word.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'"'"'`) + "'"
}

// boundedMacroParser wraps gonja's macro parser so that each macro defined
// in a template counts its own nesting depth.
func boundedMacroParser(parse parser.ControlStructureParser) parser.ControlStructureParser {
	return func(p *parser.Parser, args *parser.Parser) (nodes.ControlStructure, error) {
		cs, err := parse(p, args)
		if err != nil {
			return nil, err
		}
		m, ok := cs.(*controlstructures.MacroControlStructure)
		if !ok {
			return cs, nil
		}
		return &boundedMacro{m}, nil
	}
}

// boundedMacro is a macro definition whose calls fail once they nest deeper
// than maxMacroDepth.
type boundedMacro struct {
	*controlstructures.MacroControlStructure
}

// Execute defines the macro in the current render, as gonja's macro does,
// with a depth counter private to this render: a render runs on a single
// goroutine, so the counter needs no synchronisation.
func (m *boundedMacro) Execute(r *exec.Renderer, _ *nodes.ControlStructureBlock) error {
	fn, err := exec.MacroNodeToFunc(m.Macro, r)
	if err != nil {
		return fmt.Errorf("define macro %q: %w", m.Name, err)
	}
	depth := 0
	b := budgetOf(r.Environment.Context)
	r.Environment.Context.Set(m.Name, exec.Macro(func(args *exec.VarArgs) *exec.Value {
		if depth >= maxMacroDepth {
			return exec.AsValue(fmt.Errorf("macro calls nested deeper than %d", maxMacroDepth))
		}
		// A macro holds its arguments as they are (varargs, kwargs):
		// passing [a, a] down a chain of calls would double its text at
		// each one.
		if b != nil {
			if err := b.checkSize("macro arguments", args.Args); err != nil {
				return exec.AsValue(err)
			}
			if err := b.checkSize("macro arguments", args.KwArgs); err != nil {
				return exec.AsValue(err)
			}
		}
		depth++
		defer func() { depth-- }()
		return fn(args)
	}))
	return nil
}

// sourceLoader hands gonja the source of the one template being compiled and
// nothing else. gonja reads the root template through its loader exactly once,
// when compiling; every later read is refused, so include, import, from and
// extends can read neither files from the host nor the template itself (which
// would recurse without end).
//
// The one write to used happens while compiling, before the template is
// shared with other goroutines, so renders only ever read it.
type sourceLoader struct {
	src  string
	used bool
}

var _ loaders.Loader = (*sourceLoader)(nil)

// Read returns the template source the first time and refuses all reads
// afterwards.
func (l *sourceLoader) Read(path string) (io.Reader, error) {
	if l.used || path != rootName {
		return nil, fmt.Errorf("%q: %w", path, errLoadingDisabled)
	}
	l.used = true
	return strings.NewReader(l.src), nil
}

// Resolve refuses every path: gonja only resolves templates it is about to
// load on behalf of include, import, from or extends.
func (l *sourceLoader) Resolve(path string) (string, error) {
	return "", fmt.Errorf("%q: %w", path, errLoadingDisabled)
}

// Inherit returns the same loader: there is no directory to be relative to.
func (l *sourceLoader) Inherit(string) (loaders.Loader, error) {
	return l, nil
}

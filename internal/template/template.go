package template

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/nikolalohinski/gonja/v2/exec"
	"github.com/nikolalohinski/gonja/v2/parser"
	"github.com/nikolalohinski/gonja/v2/tokens"
)

// Error reports a template that failed to parse or render. It carries the
// line separately so that callers validating DAG files can point at it.
type Error struct {
	// Line is the 1-based line of the template where the problem is, or 0
	// when gonja did not say.
	Line int
	// Msg says what went wrong.
	Msg string
	// err is the cause, when it is one a caller may look for (ErrLimit,
	// the cause of a stopped render).
	err error
}

// Unwrap returns the cause of a render that exceeded a limit or was
// stopped, nil otherwise.
func (e *Error) Unwrap() error { return e.err }

// Error formats the error as "line N: what went wrong".
func (e *Error) Error() string {
	if e.Line <= 0 {
		return e.Msg
	}
	return "line " + strconv.Itoa(e.Line) + ": " + e.Msg
}

// Render renders src with data within DefaultLimits. Errors name the
// template line and what went wrong; a name that is not defined is an
// error, not an empty string.
func Render(src string, data Context) (string, error) {
	return DefaultLimits.Render(context.Background(), src, data)
}

// Render renders src with data within l, and stops when ctx ends: a try's
// templates render within its execution_timeout and stop when it is
// killed. Exceeding a limit is an error that wraps ErrLimit; being
// stopped, one that wraps ctx's cause.
func (l Limits) Render(ctx context.Context, src string, data Context) (string, error) {
	// Without a "{" there is nothing for the engine to do, and without a
	// "\r" it would not normalise line endings either: the output would be
	// src byte for byte, so skip the cache lookup and the render.
	if !strings.ContainsAny(src, "{\r") {
		return src, nil
	}
	tpl, err := compile(src)
	if err != nil {
		return "", err
	}
	return execute(ctx, tpl, data, l)
}

// Check parses src without rendering it and reports syntax errors with the
// line inside the template, so DAG files can be rejected when loaded rather
// than when a task runs. Names are not checked: they depend on the run.
func Check(src string) error {
	if !strings.ContainsAny(src, "{\r") {
		return nil
	}
	_, err := compile(src)
	return err
}

// RenderValue renders every string found in v, recursing into []any,
// []string, map[string]any and map[string]string values; map keys and other
// values are returned unchanged. Strings without "{{" or "{%" are returned
// as they are without invoking the engine, and containers with nothing to
// render are returned as they are, not copied. Containers holding a rendered
// string are copied, never modified in place. Errors say where in v the
// failing string is, e.g. `["env"][2]: line 1: ...`. It renders within
// DefaultLimits.
func RenderValue(v any, data Context) (any, error) {
	return DefaultLimits.RenderValue(context.Background(), v, data)
}

// RenderValue is the package's RenderValue within l, stopping when ctx
// ends. Each string is a render of its own, with l applying to each.
func (l Limits) RenderValue(ctx context.Context, v any, data Context) (any, error) {
	r := valueRenderer{ctx: ctx, lim: l, data: data}
	out, _, err := r.renderValue(v)
	return out, err
}

// valueRenderer renders the strings of a value.
type valueRenderer struct {
	ctx  context.Context
	lim  Limits
	data Context
}

func (r valueRenderer) render(s string) (string, error) { return r.lim.Render(r.ctx, s, r.data) }

// renderValue reports whether it produced a new value, so that containers are
// copied only when one of their elements changed.
func (r valueRenderer) renderValue(v any) (any, bool, error) {
	// Unchanged values are returned as the original interface value v:
	// returning the typed case variable would box it again, allocating.
	switch x := v.(type) {
	case string:
		if !isTemplate(x) {
			return v, false, nil
		}
		s, err := r.render(x)
		if err != nil {
			return nil, false, err
		}
		return s, true, nil
	case []string:
		var out []string
		for i, s := range x {
			if !isTemplate(s) {
				if out != nil {
					out[i] = s
				}
				continue
			}
			rs, err := r.render(s)
			if err != nil {
				return nil, false, atIndex(i, err)
			}
			if out == nil {
				out = make([]string, len(x))
				copy(out, x[:i])
			}
			out[i] = rs
		}
		if out == nil {
			return v, false, nil
		}
		return out, true, nil
	case []any:
		var out []any
		for i, e := range x {
			rv, changed, err := r.renderValue(e)
			if err != nil {
				return nil, false, atIndex(i, err)
			}
			if changed && out == nil {
				out = make([]any, len(x))
				copy(out, x[:i])
			}
			if out != nil {
				out[i] = rv
			}
		}
		if out == nil {
			return v, false, nil
		}
		return out, true, nil
	case map[string]any:
		var out map[string]any
		for k, e := range x {
			rv, changed, err := r.renderValue(e)
			if err != nil {
				return nil, false, atKey(k, err)
			}
			if changed {
				if out == nil {
					out = make(map[string]any, len(x))
				}
				out[k] = rv
			}
		}
		if out == nil {
			return v, false, nil
		}
		for k, e := range x {
			if _, done := out[k]; !done {
				out[k] = e
			}
		}
		return out, true, nil
	case map[string]string:
		var out map[string]string
		for k, s := range x {
			if !isTemplate(s) {
				continue
			}
			rv, err := r.render(s)
			if err != nil {
				return nil, false, atKey(k, err)
			}
			if out == nil {
				out = make(map[string]string, len(x))
			}
			out[k] = rv
		}
		if out == nil {
			return v, false, nil
		}
		for k, s := range x {
			if _, done := out[k]; !done {
				out[k] = s
			}
		}
		return out, true, nil
	default:
		return v, false, nil
	}
}

// Templated reports whether v holds a template anywhere (a string with
// "{{" or "{%", in any []string, []any or map RenderValue walks): when it
// does not, RenderValue returns it unchanged whatever the context, and the
// context need not be built.
func Templated(v any) bool {
	switch x := v.(type) {
	case string:
		return isTemplate(x)
	case []string:
		return slices.ContainsFunc(x, isTemplate)
	case []any:
		return slices.ContainsFunc(x, Templated)
	case map[string]any:
		for _, e := range x {
			if Templated(e) {
				return true
			}
		}
	case map[string]string:
		for _, e := range x {
			if isTemplate(e) {
				return true
			}
		}
	}
	return false
}

// isTemplate is RenderValue's fast path test.
func isTemplate(s string) bool {
	return strings.Contains(s, "{{") || strings.Contains(s, "{%")
}

// pathError locates a failing string inside a value given to RenderValue.
type pathError struct {
	path string
	err  error
}

func (e *pathError) Error() string { return e.path + ": " + e.err.Error() }
func (e *pathError) Unwrap() error { return e.err }

func atIndex(i int, err error) error  { return atPath("["+strconv.Itoa(i)+"]", err) }
func atKey(k string, err error) error { return atPath("["+strconv.Quote(k)+"]", err) }

// atPath prefixes err's location with one more step, outermost first.
func atPath(step string, err error) error {
	var pe *pathError
	if errors.As(err, &pe) {
		return &pathError{path: step + pe.path, err: pe.err}
	}
	return &pathError{path: step, err: err}
}

// maxErrorLen bounds the message of a render error.
const maxErrorLen = 1000

// maxScannedError is how much of each end of a long gonja error message
// renderError reads.
const maxScannedError = 8 << 10

// maxCached bounds the template cache. Sources come from DAG files, so the
// working set is small; the bound only matters for a long-lived process
// whose DAGs keep changing.
const maxCached = 4096

// maxCachedSize keeps very large sources out of the cache so that the bound
// on entries is also a sensible bound on memory.
const maxCachedSize = 64 << 10

// cacheEntry is a compiled template, or why it did not compile: a broken
// template is rendered for every run too, and should not be parsed each time.
type cacheEntry struct {
	tpl *exec.Template
	err error
}

// cache maps source text to *cacheEntry. A sync.Map keeps the hit path free
// of locks. When full, an arbitrary entry is dropped (map iteration order is
// random), which is as good as LRU for a working set that fits.
var cache struct {
	m sync.Map
	n atomic.Int64
}

// compile returns the compiled template for src, from the cache if possible.
func compile(src string) (*exec.Template, error) {
	if e, ok := cache.m.Load(src); ok {
		ce := e.(*cacheEntry)
		return ce.tpl, ce.err
	}
	tpl, err := parse(src)
	if len(src) > maxCachedSize {
		return tpl, err
	}
	if cache.n.Load() >= maxCached {
		// Evict one entry per insertion. Concurrent compiles may briefly
		// push the size a little past the bound; they cannot grow it.
		cache.m.Range(func(k, _ any) bool {
			if _, deleted := cache.m.LoadAndDelete(k); deleted {
				cache.n.Add(-1)
			}
			return false
		})
	}
	if _, loaded := cache.m.LoadOrStore(src, &cacheEntry{tpl: tpl, err: err}); !loaded {
		cache.n.Add(1)
	}
	return tpl, err
}

// parse compiles src. gonja is not hardened against every input, so a panic
// while parsing becomes an error rather than bringing the process down.
func parse(src string) (tpl *exec.Template, err error) {
	defer func() {
		if r := recover(); r != nil {
			tpl, err = nil, &Error{Msg: fmt.Sprintf("template engine failed: %v", r)}
		}
	}()
	if err := lexError(src); err != nil {
		return nil, err
	}
	tpl, err = exec.NewTemplate(rootName, engineConfig, &sourceLoader{src: src}, engineEnv)
	if err != nil {
		return nil, syntaxError(src, err)
	}
	if err := guardTree(tpl.Root()); err != nil {
		return nil, err
	}
	return tpl, nil
}

// execute renders a compiled template within lim until ctx ends. It does
// what Template.Execute does, with the render's budget in its context and
// its output capped. A panic inside gonja or inside one of the context's
// callbacks fails this render, not the process.
func execute(ctx context.Context, tpl *exec.Template, data Context, lim Limits) (out string, err error) {
	defer func() {
		if r := recover(); r != nil {
			out, err = "", &Error{Msg: fmt.Sprintf("template engine failed: %v", r)}
		}
	}()
	b := newBudget(ctx, lim)
	if err := b.step(0); err != nil {
		return "", &Error{Msg: err.Error(), err: err}
	}
	w := &cappedWriter{budget: b}
	env := &exec.Environment{
		Context:           engineEnv.Context.Inherit().Update(exec.NewContext(data)),
		Filters:           engineEnv.Filters,
		Tests:             engineEnv.Tests,
		ControlStructures: engineEnv.ControlStructures,
		Methods:           engineEnv.Methods,
	}
	env.Context.Set(budgetKey, b)
	r := exec.NewRenderer(env, w, engineConfig, &sourceLoader{used: true}, tpl)
	err = r.Execute()
	if b.err != nil {
		// The limit, not what gonja made of it (an error may have been
		// dropped on the way, or wrapped in the text of the expression).
		line := 0
		if err != nil {
			line = renderError(err).Line
		}
		return "", &Error{Line: line, Msg: b.err.Error(), err: b.err}
	}
	if err != nil {
		return "", renderError(err)
	}
	return w.b.String(), nil
}

// lexError reports what gonja's lexer could not tokenize. The parser stops
// quietly at such a point, so "a {# unclosed" would otherwise compile into
// a template that renders "a ", or fail with a message about the wrong thing.
func lexError(src string) *Error {
	s := tokens.LexAll(src, engineConfig)
	for !s.End() {
		s.Next()
	}
	if !s.IsError() {
		return nil
	}
	tok := s.Current()
	msg := tok.Val
	if !lexerMessageRE().MatchString(msg) {
		// For an unterminated string gonja reports the string's text
		// rather than a message.
		msg = fmt.Sprintf("unterminated string %q", strings.TrimSpace(msg))
	}
	// The lexer does not fill in a line for its errors, only an offset into
	// the source with line endings normalised to "\n".
	normalised := strings.ReplaceAll(strings.ReplaceAll(src, "\r\n", "\n"), "\r", "\n")
	pos := min(max(tok.Pos, 0), len(normalised))
	return &Error{Line: 1 + strings.Count(normalised[:pos], "\n"), Msg: msg}
}

// syntaxError turns what exec.NewTemplate returned into an *Error.
func syntaxError(src string, err error) *Error {
	// NewTemplate wraps the parser's error with the whole source; drop that.
	cause := err
	if inner := errors.Unwrap(err); inner != nil {
		cause = inner
	}
	e := &Error{Msg: cause.Error()}

	var se *parser.SyntaxError
	if errors.As(cause, &se) {
		where := ""
		switch {
		case se.Line > 0 && se.Raw != "":
			where = fmt.Sprintf(" (column %d, near %q)", se.Column, se.Raw)
		case se.Line > 0:
			where = fmt.Sprintf(" (column %d)", se.Column)
		case se.Raw != "":
			where = fmt.Sprintf(" (near %q)", se.Raw)
		}
		e.Msg = strings.Replace(e.Msg, se.Error(), se.Message+where, 1)
		e.Line = se.Line
	}
	if e.Line <= 0 {
		e.Line = failedAtLine(src)
	}
	return e
}

// failedAtLine parses src again to find the line the parser had reached when
// it failed. Some gonja errors carry no position; this is the next best
// thing, and only runs for broken templates.
func failedAtLine(src string) (line int) {
	defer func() {
		if recover() != nil {
			line = 0
		}
	}()
	p := parser.NewParser(rootName, tokens.LexAll(src, engineConfig), engineConfig,
		&sourceLoader{src: src, used: true}, engineEnv.ControlStructures)
	if _, err := p.Parse(); err == nil {
		return 0
	}
	if tok := p.Stream().Current(); tok != nil {
		return tok.Line
	}
	return 0
}

// The patterns below read error messages only: they are compiled at their
// first use, so that no command pays for them at start.
var (
	// lexerMessageRE recognises the lexer's error messages, as opposed to
	// the bare text it reports for an unterminated string.
	lexerMessageRE = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^(Unexpected|Unbalanced|Unable to find|unclosed|invalid numeric)`)
	})
	// renderLineRE finds where gonja says a render failed. Errors nest (an
	// expression inside a for loop inside an if), and the innermost, last,
	// location is the most precise one.
	// (guard.go's {{ }} writes them in lower case.)
	renderLineRE = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`(?i:Unable to render expression|Unable to execute controlStructure|` +
			`Unable to render condition|Unable to evaluation condition as boolean) at line (\d+): `)
	})
	// structureRE matches how gonja names a control structure in errors,
	// e.g. "IfControlStructure(Line=1 Col=7): ".
	structureRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^\w+ControlStructure\(.*?Line=\d+ Col=\d+\): `) })
	// undefinedRE matches gonja's strict-undefined error for a bare name.
	undefinedRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`Unable to evaluate name "([^"]*)"`) })
	// filterRE matches how gonja reports a failing filter, printing the
	// filter's syntax node with %s.
	filterRE = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`unable to evaluate filter &\{<Token\[Name\] Val='(\w+)'.*?\}: ` +
			`(?:invalid call to filter '\w+': )?`)
	})
	// paramsRE matches how gonja reports a failing operand of a guarded
	// operator or literal (guard.go): a call whose echo says nothing.
	paramsRE = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^(?:call\(.*\): )?unable to evaluate parameters: |unable to evaluate parameters: `)
	})
	// methodLimitRE matches a method's limit error, which gonja puts after
	// the whole text of the value the method was called on.
	// notCallableRE matches gonja's report of a call of an attribute a
	// value does not have, whose message ends with an empty "on ".
	notCallableRE = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`(?s)invalid call to method '(\w+)' of (.*): '\w+' is not callable on .*$`)
	})
	methodLimitRE = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`(?s)invalid call to method '\w+' of .*: (\w+\.\w+\(\) exceeded the limit of [^:]*)$`)
	})
	// nodeEchoRE matches gonja's rendering of the failed expression when it
	// is a filter or call node, which reads worse than the message after it.
	nodeEchoRE = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^(?:filtered_expression|call)\(.*?\): (filter \w+: |invalid call to method )`)
	})
)

// renderError turns what Template.Execute returned into an *Error, keeping
// the innermost line gonja reports and dropping the parts of its message
// that repeat the template text or name Go functions.
func renderError(err error) *Error {
	msg := strings.TrimPrefix(err.Error(), "unable to execute template: ")
	if len(msg) > 2*maxScannedError {
		// gonja quotes values in messages, and a value may be large: keep
		// where the error is (the start) and what it is (the end).
		msg = strings.ToValidUTF8(msg[:maxScannedError], "") + "…" +
			strings.ToValidUTF8(msg[len(msg)-maxScannedError:], "")
	}
	e := &Error{Msg: msg}
	if locs := renderLineRE().FindAllStringSubmatchIndex(msg, -1); len(locs) > 0 {
		last := locs[len(locs)-1]
		e.Line, _ = strconv.Atoi(msg[last[2]:last[3]])
		msg = msg[last[1]:]
	}
	msg = structureRE().ReplaceAllString(msg, "")
	msg = undefinedRE().ReplaceAllString(msg, `"$1" is undefined`)
	msg = filterRE().ReplaceAllString(msg, "filter $1: ")
	msg = nodeEchoRE().ReplaceAllString(msg, "$1")
	// The guarded operators and literals (guard.go) are calls whose
	// echo says nothing, and whose operands gonja reports as parameters.
	msg = paramsRE().ReplaceAllString(msg, "")
	// A method's error comes after the whole text of the value it was
	// called on; for a limit, that value is large and says little.
	msg = methodLimitRE().ReplaceAllString(msg, "$1")
	msg = notCallableRE().ReplaceAllString(msg, "$2 has no method '$1' to call")
	if len(msg) > maxErrorLen {
		// Messages may quote values: keep them readable in a log.
		msg = strings.ToValidUTF8(msg[:maxErrorLen], "") + "…"
	}

	// A failing function call reads "call([args], map[kwargs]): invalid
	// call to function 'name': message". Keep the name of a template
	// function (range, a macro); drop the Go symbol gonja names for ours,
	// whose messages say which function they are about.
	const invalidCall = "invalid call to function '"
	if i := strings.Index(msg, invalidCall); i >= 0 {
		name := msg[i+len(invalidCall):]
		if j := strings.Index(name, "': "); j >= 0 {
			name, msg = name[:j], name[j+len("': "):]
			if !strings.ContainsAny(name, "./") {
				msg = name + ": " + msg
			}
		}
		return &Error{Line: e.Line, Msg: msg}
	}

	// Otherwise the message starts with the expression, which gonja then
	// repeats: "x.y: Unable to evaluate x.y: attribute 'y' not found".
	if i := strings.Index(msg, ": "); i > 0 {
		expr, rest := msg[:i], msg[i+2:]
		rest = strings.Replace(rest, "Unable to evaluate "+expr+": ", "", 1)
		if strings.HasPrefix(rest, expr+": ") || strings.HasPrefix(rest, strconv.Quote(expr)+" is undefined") {
			msg = rest
		} else {
			msg = expr + ": " + rest
		}
	}
	e.Msg = msg
	return e
}

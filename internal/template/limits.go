package template

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"

	"github.com/nikolalohinski/gonja/v2/exec"
)

// Limits bound one render, so that a template cannot take the memory or
// the CPU of the process that renders it: {{ 'x' * 2000000000 }} or two
// nested loops over range(100000) fail instead. A zero field takes its
// value from DefaultLimits. Time is bounded by the context a render is
// given (a try renders within its execution_timeout).
type Limits struct {
	// MaxOutput is how many bytes one rendered string may have.
	MaxOutput int
	// MaxValue is how many bytes a string built while rendering may have,
	// and how long the text of a list or dict may be when it is built or
	// printed.
	MaxValue int
	// MaxItems is how many items a list built while rendering may have
	// (range(), '+', filters).
	MaxItems int
	// MaxSteps is how many steps a render may take: loop iterations,
	// macro calls, filters, operators on strings and lists, printed
	// expressions, items walked to measure a value.
	MaxSteps int
}

// DefaultLimits are generous for any template a task needs: a rendered
// field is a command line, a path or a query, not a data set.
var DefaultLimits = Limits{
	MaxOutput: 1 << 20,
	MaxValue:  1 << 20,
	MaxItems:  100_000,
	MaxSteps:  250_000,
}

// ErrLimit is what errors.Is finds in a render that exceeded one of its
// Limits.
var ErrLimit = errors.New("template limit exceeded")

// withDefaults fills the zero fields of l from DefaultLimits.
func (l Limits) withDefaults() Limits {
	d := DefaultLimits
	if l.MaxOutput <= 0 {
		l.MaxOutput = d.MaxOutput
	}
	if l.MaxValue <= 0 {
		l.MaxValue = d.MaxValue
	}
	if l.MaxItems <= 0 {
		l.MaxItems = d.MaxItems
	}
	if l.MaxSteps <= 0 {
		l.MaxSteps = d.MaxSteps
	}
	return l
}

// limitError is a limit a render exceeded.
type limitError string

func (e limitError) Error() string      { return string(e) }
func (limitError) Is(target error) bool { return target == ErrLimit }

// budgetKey names the render's budget in its gonja context. It cannot be
// written in a template (names are identifiers), so no template can read
// it or shadow it.
const budgetKey = "\x00budget"

// budget is what is left of one render's Limits. A render runs on one
// goroutine, so it needs no lock. The first limit exceeded is kept: gonja
// turns some errors into values that a filter such as default() or a
// loop's if clause may drop, and every later step fails with it too, so
// that a render which exceeded a limit always fails, and fails fast.
type budget struct {
	lim   Limits
	ctx   context.Context
	done  <-chan struct{}
	steps int
	err   error
}

func newBudget(ctx context.Context, lim Limits) *budget {
	return &budget{lim: lim.withDefaults(), ctx: ctx, done: ctx.Done()}
}

// budgetOf returns the budget of the render c belongs to, nil outside one.
func budgetOf(c *exec.Context) *budget {
	v, _ := c.Get(budgetKey)
	b, _ := v.(*budget)
	return b
}

// evalBudget is budgetOf for functions and filters, which get the
// evaluator.
func evalBudget(e *exec.Evaluator) *budget {
	if e == nil || e.Environment == nil || e.Environment.Context == nil {
		return nil
	}
	return budgetOf(e.Environment.Context)
}

// fail records err as the render's failure unless one is recorded, and
// returns the recorded one.
func (b *budget) fail(err error) error {
	if b.err == nil {
		b.err = err
	}
	return b.err
}

// step counts n steps and checks the step limit and the render's context.
// A non-blocking receive from a channel is cheap enough for every step.
func (b *budget) step(n int) error {
	if b.err != nil {
		return b.err
	}
	b.steps += n
	if b.steps > b.lim.MaxSteps {
		return b.fail(limitError(fmt.Sprintf("template exceeded %d evaluation steps", b.lim.MaxSteps)))
	}
	select {
	case <-b.done:
		return b.fail(fmt.Errorf("template rendering stopped: %w", context.Cause(b.ctx)))
	default:
		return nil
	}
}

// tooBig is the error for a value over MaxValue built by what.
func (b *budget) tooBig(what string) error {
	return b.fail(limitError(fmt.Sprintf("%s exceeded the limit of %s on a value", what, byteSize(b.lim.MaxValue))))
}

// tooMany is the error for a list over MaxItems built by what.
func (b *budget) tooMany(what string) error {
	return b.fail(limitError(fmt.Sprintf("%s exceeded the limit of %d items on a list", what, b.lim.MaxItems)))
}

// checkString checks the length of a string what is about to build.
func (b *budget) checkString(what string, n int) error {
	if b.err != nil {
		return b.err
	}
	if n < 0 || n > b.lim.MaxValue {
		return b.tooBig(what)
	}
	return nil
}

// checkValue checks a value what built or is about to print: a string's
// length, a list's items, and the length of the text of a list or dict.
func (b *budget) checkValue(what string, v *exec.Value) error {
	if v == nil || v.IsError() {
		return nil
	}
	switch {
	case v.IsString():
		return b.checkString(what, len(v.String()))
	case v.IsList() && v.Len() > b.lim.MaxItems:
		return b.tooMany(what)
	case v.IsList() || v.IsDict():
		return b.checkSize(what, v.Interface())
	}
	return nil
}

// checkSize checks the length of x as text, charging a step per 64
// items it walks (about the cost of one loop iteration).
func (b *budget) checkSize(what string, x any) error {
	m := measure{limit: b.lim.MaxValue}
	n := m.size(x)
	if err := b.step(m.walked / 64); err != nil {
		return err
	}
	if n > b.lim.MaxValue {
		return b.tooBig(what)
	}
	return nil
}

// checkSink checks that what a render has written to w, plus n more
// bytes, fits. gonja renders a macro call, a block set and a filter block
// into a strings.Builder or bytes.Buffer before using the text as a value.
func (b *budget) checkSink(w any, n int) error {
	switch w := w.(type) {
	case *cappedWriter:
		if w.b.Len()+n > b.lim.MaxOutput {
			return b.fail(limitError("template exceeded " + byteSize(b.lim.MaxOutput) + " of output"))
		}
	case interface{ Len() int }:
		if w.Len()+n > b.lim.MaxValue {
			return b.tooBig("captured output")
		}
	}
	return nil
}

// cappedWriter is the output of a render, failing it past MaxOutput.
type cappedWriter struct {
	budget *budget
	b      strings.Builder
}

// Write appends p, or fails the render if that would exceed MaxOutput or
// the render was stopped.
func (w *cappedWriter) Write(p []byte) (int, error) {
	if err := w.budget.step(0); err != nil {
		return 0, err
	}
	if err := w.budget.checkSink(w, len(p)); err != nil {
		return 0, err
	}
	return w.b.Write(p)
}

// WriteString is Write without a copy; io.WriteString uses it.
func (w *cappedWriter) WriteString(s string) (int, error) {
	if err := w.budget.step(0); err != nil {
		return 0, err
	}
	if err := w.budget.checkSink(w, len(s)); err != nil {
		return 0, err
	}
	return w.b.WriteString(s)
}

// measure estimates the length of a value's text as gonja prints it,
// walking lists and dicts and stopping once over limit. Values shared
// within a value count each time they appear, as they are printed: that
// is how [a, a] nested a few times grows beyond any memory.
type measure struct {
	limit  int
	walked int
}

// size returns the estimated length of x's text, or something over limit.
func (m *measure) size(x any) int {
	m.walked++
	switch x := x.(type) {
	case nil:
		return 4
	case string:
		return len(x) + 2
	case *exec.Value:
		if x == nil {
			return 4
		}
		return m.size(x.Interface())
	case exec.ValuesList:
		return m.list(len(x), func(i int) any { return x[i] })
	case []any:
		return m.list(len(x), func(i int) any { return x[i] })
	case map[string]any:
		n := 2
		for k, v := range x {
			n += len(k) + 4 + m.size(v)
			if n > m.limit {
				break
			}
		}
		return n
	case *exec.Dict:
		n := 2
		for _, p := range x.Pairs {
			n += 4 + m.size(p.Key) + m.size(p.Value)
			if n > m.limit {
				break
			}
		}
		return n
	case int:
		return digits(int64(x))
	case int64:
		return digits(x)
	case bool, float64:
		return 24
	}
	return m.other(x)
}

// list sums the sizes of n items.
func (m *measure) list(n int, item func(int) any) int {
	total := 2
	for i := 0; i < n && total <= m.limit; i++ {
		total += 2 + m.size(item(i))
	}
	return total
}

// other measures values of other Go types with reflection: typed slices
// and maps (range() returns []int), and objects (printed by String).
func (m *measure) other(x any) int {
	v := reflect.ValueOf(x)
	switch v.Kind() {
	case reflect.Slice, reflect.Array:
		return m.list(v.Len(), func(i int) any { return v.Index(i).Interface() })
	case reflect.Map:
		n := 2
		for it := v.MapRange(); it.Next() && n <= m.limit; {
			n += 4 + m.size(it.Key().Interface()) + m.size(it.Value().Interface())
		}
		return n
	case reflect.String:
		return v.Len() + 2
	}
	if s, ok := x.(fmt.Stringer); ok {
		return len(s.String())
	}
	return 24
}

// digits is the length of n in decimal.
func digits(n int64) int {
	d := 1
	if n < 0 {
		d++
	}
	for n >= 10 || n <= -10 {
		n /= 10
		d++
	}
	return d
}

// byteSize formats a limit in bytes for messages: 1 MiB, 64 KiB, 100 bytes.
func byteSize(n int) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

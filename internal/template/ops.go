package template

import (
	"errors"
	"reflect"
	"strings"

	"github.com/nikolalohinski/gonja/v2/exec"
)

// The guarded operators and literals guardTree puts in templates. They do
// what gonja's evaluator does for a + b, a * b, a ~ b, [..] and {..}, once
// they have checked what they are about to build against the budget.
// Building a value costs a step per KiB, so that a loop copying large
// strings reaches the step limit as fast as a loop of small steps.

// stepsFor is the steps building n bytes or items costs.
func stepsFor(n int) int { return 1 + n>>10 }

// opArgs returns the two operands of a guarded operator.
func opArgs(va *exec.VarArgs) (*exec.Value, *exec.Value, bool) {
	if len(va.Args) != 2 || len(va.KwArgs) > 0 {
		return nil, nil, false
	}
	return va.Args[0], va.Args[1], true
}

var errOperands = errors.New("an operator takes two operands")

// opAdd is a + b: numbers add, lists concatenate, and a string on either
// side concatenates the text of both.
func opAdd(e *exec.Evaluator, va *exec.VarArgs) *exec.Value {
	l, r, ok := opArgs(va)
	if !ok {
		return exec.AsValue(errOperands)
	}
	if v, ok, err := dateArith(l, r, 1); ok {
		return valueOrError(v, err)
	}
	b := evalBudget(e)
	switch {
	case l.IsList():
		if !r.IsList() {
			return exec.AsValue(errors.New("can only concatenate a list to a list"))
		}
		n := l.Len() + r.Len()
		if b != nil {
			if n > b.lim.MaxItems {
				return exec.AsValue(b.tooMany("list concatenation ('+')"))
			}
			if err := b.step(stepsFor(n)); err != nil {
				return exec.AsValue(err)
			}
		}
		out := make([]any, 0, n)
		out = appendItems(appendItems(out, l), r)
		// Items may be shared: [a] + [a] doubles the text of a without
		// adding items, and gonja copies a list whole for each method call.
		if b != nil {
			if err := b.checkSize("list concatenation ('+')", out); err != nil {
				return exec.AsValue(err)
			}
		}
		return exec.AsValue(out)
	case l.IsFloat() || r.IsFloat():
		return exec.AsValue(l.Float() + r.Float())
	case l.IsString() || r.IsString():
		return concat(b, "string concatenation ('+')", l, r)
	}
	return exec.AsValue(l.Integer() + r.Integer())
}

// opSub is a - b: numbers subtract, and dates and durations as in Python
// (gonja would read a date as the number 0).
func opSub(_ *exec.Evaluator, va *exec.VarArgs) *exec.Value {
	l, r, ok := opArgs(va)
	if !ok {
		return exec.AsValue(errOperands)
	}
	if v, ok, err := dateArith(l, r, -1); ok {
		return valueOrError(v, err)
	}
	if l.IsFloat() || r.IsFloat() {
		return exec.AsValue(l.Float() - r.Float())
	}
	return exec.AsValue(l.Integer() - r.Integer())
}

func valueOrError(v any, err error) *exec.Value {
	if err != nil {
		return exec.AsValue(err)
	}
	return exec.AsValue(v)
}

// opCat is a ~ b, the text of both.
func opCat(e *exec.Evaluator, va *exec.VarArgs) *exec.Value {
	l, r, ok := opArgs(va)
	if !ok {
		return exec.AsValue(errOperands)
	}
	return concat(evalBudget(e), "string concatenation ('~')", l, r)
}

// concat joins the text of l and r once the length of that text is known
// to fit: printing a list or dict builds all of its text.
func concat(b *budget, what string, l, r *exec.Value) *exec.Value {
	if b != nil {
		n := textLen(b, l) + textLen(b, r)
		if err := b.checkString(what, n); err != nil {
			return exec.AsValue(err)
		}
		if err := b.step(stepsFor(n)); err != nil {
			return exec.AsValue(err)
		}
	}
	return exec.AsValue(text(l) + text(r))
}

// opMul is a * b: a string repeated, or numbers multiplied. A repetition
// count below one gives an empty string, as in Python (gonja's panics).
func opMul(e *exec.Evaluator, va *exec.VarArgs) *exec.Value {
	l, r, ok := opArgs(va)
	if !ok {
		return exec.AsValue(errOperands)
	}
	switch {
	case l.IsFloat() || r.IsFloat():
		return exec.AsValue(l.Float() * r.Float())
	case l.IsString():
		s, count := l.String(), r.Integer()
		if count <= 0 || s == "" {
			return exec.AsValue("")
		}
		if b := evalBudget(e); b != nil {
			if count > b.lim.MaxValue/len(s) {
				return exec.AsValue(b.tooBig("string repetition ('*')"))
			}
			if err := b.step(stepsFor(len(s) * count)); err != nil {
				return exec.AsValue(err)
			}
		}
		return exec.AsValue(strings.Repeat(s, count))
	}
	return exec.AsValue(l.Integer() * r.Integer())
}

// litList is a list or tuple literal.
func litList(e *exec.Evaluator, va *exec.VarArgs) *exec.Value {
	items := exec.ValuesList(va.Args)
	if b := evalBudget(e); b != nil {
		if err := b.checkSize("a list literal", items); err != nil {
			return exec.AsValue(err)
		}
	}
	return exec.AsValue(items)
}

// litDict is a dict literal; its arguments are keys and values in turn.
func litDict(e *exec.Evaluator, va *exec.VarArgs) *exec.Value {
	d := &exec.Dict{Pairs: make([]*exec.Pair, 0, len(va.Args)/2)}
	for i := 0; i+1 < len(va.Args); i += 2 {
		d.Pairs = append(d.Pairs, &exec.Pair{Key: va.Args[i], Value: va.Args[i+1]})
	}
	if b := evalBudget(e); b != nil {
		if err := b.checkSize("a dict literal", d); err != nil {
			return exec.AsValue(err)
		}
	}
	return exec.AsValue(d)
}

// appendItems appends the items of the list v to out.
func appendItems(out []any, v *exec.Value) []any {
	rv := v.Val
	for rv.Kind() == reflect.Pointer || rv.Kind() == reflect.Interface {
		rv = rv.Elem()
	}
	for i := range rv.Len() {
		out = append(out, rv.Index(i).Interface())
	}
	return out
}

// textLen is the length of v's text, measured without building it for a
// list or dict (capped a little over the limit).
func textLen(b *budget, v *exec.Value) int {
	switch {
	case v.IsString():
		return len(v.String())
	case v.IsList() || v.IsDict():
		m := measure{limit: b.lim.MaxValue}
		n := m.size(v.Interface())
		_ = b.step(m.walked / 64)
		return n
	}
	return len(text(v))
}

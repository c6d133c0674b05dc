package template

import (
	"errors"
	"fmt"
	"io"
	"reflect"
	"unsafe"

	controlstructures "github.com/nikolalohinski/gonja/v2/builtins/control_structures"
	"github.com/nikolalohinski/gonja/v2/exec"
	"github.com/nikolalohinski/gonja/v2/nodes"
	"github.com/nikolalohinski/gonja/v2/tokens"
)

// gonja evaluates expressions in one big type switch with no hook, and
// control structures keep some of their expressions in unexported fields.
// So once a template is parsed, guardTree rewrites its syntax tree in
// place, so that everything that can grow without bound goes through the
// render's budget:
//
//   - a + b, a * b and a ~ b become calls of guarded functions, which
//     check the size of the string or list before building it;
//   - list, tuple and dict literals become calls that measure what they
//     build ([a, a] nested a few times is exponential in the source);
//   - {{ ... }} becomes a control structure that measures the value
//     before gonja turns it into text, and counts a step;
//   - the body of every for loop and macro starts with a step, which also
//     checks the render's context, so loops stop when a try is killed.
//
// Recursive loops are refused: gonja gives loop() no depth bound, and a
// Go stack overflow ends the whole process.
//
// The hidden names below are looked up in the globals; they cannot be
// written in a template, so no template can call or shadow them.
const (
	addName  = "\x00add"
	mulName  = "\x00mul"
	subName  = "\x00sub"
	catName  = "\x00cat"
	listName = "\x00list"
	dictName = "\x00dict"
)

// errRecursiveLoop is returned for {% for ... recursive %}.
var errRecursiveLoop = errors.New("recursive for loops are not supported")

// guardTree rewrites root in place (see above). It runs once per
// template, before the template is shared.
func guardTree(root *nodes.Template) error {
	g := &guarder{seen: map[unsafe.Pointer]bool{}, repl: map[nodes.Node]nodes.Node{}}
	g.walk(reflect.ValueOf(root))
	return g.err
}

type guarder struct {
	seen map[unsafe.Pointer]bool
	repl map[nodes.Node]nodes.Node // a node reached twice gets one replacement
	err  error
	// unguarded, when not nil, collects the nodes that would be replaced
	// instead of replacing them: tests check a guarded tree with it.
	unguarded *[]nodes.Node
	// visit, when not nil, is called with every node instead of guarding
	// anything: the walk then only reads the tree, which may be shared.
	visit func(nodes.Node)
}

// inspect calls visit with every node of root, changing nothing.
func inspect(root *nodes.Template, visit func(nodes.Node)) {
	g := &guarder{seen: map[unsafe.Pointer]bool{}, visit: visit}
	g.walk(reflect.ValueOf(root))
}

var (
	// walkedPkgs are the packages whose structs hold syntax: gonja's
	// nodes, its control structures, and ours (boundedMacro, ...).
	walkedPkgs = map[string]bool{
		reflect.TypeFor[nodes.Template]().PkgPath():                        true,
		reflect.TypeFor[controlstructures.ForControlStructure]().PkgPath(): true,
		reflect.TypeFor[guardedOutput]().PkgPath():                         true,
	}
)

// walk visits v, a value reached from the template's root, replacing the
// nodes that must be guarded wherever they sit in an interface.
func (g *guarder) walk(v reflect.Value) {
	switch v.Kind() {
	case reflect.Interface:
		if v.IsNil() {
			return
		}
		if n, ok := v.Interface().(nodes.Node); ok && g.visit != nil {
			g.visit(n)
		} else if ok {
			if r := g.replace(n); r != n && reflect.TypeOf(r).AssignableTo(v.Type()) && v.CanSet() {
				v.Set(reflect.ValueOf(r))
			}
		}
		g.walk(v.Elem())
	case reflect.Pointer:
		if v.IsNil() || !walkedPkgs[v.Type().Elem().PkgPath()] || g.seen[v.UnsafePointer()] {
			return
		}
		g.seen[v.UnsafePointer()] = true
		if g.visit == nil {
			g.guardStructure(v.Interface())
		}
		g.walk(v.Elem())
	case reflect.Struct:
		for i := range v.NumField() {
			f := v.Field(i)
			if !f.CanSet() && f.CanAddr() {
				// Unexported: gonja's set, with and filter keep their
				// expressions there.
				f = reflect.NewAt(f.Type(), unsafe.Pointer(f.UnsafeAddr())).Elem()
			}
			g.walk(f)
		}
	case reflect.Slice, reflect.Array:
		for i := range v.Len() {
			g.walk(v.Index(i))
		}
	case reflect.Map:
		// Map values cannot be set in place: walk a copy and store it.
		for it := v.MapRange(); it.Next(); {
			e := reflect.New(it.Value().Type()).Elem()
			e.Set(it.Value())
			g.walk(e)
			if g.visit == nil && (v.CanSet() || v.CanInterface()) {
				v.SetMapIndex(it.Key(), e)
			}
		}
	}
}

// replace returns what stands in for n in the tree: n itself, or a
// guarded equivalent.
func (g *guarder) replace(n nodes.Node) nodes.Node {
	if r, ok := g.repl[n]; ok {
		return r
	}
	var r nodes.Node = n
	switch n := n.(type) {
	case *nodes.BinaryExpression:
		switch n.Operator.Token.Type {
		case tokens.Addition:
			r = hiddenCall(addName, n.Position(), n.Left, n.Right)
		case tokens.Subtraction:
			r = hiddenCall(subName, n.Position(), n.Left, n.Right)
		case tokens.Multiply:
			r = hiddenCall(mulName, n.Position(), n.Left, n.Right)
		case tokens.Tilde:
			r = hiddenCall(catName, n.Position(), n.Left, n.Right)
		}
	case *nodes.List:
		r = hiddenCall(listName, n.Position(), n.Val...)
	case *nodes.Tuple:
		r = hiddenCall(listName, n.Position(), n.Val...)
	case *nodes.Dict:
		var args []nodes.Expression
		for _, p := range n.Pairs {
			args = append(args, p.Key, p.Value)
		}
		r = hiddenCall(dictName, n.Position(), args...)
	case *nodes.Output:
		r = &nodes.ControlStructureBlock{Location: n.Start, Name: "output", ControlStructure: &guardedOutput{n}}
	}
	if g.unguarded != nil {
		if r != n {
			*g.unguarded = append(*g.unguarded, n)
		}
		return n
	}
	g.repl[n] = r
	return r
}

// guardStructure adds a step to the bodies that run repeatedly.
func (g *guarder) guardStructure(x any) {
	switch x := x.(type) {
	case *controlstructures.ForControlStructure:
		if x.Recursive && g.err == nil {
			e := &Error{Msg: errRecursiveLoop.Error()}
			if at := x.ObjectEvaluator.Position(); at != nil {
				e.Line = at.Line
			}
			g.err = e
		}
		g.prependStep(x, x.BodyWrapper)
	case *nodes.Macro:
		g.prependStep(x, x.Wrapper)
	}
}

func (g *guarder) prependStep(owner nodes.Node, w *nodes.Wrapper) {
	if w == nil {
		return
	}
	if g.unguarded != nil {
		if len(w.Nodes) == 0 || !isStep(w.Nodes[0]) {
			*g.unguarded = append(*g.unguarded, owner)
		}
		return
	}
	step := &nodes.ControlStructureBlock{Location: w.Location, Name: "step", ControlStructure: &stepNode{w.Location}}
	w.Nodes = append([]nodes.Node{step}, w.Nodes...)
}

func isStep(n nodes.Node) bool {
	b, ok := n.(*nodes.ControlStructureBlock)
	if !ok {
		return false
	}
	_, ok = b.ControlStructure.(*stepNode)
	return ok
}

// hiddenCall is a call of the global function name with args.
func hiddenCall(name string, at *tokens.Token, args ...nodes.Expression) *nodes.Call {
	tok := &tokens.Token{Type: tokens.Name, Val: name}
	if at != nil {
		tok.Line, tok.Col, tok.Pos = at.Line, at.Col, at.Pos
	}
	return &nodes.Call{Location: tok, Func: &nodes.Name{Name: tok}, Args: args}
}

// stepNode counts a step each time the body it starts runs, and checks the
// text captured so far: a loop body may write without printing a value.
type stepNode struct{ at *tokens.Token }

func (s *stepNode) Position() *tokens.Token { return s.at }
func (s *stepNode) String() string          { return "step" }

// Execute counts the step.
func (s *stepNode) Execute(r *exec.Renderer, _ *nodes.ControlStructureBlock) error {
	b := budgetOf(r.Environment.Context)
	if b == nil {
		return nil
	}
	if err := b.step(1); err != nil {
		return err
	}
	return b.checkSink(r.Output, 0)
}

// guardedOutput is {{ ... }}: what gonja's renderer does for an Output
// node, with the value measured before it becomes text (printing a list
// builds its whole text at once).
type guardedOutput struct{ out *nodes.Output }

func (o *guardedOutput) Position() *tokens.Token { return o.out.Start }
func (o *guardedOutput) String() string          { return o.out.String() }

// Execute prints the expression, as gonja's Renderer.Visit does.
func (o *guardedOutput) Execute(r *exec.Renderer, _ *nodes.ControlStructureBlock) error {
	n := o.out
	var value *exec.Value
	if n.Condition != nil {
		condition := r.Eval(n.Condition)
		if condition.IsError() {
			return fmt.Errorf("unable to render condition at line %d: %s: %w", n.Condition.Position().Line, n.Condition, condition)
		}
		switch {
		case !condition.IsNil() && condition.IsTrue():
			value = r.Eval(n.Expression)
		case n.Alternative != nil:
			value = r.Eval(n.Alternative)
		default:
			return nil
		}
	} else {
		value = r.Eval(n.Expression)
	}
	if value.IsError() {
		return fmt.Errorf("unable to render expression at line %d: %s: %w", n.Expression.Position().Line, n.Expression, value)
	}
	if b := budgetOf(r.Environment.Context); b != nil {
		if err := b.step(1); err != nil {
			return err
		}
		if err := b.checkValue("a printed value", value); err != nil {
			return err
		}
	}
	s := text(value)
	if r.Config.AutoEscape && value.IsString() && !value.Safe {
		s = value.Escaped()
	}
	if b := budgetOf(r.Environment.Context); b != nil {
		if err := b.checkSink(r.Output, len(s)); err != nil {
			return err
		}
	}
	_, err := io.WriteString(r.Output, s)
	return err
}

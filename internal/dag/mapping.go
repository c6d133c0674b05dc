package dag

import (
	"fmt"
	"math"
	"slices"

	"go.yaml.in/yaml/v3"
)

// DefaultMaxMapLength is how many instances one mapped task may expand
// into unless the engine is configured otherwise: Airflow's
// [core] max_map_length.
const DefaultMaxMapLength = 1024

// Expand is how a mapped task (Airflow's dynamic task mapping) makes one
// task instance per element: either Fields, each operator field over a list
// (several fields give their cross product, the last field varying
// fastest, as Airflow's expand), or Kwargs, a list of mappings of fields
// (Airflow's expand_kwargs).
type Expand struct {
	Fields []ExpandField
	Kwargs *MapSource
}

// ExpandField is one operator field of expand and the list it takes its
// values from.
type ExpandField struct {
	Name string
	MapSource
}

// MapSource is a list a mapped task expands over: a literal list written
// in the file, or the list an upstream task pushed as XCom (Key, default
// return_value), read when the mapped task's upstream tasks are done.
type MapSource struct {
	Literal  []any // nil for an XCom source
	XComTask string
	XComKey  string
}

// IsXCom reports whether the list comes from an upstream task's XCom.
func (m MapSource) IsXCom() bool { return m.XComTask != "" }

// Mapped reports whether the task is mapped.
func (t *Task) Mapped() bool { return t.Expand != nil }

// mapKeys reads a task's expand, expand_kwargs and max_active_tis_per_dag,
// adding the tasks whose XCom a list comes from to its upstream tasks (as
// Airflow does). fields are the operator's, nil for an unknown operator.
func (l *loader) mapKeys(dr *draft, e entry, fields map[string]FieldSpec) {
	t := dr.task
	field := subField(dr.field, e.name)
	switch e.name {
	case "max_active_tis_per_dag":
		t.MaxActiveTIsPerDAG = l.positive(e.val, field, 0)
	case "expand":
		if t.Expand != nil {
			l.errAt(e.key, field, "a task has either expand or expand_kwargs, not both")
			return
		}
		entries, ok := l.mapEntries(e.val, field)
		if !ok {
			return
		}
		if len(entries) == 0 {
			l.errAt(e.val, field, "must name at least one operator field")
			return
		}
		ex := &Expand{}
		for _, fe := range entries {
			f := subField(field, fe.name)
			spec, known := fields[fe.name]
			if fields != nil && !known {
				l.errAt(fe.key, f, "%q is not a field of operator %q", fe.name, t.Operator)
				continue
			}
			src, ok := l.mapSource(dr, fe.val, f, func(item *yaml.Node, itemField string) (any, bool) {
				if fields == nil {
					return l.value(item, itemField, false)
				}
				return l.fieldValue(spec, item, itemField)
			})
			if ok {
				ex.Fields = append(ex.Fields, ExpandField{Name: fe.name, MapSource: src})
			}
		}
		t.Expand = ex
	case "expand_kwargs":
		if t.Expand != nil {
			l.errAt(e.key, field, "a task has either expand or expand_kwargs, not both")
			return
		}
		src, ok := l.mapSource(dr, e.val, field, func(item *yaml.Node, itemField string) (any, bool) {
			return l.kwargsItem(t, item, itemField, fields)
		})
		if ok {
			t.Expand = &Expand{Kwargs: &src}
		}
	}
}

// mapSource reads a literal list (each element read by item) or an
// {xcom: task_id, key: ...} mapping.
func (l *loader) mapSource(dr *draft, n *yaml.Node, field string, item func(*yaml.Node, string) (any, bool)) (MapSource, bool) {
	r := resolve(n)
	switch {
	case r != nil && r.Kind == yaml.SequenceNode:
		out := make([]any, 0, len(r.Content))
		ok := true
		for i, c := range r.Content {
			if !l.spend() {
				return MapSource{}, false
			}
			v, good := item(c, indexField(field, i))
			ok = ok && good
			out = append(out, v)
		}
		return MapSource{Literal: out}, ok
	case r != nil && r.Kind == yaml.MappingNode:
		entries, ok := l.mapEntries(n, field)
		if !ok {
			return MapSource{}, false
		}
		var src MapSource
		var taskNode *yaml.Node
		for _, e := range entries {
			switch e.name {
			case "xcom":
				if s, ok := l.nonEmpty(e.val, subField(field, "xcom")); ok {
					src.XComTask, taskNode = s, e.val
				}
			case "key":
				if s, ok := l.nonEmpty(e.val, subField(field, "key")); ok {
					src.XComKey = s
				}
			default:
				l.unknownKey(e, field, []string{"xcom", "key"})
			}
		}
		if taskNode == nil {
			l.errAt(n, field, "missing required key \"xcom\" (the upstream task whose XCom list to expand over)")
			return MapSource{}, false
		}
		if src.XComTask == dr.task.ID {
			l.errAt(taskNode, subField(field, "xcom"), "a task cannot expand over its own XCom")
			return MapSource{}, false
		}
		if src.XComKey == "" {
			src.XComKey = "return_value"
		}
		if !slices.ContainsFunc(dr.deps, func(d depRef) bool { return d.id == src.XComTask }) {
			dr.deps = append(dr.deps, depRef{src.XComTask, taskNode})
		}
		return src, true
	default:
		l.typeErr(n, field, "a list, or {xcom: task_id} to expand over an upstream task's XCom list")
		return MapSource{}, false
	}
}

// kwargsItem reads one literal element of expand_kwargs: a mapping of
// operator fields.
func (l *loader) kwargsItem(t *Task, n *yaml.Node, field string, fields map[string]FieldSpec) (any, bool) {
	entries, ok := l.mapEntries(n, field)
	if !ok {
		return nil, false
	}
	out := make(map[string]any, len(entries))
	for _, e := range entries {
		f := subField(field, e.name)
		spec, known := fields[e.name]
		if fields != nil && !known {
			l.errAt(e.key, f, "%q is not a field of operator %q", e.name, t.Operator)
			ok = false
			continue
		}
		var v any
		var good bool
		if fields == nil {
			v, good = l.value(e.val, f, false)
		} else {
			v, good = l.fieldValue(spec, e.val, f)
		}
		ok = ok && good
		out[e.name] = v
	}
	return out, ok
}

// checkMapped reports fields both set on a mapped task and expanded
// (Airflow refuses a partial and an expand of the same argument).
func (l *loader) checkMapped(dr *draft, keys map[string]entry) {
	t := dr.task
	if t.Expand == nil {
		return
	}
	for _, f := range t.Expand.Fields {
		if e, ok := keys[f.Name]; ok {
			l.errAt(e.key, subField(dr.field, f.Name), "field %q is set on the task and in expand; keep one", f.Name)
		}
	}
}

// expanded reports whether field name of the task takes its value from
// expand or expand_kwargs, so a required field need not be written.
func (t *Task) expanded(name string) bool {
	if t.Expand == nil {
		return false
	}
	if t.Expand.Kwargs != nil {
		return true // known only once the list is read
	}
	return slices.ContainsFunc(t.Expand.Fields, func(f ExpandField) bool { return f.Name == name })
}

// MapLength returns how many instances expanding t gives for the lengths
// of its lists (lens, in the order of Expand.Fields, or one for Kwargs).
// A cross product too large for an int is math.MaxInt, so it stays more
// than any max_map_length instead of wrapping round to a small number,
// or to 0 (an empty list, a skipped task).
func (e *Expand) MapLength(lens []int) int {
	if slices.Contains(lens, 0) {
		return 0
	}
	n := 1
	for _, l := range lens {
		if n > math.MaxInt/l {
			return math.MaxInt
		}
		n *= l
	}
	return n
}

// LiteralLength returns how many instances e expands into when every list
// it names is written in the file; ok is false when one is an upstream
// task's XCom, known only once that task has run.
func (e *Expand) LiteralLength() (n int, ok bool) {
	srcs := make([]MapSource, 0, len(e.Fields)+1)
	for _, f := range e.Fields {
		srcs = append(srcs, f.MapSource)
	}
	if e.Kwargs != nil {
		srcs = append(srcs, *e.Kwargs)
	}
	lens := make([]int, len(srcs))
	for i, src := range srcs {
		if src.IsXCom() {
			return 0, false
		}
		lens[i] = len(src.Literal)
	}
	return e.MapLength(lens), true
}

// Element returns the field values of map index i given the lists of the
// fields (in Expand.Fields' order, or the one kwargs list): the cross
// product with the last field varying fastest, as Airflow's expand.
func (e *Expand) Element(lists [][]any, i int) (map[string]any, error) {
	out := map[string]any{}
	if e.Kwargs != nil {
		if len(lists) != 1 || i < 0 || i >= len(lists[0]) {
			return nil, fmt.Errorf("map index %d out of range", i)
		}
		m, ok := lists[0][i].(map[string]any)
		if !ok {
			return nil, fmt.Errorf("expand_kwargs element %d is %T, not a mapping of fields", i, lists[0][i])
		}
		for k, v := range m {
			out[k] = v
		}
		return out, nil
	}
	if len(lists) != len(e.Fields) {
		return nil, fmt.Errorf("%d lists for %d expanded fields", len(lists), len(e.Fields))
	}
	for j := len(e.Fields) - 1; j >= 0; j-- {
		n := len(lists[j])
		if n == 0 {
			return nil, fmt.Errorf("map index %d out of range", i)
		}
		out[e.Fields[j].Name] = lists[j][i%n]
		i /= n
	}
	if i != 0 {
		return nil, fmt.Errorf("map index out of range")
	}
	return out, nil
}

package airflowimport

import (
	"maps"
	"slices"
	"strings"
)

// mapping is a mapped task's .expand or .expand_kwargs as the shim saw
// it: the arguments in the order they were written and what each one is
// mapped over ("" for expand_kwargs' one argument).
type mapping struct {
	kwargs bool
	names  []string
	over   map[string]any
}

func mappingOf(t TaskIR) mapping {
	mp := mapping{kwargs: strings.HasSuffix(str(t.Mapping["how"]), "expand_kwargs")}
	mp.over, _ = t.Mapping["over"].(map[string]any)
	if l, ok := t.Mapping["names"].([]any); ok {
		for _, n := range l {
			if _, has := mp.over[str(n)]; has {
				mp.names = append(mp.names, str(n))
			}
		}
	}
	if len(mp.names) != len(mp.over) {
		mp.names = sortedKeys(mp.over)
	}
	return mp
}

// notExpandable says why a mapped task cannot be written with Sirocco's
// expand or expand_kwargs, or "" when it can; isField tells the fields of
// the task's Sirocco operator.
func notExpandable(t TaskIR, r opRule, isField func(string) bool) string {
	if str(t.Mapping["group"]) != "" {
		return "Sirocco does not map task groups"
	}
	if r.Callable != "" && r.Callable != "python" {
		return "Sirocco maps no branch or short-circuit task"
	}
	mp := mappingOf(t)
	if _, one := mp.over[""]; len(mp.over) == 0 || mp.kwargs && (!one || len(mp.over) != 1) {
		return "nothing to map over"
	}
	for _, k := range mp.names {
		v := mp.over[k]
		if why := unknownField(t, r, isField, k, v); why != "" {
			return why
		}
		if kind(v) == "xcomarg" {
			if why := xcomNotExpandable(t, r, mp, v); why != "" {
				return why
			}
			continue
		}
		l, ok := v.([]any)
		if !ok {
			return "Sirocco expands over a list or an upstream task's XCom, not " + describe(v)
		}
		for _, e := range l {
			if containsXCom(e) {
				return "a list holding XComArgs is not read at run time"
			}
			if _, isMap := e.(map[string]any); mp.kwargs && (!isMap || kind(e) != "") {
				return "expand_kwargs takes dicts, not " + describe(e)
			}
		}
	}
	return ""
}

// unknownField names a mapped argument of an operator (or a key of an
// expand_kwargs dict) that has no field in Sirocco's operator.
func unknownField(t TaskIR, r opRule, isField func(string) bool, k string, v any) string {
	if fnMapped(t, r) {
		return ""
	}
	names := []string{k}
	if k == "" {
		names = nil
		l, _ := v.([]any)
		for _, e := range l {
			if m, ok := e.(map[string]any); ok && kind(e) == "" {
				names = append(names, sortedKeys(m)...)
			}
		}
	}
	for _, n := range names {
		if !isField(rename(r, n)) {
			return "the mapped argument " + n + " has no field in Sirocco's " + r.Operator + " operator"
		}
	}
	return ""
}

// fnMapped tells whether a mapped task is a @task function, whose mapped
// names are the function's arguments (in its op_kwargs), not the
// operator's (a PythonOperator maps op_args or op_kwargs as they are).
func fnMapped(t TaskIR, r opRule) bool {
	return r.Callable == "python" && t.Decorator != ""
}

func xcomNotExpandable(t TaskIR, r opRule, mp mapping, v any) string {
	from := str(field(v, "task_id"))
	if d := str(field(v, "derived")); d != "" {
		return "XComArg." + d + "() of " + from + " makes its list at run time, which Sirocco does not"
	}
	if !fnMapped(t, r) {
		return ""
	}
	if !mp.kwargs {
		return "a python task expands only its whole op_kwargs, so one argument cannot take " + from +
			"'s XCom list element by element"
	}
	if kw, _ := t.Kwargs["op_kwargs"].(map[string]any); len(kw) > 0 {
		return "a python task expanding its op_kwargs over " + from + "'s XCom cannot also keep the partial() arguments"
	}
	return ""
}

// withoutMapped returns t with the mapped arguments taken out of its
// keyword arguments (or its function's op_kwargs), so they are converted
// as expand's lists rather than as plain values.
func withoutMapped(t TaskIR, r opRule) TaskIR {
	mp := mappingOf(t)
	kw := maps.Clone(t.Kwargs)
	if fnMapped(t, r) {
		ok, _ := kw["op_kwargs"].(map[string]any)
		ok = maps.Clone(ok)
		for k := range mp.over {
			delete(ok, k)
		}
		kw["op_kwargs"] = ok
	} else {
		for k := range mp.over {
			delete(kw, k)
		}
	}
	t.Kwargs = kw
	return t
}

// expandKey writes a convertible mapped task's expand or expand_kwargs
// into m. A python task expands its op_kwargs: the lists' cross product
// (last argument fastest, as Airflow) merged with the partial() arguments.
func (c *converter) expandKey(m omap, t TaskIR, r opRule, fields map[string]any) {
	mp := mappingOf(t)
	if fnMapped(t, r) {
		static, _ := fields["op_kwargs"].(map[string]any)
		delete(fields, "op_kwargs")
		ex := newMap()
		if mp.kwargs {
			ex.put("op_kwargs", c.pyKwargsList(t, mp.over[""], static))
		} else {
			ex.put("op_kwargs", c.pyProduct(t, mp, static))
		}
		m.put("expand", ex)
		return
	}
	if mp.kwargs {
		v := mp.over[""]
		if kind(v) == "xcomarg" {
			if len(r.Renames) > 0 {
				c.add(t.Loc, t.TaskID, "expand_kwargs over "+str(field(v, "task_id"))+"'s XCom: its dicts must name Sirocco's fields",
					"rename the keys the upstream task pushes: "+renamesText(r))
			}
			m.put("expand_kwargs", xcomSource(v))
			return
		}
		var out []any
		for _, e := range v.([]any) {
			el := map[string]any{}
			for k, x := range e.(map[string]any) {
				el[rename(r, k)] = c.fieldValue(t, rename(r, k), x)
			}
			out = append(out, el)
		}
		m.put("expand_kwargs", out)
		return
	}
	ex := newMap()
	for _, k := range mp.names {
		name := rename(r, k)
		v := mp.over[k]
		if kind(v) == "xcomarg" {
			ex.put(name, xcomSource(v))
			continue
		}
		var l []any
		for _, e := range v.([]any) {
			l = append(l, c.fieldValue(t, name, e))
		}
		ex.put(name, l)
	}
	m.put("expand", ex)
}

// pyProduct is the cross product of a python task's mapped argument lists,
// each element its whole op_kwargs.
func (c *converter) pyProduct(t TaskIR, mp mapping, static map[string]any) []any {
	out := []any{maps.Clone(static)}
	for _, k := range mp.names {
		var next []any
		for _, el := range out {
			for _, e := range mp.over[k].([]any) {
				n := maps.Clone(el.(map[string]any))
				if n == nil {
					n = map[string]any{}
				}
				n[k] = c.plainOr(t.Loc, t.TaskID, "op_kwargs."+k, e)
				next = append(next, n)
			}
		}
		out = next
	}
	return out
}

// pyKwargsList is a python task's expand_kwargs: an upstream XCom of
// dicts, or each literal dict over the partial() arguments.
func (c *converter) pyKwargsList(t TaskIR, v any, static map[string]any) any {
	if kind(v) == "xcomarg" {
		return xcomSource(v)
	}
	var out []any
	for _, e := range v.([]any) {
		n := maps.Clone(static)
		if n == nil {
			n = map[string]any{}
		}
		for k, x := range e.(map[string]any) {
			n[k] = c.plainOr(t.Loc, t.TaskID, "op_kwargs."+k, x)
		}
		out = append(out, n)
	}
	return out
}

func xcomSource(v any) omap {
	m := newMap()
	m.put("xcom", str(field(v, "task_id")))
	if k := str(field(v, "key")); k != "" && k != "return_value" {
		m.put("key", k)
	}
	return m
}

func renamesText(r opRule) string {
	var s []string
	for _, k := range sortedKeys(r.Renames) {
		s = append(s, k+" → "+r.Renames[k])
	}
	return strings.Join(slices.Clip(s), ", ")
}

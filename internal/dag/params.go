package dag

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// params decodes the params mapping: name -> default, or name -> {type,
// default, enum, description}. A mapping is always read as the object form,
// so an object default needs {type: object, default: {...}}.
func (l *loader) params(n *yaml.Node) map[string]Param {
	entries, _ := l.mapEntries(n, "params")
	out := make(map[string]Param, len(entries))
	for _, e := range entries {
		field := subField("params", e.name)
		if strings.TrimSpace(e.name) == "" {
			l.errAt(e.key, "params", "param name must not be empty")
			continue
		}
		if r := resolve(e.val); r == nil || r.Kind != yaml.MappingNode {
			if v, ok := l.value(e.val, field, false); ok {
				out[e.name] = Param{Default: v}
			}
			continue
		}
		if p, ok := l.param(e.val, field); ok {
			out[e.name] = p
		}
	}
	return out
}

func (l *loader) param(n *yaml.Node, field string) (Param, bool) {
	entries, _ := l.mapEntries(n, field)
	keys := l.known(entries, field, paramKeyNames)
	var p Param
	ok := true
	if e, set := set(keys, "type"); set {
		if s, good := l.str(e.val, field+".type"); !good {
			ok = false
		} else if !slices.Contains(paramTypes, s) {
			l.errAt(e.val, field+".type", "unknown param type %s%s; valid types: %s",
				quoteShort(s), l.hint(s, paramTypes), strings.Join(paramTypes, ", "))
			ok = false
		} else {
			p.Type = s
		}
	}
	if e, set := set(keys, "description"); set {
		p.Description, _ = l.str(e.val, field+".description")
	}
	if e, set := set(keys, "enum"); set {
		r := resolve(e.val)
		v, good := l.value(e.val, field+".enum", false)
		list, isList := v.([]any)
		switch {
		case !good:
			ok = false
		case !isList:
			l.typeErr(e.val, field+".enum", wantList)
			ok = false
		case len(list) == 0:
			l.errAt(e.val, field+".enum", "must list at least one value")
			ok = false
		default:
			for i, item := range list {
				norm, err := checkParamType(p.Type, item)
				if err != nil {
					l.errAt(r.Content[i], indexField(field+".enum", i), "%v", err)
					ok = false
				}
				list[i] = norm
			}
			p.Enum = list
		}
	}
	if e, set := set(keys, "default"); set {
		v, good := l.value(e.val, field+".default", false)
		if !good {
			return p, false
		}
		if err := p.check(v); err != nil {
			l.errAt(e.val, field+".default", "%v", err)
			return p, false
		}
		p.Default, _ = checkParamType(p.Type, v)
	}
	return p, ok
}

// ResolveParams merges a trigger's conf over the params' defaults, checking
// each given value against its param's type and enum, so that a run never
// starts with parameters its DAG does not accept. Conf keys that name no
// param are allowed (Airflow passes them through in dag_run.conf) but are
// not added to the result. A typed param with no default must be given.
// Numbers coming from JSON (float64, json.Number) are accepted for integer
// params when whole, and returned as int.
func (d *DAG) ResolveParams(conf map[string]any) (map[string]any, error) {
	out := make(map[string]any, len(d.Params))
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(d.Params)) {
		p := d.Params[name]
		v, given := conf[name]
		if !given {
			if p.Default == nil && p.Type != "" {
				errs = append(errs, fmt.Errorf("param %q: no value given and no default (expected %s)", name, typePhrase(p.Type)))
				continue
			}
			if p.Default == nil {
				// An enum without null admits no missing value either: the
				// null it would resolve to is refused when given.
				if err := p.check(nil); err != nil {
					errs = append(errs, fmt.Errorf("param %q: no value given and no default: %w", name, err))
					continue
				}
			}
			out[name] = deepCopy(p.Default)
			continue
		}
		if err := p.check(v); err != nil {
			errs = append(errs, fmt.Errorf("param %q: %w", name, err))
			continue
		}
		norm, _ := checkParamType(p.Type, v)
		out[name] = deepCopy(norm)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

// check validates v against the param's type and enum.
func (p Param) check(v any) error {
	norm, err := checkParamType(p.Type, v)
	if err != nil {
		return err
	}
	if len(p.Enum) > 0 && !slices.ContainsFunc(p.Enum, func(e any) bool { return sameValue(e, norm) }) {
		vals := make([]string, len(p.Enum))
		for i, e := range p.Enum {
			vals[i] = formatValue(e)
		}
		return fmt.Errorf("%s is not one of the allowed values: %s", formatValue(norm), strings.Join(vals, ", "))
	}
	return nil
}

func typePhrase(typ string) string {
	switch typ {
	case "integer":
		return wantInt
	case "number":
		return "a number"
	case "boolean":
		return wantBool
	case "array":
		return wantList
	case "object":
		return wantMapping
	}
	return wantString
}

// checkParamType returns v in canonical form for typ (whole numbers as int
// for "integer", lists as []any, objects as map[string]any) or an error.
func checkParamType(typ string, v any) (any, error) {
	bad := func() (any, error) {
		return nil, fmt.Errorf("expected %s, got %s", typePhrase(typ), describeValue(v))
	}
	switch typ {
	case "":
		return v, nil
	case "string":
		if s, ok := v.(string); ok {
			return s, nil
		}
	case "integer":
		switch i := v.(type) {
		case int:
			return i, nil
		case int64:
			return int(i), nil
		case json.Number:
			if n, err := i.Int64(); err == nil {
				return int(n), nil
			}
		}
		if f, ok := toFloat(v); ok && f == math.Trunc(f) && math.Abs(f) <= 1<<53 {
			return int(f), nil
		}
	case "number":
		if n, ok := v.(json.Number); ok {
			f, _ := n.Float64()
			return f, nil
		}
		if _, ok := toFloat(v); ok {
			return v, nil
		}
	case "boolean":
		if b, ok := v.(bool); ok {
			return b, nil
		}
	case "array":
		if rv := reflect.ValueOf(v); v != nil && rv.Kind() == reflect.Slice {
			out := make([]any, rv.Len())
			for i := range out {
				out[i] = rv.Index(i).Interface()
			}
			return out, nil
		}
	case "object":
		if rv := reflect.ValueOf(v); v != nil && rv.Kind() == reflect.Map && rv.Type().Key().Kind() == reflect.String {
			out := make(map[string]any, rv.Len())
			for it := rv.MapRange(); it.Next(); {
				out[it.Key().String()] = it.Value().Interface()
			}
			return out, nil
		}
	}
	return bad()
}

// toFloat reads any Go number, including json.Number, as a float64.
func toFloat(v any) (float64, bool) {
	switch n := v.(type) {
	case int:
		return float64(n), true
	case int8:
		return float64(n), true
	case int16:
		return float64(n), true
	case int32:
		return float64(n), true
	case int64:
		return float64(n), true
	case uint:
		return float64(n), true
	case uint8:
		return float64(n), true
	case uint16:
		return float64(n), true
	case uint32:
		return float64(n), true
	case uint64:
		return float64(n), true
	case float32:
		return float64(n), true
	case float64:
		return n, !math.IsNaN(n) && !math.IsInf(n, 0)
	case json.Number:
		f, err := n.Float64()
		return f, err == nil
	}
	return 0, false
}

// sameValue compares as JSON does: 1 and 1.0 are equal.
func sameValue(a, b any) bool {
	fa, okA := toFloat(a)
	fb, okB := toFloat(b)
	if okA || okB {
		return okA && okB && fa == fb
	}
	return reflect.DeepEqual(a, b)
}

// describeValue names a Go value's JSON type and value for messages.
func describeValue(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		return "string " + quoteShort(x)
	case bool:
		return "boolean " + strconv.FormatBool(x)
	}
	if f, ok := toFloat(v); ok {
		if f == math.Trunc(f) && math.Abs(f) < 1e15 {
			return "integer " + strconv.FormatFloat(f, 'f', -1, 64)
		}
		return "number " + strconv.FormatFloat(f, 'g', -1, 64)
	}
	switch reflect.ValueOf(v).Kind() {
	case reflect.Slice, reflect.Array:
		return "a list"
	case reflect.Map, reflect.Struct:
		return "a mapping"
	}
	return fmt.Sprintf("%T", v)
}

func formatValue(v any) string {
	if s, ok := v.(string); ok {
		return quoteShort(s)
	}
	if b, err := json.Marshal(v); err == nil {
		return string(b)
	}
	return fmt.Sprint(v)
}

// deepCopy copies lists and maps so that a run's params never alias the
// DAG's defaults, which must stay immutable.
func deepCopy(v any) any {
	switch x := v.(type) {
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = deepCopy(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = deepCopy(e)
		}
		return out
	}
	return v
}

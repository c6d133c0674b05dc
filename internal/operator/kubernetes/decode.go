package kubernetes

import (
	"bytes"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// decodeObject reads a field holding a Kubernetes object (affinity,
// tolerations, volumes, ...) into out, a pointer to the client-go type.
// Keys may be the API's camelCase (nodeAffinity, mountPath) or the
// snake_case of Airflow's Python client (node_affinity, mount_path); keys
// of maps (labels in a selector) are kept as written. Scalars are
// converted where YAML and the API disagree (a number where a string is
// expected). Errors name the path of the offending key.
func decodeObject(field string, v any, out any) error {
	t := reflect.TypeOf(out)
	if t.Kind() != reflect.Pointer {
		panic("decodeObject: out must be a pointer")
	}
	norm, err := normalize(v, t.Elem(), field, 0)
	if err != nil {
		return err
	}
	b, err := json.Marshal(norm)
	if err != nil {
		return fmt.Errorf("%s: %w", field, err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(out); err != nil {
		return fmt.Errorf("%s: %s", field, jsonError(err))
	}
	return nil
}

// maxDepth bounds the nesting of an object: Kubernetes' deepest (an
// affinity's expressions) is under 10.
const maxDepth = 24

var (
	jsonUnmarshaler = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// custom reports a type that reads its own JSON (resource.Quantity,
// intstr.IntOrString, metav1.Time): its value is passed as written.
func custom(t reflect.Type) bool {
	p := reflect.PointerTo(t)
	return t.Implements(jsonUnmarshaler) || p.Implements(jsonUnmarshaler) || p.Implements(textUnmarshaler)
}

// normalize rewrites v, decoded from YAML, into the JSON shape of type t.
func normalize(v any, t reflect.Type, path string, depth int) (any, error) {
	if v == nil {
		return nil, nil
	}
	if depth > maxDepth {
		return nil, fmt.Errorf("%s: nested deeper than %d levels", path, maxDepth)
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if custom(t) {
		return v, nil
	}
	switch t.Kind() {
	case reflect.Struct:
		return normalizeStruct(v, t, path, depth)
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			return toString(v, path) // []byte: base64 text
		}
		items, ok := v.([]any)
		if !ok {
			return nil, fmt.Errorf("%s: expected a list, got %s", path, describe(v))
		}
		out := make([]any, len(items))
		for i, it := range items {
			n, err := normalize(it, t.Elem(), fmt.Sprintf("%s[%d]", path, i), depth+1)
			if err != nil {
				return nil, err
			}
			out[i] = n
		}
		return out, nil
	case reflect.Map:
		m, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%s: expected a mapping, got %s", path, describe(v))
		}
		out := make(map[string]any, len(m))
		for _, k := range slices.Sorted(maps.Keys(m)) {
			n, err := normalize(m[k], t.Elem(), path+"."+k, depth+1)
			if err != nil {
				return nil, err
			}
			out[k] = n
		}
		return out, nil
	case reflect.String:
		return toString(v, path)
	case reflect.Bool:
		return toBool(v, path)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return toInt(v, path)
	case reflect.Float32, reflect.Float64:
		return toFloat(v, path)
	case reflect.Interface:
		return v, nil
	}
	return nil, fmt.Errorf("%s: cannot read a %s", path, t)
}

// normalizeStruct maps each key of v to a JSON field of t, by its exact
// name or by its letters alone (node_affinity, NodeAffinity and
// nodeAffinity are one key).
func normalizeStruct(v any, t reflect.Type, path string, depth int) (any, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s: expected a mapping, got %s", path, describe(v))
	}
	fs := fieldsOf(t)
	out := make(map[string]any, len(m))
	from := make(map[string]string, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		name, ok := fs.byName[k]
		if !ok {
			name, ok = fs.byLoose[looseKey(k)]
		}
		if !ok {
			return nil, fmt.Errorf("%s: unknown key %q (expected one of %s)", path, k, strings.Join(fs.names, ", "))
		}
		if prev, dup := from[name]; dup {
			return nil, fmt.Errorf("%s: keys %q and %q are the same field %s", path, prev, k, name)
		}
		n, err := normalize(m[k], fs.types[name], path+"."+k, depth+1)
		if err != nil {
			return nil, err
		}
		out[name], from[name] = n, k
	}
	return out, nil
}

// structFields are a struct type's JSON fields (inline ones included).
type structFields struct {
	names   []string                // sorted JSON names
	byName  map[string]string       // JSON name → JSON name
	byLoose map[string]string       // looseKey → JSON name
	types   map[string]reflect.Type // JSON name → type
}

var fieldCache sync.Map // reflect.Type → *structFields

func fieldsOf(t reflect.Type) *structFields {
	if f, ok := fieldCache.Load(t); ok {
		return f.(*structFields)
	}
	fs := &structFields{byName: map[string]string{}, byLoose: map[string]string{}, types: map[string]reflect.Type{}}
	collectFields(t, fs)
	for name := range fs.types {
		fs.names = append(fs.names, name)
	}
	slices.Sort(fs.names)
	fieldCache.Store(t, fs)
	return fs
}

func collectFields(t reflect.Type, fs *structFields) {
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("json")
		name, opts, _ := strings.Cut(tag, ",")
		if name == "-" {
			continue
		}
		if name == "" && (f.Anonymous || strings.Contains(opts, "inline")) {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				collectFields(ft, fs)
				continue
			}
		}
		if name == "" {
			name = f.Name
		}
		fs.types[name] = f.Type
		fs.byName[name] = name
		fs.byLoose[looseKey(name)] = name
	}
}

// looseKey is a key without case, '_' and '-', plus a leading '_'
// dropped (Airflow's Python client names the probe's exec _exec).
func looseKey(k string) string {
	var b strings.Builder
	for _, r := range strings.TrimLeft(k, "_") {
		if r == '_' || r == '-' {
			continue
		}
		b.WriteString(strings.ToLower(string(r)))
	}
	return b.String()
}

func toString(v any, path string) (any, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case int, int64, bool:
		return fmt.Sprint(x), nil
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), nil
	}
	return nil, fmt.Errorf("%s: expected a string, got %s", path, describe(v))
}

func toBool(v any, path string) (any, error) {
	switch x := v.(type) {
	case bool:
		return x, nil
	case string:
		if b, err := strconv.ParseBool(x); err == nil {
			return b, nil
		}
	}
	return nil, fmt.Errorf("%s: expected true or false, got %s", path, describe(v))
}

func toInt(v any, path string) (any, error) {
	switch x := v.(type) {
	case int:
		return x, nil
	case int64:
		return x, nil
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1<<53 {
			return int64(x), nil
		}
	case string:
		if n, err := strconv.ParseInt(strings.TrimSpace(x), 10, 64); err == nil {
			return n, nil
		}
	}
	return nil, fmt.Errorf("%s: expected an integer, got %s", path, describe(v))
}

func toFloat(v any, path string) (any, error) {
	switch x := v.(type) {
	case int:
		return x, nil
	case int64:
		return x, nil
	case float64:
		if !math.IsInf(x, 0) && !math.IsNaN(x) {
			return x, nil
		}
	case string:
		if f, err := strconv.ParseFloat(strings.TrimSpace(x), 64); err == nil && !math.IsInf(f, 0) && !math.IsNaN(f) {
			return f, nil
		}
	}
	return nil, fmt.Errorf("%s: expected a number, got %s", path, describe(v))
}

// describe names a decoded value's kind for messages, quoting short
// scalars.
func describe(v any) string {
	switch x := v.(type) {
	case nil:
		return "nothing"
	case map[string]any:
		return "a mapping"
	case []any:
		return "a list"
	case string:
		if len(x) > 40 {
			return fmt.Sprintf("the string %.40q...", x)
		}
		return fmt.Sprintf("the string %q", x)
	case bool:
		return fmt.Sprintf("the boolean %v", x)
	case int, int64, float64:
		return fmt.Sprintf("the number %v", x)
	}
	return fmt.Sprintf("a %T", v)
}

// jsonError words a decoding error of a normalized value (a bad
// quantity, a wrong type inside a custom value) without Go type names
// where it can.
func jsonError(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Sprintf("%s: expected %s, got a JSON %s", te.Field, te.Type, te.Value)
	}
	return err.Error()
}

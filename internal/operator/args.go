package operator

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Args reads rendered operator fields. The loader has validated their types,
// so these accessors only convert between YAML's equivalent shapes.
type Args map[string]any

// String returns a string field, or def when absent.
func (a Args) String(name, def string) string {
	v, ok := a[name]
	if !ok || v == nil {
		return def
	}
	return fmt.Sprint(v)
}

// Bool returns a boolean field, or def when absent.
func (a Args) Bool(name string, def bool) bool {
	switch v := a[name].(type) {
	case bool:
		return v
	case string:
		b, err := strconv.ParseBool(v)
		if err == nil {
			return b
		}
	}
	return def
}

// Int returns an integer field, or def when absent.
func (a Args) Int(name string, def int) int {
	switch v := a[name].(type) {
	case int:
		return v
	case int64:
		return int(v)
	case float64:
		return int(v)
	case string:
		if n, err := strconv.Atoi(v); err == nil {
			return n
		}
	}
	return def
}

// Strings returns a list field; a single scalar becomes a one-item list.
func (a Args) Strings(name string) []string {
	switch v := a[name].(type) {
	case nil:
		return nil
	case []string:
		return v
	case []any:
		out := make([]string, len(v))
		for i, x := range v {
			out[i] = fmt.Sprint(x)
		}
		return out
	default:
		return []string{fmt.Sprint(v)}
	}
}

// Ints returns a list of integers (e.g. exit codes).
func (a Args) Ints(name string) ([]int, bool) {
	v, ok := a[name]
	if !ok || v == nil {
		return nil, false
	}
	var items []any
	switch x := v.(type) {
	case []any:
		items = x
	default:
		items = []any{x}
	}
	out := make([]int, 0, len(items))
	for _, it := range items {
		out = append(out, Args{"v": it}.Int("v", 0))
	}
	return out, true
}

// StringMap returns a map field with values as strings.
func (a Args) StringMap(name string) map[string]string {
	switch v := a[name].(type) {
	case map[string]string:
		return v
	case map[string]any:
		out := make(map[string]string, len(v))
		for k, x := range v {
			out[k] = fmt.Sprint(x)
		}
		return out
	}
	return nil
}

// Duration returns a duration field given as Go syntax, "Nd" or seconds.
func (a Args) Duration(name string, def time.Duration) time.Duration {
	switch v := a[name].(type) {
	case int:
		return time.Duration(v) * time.Second
	case float64:
		return time.Duration(v * float64(time.Second))
	case string:
		if d, err := time.ParseDuration(v); err == nil {
			return d
		}
		if n, err := strconv.ParseFloat(v, 64); err == nil {
			return time.Duration(n * float64(time.Second))
		}
		if days, rest, ok := strings.Cut(v, "d"); ok {
			n, err := strconv.Atoi(days)
			extra := time.Duration(0)
			if err == nil && rest != "" {
				extra, err = time.ParseDuration(rest)
			}
			if err == nil {
				return time.Duration(n)*24*time.Hour + extra
			}
		}
	}
	return def
}

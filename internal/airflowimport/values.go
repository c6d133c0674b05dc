package airflowimport

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// kind is the "__kind__" of a value the shim encoded (timedelta, datetime,
// xcomarg, param, asset, object, callable, repr), "" for plain JSON.
func kind(v any) string {
	m, ok := v.(map[string]any)
	if !ok {
		return ""
	}
	k, _ := m["__kind__"].(string)
	return k
}

func field(v any, name string) any {
	if m, ok := v.(map[string]any); ok {
		return m[name]
	}
	return nil
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

func number(v any) (float64, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, false
	}
	f, err := n.Float64()
	return f, err == nil
}

// duration writes seconds as Sirocco's duration: 5m, 2h, 90s, 1500ms.
func duration(seconds float64) string {
	if math.IsNaN(seconds) || math.IsInf(seconds, 0) || seconds < 0 || seconds > 1e9 {
		return fmt.Sprint(seconds)
	}
	if seconds != math.Trunc(seconds) {
		return strconv.FormatInt(int64(math.Round(seconds*1000)), 10) + "ms"
	}
	s := int64(seconds)
	switch {
	case s > 0 && s%3600 == 0:
		return strconv.FormatInt(s/3600, 10) + "h"
	case s > 0 && s%60 == 0:
		return strconv.FormatInt(s/60, 10) + "m"
	}
	return strconv.FormatInt(s, 10) + "s"
}

// durationValue converts a timedelta or a number of seconds.
func durationValue(v any) (string, error) {
	if kind(v) == "timedelta" {
		if f, ok := number(field(v, "seconds")); ok {
			return duration(f), nil
		}
	}
	if f, ok := number(v); ok {
		return duration(f), nil
	}
	if s, ok := v.(string); ok {
		return s, nil
	}
	return "", fmt.Errorf("expected a timedelta or seconds, got %s", describe(v))
}

// dateValue converts a datetime to YYYY-MM-DD when it is midnight, else
// RFC 3339, and returns its IANA zone ("" for UTC or none).
func dateValue(v any) (date, zone string, err error) {
	if kind(v) != "datetime" {
		if s, ok := v.(string); ok {
			return s, "", nil
		}
		return "", "", fmt.Errorf("expected a datetime, got %s", describe(v))
	}
	iso, zone := str(field(v, "iso")), str(field(v, "tz"))
	if zone == "UTC" || zone == "Etc/UTC" {
		zone = ""
	}
	if len(iso) == 10 {
		return iso, zone, nil
	}
	t, perr := time.Parse("2006-01-02T15:04:05.999999999Z07:00", iso)
	if perr != nil {
		t, perr = time.Parse("2006-01-02T15:04:05.999999999", iso)
	}
	if perr != nil {
		return "", "", fmt.Errorf("date %q: %w", iso, perr)
	}
	if t.Hour() == 0 && t.Minute() == 0 && t.Second() == 0 && t.Nanosecond() == 0 {
		return t.Format("2006-01-02"), zone, nil
	}
	return t.Format(time.RFC3339), zone, nil
}

// instantValue converts a datetime to one instant: YYYY-MM-DD for
// midnight UTC (or a naive midnight, which Airflow reads as UTC), else
// RFC 3339 with its offset, so a zone's midnight keeps its zone.
func instantValue(v any) (string, error) {
	iso := str(field(v, "iso"))
	if len(iso) == 10 {
		return iso, nil
	}
	t, err := time.Parse(time.RFC3339Nano, iso)
	if err != nil {
		t, err = time.Parse("2006-01-02T15:04:05.999999999", iso)
	}
	if err != nil {
		return "", fmt.Errorf("date %q: %w", iso, err)
	}
	if _, off := t.Zone(); off == 0 && t.Equal(t.Truncate(24*time.Hour)) {
		return t.Format("2006-01-02"), nil
	}
	return t.Format(time.RFC3339Nano), nil
}

// xcomTemplate is the template that pulls an XComArg's value.
func xcomTemplate(v any, filter string) string {
	key := str(field(v, "key"))
	arg := fmt.Sprintf("task_ids='%s'", str(field(v, "task_id")))
	if key != "" && key != "return_value" {
		arg += fmt.Sprintf(", key='%s'", key)
	}
	return "{{ ti.xcom_pull(" + arg + ")" + filter + " }}"
}

// plain converts an encoded value to plain YAML data: XComArgs become
// templates, timedeltas durations, datetimes strings, recorded objects
// (kubernetes.client models) their keyword arguments. A value with no
// YAML form (a function, an Asset, an arbitrary object) is an error.
func plain(v any) (any, error) {
	switch kind(v) {
	case "":
	case "xcomarg":
		return xcomTemplate(v, ""), nil
	case "timedelta":
		return durationValue(v)
	case "datetime":
		return str(field(v, "iso")), nil
	case "object":
		kw, _ := field(v, "kwargs").(map[string]any)
		if args, _ := field(v, "args").([]any); len(args) > 0 {
			return nil, fmt.Errorf("%s(...) with positional arguments has no YAML form", str(field(v, "class")))
		}
		return plain(kw)
	default:
		return nil, fmt.Errorf("%s has no YAML form", describe(v))
	}
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			p, err := plain(e)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
			out[k] = p
		}
		return out, nil
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			p, err := plain(e)
			if err != nil {
				return nil, fmt.Errorf("[%d]: %w", i, err)
			}
			out[i] = p
		}
		return out, nil
	}
	return v, nil
}

// describe names an encoded value for a message.
func describe(v any) string {
	switch kind(v) {
	case "callable":
		return "a Python function (" + str(field(v, "name")) + ")"
	case "asset":
		return "an Asset (" + str(field(v, "uri")) + ")"
	case "object":
		return "a " + str(field(v, "class")) + " object"
	case "repr":
		return "the Python value " + truncate(str(field(v, "repr")), 80)
	case "param":
		return "a Param"
	case "":
		if l, ok := v.([]any); ok && len(l) > 0 && kind(l[0]) != "" {
			return "[" + describe(l[0]) + ", ...]"
		}
		b, _ := json.Marshal(redactValue(v))
		return truncate(string(b), 80)
	}
	return "a " + kind(v)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// sortedKeys returns a map's keys in order, for stable output.
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// pyIdent turns a DAG id into a Python module name.
func pyIdent(s string) string {
	var b strings.Builder
	for i, r := range s {
		ok := r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' && i > 0
		if ok {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}

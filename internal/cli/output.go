package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"go.yaml.in/yaml/v3"
)

// table is a listing: columns for humans, records for json/yaml.
type table struct {
	headers []string
	rows    [][]string
	records []map[string]any
}

func (t *table) add(rec map[string]any) {
	row := make([]string, len(t.headers))
	for i, h := range t.headers {
		row[i] = cell(rec[h])
	}
	t.rows = append(t.rows, row)
	t.records = append(t.records, rec)
}

func cell(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case time.Time:
		if x.IsZero() {
			return ""
		}
		return x.UTC().Format(time.RFC3339)
	case []string:
		return strings.Join(x, ",")
	default:
		return fmt.Sprint(x)
	}
}

// print writes the listing in the chosen output format.
func (a *app) print(t *table) error {
	switch a.output {
	case "json":
		recs := t.records
		if recs == nil {
			recs = []map[string]any{}
		}
		enc := json.NewEncoder(a.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(normalise(recs))
	case "yaml":
		return yaml.NewEncoder(a.stdout).Encode(normalise(t.records))
	case "table", "":
		w := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, strings.ToUpper(strings.Join(t.headers, "\t")))
		for _, r := range t.rows {
			fmt.Fprintln(w, strings.Join(r, "\t"))
		}
		return w.Flush()
	default:
		return fmt.Errorf("unknown output format %q (expected table, json or yaml)", a.output)
	}
}

// normalise turns times into RFC 3339 strings (null when zero) for json/yaml.
func normalise(recs []map[string]any) []map[string]any {
	out := make([]map[string]any, len(recs))
	for i, r := range recs {
		m := make(map[string]any, len(r))
		for k, v := range r {
			if t, ok := v.(time.Time); ok {
				if t.IsZero() {
					v = nil
				} else {
					v = t.UTC().Format(time.RFC3339Nano)
				}
			}
			m[k] = v
		}
		out[i] = m
	}
	return out
}

// decodeJSON decodes a stored JSON value (a handle) for printing, keeping
// integers integers: decoded as float64 they would print as 1.448965e+06 in
// YAML.
func decodeJSON(b []byte) (any, bool) {
	if len(b) == 0 {
		return nil, false
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if dec.Decode(&v) != nil {
		return nil, false
	}
	return numbers(v), true
}

func numbers(v any) any {
	switch x := v.(type) {
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i
		}
		f, _ := x.Float64()
		return f
	case map[string]any:
		for k, e := range x {
			x[k] = numbers(e)
		}
	case []any:
		for i, e := range x {
			x[i] = numbers(e)
		}
	}
	return v
}

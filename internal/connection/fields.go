package connection

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
)

// fieldNames are the keys of the object form, Airflow's Connection fields
// (plus uri, which Airflow's import also takes, and extra_dejson, the name
// under which Airflow shows a decoded extra).
var fieldNames = []string{
	"conn_id", "conn_type", "description", "host", "login", "password", "schema", "port",
	"extra", "extra_dejson", "uri",
}

// FromJSON reads the JSON object form of a connection, as Airflow's
// Connection.from_json and AIRFLOW_CONN_* JSON values:
//
//	{"conn_type": "ssh", "host": "edge", "port": 22, "login": "spark",
//	 "extra": {"key_file": "/k"}}
//
// extra may also be a JSON string holding an object. id names the result.
func FromJSON(id string, data []byte) (Connection, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return Connection{}, fmt.Errorf("connection %s: JSON: %w", id, err)
	}
	if dec.More() {
		return Connection{}, fmt.Errorf("connection %s: JSON: text after the object", id)
	}
	return FromFields(id, m)
}

// FromFields builds a connection from a decoded JSON or YAML object with
// Airflow's field names (see FromJSON). An object with "uri" takes
// everything from it, except description. Unknown keys are errors, so a
// typo does not silently drop a setting.
func FromFields(id string, m map[string]any) (Connection, error) {
	c, err := fromFields(id, m)
	if err != nil {
		return Connection{}, fmt.Errorf("connection %s: %w", id, err)
	}
	return c, nil
}

func fromFields(id string, m map[string]any) (Connection, error) {
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if !slices.Contains(fieldNames, k) {
			return Connection{}, fmt.Errorf("unknown field %q (expected one of %s)", k, strings.Join(fieldNames, ", "))
		}
	}
	str := func(key string) (string, error) {
		switch v := m[key].(type) {
		case nil:
			return "", nil
		case string:
			return v, nil
		default:
			return "", fmt.Errorf("%s must be a string, got %v (quote it)", key, typeName(v))
		}
	}
	var c Connection
	if v, ok := m["conn_id"]; ok && v != id {
		return Connection{}, fmt.Errorf("conn_id %v does not match the id %q it is filed under", v, id)
	}
	desc, err := str("description")
	if err != nil {
		return Connection{}, err
	}
	if uri, err := str("uri"); err != nil {
		return Connection{}, err
	} else if uri != "" {
		for k := range m {
			if k != "uri" && k != "description" && k != "conn_id" {
				return Connection{}, fmt.Errorf("uri cannot be combined with %s: put everything in the URI", k)
			}
		}
		c, err := Parse(uri)
		if err != nil {
			return Connection{}, err
		}
		c.ID, c.Description = id, desc
		return c, c.Validate()
	}

	c = Connection{ID: id, Description: desc}
	for key, dst := range map[string]*string{
		"conn_type": &c.Type, "host": &c.Host, "login": &c.Login, "password": &c.Password, "schema": &c.Schema,
	} {
		if *dst, err = str(key); err != nil {
			return Connection{}, err
		}
	}
	if c.Type == "" {
		return Connection{}, fmt.Errorf("conn_type is required")
	}
	c.Type = NormalizeType(c.Type)
	if c.Port, err = portValue(m["port"]); err != nil {
		return Connection{}, err
	}
	if _, both := m["extra_dejson"]; both && m["extra"] != nil {
		return Connection{}, fmt.Errorf("give extra or extra_dejson, not both")
	}
	extra := m["extra"]
	if extra == nil {
		extra = m["extra_dejson"]
	}
	if c.Extra, err = extraValue(extra); err != nil {
		return Connection{}, err
	}
	return c, c.Validate()
}

// portValue reads a port given as a number or a string of digits.
func portValue(v any) (int, error) {
	var n int64
	switch p := v.(type) {
	case nil:
		return 0, nil
	case int:
		n = int64(p)
	case int64:
		n = p
	case uint64:
		if p > 65535 {
			return 0, fmt.Errorf("port %d is outside 0..65535", p)
		}
		n = int64(p)
	case float64:
		if p != math.Trunc(p) || p < 0 || p > 65535 {
			return 0, fmt.Errorf("port %v is not an integer in 0..65535", p)
		}
		n = int64(p)
	case json.Number:
		i, err := p.Int64()
		if err != nil {
			return 0, fmt.Errorf("port %s is not an integer", p)
		}
		n = i
	case string:
		if p == "" {
			return 0, nil
		}
		i, err := strconv.ParseInt(p, 10, 32)
		if err != nil {
			return 0, fmt.Errorf("port %q is not an integer", p)
		}
		n = i
	default:
		return 0, fmt.Errorf("port must be a number, got %s", typeName(v))
	}
	if n < 0 || n > 65535 {
		return 0, fmt.Errorf("port %d is outside 0..65535", n)
	}
	return int(n), nil
}

// extraValue reads extra given as an object or as a JSON string holding
// one (Airflow stores it as text). Values that are not strings keep their
// compact JSON text.
func extraValue(v any) (map[string]string, error) {
	switch e := v.(type) {
	case nil:
		return nil, nil
	case string:
		return decodeExtraJSON([]byte(e))
	case map[string]any:
		if len(e) == 0 {
			return nil, nil
		}
		out := make(map[string]string, len(e))
		for k, x := range e {
			if s, ok := x.(string); ok {
				out[k] = s
				continue
			}
			b, err := json.Marshal(x)
			if err != nil {
				return nil, fmt.Errorf("extra %q: %w", k, err)
			}
			out[k] = string(b)
		}
		return out, nil
	default:
		return nil, fmt.Errorf("extra must be an object or a JSON string, got %s", typeName(v))
	}
}

func typeName(v any) string {
	switch v.(type) {
	case map[string]any:
		return "an object"
	case []any:
		return "a list"
	case bool:
		return "a boolean"
	case json.Number, int, int64, uint64, float64:
		return "a number"
	}
	return fmt.Sprintf("%T", v)
}

// Fields returns c in the object form FromFields reads, without conn_id
// (files key connections by id) and without empty fields.
func (c Connection) Fields() map[string]any {
	m := map[string]any{"conn_type": c.Type}
	for k, v := range map[string]string{
		"description": c.Description, "host": c.Host, "login": c.Login, "password": c.Password, "schema": c.Schema,
	} {
		if v != "" {
			m[k] = v
		}
	}
	if c.Port != 0 {
		m["port"] = c.Port
	}
	if len(c.Extra) > 0 {
		m["extra"] = maps.Clone(c.Extra)
	}
	return m
}

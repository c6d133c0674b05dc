package connection

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// FileFormat is the format of a connections file, as Airflow's
// `connections import|export`.
type FileFormat string

// File formats. JSON and YAML map each id to a URI string or to an object
// of fields; env has one ID=URI (or ID=JSON object) per line.
const (
	FormatJSON FileFormat = "json"
	FormatYAML FileFormat = "yaml"
	FormatEnv  FileFormat = "env"
)

// FormatOf picks a file's format from its extension, or from format when
// that is not empty (needed for "-", standard input or output).
func FormatOf(path, format string) (FileFormat, error) {
	if format == "" {
		if path == "-" {
			return "", fmt.Errorf("-: give --file-format (json, yaml or env) to read or write standard streams")
		}
		format = strings.TrimPrefix(strings.ToLower(filepath.Ext(path)), ".")
	}
	switch strings.ToLower(format) {
	case "json":
		return FormatJSON, nil
	case "yaml", "yml":
		return FormatYAML, nil
	case "env":
		return FormatEnv, nil
	}
	return "", fmt.Errorf("%s: unknown connections file format %q (use .json, .yaml, .yml or .env, or --file-format)", path, format)
}

// DecodeFile reads the connections of a file, sorted by id. Every
// connection is validated; a duplicate id is an error.
func DecodeFile(data []byte, f FileFormat) ([]Connection, error) {
	var conns []Connection
	var err error
	switch f {
	case FormatJSON, FormatYAML:
		conns, err = decodeMap(data, f)
	case FormatEnv:
		conns, err = decodeEnv(data)
	default:
		err = fmt.Errorf("unknown connections file format %q", f)
	}
	if err != nil {
		return nil, err
	}
	slices.SortFunc(conns, func(a, b Connection) int { return cmp.Compare(a.ID, b.ID) })
	return conns, nil
}

func decodeMap(data []byte, f FileFormat) ([]Connection, error) {
	var m map[string]any
	if f == FormatJSON {
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		if err := dec.Decode(&m); err != nil {
			return nil, fmt.Errorf("JSON: expected an object of connection id to URI or fields: %w", err)
		}
	} else if err := yaml.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("YAML: expected a mapping of connection id to URI or fields: %w", err)
	}
	conns := make([]Connection, 0, len(m))
	for id, v := range m {
		if err := ValidateID(id); err != nil {
			return nil, err
		}
		var c Connection
		var err error
		switch x := v.(type) {
		case string:
			c, err = Parse(x)
			c.ID = id
			if err == nil {
				err = c.Validate()
			}
			if err != nil {
				err = fmt.Errorf("connection %s: %w", id, err)
			}
		case map[string]any:
			c, err = FromFields(id, x)
		default:
			err = fmt.Errorf("connection %s: expected a URI string or an object of fields, got %s", id, typeName(v))
		}
		if err != nil {
			return nil, err
		}
		conns = append(conns, c)
	}
	return conns, nil
}

func decodeEnv(data []byte) ([]Connection, error) {
	var conns []Connection
	seen := map[string]int{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		id, v, ok := strings.Cut(text, "=")
		id = strings.TrimSpace(id)
		if !ok {
			return nil, fmt.Errorf("line %d: expected ID=URI", line)
		}
		if err := ValidateID(id); err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		if prev, dup := seen[id]; dup {
			return nil, fmt.Errorf("line %d: connection %s is already defined on line %d", line, id, prev)
		}
		seen[id] = line
		c, err := parseValue(id, v)
		if err == nil {
			err = c.Validate()
		}
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		conns = append(conns, c)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read env file: %w", err)
	}
	return conns, nil
}

// EncodeFile writes connections in format f, as DecodeFile reads them back:
// an object of fields per id for JSON and YAML, ID=URI lines for env.
// Callers redact first unless secrets are meant to be exported.
func EncodeFile(conns []Connection, f FileFormat) ([]byte, error) {
	switch f {
	case FormatJSON, FormatYAML:
		m := make(map[string]map[string]any, len(conns))
		for _, c := range conns {
			m[c.ID] = c.Fields()
		}
		if f == FormatYAML {
			var b bytes.Buffer
			enc := yaml.NewEncoder(&b)
			enc.SetIndent(2)
			if err := enc.Encode(m); err != nil {
				return nil, fmt.Errorf("encode YAML: %w", err)
			}
			if err := enc.Close(); err != nil {
				return nil, fmt.Errorf("encode YAML: %w", err)
			}
			return b.Bytes(), nil
		}
		b, err := json.MarshalIndent(m, "", "  ")
		if err != nil {
			return nil, fmt.Errorf("encode JSON: %w", err)
		}
		return append(b, '\n'), nil
	case FormatEnv:
		var b bytes.Buffer
		for _, c := range conns {
			if c.Description == "" {
				fmt.Fprintf(&b, "%s=%s\n", c.ID, c.URI())
				continue
			}
			// A URI has no room for the description: write the JSON form.
			j, err := json.Marshal(c.Fields())
			if err != nil {
				return nil, fmt.Errorf("encode connection %s: %w", c.ID, err)
			}
			fmt.Fprintf(&b, "%s=%s\n", c.ID, j)
		}
		return b.Bytes(), nil
	}
	return nil, fmt.Errorf("unknown connections file format %q", f)
}

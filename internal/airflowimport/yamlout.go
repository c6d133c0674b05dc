package airflowimport

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"

	"go.yaml.in/yaml/v3"
)

// omap is a YAML mapping that keeps the order keys were put in, so that
// the output reads as a hand-written DAG (id, operator, depends_on, ...).
type omap struct{ node *yaml.Node }

func newMap() omap { return omap{&yaml.Node{Kind: yaml.MappingNode}} }

// put appends key: value; a nil value is left out.
func (m omap) put(key string, v any) {
	if v == nil {
		return
	}
	m.node.Content = append(m.node.Content, scalarNode(key), toNode(v))
}

// comment sets the comment written above key (the last key put).
func (m omap) commentLast(text string) {
	if n := len(m.node.Content); n >= 2 && text != "" {
		m.node.Content[n-2].HeadComment = text
	}
}

func (m omap) len() int { return len(m.node.Content) / 2 }

func scalarNode(s string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s}
}

// toNode converts plain data (strings, json.Number, bool, nil, lists, maps
// with sorted keys, omaps) to a node; lists of scalars are written inline.
func toNode(v any) *yaml.Node {
	switch x := v.(type) {
	case omap:
		return x.node
	case *yaml.Node:
		return x
	case string:
		return scalarNode(x)
	case json.Number:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: numberTag(x), Value: x.String()}
	case int:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.Itoa(x)}
	case bool:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: strconv.FormatBool(x)}
	case nil:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Value: "null"}
	case []any:
		n := &yaml.Node{Kind: yaml.SequenceNode}
		flow := len(x) <= 8
		for _, e := range x {
			c := toNode(e)
			flow = flow && c.Kind == yaml.ScalarNode && len(c.Value) < 40
			n.Content = append(n.Content, c)
		}
		if flow {
			n.Style = yaml.FlowStyle
		}
		return n
	case []string:
		l := make([]any, len(x))
		for i, s := range x {
			l[i] = s
		}
		return toNode(l)
	case map[string]any:
		m := newMap()
		for _, k := range sortedKeys(x) {
			m.node.Content = append(m.node.Content, scalarNode(k), toNode(x[k]))
		}
		return m.node
	}
	return scalarNode(fmt.Sprint(v))
}

func numberTag(n json.Number) string {
	if _, err := n.Int64(); err == nil {
		return "!!int"
	}
	return "!!float"
}

// encodeYAML writes the document with a head comment.
func encodeYAML(head string, root omap) ([]byte, error) {
	doc := &yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{root.node}, HeadComment: head}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return nil, fmt.Errorf("encode YAML: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("encode YAML: %w", err)
	}
	return buf.Bytes(), nil
}

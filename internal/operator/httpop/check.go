package httpop

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math/big"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/theory/jsonpath"
)

// Limits of a response check's text, so a check from a DAG file cannot
// cost more than its request.
const (
	maxPathLen  = 4096
	maxRegexLen = 4096
)

// Response is what a check and a filter look at: the status and the body
// (read in full, bounded by max_response_bytes). JSON decodes the body
// once, on first use.
type Response struct {
	Status int
	Body   []byte

	decoded bool
	json    any
	jsonErr error
}

// JSON returns the body decoded as JSON (numbers as json.Number, so large
// integers keep every digit), or why it is not JSON.
func (r *Response) JSON() (any, error) {
	if !r.decoded {
		r.decoded = true
		r.json, r.jsonErr = decodeJSON(r.Body)
	}
	return r.json, r.jsonErr
}

// decodeJSON reads one JSON value and nothing after it.
func decodeJSON(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("the body is not JSON: %w", err)
	}
	if dec.More() {
		return nil, errors.New("the body is not JSON: text after the first value")
	}
	return v, nil
}

// StatusRange is a range of accepted status codes, inclusive.
type StatusRange struct{ Lo, Hi int }

func (s StatusRange) String() string {
	if s.Lo == s.Hi {
		return strconv.Itoa(s.Lo)
	}
	if s.Hi-s.Lo == 99 && s.Lo%100 == 0 {
		return fmt.Sprintf("%dxx", s.Lo/100)
	}
	return fmt.Sprintf("%d-%d", s.Lo, s.Hi)
}

// Check is a declarative response check, the YAML form of Airflow's
// response_check callable (no Python runs in Sirocco): the status must be
// accepted, the JSON path must select a value equal to Equals (or select
// something, or nothing, per Exists), and the body must match Regex. The
// http operator fails a try whose response fails it; the http sensor
// (issue 13, point 2) pokes until one passes.
type Check struct {
	// Status lists the accepted codes; empty means 2xx.
	Status []StatusRange
	// Path is the JSONPath (RFC 9535) of the json_path check; nil when none.
	Path     *jsonpath.Path
	PathText string
	// Equals is the expected value of the selected node, when HasEquals.
	Equals    any
	HasEquals bool
	// Exists: the path must select something (true) or nothing (false).
	Exists bool
	// Regex must match somewhere in the body; nil when none.
	Regex *regexp.Regexp
}

// checkKeys are the keys of a response_check object.
var checkKeys = []string{"status", "json_path", "equals", "exists", "regex"}

// ParseCheck reads a response_check field: an object with status (a
// list of codes and classes like "2xx", or one of them), json_path with
// equals or exists, and regex. nil is the default check (2xx). Errors
// name the key at fault, as "response_check.<key>: ...".
func ParseCheck(v any) (Check, error) {
	c := Check{Exists: true}
	if v == nil {
		return c, nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return c, fmt.Errorf("response_check: want an object with %s, got %s", strings.Join(checkKeys, ", "), describe(v))
	}
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if !slices.Contains(checkKeys, k) {
			return c, fmt.Errorf("response_check: unknown key %q (want %s)", clip(k), strings.Join(checkKeys, ", "))
		}
	}
	var err error
	if c.Status, err = parseStatus(m["status"]); err != nil {
		return c, err
	}
	if err := c.parsePath(m); err != nil {
		return c, err
	}
	if r, ok := m["regex"]; ok && r != nil {
		s, ok := r.(string)
		if !ok {
			return c, fmt.Errorf("response_check.regex: want a string, got %s", describe(r))
		}
		if c.Regex, err = compileRegex(s); err != nil {
			return c, fmt.Errorf("response_check.regex: %w", err)
		}
	}
	return c, nil
}

// checkResponseCheck vets a response_check as the DAG file is loaded
// (`dags validate`): a bad json_path, regex, status or key is an error at
// its line. One holding a template is left to the try, after rendering.
func checkResponseCheck(v any) error {
	b, err := json.Marshal(v)
	if err == nil && (bytes.Contains(b, []byte("{{")) || bytes.Contains(b, []byte("{%"))) {
		return nil
	}
	_, err = ParseCheck(v) // a value JSON cannot encode is ParseCheck's to judge
	return err
}

// parsePath reads json_path, equals and exists.
func (c *Check) parsePath(m map[string]any) error {
	eq, hasEq := m["equals"]
	ex, hasEx := m["exists"]
	p, hasPath := m["json_path"]
	if !hasPath || p == nil {
		if hasEq || hasEx {
			return errors.New("response_check: equals and exists need a json_path")
		}
		return nil
	}
	s, ok := p.(string)
	if !ok {
		return fmt.Errorf("response_check.json_path: want a string, got %s", describe(p))
	}
	path, err := ParsePath(s)
	if err != nil {
		return fmt.Errorf("response_check.json_path: %w", err)
	}
	c.Path, c.PathText = path, s
	if hasEq && hasEx {
		return errors.New("response_check: give equals or exists, not both")
	}
	if hasEx {
		b, ok := ex.(bool)
		if !ok {
			if b, err = strconv.ParseBool(fmt.Sprint(ex)); err != nil {
				return fmt.Errorf("response_check.exists: want true or false, got %s", describe(ex))
			}
		}
		c.Exists = b
	}
	if hasEq {
		c.Equals, c.HasEquals = normalize(eq), true
	}
	return nil
}

// ParsePath parses an RFC 9535 JSONPath (response_check.json_path,
// response_filter).
func ParsePath(s string) (*jsonpath.Path, error) {
	if len(s) > maxPathLen {
		return nil, fmt.Errorf("longer than %d bytes", maxPathLen)
	}
	if strings.TrimSpace(s) == "" {
		return nil, errors.New(`empty: write a JSONPath such as $.status or $.items[0].id`)
	}
	p, err := jsonpath.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("%q is not a JSONPath (RFC 9535, e.g. $.items[0].id): %w", clip(s), unwrapParse(err))
	}
	return p, nil
}

// unwrapParse drops the library's "jsonpath: " prefixes.
func unwrapParse(err error) error {
	msg := strings.TrimPrefix(err.Error(), "jsonpath: ")
	return errors.New(strings.TrimPrefix(msg, "parser: "))
}

// compileRegex compiles a Go (RE2) regular expression: linear time, so
// no body can make it hang.
func compileRegex(s string) (*regexp.Regexp, error) {
	if len(s) > maxRegexLen {
		return nil, fmt.Errorf("longer than %d bytes", maxRegexLen)
	}
	re, err := regexp.Compile(s)
	if err != nil {
		return nil, fmt.Errorf("not a regular expression (Go RE2 syntax): %w", err)
	}
	return re, nil
}

// parseStatus reads status: one code or class, or a list of them.
func parseStatus(v any) ([]StatusRange, error) {
	if v == nil {
		return nil, nil
	}
	items, ok := v.([]any)
	if !ok {
		items = []any{v}
	}
	if len(items) == 0 {
		return nil, errors.New("response_check.status: empty list (leave it out to accept 2xx)")
	}
	out := make([]StatusRange, 0, len(items))
	for i, it := range items {
		r, err := statusItem(it)
		if err != nil {
			return nil, fmt.Errorf("response_check.status[%d]: %w", i, err)
		}
		out = append(out, r)
	}
	return out, nil
}

// statusItem reads 200, "200" or "2xx".
func statusItem(v any) (StatusRange, error) {
	s := strings.ToLower(strings.TrimSpace(fmt.Sprint(v)))
	switch v.(type) {
	case string, int, int64, float64, json.Number:
	default:
		return StatusRange{}, fmt.Errorf("want a status code or class like 200 or \"2xx\", got %s", describe(v))
	}
	if len(s) == 3 && s[1:] == "xx" && s[0] >= '1' && s[0] <= '5' {
		lo := int(s[0]-'0') * 100
		return StatusRange{lo, lo + 99}, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 100 || n > 599 {
		return StatusRange{}, fmt.Errorf("%q is not a status code in 100..599 or a class 1xx..5xx", clip(s))
	}
	return StatusRange{n, n}, nil
}

// Accepts reports whether the status passes the status check.
func (c Check) Accepts(status int) bool {
	if len(c.Status) == 0 {
		return status >= 200 && status <= 299
	}
	return slices.ContainsFunc(c.Status, func(r StatusRange) bool { return r.Lo <= status && status <= r.Hi })
}

// statusText lists the accepted codes for an error.
func (c Check) statusText() string {
	if len(c.Status) == 0 {
		return "2xx"
	}
	parts := make([]string, len(c.Status))
	for i, r := range c.Status {
		parts[i] = r.String()
	}
	return strings.Join(parts, ", ")
}

// ErrCheck marks a response that failed its check (not a transport error).
var ErrCheck = errors.New("response check failed")

// Evaluate returns nil when r passes every part of the check, else an
// ErrCheck saying which part failed and what the response held.
func (c Check) Evaluate(r *Response) error {
	if !c.Accepts(r.Status) {
		return fmt.Errorf("%w: status %d is not one of %s", ErrCheck, r.Status, c.statusText())
	}
	if c.Path != nil {
		if err := c.evalPath(r); err != nil {
			return fmt.Errorf("%w: %w", ErrCheck, err)
		}
	}
	if c.Regex != nil && !c.Regex.Match(r.Body) {
		return fmt.Errorf("%w: the body does not match regex %q", ErrCheck, clip(c.Regex.String()))
	}
	return nil
}

// evalPath runs the json_path part.
func (c Check) evalPath(r *Response) error {
	doc, err := r.JSON()
	if err != nil {
		return fmt.Errorf("json_path %s: %w", clip(c.PathText), err)
	}
	nodes := c.Path.Select(doc)
	switch {
	case c.HasEquals:
		if len(nodes) == 0 {
			return fmt.Errorf("json_path %s selects nothing, want %s", clip(c.PathText), show(c.Equals))
		}
		got := selected(nodes)
		if !equal(got, c.Equals) {
			return fmt.Errorf("json_path %s is %s, want %s", clip(c.PathText), show(got), show(c.Equals))
		}
	case c.Exists && len(nodes) == 0:
		return fmt.Errorf("json_path %s selects nothing, want it to exist", clip(c.PathText))
	case !c.Exists && len(nodes) > 0:
		return fmt.Errorf("json_path %s selects %s, want nothing", clip(c.PathText), show(selected(nodes)))
	}
	return nil
}

// selected is one node as itself, several as a list.
func selected(nodes jsonpath.NodeList) any {
	if len(nodes) == 1 {
		return nodes[0]
	}
	return []any(nodes)
}

// normalize turns a YAML value into the JSON value it stands for, so an
// int 1 from a DAG file equals a JSON 1.
func normalize(v any) any {
	b, err := json.Marshal(v)
	if err != nil {
		return v
	}
	out, err := decodeJSON(b)
	if err != nil {
		return v
	}
	return out
}

// equal compares a selected value with the expected one as JSON values.
// A string expected value (what a template renders) also equals a number
// or boolean whose JSON text it is: "200" equals 200.
func equal(got, want any) bool {
	if jsonEqual(got, want) {
		return true
	}
	ws, ok := want.(string)
	if !ok {
		return false
	}
	switch g := got.(type) {
	case json.Number:
		return numberEqual(g, json.Number(ws))
	case bool:
		return strconv.FormatBool(g) == ws
	}
	return false
}

// jsonEqual is deep equality with numbers compared by value (1 == 1.0).
func jsonEqual(a, b any) bool {
	switch x := a.(type) {
	case json.Number:
		y, ok := b.(json.Number)
		return ok && numberEqual(x, y)
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !jsonEqual(x[i], y[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, e := range x {
			f, ok := y[k]
			if !ok || !jsonEqual(e, f) {
				return false
			}
		}
		return true
	}
	return reflect.DeepEqual(a, b)
}

// numberEqual compares JSON numbers: exactly when both are integers (any
// size), else as floats.
func numberEqual(a, b json.Number) bool {
	if a == b {
		return true
	}
	ai, aok := new(big.Int).SetString(string(a), 10)
	bi, bok := new(big.Int).SetString(string(b), 10)
	if aok && bok {
		return ai.Cmp(bi) == 0
	}
	af, err1 := a.Float64()
	bf, err2 := b.Float64()
	return err1 == nil && err2 == nil && af == bf
}

// show writes a value for an error message, clipped.
func show(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return clip(fmt.Sprint(v))
	}
	return clip(string(b))
}

// describe names a value's YAML type for an error.
func describe(v any) string {
	switch v.(type) {
	case map[string]any:
		return "an object"
	case []any:
		return "a list"
	case bool:
		return "a boolean"
	case string:
		return "a string"
	case nil:
		return "null"
	}
	return "a number"
}

// clip shortens text quoted in an error.
func clip(s string) string {
	const n = 200
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

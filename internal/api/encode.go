package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// maxBody bounds a request body: every write takes a small JSON object.
const maxBody = 1 << 20

// Page sizes, as Airflow's: 100 by default, never more than maxLimit.
const (
	defaultLimit = 100
	maxLimit     = 1000
)

// writeJSON answers v. It fails only if v cannot be encoded, before
// anything is sent; once the header is out, a client gone away is not an
// error anyone can act on.
func writeJSON(w http.ResponseWriter, status int, v any) error {
	body, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encode answer: %w", err)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
	return nil
}

// collection is Airflow's list answer: {"<name>": [...], "total_entries": N}.
func collection[T any](name string, page []T, total int) map[string]any {
	if page == nil {
		page = []T{}
	}
	return map[string]any{name: page, "total_entries": total}
}

// page is the limit and offset of a list request.
type page struct{ limit, offset int }

// pageOf reads ?limit= and ?offset=; a limit above maxLimit is lowered to
// it, as Airflow does, while a malformed one is the caller's mistake.
func pageOf(r *http.Request) (page, error) {
	p := page{limit: defaultLimit}
	q := r.URL.Query()
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return p, badRequest("limit", "expected a positive integer, got %q", v)
		}
		p.limit = min(n, maxLimit)
	}
	if v := q.Get("offset"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return p, badRequest("offset", "expected a non-negative integer, got %q", v)
		}
		p.offset = n
	}
	return p, nil
}

// paginate returns items' page p.
func paginate[T any](items []T, p page) []T {
	if p.offset >= len(items) {
		return nil
	}
	end := min(p.offset+p.limit, len(items))
	return items[p.offset:end]
}

// boolParam reads an optional boolean query parameter.
func boolParam(r *http.Request, name string) (value, set bool, err error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return false, false, nil
	}
	b, perr := strconv.ParseBool(v)
	if perr != nil {
		return false, false, badRequest(name, "expected true or false, got %q", v)
	}
	return b, true, nil
}

// decodeBody reads the JSON object of a write into v, refusing unknown
// fields and naming the field of a type mismatch, so a typo is a 400 that
// says what to fix rather than a field silently ignored. The body must be
// one JSON object and nothing after it: null, an array or trailing bytes
// are refused rather than read as an empty request.
func decodeBody(r *http.Request, v any) error {
	_, err := decodeFields(r, v)
	return err
}

// decodeFields is decodeBody that also returns the names of the fields the
// body gave (null included), which a PATCH needs to tell "absent" from
// "null".
func decodeFields(r *http.Request, v any) (map[string]bool, error) {
	raw, err := readObject(r)
	if err != nil {
		return nil, err
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return nil, badRequest("", "the request body cannot be read: %v", err)
	}
	given := make(map[string]bool, len(fields))
	for k := range fields {
		given[k] = true
	}
	strict := json.NewDecoder(bytes.NewReader(raw))
	strict.DisallowUnknownFields()
	err = strict.Decode(v)
	var typ *json.UnmarshalTypeError
	switch {
	case err == nil:
		return given, nil
	case errors.As(err, &typ) && typ.Field != "":
		// Value is "number 123" for a number: only its kind is named, so a
		// password sent as a number is not echoed back.
		kind, _, _ := strings.Cut(typ.Value, " ")
		return nil, badRequest(typ.Field, "expected %s, got %s", jsonKind(typ.Type.Kind().String()), kind)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return nil, badRequest(name, "unknown field %q", name)
	}
	return nil, badRequest("", "the request body cannot be read: %v", err)
}

// readObject reads the body, which must be exactly one JSON object.
func readObject(r *http.Request) (json.RawMessage, error) {
	dec := json.NewDecoder(r.Body)
	var raw json.RawMessage
	if err := readErr(dec.Decode(&raw)); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, err
		}
		return nil, badRequest("", "the request body holds more than one JSON value")
	}
	if kind := valueKind(raw); kind != "an object" {
		return nil, badRequest("", "the request body must be a JSON object, not %s", kind)
	}
	return raw, nil
}

// readErr turns an error reading the body's JSON into the answer it
// deserves: 413 for a body over maxBody, 400 for anything else.
func readErr(err error) error {
	var tooBig *http.MaxBytesError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &tooBig):
		return err
	case errors.Is(err, io.EOF):
		return badRequest("", "the request body is empty; expected a JSON object")
	}
	var syntax *json.SyntaxError
	if errors.As(err, &syntax) || errors.Is(err, io.ErrUnexpectedEOF) {
		return badRequest("", "the request body is not valid JSON: %v", err)
	}
	return badRequest("", "the request body cannot be read: %v", err)
}

// valueKind names the kind of the JSON value raw, as a problem says it.
func valueKind(raw json.RawMessage) string {
	switch raw[0] {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}

// jsonKind names a Go kind as JSON does.
func jsonKind(kind string) string {
	switch kind {
	case "map", "struct":
		return "an object"
	case "slice", "array":
		return "an array"
	case "bool":
		return "a boolean"
	case "string":
		return "a string"
	case "int", "int64":
		return "an integer"
	case "float64":
		return "a number"
	}
	return kind
}

// ts is a time as the API writes it: RFC 3339 in UTC, or null when unset.
func ts(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	s := t.UTC().Format(time.RFC3339Nano)
	return &s
}

// timeDelta is Airflow's TimeDelta object.
type timeDelta struct {
	Type         string `json:"__type"`
	Days         int    `json:"days"`
	Seconds      int    `json:"seconds"`
	Microseconds int    `json:"microseconds"`
}

// delta is d as a TimeDelta, or null for zero (unset).
func delta(d time.Duration) *timeDelta {
	if d <= 0 {
		return nil
	}
	return span(d)
}

// span is d as a TimeDelta, zero included.
func span(d time.Duration) *timeDelta {
	days := int(d / (24 * time.Hour))
	d -= time.Duration(days) * 24 * time.Hour
	secs := int(d / time.Second)
	d -= time.Duration(secs) * time.Second
	return &timeDelta{Type: "TimeDelta", Days: days, Seconds: secs, Microseconds: int(d / time.Microsecond)}
}

func strOrNil(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

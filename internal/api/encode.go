package api

import (
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
// says what to fix rather than a field silently ignored.
func decodeBody(r *http.Request, v any) error {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	var tooBig *http.MaxBytesError
	switch {
	case err == nil:
	case errors.As(err, &tooBig):
		return err
	case errors.Is(err, io.EOF):
		return badRequest("", "the request body is empty; expected a JSON object")
	case errors.As(err, &syntax), errors.Is(err, io.ErrUnexpectedEOF):
		return badRequest("", "the request body is not valid JSON: %v", err)
	case errors.As(err, &typ):
		if typ.Field == "" {
			return badRequest("", "the request body must be a JSON object, not %s", typ.Value)
		}
		return badRequest(typ.Field, "expected %s, got %s", jsonKind(typ.Type.Kind().String()), typ.Value)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return badRequest(name, "unknown field %q", name)
	default:
		return badRequest("", "the request body cannot be read: %v", err)
	}
	if dec.More() {
		return badRequest("", "the request body holds more than one JSON value")
	}
	return nil
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
	case "int", "int64", "float64":
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

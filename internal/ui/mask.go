package ui

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/sirocco-dev/sirocco/internal/connection"
	"github.com/sirocco-dev/sirocco/internal/tasklog"
)

// maskRendered returns stored rendered fields with every known secret
// masked (the values of sensitive variables and every connection's
// secrets), whatever the row holds: the runner masks only the secrets a
// try's templates read itself, and rows written before it masked hold
// them in clear. The CLI's `tasks render` and the API's XComs mask the
// same way, and a final check on each field's text catches a secret the
// masking of its parts missed. When the secrets cannot be read the page
// gets no fields: an error, never the fields unmasked.
func (h *handler) maskRendered(r *http.Request, raw []byte) (json.RawMessage, error) {
	if len(raw) == 0 || !json.Valid(raw) {
		return json.RawMessage("{}"), nil
	}
	list, err := connection.KnownSecrets(r.Context(), h.o.Store, h.o.Keys, h.o.Environ)
	if err != nil {
		h.log.Error("ui: rendered fields not shown", "err", err)
		return nil, &httpError{http.StatusInternalServerError,
			"the rendered fields are not shown: the secrets to mask in them cannot be read (the reason is in the server log)"}
	}
	secrets := &tasklog.Secrets{}
	for _, s := range list {
		secrets.Add(s)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("decode rendered fields: %w", err)
	}
	out, err := json.Marshal(finalCheck(secrets, secrets.MaskJSON(v)))
	if err != nil {
		return nil, fmt.Errorf("encode rendered fields: %w", err)
	}
	if secrets.Mask(string(out)) != string(out) {
		return json.RawMessage(`{"***":"***"}`), nil // a key spans the JSON's punctuation: nothing is shown
	}
	return out, nil
}

// finalCheck masks what the masking of each string, key and number
// missed: a rendered field whose text, as the answer encodes it or as the
// task page shows it, still holds a secret (one a template split over two
// values, or over a key and its value) is replaced by "***" whole, as the
// REST API's XComs are.
func finalCheck(secrets *tasklog.Secrets, v any) any {
	fields, ok := v.(map[string]any)
	if !ok {
		if leaks(secrets, v) {
			return tasklog.Masked
		}
		return v
	}
	for k, f := range fields {
		if leaks(secrets, f) {
			fields[k] = tasklog.Masked
		}
	}
	return fields
}

// leaks reports whether a secret shows in v's texts: its JSON with and
// without HTML escaping, indented as the task page shows an object, and a
// string as it is.
func leaks(secrets *tasklog.Secrets, v any) bool {
	var texts []string
	if s, ok := v.(string); ok {
		texts = append(texts, s)
	}
	if b, err := json.Marshal(v); err == nil {
		texts = append(texts, string(b))
	}
	for _, indent := range []string{"", "  "} {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", indent)
		if enc.Encode(v) == nil {
			texts = append(texts, buf.String())
		}
	}
	for _, text := range texts {
		if secrets.Mask(text) != text {
			return true
		}
	}
	return false
}

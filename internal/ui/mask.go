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
// same way. When the secrets cannot be read the page gets no fields: an
// error, never the fields unmasked.
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
	out, err := json.Marshal(secrets.MaskJSON(v))
	if err != nil {
		return nil, fmt.Errorf("encode rendered fields: %w", err)
	}
	return out, nil
}

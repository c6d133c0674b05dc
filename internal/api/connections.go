package api

import (
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/sirocco-dev/sirocco/internal/connection"
)

// connectionJSON is Airflow's Connection as an answer: never a password
// (Airflow's is write-only), and extras redacted as the CLI shows them.
// Source says where it came from (env or store).
type connectionJSON struct {
	ConnectionID string  `json:"connection_id"`
	ConnType     string  `json:"conn_type"`
	Description  *string `json:"description"`
	Host         *string `json:"host"`
	Login        *string `json:"login"`
	Schema       *string `json:"schema"`
	Port         *int    `json:"port"`
	Extra        *string `json:"extra,omitempty"`
	Source       string  `json:"source"`
}

// connectionOf renders e redacted; withExtra adds the extras (one
// connection's answer has them, a listing does not, as in Airflow).
func connectionOf(e connection.Entry, withExtra bool) connectionJSON {
	c := e.Redacted()
	out := connectionJSON{ConnectionID: c.ID, ConnType: c.Type, Description: strOrNil(c.Description),
		Host: strOrNil(c.Host), Login: strOrNil(c.Login), Schema: strOrNil(c.Schema), Source: string(e.Source)}
	if c.Port != 0 {
		port := c.Port
		out.Port = &port
	}
	if withExtra {
		extra := "{}"
		if len(c.Extra) > 0 {
			b, _ := json.Marshal(c.Extra) // a map of strings always encodes
			extra = string(b)
		}
		out.Extra = &extra
	}
	return out
}

func (s *server) resolver() *connection.Resolver {
	return &connection.Resolver{Store: s.o.Store, Keys: s.o.Keys, Environ: s.o.Environ}
}

// listConnections lists the connections a task would get, sorted by id:
// a stored one that an environment variable overrides is left out.
func (s *server) listConnections(w http.ResponseWriter, r *http.Request) error {
	p, err := pageOf(r)
	if err != nil {
		return err
	}
	entries, err := s.resolver().List(r.Context())
	if err != nil {
		return fmt.Errorf("list connections: %w", err)
	}
	var effective []connection.Entry
	for _, e := range entries {
		if !e.Shadowed {
			effective = append(effective, e)
		}
	}
	out := make([]connectionJSON, 0, min(p.limit, len(effective)))
	for _, e := range paginate(effective, p) {
		out = append(out, connectionOf(e, false))
	}
	return writeJSON(w, http.StatusOK, collection("connections", out, len(effective)))
}

func (s *server) getConnection(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("connection_id")
	if err := connection.ValidateID(id); err != nil {
		return badRequest("connection_id", "%v", err)
	}
	e, err := s.resolver().Lookup(r.Context(), id)
	if isNotFound(err) {
		return notFound("Connection", "connection with connection_id %q not found", id)
	}
	if err != nil {
		return fmt.Errorf("look up connection %s: %w", id, err)
	}
	return writeJSON(w, http.StatusOK, connectionOf(e, true))
}

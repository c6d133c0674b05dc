package api

import (
	"fmt"
	"net/http"

	"github.com/sirocco-dev/sirocco/internal/connection"
	"github.com/sirocco-dev/sirocco/internal/preflight"
)

// testConnection runs the connectivity check of `sirocco connections test`
// on a connection (DNS, TCP, then its type's own steps) and answers the
// report: 200 whether or not a step failed ("ok" says which), 404 for an
// unknown id. An SSH host key never seen before is not trusted here (the
// CLI's --accept-host-key is for a person looking at the fingerprint).
func (s *server) testConnection(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("connection_id")
	if err := connection.ValidateID(id); err != nil {
		return badRequest("connection_id", "%v", err)
	}
	res := s.resolver()
	e, err := res.Lookup(r.Context(), id)
	if isNotFound(err) {
		return notFound("Connection", "connection with connection_id %q not found", id)
	}
	if err != nil {
		return fmt.Errorf("look up connection %s: %w", id, err)
	}
	ck := s.o.Checker
	if ck == nil {
		ck = &preflight.Checker{Kinit: s.o.Config.Kerberos.KinitPath}
	}
	run := *ck
	run.Lookup = res.Get
	rep := run.Check(r.Context(), e.Connection)
	rep.Source = string(e.Source)
	return writeJSON(w, http.StatusOK, rep)
}

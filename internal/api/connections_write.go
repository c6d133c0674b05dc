package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/sirocco-dev/sirocco/internal/auth"
	"github.com/sirocco-dev/sirocco/internal/connection"
	"github.com/sirocco-dev/sirocco/internal/store"
)

// connectionBody is Airflow's Connection as a POST or PATCH body. The
// password is write-only: taken here, never answered. extra is a JSON
// object, or Airflow's JSON text of one.
type connectionBody struct {
	ConnectionID *string         `json:"connection_id"`
	ConnType     *string         `json:"conn_type"`
	Description  *string         `json:"description"`
	Host         *string         `json:"host"`
	Login        *string         `json:"login"`
	Schema       *string         `json:"schema"`
	Port         *int            `json:"port"`
	Password     *string         `json:"password"`
	Extra        json.RawMessage `json:"extra"`
}

// connectionFields are the fields a PATCH may change.
var connectionFields = []string{"conn_type", "description", "host", "login", "schema", "port", "password", "extra"}

// apply sets the fields of c that apply names from b. A password or extra
// value sent back as the *** an answer showed keeps the stored secret:
// a client that edits the connection it read does not overwrite it.
func (b *connectionBody) apply(c *connection.Connection, apply map[string]bool) error {
	shown := c.Redacted()
	for _, f := range []struct {
		field    string
		dst, src *string
	}{
		{"conn_type", &c.Type, b.ConnType}, {"description", &c.Description, b.Description},
		{"host", &c.Host, b.Host}, {"login", &c.Login, b.Login}, {"schema", &c.Schema, b.Schema},
	} {
		if apply[f.field] {
			*f.dst = orEmpty(f.src)
		}
	}
	c.Type = connection.NormalizeType(c.Type)
	if apply["port"] {
		c.Port = 0
		if b.Port != nil {
			c.Port = *b.Port
		}
	}
	if apply["password"] && !(b.Password != nil && *b.Password == connection.Mask && shown.Password == connection.Mask) {
		c.Password = orEmpty(b.Password)
	}
	if apply["extra"] {
		extra, err := extraOf(b.Extra)
		if err != nil {
			return err
		}
		for k, v := range extra {
			if old, ok := c.Extra[k]; ok && v != old && v == shown.Extra[k] {
				extra[k] = old // the redacted form of the stored value
			}
		}
		c.Extra = extra
	}
	return nil
}

// extraOf reads extra given as an object, as JSON text of one (Airflow's
// form), or as null.
func extraOf(raw json.RawMessage) (map[string]string, error) {
	text := string(raw)
	if len(raw) > 0 && raw[0] == '"' {
		if err := json.Unmarshal(raw, &text); err != nil {
			return nil, badRequest("extra", "extra cannot be read: %v", err)
		}
	}
	extra, err := connection.ParseExtra(text)
	if err != nil {
		return nil, badRequest("extra", "%v", err)
	}
	return extra, nil
}

// checkConnection names the field at fault in c, as a 400.
func checkConnection(c connection.Connection) error {
	if err := connection.ValidateID(c.ID); err != nil {
		return badRequest("connection_id", "%v", err)
	}
	for _, f := range []struct{ field, value string }{
		{"conn_type", c.Type}, {"description", c.Description}, {"host", c.Host}, {"login", c.Login}, {"schema", c.Schema},
	} {
		if err := storableText(f.field, f.value); err != nil {
			return err
		}
	}
	if c.Type == "" {
		return badRequest("conn_type", "conn_type is required")
	}
	if c.Port < 0 || c.Port > 65535 {
		return badRequest("port", "port %d is outside 0..65535", c.Port)
	}
	if err := c.Validate(); err != nil {
		return badRequest("conn_type", "%v", err) // the only rule left
	}
	return nil
}

// postConnection stores a new connection, its secrets encrypted, as
// `connections add` does. An id the store or the environment already
// defines is 409: GET would answer it.
func (s *server) postConnection(w http.ResponseWriter, r *http.Request) error {
	var body connectionBody
	given, err := decodeFields(r, &body)
	if err != nil {
		return err
	}
	if err := required("connection_id", given); err != nil {
		return err
	}
	c := connection.Connection{ID: orEmpty(body.ConnectionID)}
	if err := body.apply(&c, given); err != nil {
		return err
	}
	if err := checkConnection(c); err != nil {
		return err
	}
	auth.NoteFrom(r.Context()).Set("connection_id", c.ID)
	if e, err := s.resolver().Lookup(r.Context(), c.ID); err == nil && e.Source == connection.SourceEnv {
		return conflict("connection %q is defined by the environment variable %s", c.ID, connection.EnvVar(c.ID))
	}
	err = s.resolver().Add(r.Context(), c)
	if errors.Is(err, store.ErrExists) {
		return conflict("connection %q already exists", c.ID)
	}
	if err != nil {
		return fmt.Errorf("create connection %s: %w", c.ID, err)
	}
	return writeJSON(w, http.StatusOK, connectionOf(connection.Entry{Connection: c, Source: connection.SourceStore}, true))
}

// patchConnection changes the fields of a stored connection that the body
// gives (or that update_mask names). A connection only the environment
// defines cannot be changed here: 404 names its variable.
func (s *server) patchConnection(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("connection_id")
	if err := connection.ValidateID(id); err != nil {
		return badRequest("connection_id", "%v", err)
	}
	var body connectionBody
	given, err := decodeFields(r, &body)
	if err != nil {
		return err
	}
	if err := sameID("connection_id", body.ConnectionID, id); err != nil {
		return err
	}
	apply, err := patchFields(r, given, connectionFields)
	if err != nil {
		return err
	}
	c, err := s.storedConnection(r, id)
	if err != nil {
		return err
	}
	if err := body.apply(&c, apply); err != nil {
		return err
	}
	if err := checkConnection(c); err != nil {
		return err
	}
	rec, err := connection.Seal(s.o.Keys, c)
	if err != nil {
		return fmt.Errorf("seal connection %s: %w", id, err)
	}
	if err := s.o.Store.UpdateConnection(r.Context(), rec); isNotFound(err) {
		return notFound("Connection", "connection with connection_id %q not found", id)
	} else if err != nil {
		return fmt.Errorf("update connection %s: %w", id, err)
	}
	return writeJSON(w, http.StatusOK, connectionOf(connection.Entry{Connection: c, Source: connection.SourceStore}, true))
}

// deleteConnection deletes a stored connection.
func (s *server) deleteConnection(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("connection_id")
	if err := connection.ValidateID(id); err != nil {
		return badRequest("connection_id", "%v", err)
	}
	if err := s.resolver().Delete(r.Context(), id); isNotFound(err) {
		return notFound("Connection", "%v", err)
	} else if err != nil {
		return fmt.Errorf("delete connection %s: %w", id, err)
	}
	return deleted(w)
}

// storedConnection returns the stored connection id, decrypted, or 404
// (naming the environment variable when only that defines it).
func (s *server) storedConnection(r *http.Request, id string) (connection.Connection, error) {
	rec, err := s.o.Store.GetConnection(r.Context(), id)
	if isNotFound(err) {
		if e, lerr := s.resolver().Lookup(r.Context(), id); lerr == nil && e.Source == connection.SourceEnv {
			return connection.Connection{}, notFound("Connection",
				"connection %q is defined by the environment variable %s, not stored; change it there", id, connection.EnvVar(id))
		}
		return connection.Connection{}, notFound("Connection", "connection with connection_id %q not found", id)
	}
	if err != nil {
		return connection.Connection{}, fmt.Errorf("read connection %s: %w", id, err)
	}
	c, err := connection.Unseal(s.o.Keys, rec)
	if err != nil {
		return connection.Connection{}, fmt.Errorf("read connection %s: %w", id, err)
	}
	return c, nil
}

// conflict is a 409 for a create whose id is taken.
func conflict(format string, args ...any) *problem {
	return &problem{Status: http.StatusConflict, Title: "Already exists", kind: "AlreadyExists",
		Detail: fmt.Sprintf(format, args...)}
}

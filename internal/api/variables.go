package api

import (
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"sync"

	"github.com/sirocco-dev/sirocco/internal/auth"
	"github.com/sirocco-dev/sirocco/internal/connection"
	"github.com/sirocco-dev/sirocco/internal/store"
)

// variableJSON is Airflow's Variable. Values are stored encrypted and
// shown decrypted, except that the value of a variable whose key looks
// secret (password, token, api_key...: Airflow's sensitive names) is shown
// as ***, as Airflow's UI hides it.
type variableJSON struct {
	Key         string  `json:"key"`
	Value       string  `json:"value"`
	Description *string `json:"description"`
}

func variableOf(v store.Variable) variableJSON {
	value := v.Value
	if connection.IsSensitive(v.Key) && value != "" {
		value = connection.Mask
	}
	return variableJSON{Key: v.Key, Value: value, Description: strOrNil(v.Description)}
}

func (s *server) listVariables(w http.ResponseWriter, r *http.Request) error {
	p, err := pageOf(r)
	if err != nil {
		return err
	}
	vars, err := (&connection.Variables{Store: s.o.Store, Keys: s.o.Keys}).List(r.Context())
	if err != nil {
		return fmt.Errorf("list variables: %w", err)
	}
	out := make([]variableJSON, 0, min(p.limit, len(vars)))
	for _, v := range paginate(vars, p) {
		out = append(out, variableOf(v))
	}
	return writeJSON(w, http.StatusOK, collection("variables", out, len(vars)))
}

func (s *server) getVariable(w http.ResponseWriter, r *http.Request) error {
	key := r.PathValue("variable_key")
	v, err := s.o.Store.GetVariable(r.Context(), key)
	if isNotFound(err) {
		return notFound("Variable", "variable %q not found", key)
	}
	if err == nil {
		v, err = connection.UnsealVariable(s.o.Keys, v)
	}
	if err != nil {
		return fmt.Errorf("read variable %s: %w", key, err)
	}
	return writeJSON(w, http.StatusOK, variableOf(v))
}

// variableBody is Airflow's Variable as a POST or PATCH body.
type variableBody struct {
	Key         *string `json:"key"`
	Value       *string `json:"value"`
	Description *string `json:"description"`
}

// keyPattern is Airflow's rule for keys created through its API
// (helpers.validate_key): letters, digits, '_', '.' and '-', so a key is
// also a SIROCCO_VAR_ name a shell can set and one path segment.
var keyPattern = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9_.-]+$`) })

// maxVariableKey is Airflow's variable key length.
const maxVariableKey = 250

// postVariable creates a variable, stored encrypted as `variables set`
// stores it; an existing key is 409.
func (s *server) postVariable(w http.ResponseWriter, r *http.Request) error {
	var body variableBody
	if _, err := decodeFields(r, &body); err != nil {
		return err
	}
	if err := checkName("key", body.Key, maxVariableKey); err != nil {
		return err
	}
	if !keyPattern().MatchString(*body.Key) {
		return badRequest("key", "key %q may only contain letters, digits, '_', '.' and '-'", *body.Key)
	}
	auth.NoteFrom(r.Context()).Set("variable_key", *body.Key)
	if body.Value == nil {
		return badRequest("value", "value is required (a string)")
	}
	v := store.Variable{Key: *body.Key, Value: *body.Value, Description: orEmpty(body.Description)}
	if err := storableText("description", v.Description); err != nil {
		return err
	}
	sealed, err := connection.SealVariable(s.o.Keys, v)
	if err != nil {
		return fmt.Errorf("seal variable %s: %w", v.Key, err)
	}
	err = s.o.Store.CreateVariable(r.Context(), sealed)
	if errors.Is(err, store.ErrExists) {
		return conflict("variable %q already exists", v.Key)
	}
	if err != nil {
		return fmt.Errorf("create variable %s: %w", v.Key, err)
	}
	return writeJSON(w, http.StatusOK, variableOf(v))
}

// patchVariable changes a variable's value or description. The value of a
// sensitive key is answered as ***; sending *** back (a form filled from
// that answer) keeps the stored value rather than storing ***.
func (s *server) patchVariable(w http.ResponseWriter, r *http.Request) error {
	key := r.PathValue("variable_key")
	var body variableBody
	given, err := decodeFields(r, &body)
	if err != nil {
		return err
	}
	if err := sameID("key", body.Key, key); err != nil {
		return err
	}
	apply, err := patchFields(r, given, []string{"value", "description"})
	if err != nil {
		return err
	}
	if apply["value"] && body.Value == nil {
		return badRequest("value", "value must be a string, not null")
	}
	v, err := s.o.Store.GetVariable(r.Context(), key)
	if isNotFound(err) {
		return notFound("Variable", "variable %q not found", key)
	}
	if err == nil {
		v, err = connection.UnsealVariable(s.o.Keys, v)
	}
	if err != nil {
		return fmt.Errorf("read variable %s: %w", key, err)
	}
	if apply["value"] && !(*body.Value == connection.Mask && variableOf(v).Value == connection.Mask) {
		v.Value = *body.Value
	}
	if apply["description"] {
		v.Description = orEmpty(body.Description)
		if err := storableText("description", v.Description); err != nil {
			return err
		}
	}
	sealed, err := connection.SealVariable(s.o.Keys, v)
	if err != nil {
		return fmt.Errorf("seal variable %s: %w", key, err)
	}
	if err := s.o.Store.UpdateVariable(r.Context(), sealed); isNotFound(err) {
		return notFound("Variable", "variable %q not found", key)
	} else if err != nil {
		return fmt.Errorf("update variable %s: %w", key, err)
	}
	return writeJSON(w, http.StatusOK, variableOf(v))
}

// deleteVariable deletes a stored variable.
func (s *server) deleteVariable(w http.ResponseWriter, r *http.Request) error {
	key := r.PathValue("variable_key")
	if err := s.o.Store.DeleteVariable(r.Context(), key); isNotFound(err) {
		return notFound("Variable", "variable %q not found", key)
	} else if err != nil {
		return fmt.Errorf("delete variable %s: %w", key, err)
	}
	return deleted(w)
}

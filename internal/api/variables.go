package api

import (
	"fmt"
	"net/http"

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

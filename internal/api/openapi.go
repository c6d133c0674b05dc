package api

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"

	"go.yaml.in/yaml/v3"
)

// openAPIDoc is the hand-written OpenAPI 3 document of this API; a test
// checks that it lists exactly the routes the server registers.
//
//go:embed openapi.yaml
var openAPIDoc []byte

// openAPIDocJSON is the same document as JSON, converted once.
var openAPIDocJSON = sync.OnceValues(func() ([]byte, error) {
	var doc any
	if err := yaml.Unmarshal(openAPIDoc, &doc); err != nil {
		return nil, fmt.Errorf("parse openapi.yaml: %w", err)
	}
	return json.MarshalIndent(doc, "", "  ")
})

func (s *server) openAPIYAML(w http.ResponseWriter, _ *http.Request) error {
	w.Header().Set("Content-Type", "application/yaml")
	_, _ = w.Write(openAPIDoc)
	return nil
}

func (s *server) openAPIJSON(w http.ResponseWriter, _ *http.Request) error {
	doc, err := openAPIDocJSON()
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(doc)
	return nil
}

package api_test

import (
	"strings"
	"testing"

	"github.com/sirocco-dev/sirocco/internal/connection"
	"github.com/sirocco-dev/sirocco/internal/store"
)

// TestVariablesStoredEncryptedAreShownDecrypted: the API reads variables
// sealed at rest, and still hides those whose keys look secret.
func TestVariablesStoredEncryptedAreShownDecrypted(t *testing.T) {
	s := newSite(t, nil)
	vars := &connection.Variables{Store: s.st, Keys: s.keys}
	for _, v := range []store.Variable{{Key: "greeting", Value: "hello"}, {Key: "vendor_api_key", Value: varSecret}} {
		if err := vars.Set(t.Context(), v); err != nil {
			t.Fatal(err)
		}
	}
	if v := s.get("/api/v1/variables/greeting"); v["value"] != "hello" {
		t.Errorf("greeting = %v, want it decrypted", v)
	}
	lr := s.do("GET", "/api/v1/variables", nil)
	list, _ := list(t, lr.json(t), "variables")
	if len(list) != 2 || list[0]["value"] != "hello" || list[1]["value"] != "***" {
		t.Errorf("variables = %v", list)
	}
	if strings.Contains(string(lr.body), varSecret) || strings.Contains(string(lr.body), "v1:") {
		t.Errorf("the listing shows a secret or a ciphertext:\n%s", lr.body)
	}
}

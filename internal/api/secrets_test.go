package api_test

import (
	"context"
	"encoding/base64"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/api"
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

// TestXComMasksKnownSecrets: a task that pushed a secret it was given (a
// sensitive variable, from the store or the environment, or a connection
// password), plain or encoded, has it masked in the XCom the API shows,
// raw and deserialized; the stored value is left whole for the tasks.
func TestXComMasksKnownSecrets(t *testing.T) {
	const envToken = "env-Token-Value-64"
	env := []string{"SIROCCO_VAR_SLACK_TOKEN=" + envToken}
	s := newSite(t, map[string]string{"etl.yaml": etlYAML}, func(o *api.Options) { o.Environ = func() []string { return env } })
	ctx := context.Background()
	if err := (&connection.Variables{Store: s.st, Keys: s.keys}).Set(ctx, store.Variable{Key: "db_password", Value: varSecret}); err != nil {
		t.Fatal(err)
	}
	if err := (&connection.Resolver{Store: s.st, Keys: s.keys}).Add(ctx, connection.Connection{ID: "wh", Type: "postgres", Host: "db", Password: storedSecret}); err != nil {
		t.Fatal(err)
	}
	s.createRun("etl", "r", time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC), map[string]store.TaskState{"extract": store.StateSuccess})
	value := `{"pw": "` + varSecret + `", "auth": "` + base64.StdEncoding.EncodeToString([]byte(varSecret)) +
		`", "token": "` + envToken + `", "dsn": "postgres://u:` + storedSecret + `@db"}`
	key := store.TaskKey{DagID: "etl", RunID: "r", TaskID: "extract"}
	if err := s.st.SetXCom(ctx, store.XCom{TaskKey: key, Key: "return_value", Value: value}); err != nil {
		t.Fatal(err)
	}
	path := "/api/v1/dags/etl/dagRuns/r/taskInstances/extract/xcomEntries/return_value"
	for _, p := range []string{path, path + "?deserialize=true"} {
		r := s.do("GET", p, nil)
		if r.status != http.StatusOK {
			t.Fatalf("%s: %d %s", p, r.status, r.body)
		}
		for _, secret := range []string{varSecret, base64.StdEncoding.EncodeToString([]byte(varSecret)), envToken, storedSecret} {
			if strings.Contains(string(r.body), secret) {
				t.Errorf("%s shows %q:\n%s", p, secret, r.body)
			}
		}
		if !strings.Contains(string(r.body), "***") {
			t.Errorf("%s masks nothing:\n%s", p, r.body)
		}
	}
	if x, err := s.st.GetXCom(ctx, key, "return_value"); err != nil || x.Value != value {
		t.Errorf("the stored XCom changed: %q, %v", x.Value, err)
	}
}

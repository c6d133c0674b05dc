package storetest

import (
	"testing"

	"github.com/sirocco-dev/sirocco/internal/store"
)

func init() {
	register("VariableEncryptedFlag", testVariableEncryptedFlag)
	register("VariableValueSwap", testVariableValueSwap)
}

// testVariableEncryptedFlag: a variable keeps its Encrypted flag through
// set, overwrite, get and list, and the sealed value byte for byte.
func testVariableEncryptedFlag(t *testing.T, s store.Store) {
	ctx := t.Context()
	plain := store.Variable{Key: "region", Value: "eu-west-1"}
	sealed := store.Variable{Key: "api_key", Value: "v1:0011223344556677:c2VjcmV0", Description: "vendor", Encrypted: true}
	for _, v := range []store.Variable{plain, sealed} {
		if err := s.SetVariable(ctx, v); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.GetVariable(ctx, "api_key")
	if err != nil {
		t.Fatal(err)
	}
	same(t, "sealed variable", got, sealed)
	list, err := s.ListVariables(ctx)
	if err != nil {
		t.Fatal(err)
	}
	same(t, "variables", list, []store.Variable{sealed, plain})

	resealed := store.Variable{Key: "region", Value: "v1:8899aabbccddeeff:ZXUtd2VzdC0x", Encrypted: true}
	if err := s.SetVariable(ctx, resealed); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.GetVariable(ctx, "region"); got != resealed {
		t.Errorf("overwritten with a sealed value: %+v, want %+v", got, resealed)
	}
	if err := s.SetVariable(ctx, plain); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.GetVariable(ctx, "region"); got != plain {
		t.Errorf("overwritten with a plaintext value: %+v, want %+v", got, plain)
	}
}

// testVariableValueSwap: ReplaceVariableValue writes only over the value
// and flag it was given, so a rotation never overwrites a change made
// meanwhile, and a missing key is no error.
func testVariableValueSwap(t *testing.T, s store.Store) {
	ctx := t.Context()
	old := store.Variable{Key: "token", Value: "plain-value", Description: "kept"}
	if err := s.SetVariable(ctx, old); err != nil {
		t.Fatal(err)
	}
	for _, stale := range []store.Variable{
		{Key: "token", Value: "other-value"},
		{Key: "token", Value: "plain-value", Encrypted: true},
		{Key: "missing", Value: "plain-value"},
	} {
		ok, err := s.ReplaceVariableValue(ctx, stale, "v1:00:new", true)
		if err != nil || ok {
			t.Errorf("ReplaceVariableValue over stale %+v = %v, %v; want false, nil", stale, ok, err)
		}
	}
	if got, _ := s.GetVariable(ctx, "token"); got != old {
		t.Fatalf("after stale swaps: %+v, want %+v", got, old)
	}
	ok, err := s.ReplaceVariableValue(ctx, old, "v1:00:new", true)
	if err != nil || !ok {
		t.Fatalf("ReplaceVariableValue = %v, %v; want true", ok, err)
	}
	want := store.Variable{Key: "token", Value: "v1:00:new", Description: "kept", Encrypted: true}
	if got, _ := s.GetVariable(ctx, "token"); got != want {
		t.Errorf("after the swap: %+v, want %+v", got, want)
	}
}

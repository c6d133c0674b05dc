package python

import (
	"encoding/json"
	"strings"
	"testing"
)

// FuzzOutputs: whatever JSON a multiple_outputs call returns, the items
// accepted have keys the store and the API can hold and values that are
// the JSON of the dict's items, one per key.
func FuzzOutputs(f *testing.F) {
	for _, s := range []string{`{"total": 42, "rows": [1, 2]}`, `{}`, `{"": 1}`, `{"a\u0000b": 1}`, `[1]`, `null`, `"x"`,
		`{"a": 1, "a": 2}`, `{"k": {"n": 12345678901234567890}}`, `{"\ud800": 1}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		items, err := outputs(text)
		if err != nil {
			if err.Error() == "" {
				t.Fatalf("empty error for %q", text)
			}
			return
		}
		var want map[string]json.RawMessage
		if json.Unmarshal([]byte(text), &want) != nil || len(items) != len(want) {
			t.Fatalf("outputs(%q) = %q", text, items)
		}
		for k, v := range items {
			if k == "" || len(k) > maxXComKey || strings.ContainsRune(k, 0) || !json.Valid(v) {
				t.Fatalf("outputs(%q) accepted the item %q: %q", text, k, v)
			}
		}
	})
}

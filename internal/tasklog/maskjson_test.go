package tasklog

import (
	"bytes"
	"encoding/json"
	"testing"
)

// TestMaskJSON: strings, object keys and numbers holding a secret are
// masked at any depth (a masked number becomes a string); the rest keeps
// its type and exact digits, and the input is not changed.
func TestMaskJSON(t *testing.T) {
	t.Parallel()
	s := &Secrets{}
	s.Add("hunter22")
	s.Add("31415926")
	tests := []struct{ in, want string }{
		{`"pw hunter22"`, `"pw ***"`},
		{`{"hunter22": {"n": 31415926, "keep": 12345678901234567890, "f": 1.50}}`,
			`{"***":{"f":1.50,"keep":12345678901234567890,"n":"***"}}`},
		{`[["hunter22", true, null], {"a": "b"}]`, `[["***",true,null],{"a":"b"}]`},
		{`7`, `7`},
	}
	for _, tt := range tests {
		dec := json.NewDecoder(bytes.NewReader([]byte(tt.in)))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			t.Fatal(err)
		}
		before, _ := json.Marshal(v)
		got, err := json.Marshal(s.MaskJSON(v))
		if err != nil || string(got) != tt.want {
			t.Errorf("MaskJSON(%s) = %s, %v; want %s", tt.in, got, err, tt.want)
		}
		if after, _ := json.Marshal(v); !bytes.Equal(before, after) {
			t.Errorf("MaskJSON changed its input: %s", after)
		}
	}
	var none *Secrets
	if got := none.MaskJSON("hunter22"); got != "hunter22" {
		t.Errorf("a nil set masked %v", got)
	}
}

// TestMaskJSONKeepsEveryKey: keys that mask alike (two secrets, or a
// secret and a literal "***") all stay, each under its own name, and the
// same input always gives the same names.
func TestMaskJSONKeepsEveryKey(t *testing.T) {
	t.Parallel()
	s := &Secrets{}
	s.Add("hunter22")
	s.Add("31415926")
	in := map[string]any{"hunter22": "a", "31415926": "b", "***": "c", "plain": "d"}
	want := `{"***":"c","*** (2)":"b","*** (3)":"a","plain":"d"}`
	for range 20 { // map order varies from call to call
		got, err := json.Marshal(s.MaskJSON(in))
		if err != nil || string(got) != want {
			t.Fatalf("MaskJSON = %s, %v; want %s", got, err, want)
		}
	}
}
